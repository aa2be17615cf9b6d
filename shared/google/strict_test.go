package google_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/oauth2"
	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/google/googlefake"
)

// TestCreateGroupReadMask: contactGroups.create takes readGroupFields
// without memberCount (discovery: clientData, groupType, metadata, name);
// the fake refuses memberCount there, as Google's validation would.
func TestCreateGroupReadMask(t *testing.T) {
	e := newEnv(t, nil)
	g, err := e.c.CreateGroup(context.Background(), "Pipedrive contacts")
	if err != nil || g.ResourceName == "" || g.GroupType != "USER_CONTACT_GROUP" {
		t.Fatalf("create group: %v %+v", err, g)
	}
}

// TestStaleEtagOnlyForEtagCalls: a 400 failedPrecondition means a stale etag
// only for the calls that send one (updateContact, batchUpdateContacts);
// members.modify and deletes send none, so theirs is something else.
func TestStaleEtagOnlyForEtagCalls(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":{"code":400,"message":"Precondition check failed.","status":"FAILED_PRECONDITION",` +
			`"errors":[{"message":"Precondition check failed.","domain":"global","reason":"failedPrecondition"}]}}`))
	}))
	defer srv.Close()
	c, err := google.New(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"}), srv.URL, google.WithQuota(google.Quota{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src := &people.PersonMetadata{Sources: []*people.Source{{Type: "CONTACT", Id: "1", Etag: "#e"}}}
	p := &people.Person{ResourceName: "people/c1", Metadata: src}
	calls := []struct {
		name  string
		stale bool
		call  func() error
	}{
		{"updateContact", true, func() error { _, err := c.Update(ctx, p, []string{"names"}); return err }},
		{"batchUpdateContacts", true, func() error {
			_, err := c.BatchUpdate(ctx, map[string]*people.Person{p.ResourceName: p}, []string{"names"})
			return err
		}},
		{"members.modify", false, func() error {
			_, err := c.ModifyMembers(ctx, "contactGroups/g", []string{"people/c1"}, nil)
			return err
		}},
		{"deleteContact", false, func() error { return c.Delete(ctx, "people/c1") }},
		{"batchDeleteContacts", false, func() error { return c.BatchDelete(ctx, []string{"people/c1"}) }},
	}
	for _, tc := range calls {
		err := tc.call()
		if err == nil {
			t.Fatalf("%s: no error", tc.name)
		}
		if got := errors.Is(err, google.ErrStaleEtag); got != tc.stale {
			t.Errorf("%s: stale etag = %v, want %v (%v)", tc.name, got, tc.stale, err)
		}
	}
}

// TestUpdateNeedsTheContactSourceEtag: updateContact "returns a 400 error
// if person.metadata.sources is not specified" and compares
// person.metadata.sources.etag (discovery); a top-level etag alone is
// refused by the client before it is sent, and by the fake.
func TestUpdateNeedsTheContactSourceEtag(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	p, err := e.c.Create(ctx, person("A"))
	if err != nil {
		t.Fatal(err)
	}
	top := &people.Person{ResourceName: p.ResourceName, Etag: p.Etag, Names: []*people.Name{{GivenName: "B"}}}
	before := e.fake.Stats(user).Calls[googlefake.MethodUpdateContact]
	if _, err := e.c.Update(ctx, top, []string{"names"}); err == nil {
		t.Fatal("update with a top-level etag only was accepted")
	}
	if n := e.fake.Stats(user).Calls[googlefake.MethodUpdateContact]; n != before {
		t.Errorf("the doubtful request was sent")
	}
	p.Names[0].GivenName = "B"
	if up, err := e.c.Update(ctx, p, []string{"names"}); err != nil || up.Names[0].GivenName != "B" {
		t.Fatalf("update with the read person: %v", err)
	}
}

// TestSyncTokenBoundToParameters: a stored token carries the fingerprint of
// the list parameters; one made with other parameters is dropped before
// it is sent, and a token Google refuses (here: an older one without a
// fingerprint, made with another page size) is ErrSyncTokenRefused, which
// is handled like an expired one.
func TestSyncTokenBoundToParameters(t *testing.T) {
	e := newEnv(t, nil, google.WithPageSize(100))
	ctx := context.Background()
	if _, err := e.fake.SeedContact(user, person("A")); err != nil {
		t.Fatal(err)
	}
	token, err := e.c.List(ctx, "", func(*google.Page) error { return nil })
	if err != nil || token == "" {
		t.Fatalf("full listing: %q %v", token, err)
	}
	stored := e.c.StoreSyncToken(token)
	if got, ok := e.c.LoadSyncToken(stored); !ok || got != token {
		t.Fatalf("round trip: %q %v", got, ok)
	}
	other, err := google.New(ctx, oauth2.StaticTokenSource(mustToken(t, e)), e.base, google.WithClock(e.clk), google.WithPageSize(50))
	if err != nil {
		t.Fatal(err)
	}
	if other.SyncParams() == e.c.SyncParams() {
		t.Fatal("page size not in the fingerprint")
	}
	if got, ok := other.LoadSyncToken(stored); ok || got != "" {
		t.Errorf("token of other parameters kept: %q %v", got, ok)
	}
	if got, ok := other.LoadSyncToken(token); !ok || got != token {
		t.Errorf("token without a fingerprint: %q %v", got, ok)
	}
	if got, ok := other.LoadSyncToken(""); !ok || got != "" {
		t.Errorf("no token: %q %v", got, ok)
	}
	_, err = other.ListPage(ctx, token, "")
	if !errors.Is(err, google.ErrSyncTokenRefused) || !errors.Is(err, google.ErrExpiredSyncToken) {
		t.Fatalf("token of other parameters sent: %v", err)
	}
	// A full listing without a token is not a refused token.
	if _, err := e.c.ListPage(ctx, "", "bogus-page-token"); errors.Is(err, google.ErrExpiredSyncToken) {
		t.Errorf("bad page token classified as a token problem: %v", err)
	}
}

func mustToken(t *testing.T, e *env) *oauth2.Token {
	t.Helper()
	tok, err := e.fake.IssueToken(user, "client")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
