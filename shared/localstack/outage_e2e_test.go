package localstack_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

// TestApplierOutageLosesNothing: the Apply function is killed for 30 s in
// the middle of a burst of webhooks, then started again. The intake
// answers 200 throughout, and once the applier is back every change is
// applied: Google holds each person's last edit. The local stack's Pub/Sub
// emulator must keep pushing: with a dead-letter policy on its
// subscriptions it stopped for good after about ten failed pushes
// (facts-gcp-go.md, corrections), so queue.Ensure sets none there.
func TestApplierOutageLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the whole stack")
	}
	h := startSyncStack(t, nil)
	var persons []int64
	for i := range 5 {
		first, last := "Outage", fmt.Sprintf("Person%d", i)
		id, err := h.s.Pipedrive.UIAddPerson(h.demo.PipedriveUserID, pipedrive.PersonInput{FirstName: &first, LastName: &last})
		if err != nil {
			t.Fatal(err)
		}
		persons = append(persons, id)
	}
	links, _ := h.linksOf(t)
	waitFor(t, "the persons in Google", 30*time.Second, func() bool {
		if n := h.lastEditsInGoogle(t, persons, links); n == len(persons) {
			return true
		}
		links, _ = h.linksOf(t)
		return false
	})
	published := h.watchPublished(t)

	// 5 webhooks a second for 36 s; the applier is down from 3 s to 33 s.
	const down, outage = 3 * time.Second, 30 * time.Second
	b := burst{webhooks: 180, over: 36 * time.Second, concurrency: 5}
	var killed, restarted time.Time
	var writes int // Google writes while the applier was down
	r := h.sendBurst(t, b, persons, func(_ int, since time.Duration) {
		switch {
		case killed.IsZero() && since >= down:
			if err := h.s.KillFunction("Apply"); err != nil {
				t.Errorf("kill Apply: %v", err)
			}
			killed = time.Now()
			time.Sleep(200 * time.Millisecond) // a write sent just before the kill is counted before
			writes = h.s.Google.Stats(h.demo.GoogleUser).Writes
		case !killed.IsZero() && restarted.IsZero() && since >= down+outage:
			writes = h.s.Google.Stats(h.demo.GoogleUser).Writes - writes
			if err := h.s.StartFunction(t.Context(), "Apply"); err != nil {
				t.Errorf("start Apply again: %v", err)
			}
			restarted = time.Now()
		}
	})
	if killed.IsZero() || restarted.IsZero() {
		t.Fatalf("the applier was not killed and started again (killed %v, started %v)", killed, restarted)
	}
	if r.accepted != r.sent || len(r.refused) > 0 {
		t.Errorf("the intake accepted %d of %d webhooks; other answers: %v", r.accepted, r.sent, r.refused)
	}
	if writes != 0 {
		t.Errorf("Google was written %d times while the applier was down", writes)
	}
	took := waitFor(t, "every change applied after the outage", time.Minute, func() bool {
		return h.lastEditsInGoogle(t, persons, links) == len(persons)
	})
	if got := published.count(); got != r.accepted {
		t.Errorf("%d changes published for %d accepted webhooks", got, r.accepted)
	}
	t.Logf("applier down %v during a burst of %d webhooks (%d during the outage), all answered 200 (p99 %v); "+
		"every person's last edit in Google %v after the restart (%v after the last webhook)",
		restarted.Sub(killed).Round(100*time.Millisecond), r.sent, int(outage.Seconds())*b.webhooks/int(b.over.Seconds()),
		pct(r.latencies, 0.99), time.Since(restarted).Round(100*time.Millisecond), took.Round(100*time.Millisecond))
}
