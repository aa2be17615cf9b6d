package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/store"
)

func TestDuePagePagesByCursor(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := time.Now().UTC()
	want := map[string]bool{}
	for i := range 20 {
		id, err := s.CreateConnection(ctx, &store.Connection{Status: store.StatusLive, PollDueAt: now.Add(-time.Duration(i%3) * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		want[id] = true
	}
	if _, err := s.CreateConnection(ctx, &store.Connection{Status: store.StatusLive, PollDueAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateConnection(ctx, &store.Connection{Status: store.StatusPaused}); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	var cur *store.DueCursor
	pages := 0
	for {
		page, next, err := s.DuePage(ctx, now, 7, cur)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, d := range page {
			if got[d.ID] || !want[d.ID] || d.PollDueAt.IsZero() {
				t.Fatalf("unexpected or repeated %+v", d)
			}
			got[d.ID] = true
		}
		if next == nil {
			break
		}
		cur = next
	}
	if len(got) != 20 || pages != 3 {
		t.Fatalf("%d connections in %d pages, want 20 in 3", len(got), pages)
	}
}

func TestLinkRefLookupsAndRekey(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	conn, err := s.CreateConnection(ctx, &store.Connection{Status: store.StatusLive})
	if err != nil {
		t.Fatal(err)
	}
	var gnames, pids []string
	for i := range 75 { // more than one "in" query's 30 values
		g, p := fmt.Sprintf("people/c%d", i), fmt.Sprint(1000+i)
		if err := s.CreateLink(ctx, conn, &store.Link{ID: store.LinkIDForGoogle(g), GoogleID: g, PipedriveID: p, GoogleVersion: "e" + p}); err != nil {
			t.Fatal(err)
		}
		gnames, pids = append(gnames, g), append(pids, p)
	}
	// A link without a Google side yet.
	if err := s.CreateLink(ctx, conn, &store.Link{ID: "p-9", PipedriveID: "9", Pending: "create:google"}); err != nil {
		t.Fatal(err)
	}
	byG, err := s.LinkRefsByGoogle(ctx, conn, append(gnames, "people/none", gnames[0]))
	if err != nil || len(byG) != 75 {
		t.Fatalf("LinkRefsByGoogle = %d, %v; want 75", len(byG), err)
	}
	if r := byG["people/c3"]; r.PipedriveID != "1003" || r.GoogleVersion != "e1003" || r.ID != store.LinkIDForGoogle("people/c3") {
		t.Fatalf("ref %+v", r)
	}
	byP, err := s.LinkRefsByPipedrive(ctx, conn, append(pids, "9"))
	if err != nil || len(byP) != 76 {
		t.Fatalf("LinkRefsByPipedrive = %d, %v; want 76", len(byP), err)
	}
	all, err := s.GoogleLinkRefs(ctx, conn)
	if err != nil || len(all) != 75 {
		t.Fatalf("GoogleLinkRefs = %d, %v; want 75 (the pending one has no Google id)", len(all), err)
	}

	id := store.LinkIDForGoogle("people/c5")
	if moved, err := s.RekeyGoogleLink(ctx, conn, id, "people/c5", "people/c5b"); err != nil || !moved {
		t.Fatalf("RekeyGoogleLink = %v, %v", moved, err)
	}
	if moved, err := s.RekeyGoogleLink(ctx, conn, id, "people/c5", "people/c5c"); err != nil || moved {
		t.Fatalf("second RekeyGoogleLink from a stale name = %v, %v; want false", moved, err)
	}
	if l, err := s.LinkByGoogle(ctx, conn, "people/c5b"); err != nil || l.PipedriveID != "1005" {
		t.Fatalf("LinkByGoogle after re-key = %+v, %v", l, err)
	}
}

func TestHeldChanges(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	conn, err := s.CreateConnection(ctx, &store.Connection{Status: store.StatusLive})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	hold := func(side, id, kind, code string, at time.Time) {
		t.Helper()
		if err := s.Hold(ctx, conn, store.HeldChange{Side: side, ObjectID: id, ChangeKind: "delete", Kind: kind, Code: code,
			Reason: "r", FirstAt: at, LastAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	hold("pipedrive", "7", store.HeldBrake, "brake", t0)
	hold("google", "people/c1", store.HeldDeferred, "paused", t0)
	// a deferred change never hides a braked delete of the same record
	hold("pipedrive", "7", store.HeldDeferred, "paused", t0.Add(time.Minute))
	// a higher kind replaces a lower one, keeping the first time
	hold("google", "people/c1", store.HeldFailed, "permanent", t0.Add(2*time.Minute))

	all, err := s.HeldChanges(ctx, conn, "", 10)
	if err != nil || len(all) != 2 {
		t.Fatalf("HeldChanges = %+v, %v", all, err)
	}
	byID := map[string]store.HeldChange{}
	for _, h := range all {
		byID[h.ID] = h
	}
	if h := byID[store.HeldKey("pipedrive", "7")]; h.Kind != store.HeldBrake || !h.LastAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("braked delete became %+v", h)
	}
	if h := byID[store.HeldKey("google", "people/c1")]; h.Kind != store.HeldFailed || !h.FirstAt.Equal(t0) {
		t.Errorf("held change %+v, want failed since %v", h, t0)
	}
	if n, err := s.CountHeld(ctx, conn, store.HeldBrake); err != nil || n != 1 {
		t.Fatalf("CountHeld(brake) = %d, %v", n, err)
	}

	// nothing is due until released; a release with a decision is due then
	if due, err := s.DueHeld(ctx, conn, t0.Add(time.Hour), 10); err != nil || len(due) != 0 {
		t.Fatalf("DueHeld before release = %+v, %v", due, err)
	}
	if n, err := s.ReleaseHeld(ctx, conn, store.HeldBrake, nil, "confirm", t0.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("ReleaseHeld = %d, %v", n, err)
	}
	due, err := s.DueHeld(ctx, conn, t0.Add(time.Hour), 10)
	if err != nil || len(due) != 1 || due[0].Decision != "confirm" || due[0].ObjectID != "7" {
		t.Fatalf("DueHeld = %+v, %v", due, err)
	}
	if due, _ := s.DueHeld(ctx, conn, t0.Add(30*time.Minute), 10); len(due) != 0 {
		t.Fatalf("released for later but due now: %+v", due)
	}
	if err := s.DeleteHeld(ctx, conn, due[0].ID, "no-such"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountHeld(ctx, conn, ""); n != 1 {
		t.Fatalf("%d held after delete, want 1", n)
	}
	if err := s.Hold(ctx, conn, store.HeldChange{Side: "pipedrive", ObjectID: "1", Kind: "nonsense"}); err == nil {
		t.Fatal("a held change of an unknown kind was stored")
	}
}

func TestCountFailure(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	conn, _ := s.CreateConnection(ctx, &store.Connection{})
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, at := range []time.Time{t0, t0.Add(time.Minute), t0.Add(10 * time.Minute)} {
		if n, err := s.CountFailure(ctx, conn, "pipedrive", "5", at); err != nil || n != i+1 {
			t.Fatalf("failure %d counted %d, %v", i+1, n, err)
		}
	}
	// failures more than an hour after the first start a new count
	if n, _ := s.CountFailure(ctx, conn, "pipedrive", "5", t0.Add(2*time.Hour)); n != 1 {
		t.Fatalf("a failure two hours later counted %d, want 1", n)
	}
	if err := s.ClearFailures(ctx, conn, "pipedrive", "5"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountFailure(ctx, conn, "pipedrive", "5", t0.Add(2*time.Hour)); n != 1 {
		t.Fatalf("after clearing counted %d, want 1", n)
	}
}

func TestPutSecretBumpsCredentialsVersion(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	conn, _ := s.CreateConnection(ctx, &store.Connection{})
	for want := int64(1); want <= 2; want++ {
		if err := s.PutSecret(ctx, conn, store.SecretGoogle, []byte("sealed")); err != nil {
			t.Fatal(err)
		}
		c, err := s.GetConnection(ctx, conn)
		if err != nil || c.CredentialsVersion != want {
			t.Fatalf("credentials version %d, %v; want %d", c.CredentialsVersion, err, want)
		}
	}
	if err := s.PutSecret(ctx, "no-such-connection", store.SecretGoogle, []byte("x")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PutSecret on a missing connection = %v", err)
	}
}

// The status page's counters: summed over the links by aggregation, and
// the deletes counted with the brake's window.
func TestLinkTotalsAndDeletes(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	conn, _ := s.CreateConnection(ctx, &store.Connection{})
	for i, l := range []store.Link{
		{Updates: 3, Conflicts: 1, CreatedOn: "google"},
		{Updates: 2, CreatedOn: "pipedrive"},
		{},
	} {
		l.ID = fmt.Sprint("p-", i)
		if err := s.CreateLink(ctx, conn, &l); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.LinkTotals(ctx, conn)
	want := store.Totals{Linked: 3, Updates: 5, Conflicts: 1, CreatedInGoogle: 1, CreatedInPipedrive: 1}
	if err != nil || got != want {
		t.Fatalf("LinkTotals = %+v, %v; want %+v", got, err, want)
	}
	// A pair that goes keeps counting: its counters move to the connection.
	l, err := s.GetLink(ctx, conn, "p-0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteLink(ctx, conn, l); err != nil {
		t.Fatal(err)
	}
	c, _ := s.GetConnection(ctx, conn)
	got, err = s.LinkTotals(ctx, conn)
	want = store.Totals{Linked: 2, Updates: 5, Conflicts: 1, CreatedInGoogle: 1, CreatedInPipedrive: 1}
	if err != nil || got.WithGone(c.Counts) != want {
		t.Fatalf("after a delete: LinkTotals = %+v with the gone %+v, %v; want %+v", got, c.Counts, err, want)
	}
	for range 2 {
		if err := s.SetDeleteWindow(ctx, conn, []time.Time{time.Now()}, 2); err != nil {
			t.Fatal(err)
		}
	}
	if c, _ := s.GetConnection(ctx, conn); c.Counts["deleted"] != 4 || len(c.DeleteWindow) != 1 {
		t.Fatalf("counts %v, window %v", c.Counts, c.DeleteWindow)
	}
}

func TestSearchLinks(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	conn, _ := s.CreateConnection(ctx, &store.Connection{})
	for i, keys := range [][]string{{"ada", "lovelace", "ada@example.com"}, {"grace", "hopper", "4917123"}} {
		if err := s.CreateLink(ctx, conn, &store.Link{ID: fmt.Sprint("p-", i), PipedriveID: fmt.Sprint(i), SearchKeys: keys}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		keys []string
		want []string
	}{{[]string{"lovelace"}, []string{"0"}}, {[]string{"nobody", "4917123"}, []string{"1"}}, {[]string{"x"}, nil}, {nil, nil}} {
		got, err := s.SearchLinks(ctx, conn, tc.keys, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, l := range got {
			ids = append(ids, l.PipedriveID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
			t.Errorf("SearchLinks(%v) = %v, want %v", tc.keys, ids, tc.want)
		}
	}
}
