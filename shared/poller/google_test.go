package poller_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/firstsync"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

func up(rn string) string  { return "upsert google " + rn + " poll" }
func del(rn string) string { return "delete google " + rn + " poll" }

func TestFirstListingPublishesGroupMembersOnly(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	a, b := e.seed(c, "Ann", true), e.seed(c, "Bob", true)
	e.seed(c, "Outside", false)
	other := e.newConn() // another user's contacts are not listed at all
	e.seed(other, "Stranger", true)

	e.mustPoll(c)
	if d := cmp.Diff(want(up(a.ResourceName), up(b.ResourceName)), e.changes()); d != "" {
		t.Fatalf("changes (-want +got):\n%s", d)
	}
	got := e.get(c)
	if got.GoogleSyncToken == "" || got.LastPollAt.IsZero() {
		t.Fatalf("token %q, last poll %v: want both set", got.GoogleSyncToken, got.LastPollAt)
	}
}

func TestIncrementalChanges(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	edited, deleted, leaver, same := e.seed(c, "Edited", true), e.seed(c, "Deleted", true), e.seed(c, "Leaver", true), e.seed(c, "Same", true)
	outside := e.seed(c, "Outside", false)
	// A tombstone carries no groups: one of a contact no link knows is
	// published too, since the applier may be creating its pair right now
	// (a long convergence run, seed 154: a contact deleted while the
	// applier created its person kept the person). The applier's delete,
	// ordered after that create, finds the link or does nothing.
	outsideDeleted := e.seed(c, "OutsideDeleted", false)
	e.mustPoll(c)
	e.changes()
	for i, p := range e.people(c, edited, deleted, leaver, same) {
		e.link(c, p, fmt.Sprint(i+1))
	}

	// Nothing changed: an incremental poll publishes nothing.
	e.mustPoll(c)
	if got := e.changes(); len(got) != 0 {
		t.Fatalf("quiet poll published %v", got)
	}

	e.edit(c, edited.ResourceName, "Edited again")
	if err := e.gfake.DeleteContact(c.email, deleted.ResourceName); err != nil {
		t.Fatal(err)
	}
	if err := e.gfake.SetMembership(c.email, leaver.ResourceName, c.group, false); err != nil {
		t.Fatal(err)
	}
	e.edit(c, outside.ResourceName, "Outside edited")
	if err := e.gfake.DeleteContact(c.email, outsideDeleted.ResourceName); err != nil {
		t.Fatal(err)
	}
	joined := e.seed(c, "Joined", false)
	if err := e.gfake.SetMembership(c.email, joined.ResourceName, c.group, true); err != nil {
		t.Fatal(err)
	}
	before := e.get(c).GoogleSyncToken
	e.mustPoll(c)
	wantChanges := want(up(edited.ResourceName), del(deleted.ResourceName), del(leaver.ResourceName), up(joined.ResourceName),
		del(outsideDeleted.ResourceName))
	if d := cmp.Diff(wantChanges, e.changes()); d != "" {
		t.Fatalf("changes (-want +got):\n%s", d)
	}
	if after := e.get(c).GoogleSyncToken; after == before || after == "" {
		t.Fatal("sync token not advanced")
	}
	e.mustPoll(c)
	if got := e.changes(); len(got) != 0 {
		t.Fatalf("second poll republished %v", got)
	}
}

func TestSyncTokenSavedOnlyAfterPublish(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	a := e.seed(c, "Ann", true)
	e.mustPoll(c)
	e.changes()
	token := e.get(c).GoogleSyncToken

	e.edit(c, a.ResourceName, "Ann B")
	e.pub.failChanges.Store(1)
	if err := e.poll(c); err == nil {
		t.Fatal("poll with a failed publish returned nil: Pub/Sub would not retry")
	}
	if got := e.get(c).GoogleSyncToken; got != token {
		t.Fatal("sync token advanced although the publish failed")
	}
	if got := e.changes(); len(got) != 0 {
		t.Fatalf("published %v", got)
	}
	// Pub/Sub redelivers the poll message: the change is published now.
	e.mustPoll(c)
	if d := cmp.Diff(want(up(a.ResourceName)), e.changes()); d != "" {
		t.Fatalf("retry (-want +got):\n%s", d)
	}
	if got := e.get(c).GoogleSyncToken; got == token {
		t.Fatal("sync token not advanced after the retry")
	}
}

// An expired sync token hands the connection to a full reconcile: the
// first sync's job lists both sides and re-pairs them (tested in
// firstsync); the poll publishes nothing itself, keeps the old token until
// the job replaces it, and a poll while the job runs only looks after it.
func TestExpiredTokenStartsReconcile(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	kept := e.seed(c, "Kept", true)
	e.mustPoll(c)
	e.changes()
	e.link(c, e.people(c, kept)[0], "1")
	e.seed(c, "Added", true)
	if err := e.gfake.ExpireSyncTokens(c.email); err != nil {
		t.Fatal(err)
	}
	old := e.get(c).GoogleSyncToken

	e.mustPoll(c)
	if got := e.changes(); len(got) != 0 {
		t.Fatalf("the poll published %v; the reconcile job decides", got)
	}
	got := e.get(c)
	if got.Status != store.StatusFirstSync || got.FirstSync == nil || got.FirstSync.Mode != store.FirstSyncReconcile ||
		got.FirstSync.Phase != store.PhaseListing {
		t.Fatalf("status %s, job %+v: want a reconcile job listing", got.Status, got.FirstSync)
	}
	if got.GoogleSyncToken != old {
		t.Fatal("the token changed before the job's listing replaced it")
	}
	steps := e.firstSyncSteps()
	if len(steps) != 1 || steps[0].Chain != queue.ChainPlan || steps[0].Job != got.FirstSync.Job {
		t.Fatalf("steps %+v: want the job's plan step", steps)
	}
	// While the job runs the poll does not list Google; a fresh job is
	// not stalled, so nothing is sent again.
	before := e.gfake.Stats(c.email).Calls[googlefake.MethodConnectionsList]
	e.mustPoll(c)
	if n := e.gfake.Stats(c.email).Calls[googlefake.MethodConnectionsList] - before; n != 0 {
		t.Errorf("%d listing calls during the job", n)
	}
	if steps := e.firstSyncSteps(); len(steps) != 0 {
		t.Errorf("steps sent again: %+v", steps)
	}
	// A job without progress for firstsync.Stall gets its step again.
	e.clock.Advance(firstsync.Stall)
	e.mustPoll(c)
	if steps := e.firstSyncSteps(); len(steps) != 1 || steps[0].Chain != queue.ChainPlan {
		t.Errorf("stalled job: steps %+v, want the plan step again", steps)
	}
}

func TestEmptySideGuardOnDeltaPolls(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	var ps []string
	for i := range 11 {
		p := e.seed(c, fmt.Sprint("P", i), true)
		e.link(c, p, fmt.Sprint(i+1))
		ps = append(ps, p.ResourceName)
	}
	e.mustPoll(c)
	e.changes()
	remove := func(rns []string) {
		for _, rn := range rns {
			if err := e.gfake.SetMembership(c.email, rn, c.group, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	remove(ps[:6])
	e.mustPoll(c)
	if got := e.changes(); len(got) != 6 {
		t.Fatalf("first poll published %v, want the 6 removals", got)
	}
	remove(ps[6:])
	e.mustPoll(c)
	if got := e.changes(); len(got) != 0 {
		t.Fatalf("the poll that emptied the group published %v", got)
	}
	if held := e.heldDeletes(c); len(held) != 5 {
		t.Fatalf("held %v, want the last 5 removals", held)
	}
	if got := e.get(c); got.Status != store.StatusPaused || got.PauseReason != store.PauseEmptyGoogle {
		t.Fatalf("status %s (%s), want paused by the empty-side guard", got.Status, got.PauseReason)
	}
}

func TestRekeyedContactMovesItsLink(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	p := e.seed(c, "Rekeyed", true)
	e.mustPoll(c)
	e.changes()
	e.link(c, p, "7")
	newName, err := e.gfake.ChangeResourceName(c.email, p.ResourceName)
	if err != nil {
		t.Fatal(err)
	}
	e.mustPoll(c)
	got := e.changes()
	for _, ch := range got {
		if strings.HasPrefix(ch, "delete") {
			t.Fatalf("re-key published a delete: %v", got)
		}
	}
	l, err := e.st.LinkByGoogle(e.ctx, c.ID, newName)
	if err != nil {
		t.Fatalf("link not moved to the new resource name: %v", err)
	}
	if l.PipedriveID != "7" {
		t.Fatalf("moved the wrong link: %+v", l)
	}
	if _, err := e.st.LinkByGoogle(e.ctx, c.ID, p.ResourceName); err == nil {
		t.Fatal("the old resource name still has a link")
	}
}

func TestGroupDeletedPauses(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	p := e.seed(c, "Member", true)
	e.mustPoll(c)
	e.changes()
	e.link(c, p, "1")
	if err := e.gfake.DeleteGroup(c.email, c.group, false); err != nil {
		t.Fatal(err)
	}
	e.mustPoll(c)
	if got := e.changes(); len(got) != 0 {
		t.Fatalf("published %v after the group was deleted", got)
	}
	if got := e.get(c); got.Status != store.StatusPaused || !strings.Contains(got.StatusReason, "no longer exists") {
		t.Fatalf("status %s, reason %q", got.Status, got.StatusReason)
	}
}

func TestRevokedGrantNeedsReauth(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	e.seed(c, "A", true)
	e.mustPoll(c) // clients are now cached with a live access token
	e.changes()

	e.gfake.RevokeTokens(c.email)
	// The cached access token is refused first (transient, clients dropped),
	// then the refresh says invalid_grant.
	for range 3 {
		if err := e.poll(c); err == nil {
			break
		}
	}
	got := e.get(c)
	if got.Status != store.StatusNeedsReauth || !got.PollDueAt.IsZero() || len(got.LastErrors) == 0 {
		t.Fatalf("status %s, due %v, errors %d: want needs_reauth, no due time, an error", got.Status, got.PollDueAt, len(got.LastErrors))
	}
	if !strings.Contains(got.LastErrors[len(got.LastErrors)-1].Message, "Google") {
		t.Fatalf("error %q does not say which account", got.LastErrors[len(got.LastErrors)-1].Message)
	}
	if k := got.LastErrors[len(got.LastErrors)-1].Key; k != "reauth_google" {
		t.Errorf("error key %q, want reauth_google", k)
	}
	if got := e.changes(); len(got) != 0 {
		t.Fatalf("published %v", got)
	}
	// The fan-out no longer picks it.
	e.clock.Advance(time.Hour)
	n, err := e.p.FanOut(e.ctx)
	if err != nil || n != 0 {
		t.Fatalf("FanOut = %d, %v: want 0", n, err)
	}
	// A poll message still in flight changes nothing.
	e.mustPoll(c)
	if got := e.get(c); got.Status != store.StatusNeedsReauth {
		t.Fatalf("status %s", got.Status)
	}
}

func TestNotLiveIsSkippedAndUnscheduled(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	e.seed(c, "A", true)
	if _, err := e.st.UpdateConnection(e.ctx, c.ID, func(x *store.Connection) error {
		x.Status = store.StatusPaused
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.mustPoll(c)
	if got := e.changes(); len(got) != 0 {
		t.Fatalf("paused connection published %v", got)
	}
	if got := e.get(c); !got.PollDueAt.IsZero() || got.GoogleSyncToken != c.GoogleSyncToken {
		t.Fatalf("paused connection: due %v, token %q", got.PollDueAt, got.GoogleSyncToken)
	}
}

// people returns the fake's current state of ps (fresh etags).
func (e *env) people(c *conn, ps ...*people.Person) []*people.Person {
	e.t.Helper()
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.ResourceName
	}
	return e.peopleByName(c, names...)
}

func (e *env) peopleByName(c *conn, names ...string) []*people.Person {
	e.t.Helper()
	out := make([]*people.Person, len(names))
	for i, rn := range names {
		p, err := e.gfake.Contact(c.email, rn)
		if err != nil {
			e.t.Fatal(err)
		}
		out[i] = p
	}
	return out
}

// resume does what the settings page does to resume a paused connection.
func (e *env) resume(c *conn) {
	e.t.Helper()
	if _, err := e.st.UpdateConnection(e.ctx, c.ID, func(x *store.Connection) error {
		x.Status, x.StatusReason, x.PollDueAt = store.StatusLive, "", e.clock.Now()
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

// heldDeletes lists c's changes held by the brake or the empty-side guard.
func (e *env) heldDeletes(c *conn) []string {
	e.t.Helper()
	hs, err := e.st.HeldChanges(e.ctx, c.ID, store.HeldBrake, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, h := range hs {
		out = append(out, h.Side+" "+h.ObjectID+" "+h.Code)
	}
	return out
}

// firstSyncSteps drains the first-sync topic's test subscription.
func (e *env) firstSyncSteps() []queue.FirstSyncStep {
	e.t.Helper()
	var out []queue.FirstSyncStep
	for _, b := range e.pull(firstSyncTopic) {
		s, err := queue.DecodeFirstSyncStep(b)
		if err != nil {
			e.t.Fatalf("bad first-sync step: %v", err)
		}
		out = append(out, s)
	}
	return out
}
