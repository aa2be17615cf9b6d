package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/emulator/emulatortest"
	"github.com/contactsync/contactsync/shared/store"
)

func newStore(t *testing.T) *store.Store {
	t.Helper()
	emulatortest.Require(t, emulator.Firestore)
	s, err := store.New(context.Background(), emulatortest.Project(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConnectionLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := time.Now().UTC()
	id, err := s.CreateConnection(ctx, &store.Connection{Status: store.StatusLive, GoogleGroup: "contactGroups/abc", PollDueAt: now.Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateConnection(ctx, &store.Connection{Status: store.StatusPaused}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConnection(ctx, id)
	if err != nil || got.GoogleGroup != "contactGroups/abc" || got.ID != id {
		t.Fatalf("GetConnection = %+v, %v", got, err)
	}
	if _, err := s.GetConnection(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing connection: err = %v, want ErrNotFound", err)
	}

	due, _, err := s.DuePage(ctx, now, 10, nil)
	if err != nil || len(due) != 1 || due[0].ID != id {
		t.Fatalf("DuePage = %v, %v; want only %s (the paused one has no due time)", due, err, id)
	}

	upd, err := s.UpdateConnection(ctx, id, func(c *store.Connection) error {
		c.Status = store.StatusNeedsReauth
		c.AddError(now, "Google access was revoked")
		return nil
	})
	if err != nil || upd.Status != store.StatusNeedsReauth {
		t.Fatalf("UpdateConnection = %+v, %v", upd, err)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateConnection(ctx, id, func(*store.Connection) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("fn error not returned: %v", err)
	}
	got, _ = s.GetConnection(ctx, id)
	if got.Status != store.StatusNeedsReauth || len(got.LastErrors) != 1 {
		t.Fatalf("after update: %+v", got)
	}
}

func TestAddErrorIsBounded(t *testing.T) {
	var c store.Connection
	for i := range 100 {
		c.AddError(time.Unix(int64(i), 0), "x")
	}
	if len(c.LastErrors) != 20 || c.LastErrors[19].At.Unix() != 99 {
		t.Fatalf("kept %d errors, newest %v", len(c.LastErrors), c.LastErrors[len(c.LastErrors)-1].At)
	}
}

func TestSecrets(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	id, _ := s.CreateConnection(ctx, &store.Connection{})
	if _, err := s.GetSecret(ctx, id, store.SecretGoogle); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	if err := s.PutSecret(ctx, id, store.SecretGoogle, []byte("sealed-bytes")); err != nil {
		t.Fatal(err)
	}
	b, err := s.GetSecret(ctx, id, store.SecretGoogle)
	if err != nil || string(b) != "sealed-bytes" {
		t.Fatalf("GetSecret = %q, %v", b, err)
	}
	if err := s.DeleteSecret(ctx, id, store.SecretGoogle); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSecret(ctx, id, store.SecretGoogle); err != nil {
		t.Fatalf("deleting a missing secret: %v", err)
	}
}

func TestLinksOptimisticConcurrency(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	cid, _ := s.CreateConnection(ctx, &store.Connection{})
	l := &store.Link{ID: store.LinkIDForPipedrive("42"), PipedriveID: "42", GoogleID: "people/c1", Base: []byte(`{}`)}
	if err := s.CreateLink(ctx, cid, l); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLink(ctx, cid, &store.Link{ID: l.ID, PipedriveID: "42"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second create: err = %v, want ErrConflict", err)
	}
	a, err := s.LinkByPipedrive(ctx, cid, "42")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.LinkByGoogle(ctx, cid, "people/c1")
	if err != nil || b.ID != a.ID {
		t.Fatalf("LinkByGoogle = %+v, %v", b, err)
	}
	if _, err := s.LinkByGoogle(ctx, cid, "people/none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}

	// Two writers read the same version; the second must lose.
	a.GoogleVersion = "etag-2"
	a.AddHistory(store.HistoryEntry{At: time.Now(), Side: "pipedrive", Action: "update google", Fields: []string{"phones"}})
	if err := s.UpdateLink(ctx, cid, a); err != nil {
		t.Fatal(err)
	}
	b.GoogleVersion = "etag-stale"
	if err := s.UpdateLink(ctx, cid, b); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: err = %v, want ErrConflict", err)
	}
	// The winner can keep writing with its fresh read time.
	a.GoogleVersion = "etag-3"
	if err := s.UpdateLink(ctx, cid, a); err != nil {
		t.Fatalf("second update by the winner: %v", err)
	}
	got, _ := s.GetLink(ctx, cid, a.ID)
	if got.GoogleVersion != "etag-3" || len(got.History) != 1 {
		t.Fatalf("stored link = %+v", got)
	}
	if n, err := s.CountLinks(ctx, cid); err != nil || n != 1 {
		t.Fatalf("CountLinks = %d, %v", n, err)
	}
	if err := s.DeleteLink(ctx, cid, b); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale delete: %v", err)
	}
	if err := s.DeleteLink(ctx, cid, got); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountLinks(ctx, cid); n != 0 {
		t.Fatalf("link not deleted, count %d", n)
	}
}

func TestHistoryIsBounded(t *testing.T) {
	var l store.Link
	for i := range store.MaxHistory + 7 {
		l.AddHistory(store.HistoryEntry{Detail: string(rune('a' + i%26))})
	}
	if len(l.History) != store.MaxHistory {
		t.Fatalf("kept %d", len(l.History))
	}
}

func TestOAuthStates(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := time.Now().UTC()
	put := func(id string, exp time.Time) {
		t.Helper()
		if err := s.PutState(ctx, &store.OAuthState{ID: id, SessionHash: "sess-A", Provider: "google", Verifier: "v", ExpireAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	put("good", now.Add(10*time.Minute))
	put("old", now.Add(-time.Second))
	put("mine", now.Add(10*time.Minute))

	tests := []struct {
		name, id, session string
		want              error
	}{
		{"valid", "good", "sess-A", nil},
		{"reused", "good", "sess-A", store.ErrStateUsed},
		{"expired", "old", "sess-A", store.ErrStateExpired},
		{"expired is gone too", "old", "sess-A", store.ErrStateUsed},
		{"unknown", "never-issued", "sess-A", store.ErrStateUsed},
		{"missing", "", "sess-A", store.ErrStateUsed},
		{"foreign session", "mine", "sess-B", store.ErrStateForeign},
		{"owner still can use it after a foreign try", "mine", "sess-A", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := s.ConsumeState(ctx, tt.id, tt.session, now)
			if !errors.Is(err, tt.want) || (tt.want == nil && (st == nil || st.Verifier != "v")) {
				t.Fatalf("ConsumeState(%q) = %+v, %v; want %v", tt.id, st, err, tt.want)
			}
		})
	}
}

func TestDeleteConnectionRemovesEverything(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	cid, _ := s.CreateConnection(ctx, &store.Connection{})
	_ = s.PutSecret(ctx, cid, store.SecretPipedrive, []byte("x"))
	_ = s.CreateLink(ctx, cid, &store.Link{ID: "p-1", PipedriveID: "1"})
	if err := s.Hold(ctx, cid, store.HeldChange{Side: "pipedrive", ObjectID: "1", Kind: store.HeldBrake}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CountFailure(ctx, cid, "pipedrive", "1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConnection(ctx, cid); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetConnection(ctx, cid); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("connection still there: %v", err)
	}
	if _, err := s.GetSecret(ctx, cid, store.SecretPipedrive); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("secret still there: %v", err)
	}
	if n, _ := s.CountLinks(ctx, cid); n != 0 {
		t.Fatalf("links left: %d", n)
	}
	for _, col := range []string{"held", "attempts"} {
		left, err := s.Client().Collection("connections").Doc(cid).Collection(col).Documents(ctx).GetAll()
		if err != nil || len(left) != 0 {
			t.Fatalf("%s left: %d, %v", col, len(left), err)
		}
	}
}
