package poller_test

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/store"
)

// TestSyncTokenOfOtherParametersIsDropped: a sync token is only valid with
// the request parameters of the call that made it ("all other request
// parameters must match the first call", discovery document). A stored
// token whose fingerprint is not the current parameters' is dropped
// unsent and the group is listed in full; an older token without a
// fingerprint is sent, and when Google refuses it, it is treated exactly
// like an expired one. Either way the new token is stored with the
// current fingerprint and the next poll is incremental.
func TestSyncTokenOfOtherParametersIsDropped(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	kept := e.seed(c, "Kept", true)
	e.mustPoll(c)
	e.changes()
	e.link(c, kept, "1")
	e.mustPoll(c)

	// A token made by a deploy with another page size.
	tok, err := e.gfake.IssueToken(c.email, googleClientID)
	if err != nil {
		t.Fatal(err)
	}
	other, err := google.New(context.Background(), oauth2.StaticTokenSource(tok), e.gURL, google.WithQuota(google.Quota{}), google.WithPageSize(50))
	if err != nil {
		t.Fatal(err)
	}
	otherToken, err := other.List(context.Background(), "", func(*google.Page) error { return nil })
	if err != nil || otherToken == "" {
		t.Fatalf("other listing: %q %v", otherToken, err)
	}
	added := e.seed(c, "Added", true)

	for _, tc := range []struct {
		name      string
		stored    string
		listCalls int
	}{
		{"fingerprint of other parameters: dropped unsent", other.StoreSyncToken(otherToken), 1},
		{"no fingerprint, refused by Google: like expired", otherToken, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.st.UpdateConnection(e.ctx, c.ID, func(s *store.Connection) error {
				s.GoogleSyncToken = tc.stored
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			before := e.gfake.Stats(c.email).Calls[googlefake.MethodConnectionsList]
			e.mustPoll(c)
			if n := e.gfake.Stats(c.email).Calls[googlefake.MethodConnectionsList] - before; n != tc.listCalls {
				t.Errorf("%d listing calls, want %d", n, tc.listCalls)
			}
			// The full reconcile finds the unlinked contact; the linked,
			// unchanged one is no change.
			got := e.changes()
			if len(got) != 1 || got[0] != up(added.ResourceName) {
				t.Errorf("changes %v, want the new contact only", got)
			}
			saved := e.get(c).GoogleSyncToken
			if !strings.HasPrefix(saved, "sp1.") || saved == tc.stored {
				t.Errorf("saved token %q: want a fresh one with the current fingerprint", saved)
			}
			before = e.gfake.Stats(c.email).Calls[googlefake.MethodConnectionsList]
			e.mustPoll(c)
			if n := e.gfake.Stats(c.email).Calls[googlefake.MethodConnectionsList] - before; n != 1 {
				t.Errorf("next poll: %d listing calls, want one incremental", n)
			}
			if got := e.changes(); len(got) != 0 {
				t.Errorf("next poll published %v", got)
			}
		})
	}
}
