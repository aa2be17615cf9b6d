package poller_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-cmp/cmp"

	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/poller"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

func (e *env) hold(c *conn, h store.HeldChange) {
	e.t.Helper()
	if h.FirstAt.IsZero() {
		h.FirstAt, h.LastAt = e.clock.Now(), e.clock.Now()
	}
	if err := e.st.Hold(e.ctx, c.ID, h); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) decisions() []string {
	e.t.Helper()
	var out []string
	for _, b := range e.pull(changesTopic) {
		ch, err := queue.DecodeChange(b)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s %s %s %q", ch.Kind, ch.Side, ch.ObjectID, ch.Source, ch.Decision))
	}
	return want(out...)
}

// Held changes come back when they are due: a deferred one as soon as the
// connection syncs, a failed one after its pause, a braked delete only
// with the user's decision; each once, and it leaves the held list.
func TestHeldChangesPublishedWhenDue(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	now := e.clock.Now()
	e.hold(c, store.HeldChange{Side: "pipedrive", ObjectID: "1", ChangeKind: "delete", Kind: store.HeldDeferred, Code: "paused"})
	e.hold(c, store.HeldChange{Side: "google", ObjectID: "people/c2", ChangeKind: "upsert", Kind: store.HeldFailed, Code: "transient", RetryAt: now.Add(15 * time.Minute)})
	e.hold(c, store.HeldChange{Side: "pipedrive", ObjectID: "3", ChangeKind: "delete", Kind: store.HeldBrake, Code: "brake"})
	e.hold(c, store.HeldChange{Side: "pipedrive", ObjectID: "4", ChangeKind: "upsert", Kind: store.HeldFailed, Code: "permanent"})

	e.mustPoll(c)
	if d := cmp.Diff(want(`delete pipedrive 1 held ""`), e.decisions()); d != "" {
		t.Fatalf("first poll (-want +got):\n%s", d)
	}
	e.clock.Advance(16 * time.Minute)
	e.mustPoll(c)
	if d := cmp.Diff(want(`upsert google people/c2 held ""`), e.decisions()); d != "" {
		t.Fatalf("after the pause (-want +got):\n%s", d)
	}
	if _, err := e.st.ReleaseHeld(e.ctx, c.ID, store.HeldBrake, nil, "confirm", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.mustPoll(c)
	if d := cmp.Diff(want(`delete pipedrive 3 held "confirm"`), e.decisions()); d != "" {
		t.Fatalf("after the confirmation (-want +got):\n%s", d)
	}
	e.clock.Advance(24 * time.Hour)
	e.mustPoll(c)
	if got := e.decisions(); len(got) != 0 {
		t.Fatalf("published again: %v", got)
	}
	left, err := e.st.HeldChanges(e.ctx, c.ID, "", 10)
	if err != nil || len(left) != 1 || left[0].ObjectID != "4" {
		t.Fatalf("held list %+v, %v: want only the permanent failure, waiting for the user", left, err)
	}
	if got := e.get(c).HeldDueAt; !got.IsZero() {
		t.Fatalf("held_due_at %v, want none due", got)
	}
}

// A change made due while the poller publishes the due ones (held by the
// applier, which found the first sync still running a moment before it
// ended; or retried by the user) is not in the poller's listing: it must
// still be published, by the next poll (seed 242 of a long convergence
// run: it stayed held for good).
func TestChangeMadeDueWhileHeldArePublished(t *testing.T) {
	for _, tc := range []struct {
		name      string
		before    store.HeldChange // held before the poll, not due
		meanwhile func(e *env, c *conn)
	}{
		{name: "held by the applier", meanwhile: func(e *env, c *conn) {
			e.hold(c, store.HeldChange{Side: "pipedrive", ObjectID: "2", ChangeKind: "upsert", Kind: store.HeldDeferred, Code: "first_sync"})
		}},
		{name: "retried by the user",
			before: store.HeldChange{Side: "pipedrive", ObjectID: "2", ChangeKind: "upsert", Kind: store.HeldFailed, Code: "permanent"},
			meanwhile: func(e *env, c *conn) {
				if _, err := e.st.ReleaseHeld(e.ctx, c.ID, "", []string{store.HeldKey("pipedrive", "2")}, "", e.clock.Now()); err != nil {
					e.t.Fatal(err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.newConn()
			if tc.before.ObjectID != "" {
				e.hold(c, tc.before)
			}
			e.hold(c, store.HeldChange{Side: "pipedrive", ObjectID: "1", ChangeKind: "upsert", Kind: store.HeldDeferred, Code: "first_sync"})
			meanwhile := func() { tc.meanwhile(e, c) }
			e.pub.onHeld.Store(&meanwhile)
			e.mustPoll(c)
			if d := cmp.Diff(want(`upsert pipedrive 1 held ""`), e.decisions()); d != "" {
				t.Fatalf("first poll (-want +got):\n%s", d)
			}
			e.clock.Advance(time.Second)
			e.mustPoll(c)
			if d := cmp.Diff(want(`upsert pipedrive 2 held ""`), e.decisions()); d != "" {
				t.Fatalf("the change made due meanwhile, next poll (-want +got):\n%s", d)
			}
			e.clock.Advance(time.Second)
			e.mustPoll(c)
			if got := e.decisions(); len(got) != 0 {
				t.Fatalf("published again: %v", got)
			}
			if got := e.get(c).HeldDueAt; !got.IsZero() {
				t.Fatalf("held_due_at %v, want none due once all were published", got)
			}
		})
	}
}

// A paused connection's held changes wait: nothing is published for it.
func TestHeldChangesWaitWhileNotSyncing(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	e.pause(c)
	e.hold(c, store.HeldChange{Side: "pipedrive", ObjectID: "1", ChangeKind: "delete", Kind: store.HeldDeferred, Code: "paused"})
	e.mustPoll(c)
	if got := e.decisions(); len(got) != 0 {
		t.Fatalf("a paused connection's held change was published: %v", got)
	}
}

func (e *env) pause(c *conn) {
	e.t.Helper()
	if _, err := e.st.UpdateConnection(e.ctx, c.ID, func(x *store.Connection) error {
		x.Status = store.StatusPaused
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

// A delete or an owner change whose webhook was lost is found by the
// reconciliation of linked and owned persons, which the updated_since
// listing cannot do (Pipedrive never lists deleted persons, and the owner
// filter hides reassigned ones).
func TestReconcileFindsLostDeletesAndOwnerChanges(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	colleague, _, err := e.pfake.CreateUser(e.company, "Colleague", "colleague@example.com")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i := range 4 {
		id, err := e.pfake.SeedPerson(c.pdUser, pipedrive.PersonInput{Name: ptr(fmt.Sprint("Person ", i))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		pid := strconv.FormatInt(id, 10)
		l := &store.Link{ID: store.LinkIDForPipedrive(pid), PipedriveID: pid, GoogleID: fmt.Sprint("people/c", i)}
		if i == 3 {
			l.GoogleID, l.Parked = "", "people/c3" // owned by someone else on purpose
		}
		if err := e.st.CreateLink(e.ctx, c.ID, l); err != nil {
			t.Fatal(err)
		}
	}
	// No webhook for these: deleted, and given to a colleague.
	if err := e.pfake.UIDeletePerson(c.pdUser, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := e.pfake.UIEditPerson(c.pdUser, ids[1], pipedrive.PersonInput{OwnerID: &colleague}); err != nil {
		t.Fatal(err)
	}
	e.safetyNetDue(c)
	e.mustPoll(c)
	var got []string
	for _, line := range e.changes() {
		if strings.Contains(line, " reconcile") {
			got = append(got, line)
		}
	}
	wantLines := want(fmt.Sprint("upsert pipedrive ", ids[0], " reconcile"), fmt.Sprint("upsert pipedrive ", ids[1], " reconcile"))
	if d := cmp.Diff(wantLines, got); d != "" {
		t.Fatalf("reconciliation (-want +got):\n%s", d)
	}
	if e.get(c).LastReconcileAt.IsZero() {
		t.Fatal("reconciliation time not recorded")
	}
	// Not again before its interval.
	e.safetyNetDue(c)
	e.clock.Advance(time.Minute)
	e.mustPoll(c)
	for _, line := range e.changes() {
		if strings.Contains(line, "reconcile") {
			t.Fatalf("reconciled again within its interval: %s", line)
		}
	}
}

// The reconciliation's own empty-side guard: a user who suddenly owns no
// person while links exist does not lose every Google contact.
func TestReconcileEmptySideGuard(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	for i := range 11 {
		pid := strconv.Itoa(900 + i) // linked persons the user does not own (any more)
		p := e.seed(c, fmt.Sprint("P", i), true)
		if err := e.st.CreateLink(e.ctx, c.ID, &store.Link{ID: store.LinkIDForPipedrive(pid), PipedriveID: pid,
			GoogleID: p.ResourceName, GoogleVersion: p.Etag}); err != nil {
			t.Fatal(err)
		}
	}
	e.safetyNetDue(c)
	e.mustPoll(c)
	for _, line := range e.changes() {
		if strings.Contains(line, "reconcile") {
			t.Fatalf("published %s while the user owns nobody", line)
		}
	}
	got := e.get(c)
	if got.Status != store.StatusPaused || got.PauseReason != store.PauseEmptyPipedrive {
		t.Fatalf("status %s (%s), want paused by the empty-side guard", got.Status, got.PauseReason)
	}
	if held := e.heldDeletes(c); len(held) != 11 {
		t.Fatalf("held %v, want the 11 linked persons", held)
	}
	if n := len(got.LastErrors); n == 0 || got.LastErrors[n-1].Key != store.PauseEmptyPipedrive || len(got.LastErrors[n-1].Args) != 1 {
		t.Errorf("errors %+v, want the guard's with key %s and the linked count", got.LastErrors, store.PauseEmptyPipedrive)
	}
}

// The reconciliation's cadence stretches with the size of the book.
func TestReconcileCadence(t *testing.T) {
	if got := poller.ReconcilePerPage * 20; got < 90*time.Minute {
		t.Fatalf("10,000 persons (20 pages) reconciled every %v: more than ~3,000 tokens a day", got)
	}
}

// What Pub/Sub gave up on is moved into the held list, never lost.
func TestDeadLettersMovedToHeld(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	dl := queue.ChangesTopic + queue.DeadLetterSuffix
	if _, err := e.ps.TopicAdminClient.CreateTopic(e.ctx, &pubsubpb.Topic{Name: e.topicName(dl)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ps.SubscriptionAdminClient.CreateSubscription(e.ctx, &pubsubpb.Subscription{
		Name: "projects/" + e.project + "/subscriptions/" + dl + "-hold", Topic: e.topicName(dl), AckDeadlineSeconds: 60,
	}); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(queue.Change{ConnectionID: c.ID, Side: queue.Pipedrive, ObjectID: "77", Kind: queue.Delete, Source: queue.FromWebhook})
	pubr := e.ps.Publisher(dl)
	defer pubr.Stop()
	for _, data := range [][]byte{b, []byte("not json")} {
		if _, err := pubr.Publish(e.ctx, &pubsub.Message{Data: data}).Get(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	p := e.newPoller(func(cfg *poller.Config) { cfg.DeadLetters = queue.NewDeadLetters(e.ps, queue.ChangesTopic) })
	n, err := p.DrainDeadLetters(e.ctx)
	if err != nil || n != 2 {
		t.Fatalf("DrainDeadLetters = %d, %v; want both acknowledged", n, err)
	}
	hs, _ := e.st.HeldChanges(e.ctx, c.ID, store.HeldFailed, 10)
	if len(hs) != 1 || hs[0].ObjectID != "77" || hs[0].Code != "dead_letter" || hs[0].RetryAt.IsZero() {
		t.Fatalf("held %+v, want the dead letter held and retried later", hs)
	}
	if n, _ := p.DrainDeadLetters(e.ctx); n != 0 {
		t.Fatalf("drained %d again", n)
	}
}

// A link table that was lost (most owned persons have no link) is
// rebuilt by a full reconcile, the first sync's job, which re-pairs the
// records without duplicates.
func TestLostLinksStartAFullReconcile(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	for i := range 12 {
		if _, err := e.pfake.SeedPerson(c.pdUser, pipedrive.PersonInput{Name: ptr(fmt.Sprint("Person ", i))}); err != nil {
			t.Fatal(err)
		}
	}
	e.safetyNetDue(c)
	e.mustPoll(c)
	got := e.get(c)
	if got.Status != store.StatusFirstSync || got.FirstSync == nil || got.FirstSync.Mode != store.FirstSyncReconcile {
		t.Fatalf("status %s, job %+v: want a full reconcile", got.Status, got.FirstSync)
	}
	if steps := e.firstSyncSteps(); len(steps) != 1 {
		t.Fatalf("steps %+v", steps)
	}
	for _, line := range e.changes() {
		if strings.Contains(line, "reconcile") {
			t.Errorf("the poll published %s itself", line)
		}
	}
}
