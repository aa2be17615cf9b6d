package firstsync_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

// syncedPairs runs a first sync of n twins and returns their ids.
func syncedPairs(e *env, n int) (pids []int64, rns []string) {
	e.t.Helper()
	for i := range n {
		pids = append(pids, e.person(e.user, pin(fmt.Sprintf("Kim Pair%d", i), []string{fmt.Sprintf("kim%d@example.com", i)}, nil)))
		rns = append(rns, e.contact("Kim", fmt.Sprintf("Pair%d", i), "", []string{fmt.Sprintf("kim%d@example.com", i)}, nil, true))
	}
	if err := e.start(store.FirstSyncRun); err != nil {
		e.t.Fatal(err)
	}
	if c := e.get(); c.Status != store.StatusLive {
		e.t.Fatalf("first sync: status %s", c.Status)
	}
	e.direct.Published = nil
	return pids, rns
}

// A full reconcile (Google's sync token expired, or the links were lost)
// is the first sync run on a live connection: linked pairs are decided
// against their base (an edit on either side is synced), new records are
// matched or created, and linked records the listing no longer shows are
// handed to the applier to check, one change each, never deleted blind.
func TestReconcileDecidesLinkedPairsAndChecksTheMissing(t *testing.T) {
	e := newEnv(t, envOptions{})
	pids, rns := syncedPairs(e, 5)
	// after the first sync: edits on both sides, a delete on each side,
	// a contact leaving the group, new records on both sides
	if _, err := e.g.EditContact(e.email, rns[0], func(p *people.Person) { p.Names[0].FamilyName = "Edited" }); err != nil {
		t.Fatal(err)
	}
	name := "Kim Changed"
	if err := e.pd.UIEditPerson(e.user, pids[1], pipedrive.PersonInput{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if err := e.g.DeleteContact(e.email, rns[2]); err != nil {
		t.Fatal(err)
	}
	if err := e.g.SetMembership(e.email, rns[3], e.group, false); err != nil {
		t.Fatal(err)
	}
	if err := e.pd.UIDeletePerson(e.user, pids[4]); err != nil {
		t.Fatal(err)
	}
	newP := e.person(e.user, pin("Lea New", []string{"lea@example.com"}, nil))
	newG := e.contact("Max", "New", "", []string{"max@example.com"}, nil, true)
	oldToken := e.get().GoogleSyncToken

	if err := e.start(store.FirstSyncReconcile); err != nil {
		t.Fatal(err)
	}
	c := e.get()
	if c.Status != store.StatusLive || c.GoogleSyncToken == oldToken || c.FirstSync.Mode != store.FirstSyncReconcile {
		t.Fatalf("status %s, mode %s, token renewed %v", c.Status, c.FirstSync.Mode, c.GoogleSyncToken != oldToken)
	}
	w := e.world()
	per, _ := e.pd.Person(pids[0])
	if !strings.Contains(per.Name, "Edited") {
		t.Errorf("Google's edit not in Pipedrive: %q", per.Name)
	}
	g0 := w.contacts[rns[1]]
	if g0.DisplayName() != "Kim Changed" {
		t.Errorf("Pipedrive's edit not in Google: %q", g0.DisplayName())
	}
	// the missing ones: one change each for the applier, no write by the job
	var got []string
	for _, ch := range e.direct.Published {
		got = append(got, fmt.Sprintf("%s %s %s %s", ch.Kind, ch.Side, ch.ObjectID, ch.Source))
	}
	slices.Sort(got)
	want := []string{
		fmt.Sprintf("upsert google %s reconcile", rns[2]),
		fmt.Sprintf("upsert google %s reconcile", rns[3]),
		fmt.Sprintf("upsert pipedrive %d reconcile", pids[4]),
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("published %v\nwant %v", got, want)
	}
	if _, ok := e.pd.Person(pids[2]); !ok {
		t.Error("the reconcile deleted a person itself")
	}
	// the new records are paired like in a first sync
	if l, err := e.st.LinkByPipedrive(e.ctx, e.conn.ID, fmt.Sprint(newP)); err != nil || l.GoogleID == "" {
		t.Errorf("new person not linked: %v %v", l, err)
	}
	if l, err := e.st.LinkByGoogle(e.ctx, e.conn.ID, newG); err != nil || l.PipedriveID == "" {
		t.Errorf("new contact not linked: %v %v", l, err)
	}
	// history of the existing links is kept and extended
	l, err := e.st.LinkByGoogle(e.ctx, e.conn.ID, rns[0])
	if err != nil || len(l.History) < 2 || l.Updates < 1 {
		t.Errorf("link history %+v (updates %d): want the first sync's entry and the reconcile's", l.History, l.Updates)
	}
}

// A contact created moments ago may be missing from a listing (Google's
// propagation delay): it is only checked, so nothing is deleted.
func TestReconcileNeverDeletesAContactNotYetListed(t *testing.T) {
	e := newEnv(t, envOptions{gopts: []googlefake.Option{googlefake.WithPropagationDelay(time.Hour)}})
	pid := e.person(e.user, pin("Nora Fresh", []string{"nora@example.com"}, nil))
	if err := e.start(store.FirstSyncRun); err != nil {
		t.Fatal(err)
	}
	// the contact the first sync just created is not in a listing yet
	l, err := e.st.LinkByPipedrive(e.ctx, e.conn.ID, fmt.Sprint(pid))
	if err != nil {
		t.Fatal(err)
	}
	e.direct.Published = nil
	if err := e.start(store.FirstSyncReconcile); err != nil {
		t.Fatal(err)
	}
	for _, ch := range e.direct.Published {
		if ch.Kind == queue.Delete {
			t.Errorf("published a delete: %+v", ch)
		}
	}
	if _, err := e.g.Contact(e.email, l.GoogleID); err != nil {
		t.Errorf("contact gone: %v", err)
	}
	if _, ok := e.pd.Person(pid); !ok {
		t.Error("person gone")
	}
}

// The empty-side guard in a full listing: a group that lists nobody while
// more links than the brake's minimum exist holds the deletes for the
// user and pauses, instead of deleting every person.
func TestReconcileEmptySideGuard(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, rns := syncedPairs(e, 12)
	for _, rn := range rns {
		if err := e.g.SetMembership(e.email, rn, e.group, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.start(store.FirstSyncReconcile); err != nil {
		t.Fatal(err)
	}
	c := e.get()
	if c.Status != store.StatusPaused || c.PauseReason != store.PauseEmptyGoogle || !strings.Contains(c.StatusReason, "listed no contacts") || c.BrakeTrippedAt.IsZero() {
		t.Fatalf("status %s (%s): %q", c.Status, c.PauseReason, c.StatusReason)
	}
	if last := c.LastErrors[len(c.LastErrors)-1]; last.Key != store.PauseEmptyGoogle || len(last.Args) != 1 || last.Args[0] != "12" {
		t.Errorf("error recorded as %q %v: want %s with the 12 links", last.Key, last.Args, store.PauseEmptyGoogle)
	}
	if len(e.direct.Published) != 0 {
		t.Errorf("published %d changes", len(e.direct.Published))
	}
	held, err := e.st.HeldChanges(e.ctx, e.conn.ID, store.HeldBrake, 100)
	if err != nil || len(held) != 12 {
		t.Fatalf("held %d, %v: want the 12 deletes", len(held), err)
	}
	for _, p := range e.pd.Persons(e.company) {
		if p.IsDeleted {
			t.Errorf("person %d deleted", p.ID)
		}
	}
}

// Pipedrive's daily budget: the first sync spends its share of the day,
// says it waits and until when, and continues after the reset; it never
// fails and never draws the budget's 429.
func TestDailyBudgetPausesAndContinuesAfterTheReset(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	e := newEnv(t, envOptions{limits: true, plan: pipedrivefake.Lite, dailyBase: 300, start: start, chunk: 20})
	const n = 60 // 300 tokens of creates; the day's share is 240
	for i := range n {
		e.contact("Otto", fmt.Sprintf("Budget%02d", i), "", []string{fmt.Sprintf("otto%d@example.com", i)}, nil, true)
	}
	if err := e.start(store.FirstSyncRun); err != nil {
		t.Fatal(err)
	}
	c := e.get()
	fs := c.FirstSync
	reset := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC).Add(pipedrive.DailyBudgetMargin)
	if c.Status != store.StatusFirstSync || fs.Phase != store.PhaseWaiting || !fs.ResumeAt.Equal(reset) || !strings.Contains(fs.Reason, "daily") {
		t.Fatalf("status %s, phase %s, resume %v, reason %q: want waiting for the reset", c.Status, fs.Phase, fs.ResumeAt, fs.Reason)
	}
	if used := e.pd.DailyUsage(e.company); used > 240 {
		t.Errorf("spent %d tokens of 300: more than the job's share", used)
	}
	if fs.PipedriveDone == 0 || fs.PipedriveDone >= n {
		t.Errorf("%d created on day one", fs.PipedriveDone)
	}
	// the poller's look before the reset changes nothing
	e.clock.Advance(time.Hour)
	if err := e.kick(); err != nil {
		t.Fatal(err)
	}
	if got := e.get().FirstSync.PipedriveDone; got != fs.PipedriveDone {
		t.Fatalf("continued before the reset: %d", got)
	}
	e.clock.Advance(reset.Sub(e.clock.Now()))
	if err := e.kick(); err != nil {
		t.Fatal(err)
	}
	c = e.get()
	if c.Status != store.StatusLive || c.FirstSync.PipedriveDone != n {
		t.Fatalf("after the reset: status %s, %d of %d created", c.Status, c.FirstSync.PipedriveDone, n)
	}
	for _, call := range e.pd.CallLog() {
		if call.Status == 429 {
			t.Errorf("429 on %s at %v", call.Route, call.At)
		}
	}
	if p := e.world().problems(e.m); len(p) != 0 {
		t.Fatalf("problems:\n%s", strings.Join(p, "\n"))
	}
}
