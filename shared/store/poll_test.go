package store_test

import (
	"context"
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

func TestDeleteConfirmation(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	conn, err := s.CreateConnection(ctx, &store.Connection{Status: store.StatusPaused})
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := s.ConfirmedDeletes(ctx, conn); err != nil || n != 0 {
		t.Fatalf("ConfirmedDeletes = %d, %v", n, err)
	}
	if err := s.ConfirmDeletes(ctx, conn, 0); err == nil {
		t.Fatal("confirmed zero deletes")
	}
	if err := s.ConfirmDeletes(ctx, conn, 12); err != nil {
		t.Fatal(err)
	}
	if n, at, err := s.ConfirmedDeletes(ctx, conn); err != nil || n != 12 || time.Since(at) > time.Minute {
		t.Fatalf("ConfirmedDeletes = %d, %v, %v", n, at, err)
	}
	if err := s.ClearConfirmedDeletes(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := s.ConfirmedDeletes(ctx, conn); n != 0 {
		t.Fatalf("confirmation left after clear: %d", n)
	}
}
