package poller_test

import (
	"context"
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
// unsent; an older token without a fingerprint is sent, and when Google
// refuses it, it is treated exactly like an expired one. Either way the
// connection goes to a full reconcile, whose listing gives the new token.
func TestSyncTokenOfOtherParametersIsDropped(t *testing.T) {
	for _, tc := range []struct {
		name          string
		fingerprinted bool
		listCalls     int
	}{
		{"fingerprint of other parameters: dropped unsent", true, 0},
		{"no fingerprint, refused by Google: like expired", false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.newConn()
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
			stored := otherToken
			if tc.fingerprinted {
				stored = other.StoreSyncToken(otherToken)
			}
			if _, err := e.st.UpdateConnection(e.ctx, c.ID, func(s *store.Connection) error {
				s.GoogleSyncToken = stored
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			e.seed(c, "Added", true)
			before := e.gfake.Stats(c.email).Calls[googlefake.MethodConnectionsList]
			e.mustPoll(c)
			if n := e.gfake.Stats(c.email).Calls[googlefake.MethodConnectionsList] - before; n != tc.listCalls {
				t.Errorf("%d listing calls, want %d", n, tc.listCalls)
			}
			if got := e.changes(); len(got) != 0 {
				t.Errorf("changes %v: the reconcile decides", got)
			}
			got := e.get(c)
			if got.Status != store.StatusFirstSync || got.FirstSync == nil || got.FirstSync.Mode != store.FirstSyncReconcile {
				t.Errorf("status %s, job %+v: want a full reconcile", got.Status, got.FirstSync)
			}
			if steps := e.firstSyncSteps(); len(steps) != 1 {
				t.Errorf("steps %+v, want the plan step", steps)
			}
		})
	}
}
