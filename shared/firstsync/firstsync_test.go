package firstsync_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/firstsync"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

// books seeds both sides with what a first sync meets: twins formatted
// differently (e-mail case, phone formats), twins by name and
// organization, records on one side only, an ambiguous group, a person
// of another owner and a contact outside the group.
type books struct {
	pairs        int // twins
	onlyP, onlyG int
	ambiguousP   int // persons sharing one e-mail, each matching one contact
	outside      string
	notOwned     int64
}

func seedBooks(e *env) books {
	e.t.Helper()
	b := books{}
	acme, err := e.pd.AddOrganization(e.user, "Acme GmbH")
	if err != nil {
		e.t.Fatal(err)
	}
	// twins by e-mail (case differs) and phone (formats differ)
	for i := range 3 {
		e.person(e.user, pin(fmt.Sprintf("Anna Twin%d", i), []string{fmt.Sprintf("Anna.Twin%d@Example.com", i)}, []string{fmt.Sprintf("+49 (0)30 1234 56%02d", i)}))
		e.contact("Anna", fmt.Sprintf("Twin%d", i), "", []string{fmt.Sprintf("anna.twin%d@example.com", i)}, []string{fmt.Sprintf("030 123456%02d", i)}, true)
		b.pairs++
	}
	// twins by phone only
	e.person(e.user, pin("Bert Phone", nil, []string{"+49 30 9876543"}))
	e.contact("Bert", "Phone", "", nil, []string{"030/9876543"}, true)
	b.pairs++
	// twins by name and organization
	e.person(e.user, withOrg(pin("Carla Name", nil, nil), acme))
	e.contact("Carla", "Name", "Acme GmbH", nil, nil, true)
	b.pairs++
	// one side only, with an organization to create in Pipedrive
	e.person(e.user, pin("Dora Pipedrive", []string{"dora@example.com"}, nil))
	b.onlyP++
	e.contact("Emil", "Google", "Neu AG", []string{"emil@example.com"}, []string{"+49 40 111"}, true)
	b.onlyG++
	// ambiguous: two persons with one e-mail, one contact with it
	e.person(e.user, pin("Fritz One", []string{"shared@example.com"}, nil))
	e.person(e.user, pin("Fritz Two", []string{"shared@example.com"}, nil))
	e.contact("Fritz", "", "", []string{"shared@example.com"}, nil, true)
	b.ambiguousP = 2
	// not the user's: neither is synced
	b.notOwned = e.person(e.other, pin("Gerd Other", []string{"gerd@example.com"}, nil))
	b.outside = e.contact("Hanna", "Outside", "", []string{"hanna@example.com"}, nil, false)
	return b
}

func TestFirstSyncBringsBothBooksTogether(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := seedBooks(e)
	before := e.world()
	if err := e.start(store.FirstSyncRun); err != nil {
		t.Fatal(err)
	}
	c := e.get()
	if c.Status != store.StatusLive || c.FirstSync.Phase != store.PhaseDone || c.GoogleSyncToken == "" || c.PipedriveCheckpoint.IsZero() {
		t.Fatalf("status %s, phase %s, token %q, checkpoint %v: want live with the listing's token", c.Status, c.FirstSync.Phase, c.GoogleSyncToken, c.PipedriveCheckpoint)
	}
	w := e.world()
	if p := w.problems(e.m); len(p) != 0 {
		t.Fatalf("problems:\n%s", strings.Join(p, "\n"))
	}
	// each side gained exactly the other's unmatched records
	if got, want := len(w.persons), len(before.persons)+b.onlyG; got != want {
		t.Errorf("%d persons, want %d", got, want)
	}
	if got, want := len(w.contacts), len(before.contacts)+b.onlyP; got != want {
		t.Errorf("%d contacts in the group, want %d", got, want)
	}
	reviews := 0
	for _, l := range w.links {
		if l.Review != "" {
			reviews++
		}
	}
	if reviews != b.ambiguousP+1 {
		t.Errorf("%d records held for review, want %d", reviews, b.ambiguousP+1)
	}
	held, err := e.st.HeldChanges(e.ctx, e.conn.ID, store.HeldReview, 100)
	if err != nil || len(held) != b.ambiguousP+1 {
		t.Fatalf("held for review: %d, %v", len(held), err)
	}
	for _, h := range held {
		if len(h.Candidates) == 0 || h.Code != "ambiguous" {
			t.Errorf("held %+v: want the candidates", h)
		}
	}
	// the organization of the Google-only contact exists once in Pipedrive
	found := 0
	for _, p := range e.pd.Persons(e.company) {
		if p.OrgID != nil {
			if n, _ := e.pd.OrganizationName(*p.OrgID); n == "Neu AG" {
				found++
			}
		}
	}
	if found != 1 {
		t.Errorf("%d persons in Neu AG, want 1", found)
	}
	// never touched: another owner's person, a contact outside the group
	if p, _ := e.pd.Person(b.notOwned); p.OwnerID != e.other {
		t.Error("another owner's person changed hands")
	}
	if _, ok := w.contacts[b.outside]; ok {
		t.Error("a contact outside the group was put in it")
	}
	fs := c.FirstSync
	if fs.GoogleDone != b.onlyP || fs.PipedriveDone != b.onlyG || fs.LinksDone != fs.LinksTotal {
		t.Errorf("progress: google %d/%d, pipedrive %d/%d, links %d/%d", fs.GoogleDone, fs.GoogleTotal, fs.PipedriveDone, fs.PipedriveTotal, fs.LinksDone, fs.LinksTotal)
	}
}

// The preview lists and matches without writing, and says what the run
// then does.
func TestPreviewCountsWhatTheRunDoes(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := seedBooks(e)
	calls := e.pd.Writes()
	if err := e.start(store.FirstSyncPreview); err != nil {
		t.Fatal(err)
	}
	c := e.get()
	pv := c.FirstSync.Preview
	if c.FirstSync.Phase != store.PhasePreview || pv == nil || c.Status != store.StatusSetup {
		t.Fatalf("phase %s, status %s, preview %+v", c.FirstSync.Phase, c.Status, pv)
	}
	if n := e.pd.Writes() - calls; n != 0 {
		t.Errorf("the preview wrote %d times to Pipedrive", n)
	}
	if links, _ := e.st.AllLinks(e.ctx, e.conn.ID); len(links) != 0 {
		t.Errorf("the preview stored %d links", len(links))
	}
	want := store.Preview{PipedriveListed: 8, GoogleListed: 7, OutsideGroup: 1, CreateInGoogle: b.onlyP, CreateInPipedrive: b.onlyG,
		Matched: b.pairs, Ambiguous: b.ambiguousP + 1, OrgsToCreate: 1}
	got := *pv
	if got.PipedriveListed != want.PipedriveListed || got.GoogleListed != want.GoogleListed || got.OutsideGroup != want.OutsideGroup ||
		got.CreateInGoogle != want.CreateInGoogle || got.CreateInPipedrive != want.CreateInPipedrive ||
		got.Matched != want.Matched || got.Ambiguous != want.Ambiguous || got.OrgsToCreate != want.OrgsToCreate {
		t.Fatalf("preview %+v\nwant %+v", got, want)
	}
	if got.MatchedBy["email"] != 3 || got.MatchedBy["phone"] != 1 || got.MatchedBy["name+org"] != 1 {
		t.Errorf("matched by %v", got.MatchedBy)
	}
	if len(got.AmbiguousSample) != 1 || len(got.AmbiguousSample[0].Pipedrive) != 2 {
		t.Errorf("ambiguous sample %+v", got.AmbiguousSample)
	}
	// a handful of records fits in one quota window of each side
	if got.EstimateSeconds != 0 || got.EstimateDays != 0 || got.PipedriveTokens != 40 || got.GoogleBatches != 1 {
		t.Errorf("estimate %v s, %d days, %d tokens, %d batches", got.EstimateSeconds, got.EstimateDays, got.PipedriveTokens, got.GoogleBatches)
	}

	// The run does what the preview said.
	if err := e.start(store.FirstSyncRun); err != nil {
		t.Fatal(err)
	}
	run := e.get().FirstSync
	if run.GoogleDone != pv.CreateInGoogle+pv.UpdateInGoogle || run.PipedriveDone != pv.CreateInPipedrive+pv.UpdateInPipedrive {
		t.Errorf("run wrote google %d, pipedrive %d; preview said %d+%d, %d+%d", run.GoogleDone, run.PipedriveDone,
			pv.CreateInGoogle, pv.UpdateInGoogle, pv.CreateInPipedrive, pv.UpdateInPipedrive)
	}
	if p := run.Preview; p == nil || p.Matched != pv.Matched || p.Ambiguous != pv.Ambiguous {
		t.Errorf("run's counts %+v differ from the preview's", p)
	}
}

// A first sync killed at any of its steps and resumed (by the poller's
// look at stalled jobs) ends as an uninterrupted one: nothing twice,
// nothing missing.
func TestFirstSyncResumesAfterACrash(t *testing.T) {
	kills := []struct {
		step firstsync.Step
		nth  int
	}{
		{firstsync.StepPlanned, 1},
		{firstsync.StepGoogleWritten, 1}, {firstsync.StepGoogleWritten, 2},
		{firstsync.StepPipedriveCreated, 1}, {firstsync.StepPipedriveCreated, 3},
		{firstsync.StepChunkDone, 1}, {firstsync.StepChunkDone, 4},
	}
	for _, k := range kills {
		step, nth := k.step, k.nth
		t.Run(fmt.Sprintf("%s#%d", step, nth), func(t *testing.T) {
			e := newEnv(t, envOptions{chunk: 1, googleChunk: 2})
			b := seedBooks(e)
			for i := range 3 { // more chunks on both chains
				e.person(e.user, pin(fmt.Sprintf("Ivo More%d", i), []string{fmt.Sprintf("ivo%d@example.com", i)}, nil))
				e.contact("Jana", fmt.Sprintf("More%d", i), "", []string{fmt.Sprintf("jana%d@example.com", i)}, nil, true)
			}
			before := e.world()
			seen := 0
			e.setHook(func(_ context.Context, s firstsync.Step) error {
				if s == step {
					seen++
					if seen == nth {
						return errKilled
					}
				}
				return nil
			})
			if err := e.start(store.FirstSyncRun); err == nil && seen >= nth {
				t.Fatal("the killed step reported success")
			}
			e.setHook(nil)
			if seen < nth {
				t.Fatalf("step %s came %d times; the test kills the %d.", step, seen, nth)
			}
			// Pub/Sub delivers the failed step again: that alone finishes
			// the job (the poller's look at stalled jobs is not needed).
			e.clock.Advance(11 * time.Minute) // the dead instance's lease ends
			if err := e.direct.Redeliver(e.ctx); err != nil {
				t.Fatal(err)
			}
			if c := e.get(); c.Status != store.StatusLive {
				t.Fatalf("not done after the redelivery: %s %+v", c.Status, c.FirstSync)
			}
			w := e.world()
			if p := w.problems(e.m); len(p) != 0 {
				t.Fatalf("problems:\n%s", strings.Join(p, "\n"))
			}
			if got, want := len(w.persons), len(before.persons)+b.onlyG+3; got != want {
				t.Errorf("%d persons, want %d", got, want)
			}
			if got, want := len(w.contacts), len(before.contacts)+b.onlyP+3; got != want {
				t.Errorf("%d contacts, want %d", got, want)
			}
		})
	}
}

// A Google contact without a name gets one in Pipedrive (which requires
// it), recorded as derived: it never comes back to Google as a name.
func TestFirstSyncNamelessContact(t *testing.T) {
	e := newEnv(t, envOptions{})
	rn := e.contact("", "", "Stadtwerke Köln", nil, []string{"0221 1780"}, true)
	if err := e.start(store.FirstSyncRun); err != nil {
		t.Fatal(err)
	}
	l, err := e.st.LinkByGoogle(e.ctx, e.conn.ID, rn)
	if err != nil {
		t.Fatal(err)
	}
	per, _ := e.pd.Person(mustID(t, l.PipedriveID))
	if per.Name == "" || l.DerivedName != per.Name {
		t.Fatalf("person %q, link's derived name %q", per.Name, l.DerivedName)
	}
	if c := e.world().contacts[rn]; c.DisplayName() != "" {
		t.Errorf("Google got a name: %q", c.DisplayName())
	}
	// a reconcile reads the derived name as no name: nothing to write
	writes := e.pd.Writes()
	if err := e.start(store.FirstSyncReconcile); err != nil {
		t.Fatal(err)
	}
	if c := e.world().contacts[rn]; c.DisplayName() != "" || e.pd.Writes() != writes {
		t.Errorf("after a reconcile: Google name %q, %d Pipedrive writes", c.DisplayName(), e.pd.Writes()-writes)
	}
}

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A step lost on its way (a crash before it was published, a message
// gone) is sent again by the poller's look at a job without progress for
// the stall time (firstsync.Stall, or the poller's own); a fresh job is
// left alone.
func TestKickSendsAStalledStepAgain(t *testing.T) {
	for _, tc := range []struct {
		stall, want time.Duration
	}{{0, firstsync.Stall}, {30 * time.Second, 30 * time.Second}} {
		t.Run(tc.want.String(), func(t *testing.T) {
			e := newEnv(t, envOptions{chunk: 1})
			for i := range 3 {
				e.contact("Uwe", fmt.Sprint("Kick", i), "", []string{fmt.Sprintf("uwe%d@example.com", i)}, nil, true)
			}
			lost := false
			e.setHook(func(_ context.Context, s firstsync.Step) error {
				if s == firstsync.StepChunkDone && !lost {
					lost = true
					e.direct.LoseNext(1) // the chain's next step is lost
				}
				return nil
			})
			if err := e.start(store.FirstSyncRun); err != nil {
				t.Fatal(err)
			}
			e.setHook(nil)
			if c := e.get(); c.Status != store.StatusFirstSync {
				t.Fatalf("status %s: the lost step should have stopped the job", c.Status)
			}
			kick := func() error {
				return firstsync.Kick(e.ctx, e.st, e.direct, queue.FirstSyncTopic, queue.ChangesTopic, e.get(), e.clock.Now(), tc.stall)
			}
			e.clock.Advance(tc.want - time.Second)
			if err := kick(); err != nil || e.get().Status != store.StatusFirstSync {
				t.Fatalf("kicked a job before its stall time: %v, %s", err, e.get().Status)
			}
			e.clock.Advance(time.Second)
			if err := kick(); err != nil {
				t.Fatal(err)
			}
			if c := e.get(); c.Status != store.StatusLive || c.FirstSync.PipedriveDone != 3 {
				t.Fatalf("after the kick: %s, %d created", c.Status, c.FirstSync.PipedriveDone)
			}
		})
	}
}

// Pub/Sub may hand one step to the same instance twice at once (a
// redelivery while the first delivery still runs): the chunk lease tells
// instances apart, not deliveries, so the instance itself refuses the
// second for now (Pub/Sub delivers it again). Run side by side, both
// deliveries created every person.
func TestDuplicateDeliveriesOfAStepRunOnce(t *testing.T) {
	e := newEnv(t, envOptions{chunk: 10})
	const n = 4
	for i := range n {
		e.contact("Jana", fmt.Sprintf("Twice%d", i), "", []string{fmt.Sprintf("twice%d@example.com", i)}, nil, true)
	}
	oneReturned := make(chan struct{})
	var closeOnce, waitOnce sync.Once
	e.setHook(func(_ context.Context, s firstsync.Step) error {
		switch s {
		case firstsync.StepPlanned:
			return errKilled // the chains are not sent: the test delivers the step
		case firstsync.StepPipedriveCreated:
			// the first create waits until the other delivery is through
			// (refused at once, or, run side by side, done with the chunk)
			waitOnce.Do(func() {
				select {
				case <-oneReturned:
				case <-time.After(5 * time.Second):
				}
			})
		}
		return nil
	})
	_ = e.start(store.FirstSyncRun)
	step := queue.FirstSyncStep{ConnectionID: e.conn.ID, Job: e.get().FirstSync.Job, Chain: queue.ChainPipedrive}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.runner.Handle(e.ctx, step)
			closeOnce.Do(func() { close(oneReturned) })
		}()
	}
	wg.Wait()
	if errs[0] != nil && errs[1] != nil {
		t.Fatalf("both deliveries failed: %v; %v", errs[0], errs[1])
	}
	if err := e.runner.Handle(e.ctx, step); err != nil { // the refused one, delivered again
		t.Fatalf("delivered again: %v", err)
	}
	made := map[string]int{}
	for _, p := range e.pd.Persons(e.company) {
		for _, m := range p.Emails {
			if strings.HasPrefix(m.Value, "twice") {
				made[m.Value]++
			}
		}
	}
	for i := range n {
		if k := fmt.Sprintf("twice%d@example.com", i); made[k] != 1 {
			t.Errorf("%s: %d persons, want 1", k, made[k])
		}
	}
}

// A batch create answered with a server error was not refused: its outcome
// is unknown (Google may have made the contacts), so the chunk is tried
// again and finds what the batch made by our marker. Taken for a refusal,
// the contacts were created one by one (twice, had the batch gone through),
// and a server error on one of those held it for the user as "refused".
func TestGoogleServerErrorIsNoRefusal(t *testing.T) {
	e := newEnv(t, envOptions{})
	const n = 3
	for i := range n {
		e.person(e.user, pin(fmt.Sprintf("Olga Server%d", i), []string{fmt.Sprintf("olga%d@example.com", i)}, nil))
	}
	e.g.InjectFault(googlefake.Fault{Kind: googlefake.Fault500, User: e.email, Method: googlefake.MethodBatchCreateContacts})
	e.g.InjectFault(googlefake.Fault{Kind: googlefake.Fault500, User: e.email, Method: googlefake.MethodCreateContact})
	err := e.start(store.FirstSyncRun)
	for try := 0; err != nil && try < 3; try++ {
		err = e.direct.Redeliver(e.ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	held, err := e.st.HeldChanges(e.ctx, e.conn.ID, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range held {
		t.Errorf("held: %s %s (%s): %s", h.Side, h.ObjectID, h.Code, h.Reason)
	}
	w := e.world()
	if p := w.problems(e.m); len(p) != 0 {
		t.Errorf("problems:\n%s", strings.Join(p, "\n"))
	}
	if len(w.contacts) != n {
		t.Errorf("%d contacts in the group, want %d", len(w.contacts), n)
	}
}

// The plan step itself lost (or acknowledged while Google had to be
// connected again): the poller's kick sends it again and the job lists and
// plans. The kick used to mark the job as writing, so the plan step, sent
// again, took the job for planned with no chunks and ended it at once,
// with nothing listed and no sync token (a full reconcile followed).
func TestKickSendsALostPlanStepAgain(t *testing.T) {
	e := newEnv(t, envOptions{})
	for i := range 3 {
		e.contact("Vera", fmt.Sprint("Plan", i), "", []string{fmt.Sprintf("vera%d@example.com", i)}, nil, true)
	}
	e.direct.LoseNext(1) // the plan step
	if err := e.start(store.FirstSyncRun); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(firstsync.Stall)
	if err := e.kick(); err != nil {
		t.Fatal(err)
	}
	c := e.get()
	if c.Status != store.StatusLive || c.FirstSync.PipedriveDone != 3 || c.GoogleSyncToken == "" {
		t.Fatalf("after the kick: %s, %d created, sync token %q", c.Status, c.FirstSync.PipedriveDone, c.GoogleSyncToken)
	}
}
