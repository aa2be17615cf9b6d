package applier_test

// Nothing is lost (issue "never lose a change"): each test reproduces a
// path on which the live sync used to lose changes, through the real
// applier, store (on the emulator) and fakes.

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/applier"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/syncplan"
)

// Revoking Google and connecting it again: the changes made meanwhile are
// held (not skipped), and applied as soon as the account is back — with
// clients built from the new grant, not the cached revoked ones.
func TestReconnectAfterRevokeAppliesHeldChanges(t *testing.T) {
	e := newEnv(t, envOptions{})
	pid, rn := e.ada() // the applier now caches clients and an access token
	e.g.RevokeTokens(googlefake.DemoUser)

	e.pdEdit(pid, pipedrive.PersonInput{Name: ptr("Ada King")})
	if err := e.deliver(pd, pid, queue.Upsert); err != nil {
		t.Fatalf("a revoked grant was retried instead of held: %v", err)
	}
	// the Google side's own change of the same time is kept too
	e.apply(gg, rn, queue.Upsert)
	c := e.connection()
	if c.Status != store.StatusNeedsReauth || !c.ReauthGoogle || c.ReauthPipedrive {
		t.Fatalf("status %s, reauth google %v pipedrive %v", c.Status, c.ReauthGoogle, c.ReauthPipedrive)
	}
	held := e.held(store.HeldDeferred)
	if len(held) != 2 || held[0].Code != "reauth_google" {
		t.Fatalf("held %+v, want both changes deferred until Google is back", held)
	}

	// The user connects Google again (the settings function, another
	// instance: it only stores the new grant).
	tok, err := e.g.IssueToken(googlefake.DemoUser, "client-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ConnectGoogle(e.ctx, "", e.conn.ID, tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if c := e.connection(); c.Status != store.StatusLive || c.ReauthGoogle || c.HeldDueAt.IsZero() {
		t.Fatalf("after reconnect: status %s, reauth %v, held due %v", c.Status, c.ReauthGoogle, c.HeldDueAt)
	}
	if n := e.republish(); n != 2 {
		t.Fatalf("%d held changes published again, want 2", n)
	}
	gp, _ := e.gContact(rn)
	if gp.Names[0].FamilyName != "King" {
		t.Fatalf("the edit made while Google was revoked did not arrive: %+v", gp.Names[0])
	}
	if left := e.held(""); len(left) != 0 {
		t.Fatalf("held after reconnect: %+v", left)
	}
}

// A 401 on a cached access token (the grant was replaced behind this
// instance's back) is not a permanent refusal: the clients are opened
// afresh and the change goes through.
func TestUnauthorizedReopensClients(t *testing.T) {
	e := newEnv(t, envOptions{})
	pid, rn := e.ada()
	// The grant is replaced: the old refresh and access tokens die, the
	// new refresh token is stored (by another instance).
	e.g.RevokeTokens(googlefake.DemoUser)
	tok, err := e.g.IssueToken(googlefake.DemoUser, "client-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.accts.Put(e.ctx, e.conn.ID, store.SecretGoogle, tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	e.pdEdit(pid, pipedrive.PersonInput{Name: ptr("Ada King")})
	e.apply(pd, pid, queue.Upsert)
	if gp, _ := e.gContact(rn); gp.Names[0].FamilyName != "King" {
		t.Fatalf("not applied: %+v", gp.Names[0])
	}
	if c := e.connection(); c.Status != store.StatusLive || len(e.held("")) != 0 {
		t.Fatalf("status %s, held %+v", c.Status, e.held(""))
	}
}

// syncedMany adds n persons in Pipedrive and syncs them.
func (e *env) syncedMany(n int) (pids, rns []string) {
	e.t.Helper()
	for i := range n {
		pid, rn := e.synced(pipedrive.PersonInput{Name: ptr("Person " + strconv.Itoa(i))})
		pids, rns = append(pids, pid), append(rns, rn)
	}
	return pids, rns
}

func (e *env) pdDelete(pid string) {
	e.t.Helper()
	if err := e.pd.UIDeletePerson(e.user, mustInt(pid)); err != nil {
		e.t.Fatal(err)
	}
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func (e *env) gLive(rns []string) int {
	n := 0
	for _, rn := range rns {
		if _, ok := e.gContact(rn); ok {
			n++
		}
	}
	return n
}

// The brake covers the Pipedrive → Google path: deleting 15 of 26 synced
// persons deletes 10 Google contacts (the limit) and holds the other 5.
// Edits go on syncing; further deletes are held too until the user
// decides; Confirm applies them.
func TestBrakeOnPipedriveDeletes(t *testing.T) {
	e := newEnv(t, envOptions{})
	pids, rns := e.syncedMany(26)
	for _, pid := range pids[:15] {
		e.pdDelete(pid)
		e.apply(pd, pid, queue.Delete)
	}
	if left := e.gLive(rns); left != 16 {
		t.Fatalf("%d of 26 Google contacts left, want 16 (10 deleted, 5 held)", left)
	}
	if braked := e.held(store.HeldBrake); len(braked) != 5 || braked[0].Name == "" {
		t.Fatalf("held by the brake: %+v, want 5 with their names", braked)
	}
	c := e.connection()
	if c.Status != store.StatusLive || c.BrakeTrippedAt.IsZero() || len(c.LastErrors) != 1 ||
		!strings.Contains(c.LastErrors[0].Message, "confirm them or restore") {
		t.Fatalf("status %s, tripped %v, errors %+v", c.Status, c.BrakeTrippedAt, c.LastErrors)
	}
	// the page translates it by its key, with the limit, the linked
	// contacts and the window's minutes
	if e := c.LastErrors[0]; e.Key != "brake" || len(e.Args) != 3 || e.Args[2] != "30" {
		t.Errorf("brake error recorded as %q %v, want key brake with limit, linked and minutes", e.Key, e.Args)
	}

	// Without a decision: edits flow, deletes stay held.
	e.republish()
	e.pdEdit(pids[20], pipedrive.PersonInput{Name: ptr("Edited After Resume")})
	e.apply(pd, pids[20], queue.Upsert)
	if gp, _ := e.gContact(rns[20]); gp.Names[0].DisplayName != "Edited After Resume" {
		t.Fatalf("edit after resume not applied: %+v", gp.Names[0])
	}
	e.pdDelete(pids[15])
	e.apply(pd, pids[15], queue.Delete)
	if left := e.gLive(rns); left != 16 {
		t.Fatalf("a delete went through while the brake awaits a decision: %d left", left)
	}
	if n := len(e.held(store.HeldBrake)); n != 6 {
		t.Fatalf("%d held by the brake, want 6", n)
	}

	// Confirm: all of them are applied, the brake is released.
	if n, err := e.svc.ConfirmDeletes(e.ctx, e.conn.ID); err != nil || n != 6 {
		t.Fatalf("ConfirmDeletes = %d, %v", n, err)
	}
	e.republish()
	if left := e.gLive(rns); left != 10 {
		t.Fatalf("%d Google contacts left after confirming, want 10", left)
	}
	if c := e.connection(); !c.BrakeTrippedAt.IsZero() || c.Status != store.StatusLive || len(e.held("")) != 0 {
		t.Fatalf("after confirm: status %s, tripped %v, held %+v", c.Status, c.BrakeTrippedAt, e.held(""))
	}
}

// Restore answers held deletes the other way: the deleted records are put
// back on the side they were deleted from, nothing is deleted.
func TestBrakeRestore(t *testing.T) {
	e := newEnv(t, envOptions{})
	pids, rns := e.syncedMany(12)
	// Google side: 4 deleted, 8 removed from the group (12 > limit 10).
	for i, rn := range rns {
		var err error
		if i < 4 {
			err = e.g.DeleteContact(googlefake.DemoUser, rn)
		} else {
			err = e.g.SetMembership(googlefake.DemoUser, rn, e.group, false)
		}
		if err != nil {
			t.Fatal(err)
		}
		e.apply(gg, rn, queue.Delete)
	}
	if live := len(e.pdLive()); live != 2 {
		t.Fatalf("%d Pipedrive persons left, want 2 (10 deleted, 2 held)", live)
	}
	braked := e.held(store.HeldBrake)
	if len(braked) != 2 {
		t.Fatalf("held %+v, want 2", braked)
	}
	if _, err := e.svc.RestoreDeletes(e.ctx, e.conn.ID); err != nil {
		t.Fatal(err)
	}
	e.republish()
	// the held ones were removed from the group: they rejoin it
	members := e.gMembers()
	for _, h := range braked {
		if !slices.Contains(members, h.ObjectID) {
			t.Errorf("restored contact %s is not back in the group (members %v)", h.ObjectID, members)
		}
		l, ok := e.link(gg, h.ObjectID)
		if !ok {
			t.Fatalf("restored contact %s has no link", h.ObjectID)
		}
		if _, ok := e.pdPerson(l.PipedriveID); !ok {
			t.Errorf("the Pipedrive twin of the restored contact is gone")
		}
	}
	if live := len(e.pdLive()); live != 2 {
		t.Fatalf("%d Pipedrive persons, want the 2 kept", live)
	}
	_ = pids
	if c := e.connection(); c.Status != store.StatusLive || !c.BrakeTrippedAt.IsZero() {
		t.Fatalf("after restore: %s, tripped %v", c.Status, c.BrakeTrippedAt)
	}
}

// The brake counts over a sliding window, not per poll: 30 of 40 contacts
// deleted in Google, 10 per poll interval, delete 10 Pipedrive persons, not 30.
func TestBrakeWindowSpansPolls(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, rns := e.syncedMany(40)
	for round := range 3 {
		for _, rn := range rns[round*10 : round*10+10] {
			if err := e.g.DeleteContact(googlefake.DemoUser, rn); err != nil {
				t.Fatal(err)
			}
			e.apply(gg, rn, queue.Delete)
		}
		e.advance(time.Minute) // the next poll interval
	}
	if live := len(e.pdLive()); live != 30 {
		t.Fatalf("%d Pipedrive persons left, want 30 (10 deleted within the window)", live)
	}
	if n := len(e.held(store.HeldBrake)); n != 20 {
		t.Fatalf("%d deletes held, want 20", n)
	}
	// After the window, with the brake released, deletes count afresh.
	if _, err := e.svc.RestoreDeletes(e.ctx, e.conn.ID); err != nil {
		t.Fatal(err)
	}
	e.advance(syncplan.DefaultBrake.Window)
	e.republish()
	if live := len(e.pdLive()); live != 30 {
		t.Fatalf("restore deleted something: %d left", live)
	}
}

// A Pipedrive delete made while the connection is paused is held and
// applied when it resumes (it used to be acknowledged and lost: Pipedrive's
// lists never show deleted persons).
func TestDeleteWhilePausedAppliedOnResume(t *testing.T) {
	e := newEnv(t, envOptions{})
	pid, rn := e.ada()
	if _, err := e.svc.Pause(e.ctx, e.conn.ID); err != nil {
		t.Fatal(err)
	}
	e.pdDelete(pid)
	e.apply(pd, pid, queue.Delete)
	if _, ok := e.gContact(rn); !ok {
		t.Fatal("a paused connection deleted in Google")
	}
	if h := e.held(store.HeldDeferred); len(h) != 1 || h[0].ChangeKind != "delete" {
		t.Fatalf("held %+v", h)
	}
	if _, err := e.svc.Resume(e.ctx, e.conn.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.republish(); n != 1 {
		t.Fatalf("%d published again, want 1", n)
	}
	if _, ok := e.gContact(rn); ok {
		t.Fatal("the delete made while paused was lost")
	}
}

// What the reconciliation publishes for a linked person it no longer finds
// (an upsert: it does not know why) is applied as what happened: deleted,
// or given to another owner.
func TestReconciledChangeAppliesLostDeleteAndOwnerChange(t *testing.T) {
	e := newEnv(t, envOptions{})
	pids, rns := e.syncedMany(2)
	e.pdDelete(pids[0])
	other := e.other
	e.pdEdit(pids[1], pipedrive.PersonInput{OwnerID: &other})
	for _, pid := range pids {
		e.app.Apply(e.ctx, queue.Change{ConnectionID: e.conn.ID, Side: pd, ObjectID: pid, Kind: queue.Upsert, Source: queue.FromReconcile})
	}
	if _, ok := e.gContact(rns[0]); ok {
		t.Error("the lost delete was not applied")
	}
	gp, ok := e.gContact(rns[1])
	if !ok || slices.Contains(e.gMembers(), rns[1]) {
		t.Errorf("the person given away: contact kept %v, still in the group %v", ok, slices.Contains(e.gMembers(), rns[1]))
	}
	_ = gp
}

// Pipedrive's refusals are told apart: Cloudflare's HTML 403 is transient
// (retried, then held and retried later by the poller), a 400 is held at
// once with its status; neither is skipped.
func TestPipedriveRefusals(t *testing.T) {
	t.Run("403 from Cloudflare is transient", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		rn := e.gSeed(&people.Person{Names: []*people.Name{{GivenName: "Grace", FamilyName: "Hopper"}}})
		e.pd.FailNext(100, pipedrivefake.Fault{Kind: pipedrivefake.Fault403Cloudflare, Method: "POST", Path: "/api/v2/persons"})
		for i := 1; i < syncplan.MaxAttempts; i++ {
			if err := e.deliver(gg, rn, queue.Upsert); err == nil {
				t.Fatalf("attempt %d: a Cloudflare 403 was not retried", i)
			}
		}
		if err := e.deliver(gg, rn, queue.Upsert); err != nil {
			t.Fatalf("attempt %d was not held: %v", syncplan.MaxAttempts, err)
		}
		h := e.held(store.HeldFailed)
		if len(h) != 1 || h[0].Code != "transient" || h[0].RetryAt.IsZero() {
			t.Fatalf("held %+v, want a transient hold retried later", h)
		}
		e.pd.ClearFaults()
		e.advance(syncplan.HeldRetry)
		e.republish()
		if n := len(e.pdLive()); n != 1 {
			t.Fatalf("%d Pipedrive persons after the retry, want 1", n)
		}
	})
	t.Run("400 is held at once", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		pid, _ := e.ada()
		e.g.EditContact(googlefake.DemoUser, mustLink(e, pid).GoogleID, func(p *people.Person) {
			p.Names = []*people.Name{{GivenName: "Ada", FamilyName: "King"}}
		})
		e.pd.FailNext(1, pipedrivefake.Fault{Kind: pipedrivefake.Fault400, Method: "PATCH"})
		if err := e.deliver(gg, mustLink(e, pid).GoogleID, queue.Upsert); err != nil {
			t.Fatalf("a 400 was retried: %v", err)
		}
		h := e.held(store.HeldFailed)
		if len(h) != 1 || h[0].Code != "permanent" || !strings.Contains(h[0].Reason, "HTTP 400") || !h[0].RetryAt.IsZero() {
			t.Fatalf("held %+v, want a permanent hold naming the status", h)
		}
		// the user's Retry applies it
		ids := []string{h[0].ID}
		if _, err := e.svc.RetryHeld(e.ctx, e.conn.ID, ids...); err != nil {
			t.Fatal(err)
		}
		e.republish()
		if p, _ := e.pdPerson(pid); p.LastName != "King" {
			t.Fatalf("retried change not applied: %+v", p)
		}
	})
}

func mustLink(e *env, pid string) *store.Link {
	e.t.Helper()
	l, ok := e.link(pd, pid)
	if !ok {
		e.t.Fatalf("no link for %s", pid)
	}
	return l
}

// A Google create whose commit was lost (a crash), then the person's owner
// changes away before the retry: the retry finds the contact by its marker
// and takes it for the synced pair it is, so it leaves the group like any
// synced contact. (Taken for an unrelated contact, it would stay in the
// group for good, its person owned by someone else.)
func TestRecoveredCreateThenOwnerChangedAway(t *testing.T) {
	e := newEnv(t, envOptions{})
	pid := e.pdAdd(pipedrive.PersonInput{Name: ptr("Ada Lovelace"), Emails: emails("ada@example.com")})
	e.crashAt(applier.StepRemoteWritten)
	if err := e.deliver(pd, pid, queue.Upsert); err == nil {
		t.Fatal("a crashed apply returned nil")
	}
	if n := len(e.gMembers()); n != 1 {
		t.Fatalf("%d group members after the crash, want the created contact", n)
	}
	other := e.other
	e.pdEdit(pid, pipedrive.PersonInput{OwnerID: &other})
	e.advance(3 * time.Minute)
	e.apply(pd, pid, queue.Upsert)
	if m := e.gMembers(); len(m) != 0 {
		t.Fatalf("group members %v: the contact of a person owned by someone else stayed", m)
	}
	if l, ok := e.link(pd, pid); !ok || l.Parked == "" {
		t.Fatalf("link %+v, want it parked with its contact", l)
	}
}

// A contact held for review (it matches two persons) is linked to the one
// the user says it is, or created separately when the user says so.
func TestReviewAnswers(t *testing.T) {
	for _, same := range []bool{true, false} {
		t.Run(map[bool]string{true: "same", false: "separate"}[same], func(t *testing.T) {
			e := newEnv(t, envOptions{})
			var ids []string
			for _, n := range []string{"Ada Lovelace", "A. Lovelace"} {
				id, err := e.pd.SeedPerson(e.user, pipedrive.PersonInput{Name: ptr(n), Emails: emails("ada@example.com")})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, strconv.FormatInt(id, 10))
			}
			rn := e.gSeed(&people.Person{Names: []*people.Name{{GivenName: "Ada", FamilyName: "Lovelace"}},
				EmailAddresses: []*people.EmailAddress{{Value: "ada@example.com"}}})
			e.apply(gg, rn, queue.Upsert)
			held := e.held(store.HeldReview)
			if len(held) != 1 || !slices.Equal(held[0].Candidates, ids) {
				t.Fatalf("held %+v, want the contact held with both candidates %v", held, ids)
			}
			twin := ""
			if same {
				twin = ids[1]
			}
			if err := e.svc.ResolveReview(e.ctx, e.conn.ID, held[0].ID, twin); err != nil {
				t.Fatal(err)
			}
			e.republish()
			l, ok := e.link(gg, rn)
			switch {
			case !ok:
				t.Fatal("not linked after the answer")
			case same && l.PipedriveID != ids[1]:
				t.Fatalf("linked to %s, want the chosen %s", l.PipedriveID, ids[1])
			case !same && slices.Contains(ids, l.PipedriveID):
				t.Fatalf("linked to candidate %s, want a new person", l.PipedriveID)
			}
			wantPersons := 2
			if !same {
				wantPersons = 3
			}
			if n := len(e.pdLive()); n != wantPersons {
				t.Fatalf("%d persons, want %d", n, wantPersons)
			}
			if h := e.held(""); len(h) != 0 {
				t.Fatalf("still held: %+v", h)
			}
		})
	}
}

// The settings page shows when the webhooks last brought a change: the
// applier records it (the public intake only reads the store), at most
// once a minute, and only for webhook-sourced changes.
func TestLastWebhookRecorded(t *testing.T) {
	e := newEnv(t, envOptions{})
	id := e.pdAdd(pipedrive.PersonInput{Name: ptr("Hook Time")})
	first := e.clock()
	e.apply(queue.Pipedrive, id, queue.Upsert)
	if got := e.connection().LastWebhookAt; !got.Equal(first) {
		t.Fatalf("last webhook %v, want %v", got, first)
	}
	e.advance(30 * time.Second)
	e.apply(queue.Pipedrive, id, queue.Upsert)
	if got := e.connection().LastWebhookAt; !got.Equal(first) {
		t.Errorf("30 s later: %v, want %v kept (one write a minute)", got, first)
	}
	e.advance(time.Minute)
	e.apply(queue.Google, "people/c1", queue.Upsert) // a poll's change
	if got := e.connection().LastWebhookAt; !got.Equal(first) {
		t.Errorf("a poll's change moved it to %v", got)
	}
	e.apply(queue.Pipedrive, id, queue.Upsert)
	if got := e.connection().LastWebhookAt; !got.Equal(e.clock()) {
		t.Errorf("90 s later: %v, want %v", got, e.clock())
	}
}

// Pipedrive has no conditional write and a PATCH replaces whole lists: an
// edit the user makes between the applier's read of the person and its
// write must not be undone by that write. The applier reads the person
// again just before writing and decides again when it changed.
func TestPipedriveEditBetweenReadAndWriteSurvives(t *testing.T) {
	e := newEnv(t, envOptions{})
	pid := e.pdAdd(pipedrive.PersonInput{Name: ptr("Race Person"), Emails: emails("race@example.com")})
	e.apply(pd, pid, queue.Upsert)
	l, _ := e.link(pd, pid)
	// Google adds an e-mail; while the applier carries it to Pipedrive,
	// right after its read of the person, the user adds another there.
	if _, err := e.g.EditContact(googlefake.DemoUser, l.GoogleID, func(p *people.Person) {
		p.EmailAddresses = append(p.EmailAddresses, &people.EmailAddress{Value: "from-google@example.com", Type: "home"})
	}); err != nil {
		t.Fatal(err)
	}
	var once atomic.Bool
	after := func(r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/persons/"+pid) && once.CompareAndSwap(false, true) {
			e.pdEdit(pid, pipedrive.PersonInput{Emails: emails("race@example.com", "typed-meanwhile@example.com")})
		}
	}
	e.pAfter.Store(&after)
	e.apply(gg, l.GoogleID, queue.Upsert)
	e.pAfter.Store(nil)
	e.apply(pd, pid, queue.Upsert) // the webhook of the user's edit
	per, _ := e.pdPerson(pid)
	var got []string
	for _, f := range per.Emails {
		got = append(got, f.Value)
	}
	slices.Sort(got)
	want := []string{"from-google@example.com", "race@example.com", "typed-meanwhile@example.com"}
	if !slices.Equal(got, want) {
		t.Fatalf("Pipedrive e-mails %v, want %v: the user's edit was undone", got, want)
	}
	gp, _ := e.gContact(l.GoogleID)
	if c := e.m.FromGoogle(gp); len(c.Emails) != 3 {
		t.Errorf("Google e-mails %v", c.Emails)
	}
}

// A create whose commit was lost (the applier crashed right after it) and
// one of the two records edited by the user before the retry found it:
// the edit is kept, on whichever side it was made. The pair's base is what
// the create wrote (kept with its intent), not either record's state when
// found.
func TestEditBeforeALostCreateIsFound(t *testing.T) {
	for _, edited := range []string{"source", "created"} {
		t.Run("edit of the "+edited+" record", func(t *testing.T) {
			e := newEnv(t, envOptions{})
			pid := e.pdAdd(pipedrive.PersonInput{Name: ptr("Grace Hopper"), Emails: emails("grace@example.com")})
			e.crashAt(applier.StepRemoteWritten)
			if err := e.deliver(pd, pid, queue.Upsert); err == nil {
				t.Fatal("a crashed apply returned nil")
			}
			members := e.gMembers()
			if len(members) != 1 {
				t.Fatalf("%d group members after the crash", len(members))
			}
			rn := members[0]
			switch edited {
			case "source":
				e.pdEdit(pid, pipedrive.PersonInput{Name: ptr("Grace Brewster")})
			case "created":
				if _, err := e.g.EditContact(googlefake.DemoUser, rn, func(p *people.Person) { p.Names[0].FamilyName = "Brewster" }); err != nil {
					t.Fatal(err)
				}
			}
			e.advance(3 * time.Minute)
			e.apply(pd, pid, queue.Upsert)
			e.apply(gg, rn, queue.Upsert)
			per, _ := e.pdPerson(pid)
			gp, _ := e.gContact(rn)
			if g := e.m.FromGoogle(gp); g.Family != "Brewster" || per.Name != "Grace Brewster" {
				t.Fatalf("Pipedrive %q, Google %q: the %s record's edit was lost", per.Name, g.DisplayName(), edited)
			}
		})
	}
}

// Pipedrive's daily budget resets at "server midnight" in a time zone it
// does not document. A change held for the budget waits for UTC midnight;
// when the budget is still spent then (the reset is at another zone's
// midnight), it is tried again every hour, not a day later.
func TestDailyBudgetHoldRetriesHourlyAfterTheAssumedReset(t *testing.T) {
	e := newEnv(t, envOptions{})
	rn := e.gSeed(&people.Person{Names: []*people.Name{{GivenName: "Grace", FamilyName: "Hopper"}}})
	e.pd.FailNext(1000, pipedrivefake.Fault{Kind: pipedrivefake.FaultDailyBudget, Method: "POST", Path: "/api/v2/persons"})
	if err := e.deliver(gg, rn, queue.Upsert); err != nil {
		t.Fatalf("a spent daily budget was not held: %v", err)
	}
	h := e.held("")
	if len(h) != 1 || h[0].Code != "daily_budget" {
		t.Fatalf("held %+v, want one change held for the daily budget", h)
	}
	first := h[0].RetryAt
	if want := pipedrive.DailyBudgetRetryAt(e.clock(), e.clock(), time.UTC); !first.Equal(want) {
		t.Fatalf("first retry at %v, want the assumed reset %v", first, want)
	}
	// Past UTC midnight the budget is still spent: an hour, not a day.
	e.advance(first.Sub(e.clock()))
	if n := e.republish(); n != 1 {
		t.Fatalf("%d held changes due at the assumed reset, want 1", n)
	}
	h = e.held("")
	if len(h) != 1 || h[0].Code != "daily_budget" {
		t.Fatalf("held %+v after the assumed reset, want it held again", h)
	}
	if got, want := h[0].RetryAt.Sub(e.clock()), pipedrive.DailyBudgetRecheck; got != want {
		t.Fatalf("held again for %v, want %v (the next check, not the next midnight)", got, want)
	}
	// The budget resets at the company's midnight: the change is applied.
	e.pd.ClearFaults()
	e.advance(pipedrive.DailyBudgetRecheck)
	e.republish()
	if n := len(e.pdLive()); n != 1 {
		t.Fatalf("%d Pipedrive persons after the reset, want 1", n)
	}
}

// Decided again after a write of its own (the person changed between the
// read and the PATCH), the applier weighs each side's last user change, not
// the update time its own write gave the contact a moment before: a family
// name typed in Pipedrive after a family name typed in Google wins, even
// though the sync has just touched the Google contact to give it a new
// phone number.
func TestDecideAgainIgnoresOurOwnWrite(t *testing.T) {
	e := newEnv(t, envOptions{})
	pid := e.pdAdd(pipedrive.PersonInput{Name: ptr("Ada Base"), Emails: emails("ada@example.com"), Phones: phones("030 1234567")})
	e.apply(pd, pid, queue.Upsert)
	l, _ := e.link(pd, pid)
	if _, err := e.g.EditContact(googlefake.DemoUser, l.GoogleID, func(p *people.Person) { p.Names[0].FamilyName = "Google" }); err != nil {
		t.Fatal(err)
	}
	// Pipedrive's update_time has whole seconds: the writes below happen
	// in a later second than the Google edit, so only the time of our own
	// Google write could make the Google edit look newer.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
	e.pdEdit(pid, pipedrive.PersonInput{Phones: phones("030 1234567", "+49 170 5555555")})
	var once atomic.Bool
	hook := func(s applier.Step) error {
		if s == applier.StepRemoteWritten && once.CompareAndSwap(false, true) {
			// right after the sync gave Google the new phone number
			e.pdEdit(pid, pipedrive.PersonInput{Name: ptr("Ada Pipedrive")})
		}
		return nil
	}
	e.hook.Store(&hook)
	e.apply(pd, pid, queue.Upsert)
	e.hook.Store(nil)
	e.apply(pd, pid, queue.Upsert) // the webhook of the user's rename
	per, _ := e.pdPerson(pid)
	gp, _ := e.gContact(l.GoogleID)
	g := e.m.FromGoogle(gp)
	if per.Name != "Ada Pipedrive" || g.Family != "Pipedrive" || len(g.Phones) != 2 {
		t.Fatalf("Pipedrive %q, Google %q with %d phones; want the later Pipedrive family name on both and 2 phones",
			per.Name, g.DisplayName(), len(g.Phones))
	}
}

// A safety-net change that finds the person as the link holds it, after
// the second of the link's version, settles the link (the safety net
// stops sending the person); within that second it could not vouch for
// the content (syncplan.VersionSettled).
func TestSafetyNetChangeSettlesTheLink(t *testing.T) {
	e := newEnv(t, envOptions{})
	pid := e.pdAdd(pipedrive.PersonInput{Name: ptr("Settle Me"), Emails: emails("settle@example.com")})
	e.apply(pd, pid, queue.Upsert)
	per, _ := e.pdPerson(pid)
	time.Sleep(time.Until(per.UpdateTime.Add(time.Second + pipedrive.ClockSkew)))
	e.msgs++
	ch := queue.Change{ConnectionID: e.conn.ID, Side: pd, ObjectID: pid, Kind: queue.Upsert, Source: queue.FromSafetyNet, OccurredAt: per.UpdateTime}
	if err := e.app.Handle(e.ctx, queue.Delivery{MessageID: "m" + strconv.Itoa(e.msgs), Data: mustJSON(t, ch)}); err != nil {
		t.Fatal(err)
	}
	l, _ := e.link(pd, pid)
	if l.PipedriveVersion != per.UpdateTime.UTC().Format(time.RFC3339) || !syncplan.VersionSettled(per.UpdateTime, l.UpdatedAt) {
		t.Fatalf("link version %s written %v; want %v settled", l.PipedriveVersion, l.UpdatedAt, per.UpdateTime)
	}
	if w := e.gStats().ContactWrites; w != 1 {
		t.Errorf("%d Google writes, want the one create", w)
	}
}

// A person given to a colleague and back takes her own Google contact
// back into the group, also when the user made that contact in Google (it
// carries no marker of ours): it was taken for gone, and a new contact
// without the Google-side details was created.
func TestOwnerBackRejoinsAContactMadeInGoogle(t *testing.T) {
	e := newEnv(t, envOptions{})
	rn := e.gSeed(&people.Person{Names: []*people.Name{{GivenName: "Gina", FamilyName: "Google"}},
		EmailAddresses: []*people.EmailAddress{{Value: "gina@example.com"}}})
	e.apply(gg, rn, queue.Upsert)
	l, ok := e.link(gg, rn)
	if !ok || l.PipedriveID == "" {
		t.Fatal("the Google contact was not linked")
	}
	pid := l.PipedriveID
	if _, err := e.g.EditContact(googlefake.DemoUser, rn, func(p *people.Person) {
		p.PhoneNumbers = append(p.PhoneNumbers, &people.PhoneNumber{Value: "+49 30 5550001", Type: "work"})
	}); err != nil {
		t.Fatal(err)
	}
	e.apply(gg, rn, queue.Upsert)
	e.pdEdit(pid, pipedrive.PersonInput{OwnerID: &e.other})
	e.apply(pd, pid, queue.Upsert)
	e.pdEdit(pid, pipedrive.PersonInput{OwnerID: &e.user})
	e.apply(pd, pid, queue.Upsert)
	if m := e.gMembers(); len(m) != 1 || m[0] != rn {
		t.Fatalf("group members %v, want only the user's own contact %s", m, rn)
	}
	gp, _ := e.gContact(rn)
	if c := e.m.FromGoogle(gp); len(c.Phones) != 1 {
		t.Errorf("the contact's phones %v: its Google-side number was lost", c.Phones)
	}
}

// A Google create whose commit was lost (a crash), then the user takes the
// new contact out of the group before the retry: the retry must find it
// outside the group and apply the removal (the delete policy deletes the
// person), not create a second contact in the group. A long convergence
// run met this (seed 10).
func TestRecoveredCreateThenLeftTheGroup(t *testing.T) {
	e := newEnv(t, envOptions{})
	pid := e.pdAdd(pipedrive.PersonInput{Name: ptr("Ada Lovelace"), Emails: emails("ada@example.com")})
	e.crashAt(applier.StepRemoteWritten)
	if err := e.deliver(pd, pid, queue.Upsert); err == nil {
		t.Fatal("a crashed apply returned nil")
	}
	m := e.gMembers()
	if len(m) != 1 {
		t.Fatalf("%d group members after the crash, want the created contact", len(m))
	}
	if err := e.g.SetMembership(googlefake.DemoUser, m[0], e.group, false); err != nil {
		t.Fatal(err)
	}
	e.advance(3 * time.Minute)
	e.apply(pd, pid, queue.Upsert)
	if m := e.gMembers(); len(m) != 0 {
		t.Errorf("group members %v: the contact the user took out came back, or a second one was made", m)
	}
	if _, ok := e.gContact(m[0]); !ok {
		t.Errorf("the contact taken out of the group was deleted; it stays in the user's contacts")
	}
	if live := e.pdLive(); len(live) != 0 {
		t.Errorf("Pipedrive persons %d: the removal from the group did not delete the person (policy propagate)", len(live))
	}
}

// A Pipedrive create whose commit was lost (a crash), then the user deletes
// the Google contact it was made from before the retry: the retry must
// still find the person it created (by what the create wrote) and apply
// the delete to it. Left unlinked, the person stayed and came back to
// Google as a new contact (a long convergence run, seed 105).
func TestRecoveredPipedriveCreateThenContactDeleted(t *testing.T) {
	e := newEnv(t, envOptions{})
	rn := e.gSeed(&people.Person{Names: []*people.Name{{GivenName: "Grace", FamilyName: "Hopper"}},
		EmailAddresses: []*people.EmailAddress{{Value: "grace@example.com"}}})
	e.crashAt(applier.StepRemoteWritten)
	if err := e.deliver(gg, rn, queue.Upsert); err == nil {
		t.Fatal("a crashed apply returned nil")
	}
	if n := len(e.pdLive()); n != 1 {
		t.Fatalf("%d persons after the crash, want the created one", n)
	}
	if err := e.g.DeleteContact(googlefake.DemoUser, rn); err != nil {
		t.Fatal(err)
	}
	e.advance(3 * time.Minute)
	e.apply(gg, rn, queue.Delete)
	if live := e.pdLive(); len(live) != 0 {
		t.Errorf("Pipedrive persons %d: the person made from the deleted contact stayed", len(live))
	}
	if m := e.gMembers(); len(m) != 0 {
		t.Errorf("group members %v: want none", m)
	}
}

// A Pipedrive create whose answer was lost, then the user deletes the
// person it made before the retry looks for it: the retry finds nothing
// and creates the person again, and the delete's webhook, ordered after
// the retry, names a person no link knows. The delete must still reach
// the pair: the copy made again goes and the Google contact is deleted
// (a long convergence run, seed 132, ended with the person back in
// Pipedrive and the contact kept). When the retry waits (held) and the
// delete goes first, the pending create is taken as found and deleted.
func TestLostCreateThenPersonDeleted(t *testing.T) {
	for _, tc := range []struct {
		name        string
		deleteFirst bool // the retry was held: the delete is applied before it
		editCopy    bool // the user changes the copy made again before the delete arrives
		wantPeople  int
		wantGoogle  int
	}{
		{"the copy is deleted with the contact", false, false, 0, 0},
		{"an edited copy stays, an edit beats a delete", false, true, 1, 1},
		{"the delete before the retry deletes the contact", true, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			e.advance(time.Since(e.clock())) // the Pipedrive fake keeps real time
			sink := e.webhooks("2.0")
			rn := e.gSeed(&people.Person{Names: []*people.Name{{GivenName: "Grace", FamilyName: "Hopper"}},
				EmailAddresses: []*people.EmailAddress{{Value: "grace@example.com"}}})
			e.crashAt(applier.StepRemoteWritten)
			if err := e.deliver(gg, rn, queue.Upsert); err == nil {
				t.Fatal("a crashed apply returned nil")
			}
			live := e.pdLive()
			if len(live) != 1 {
				t.Fatalf("%d persons after the crash, want the created one", len(live))
			}
			first := live[0].ID
			deleted := e.changesOf(sink, func() error { return e.pd.UIDeletePerson(e.user, first) })
			e.advance(3 * time.Minute)
			if !tc.deleteFirst {
				e.apply(gg, rn, queue.Upsert) // the retry: nothing found, created again
				live = e.pdLive()
				if len(live) != 1 || live[0].ID == first {
					t.Fatalf("persons after the retry: %+v, want one made again", live)
				}
			}
			if tc.editCopy {
				time.Sleep(1100 * time.Millisecond) // a later update_time
				e.pdEdit(strconv.FormatInt(live[0].ID, 10), pipedrive.PersonInput{Name: ptr("Grace B. Hopper")})
			}
			var n int
			for _, ch := range deleted {
				if ch.Kind == queue.Delete {
					if ch.Gone == nil || len(ch.Gone.Prints) == 0 {
						t.Fatalf("the delete carries no prints of the deleted person: %+v", ch)
					}
					e.applyChange(ch)
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d deletes published, want 1", n)
			}
			if tc.deleteFirst {
				e.apply(gg, rn, queue.Upsert) // the held retry, published again
			}
			if got := len(e.pdLive()); got != tc.wantPeople {
				t.Errorf("Pipedrive persons %d, want %d", got, tc.wantPeople)
			}
			if got := len(e.gMembers()); got != tc.wantGoogle {
				t.Errorf("group members %d, want %d", got, tc.wantGoogle)
			}
		})
	}
}

// A contact deleted in Google while the applier creates its person: the
// poll that lists the tombstone finds no link yet and still publishes the
// delete (shared/poller TestIncrementalChanges), which, ordered after the
// create, deletes the person (a long convergence run, seed 154, kept it).
// A tombstone no pair knows costs no Google read.
func TestContactDeletedWhileItsPersonIsCreated(t *testing.T) {
	e := newEnv(t, envOptions{})
	rn := e.gSeed(&people.Person{Names: []*people.Name{{GivenName: "Grace", FamilyName: "Hopper"}},
		EmailAddresses: []*people.EmailAddress{{Value: "grace@example.com"}}})
	var once atomic.Bool
	after := func(r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/persons") && once.CompareAndSwap(false, true) {
			if err := e.g.DeleteContact(googlefake.DemoUser, rn); err != nil {
				t.Error(err)
			}
		}
	}
	e.pAfter.Store(&after)
	e.apply(gg, rn, queue.Upsert)
	e.pAfter.Store(nil)
	if !once.Load() || len(e.pdLive()) != 1 {
		t.Fatalf("the contact was not deleted during the create (%v), or %d persons", once.Load(), len(e.pdLive()))
	}
	e.apply(gg, rn, queue.Delete)
	if n := len(e.pdLive()); n != 0 {
		t.Errorf("%d persons after the contact's delete, want 0", n)
	}
	if _, ok := e.link(gg, rn); ok {
		t.Error("the pair's link stayed")
	}

	before := e.gStats().Calls
	e.apply(gg, "people/c4242", queue.Delete)
	if d := cmp.Diff(before, e.gStats().Calls); d != "" {
		t.Errorf("Google calls for a tombstone no pair knows (-before +after):\n%s", d)
	}
}
