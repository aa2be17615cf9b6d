package applier_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/applier"
	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

var (
	randomSeed  = flag.Uint64("applier.seed", 0, "seed of TestRandomizedApplier (0: a few fixed seeds)")
	randomSteps = flag.Int("applier.steps", 80, "user actions per run of TestRandomizedApplier")
)

// TestRandomizedApplier drives the real applier, store (emulator) and fakes
// with random user actions on both sides — creates, edits, deletes, group
// removals, owner changes away and back — whose change messages arrive
// duplicated and out of order, and with the applier killed between its
// steps now and then (the delivery fails and comes again later, as Pub/Sub
// redelivers it). After quiescence both sides hold the same contacts with
// the same synced fields, with no duplicate and nothing held.
func TestRandomizedApplier(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if *randomSeed != 0 {
		seeds = []uint64{*randomSeed}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Logf("seed %d (rerun with -applier.seed=%d)", seed, seed)
			randomRun(t, seed, *randomSteps)
		})
	}
}

type randomWorld struct {
	e          *env
	r          *rand.Rand
	queue      []queue.Change
	pids       []string // persons ever created by the user
	rns        []string // contacts ever created in the group
	crashes    int
	deliveries int
	n          int
}

func randomRun(t *testing.T, seed uint64, steps int) {
	e := newEnv(t, envOptions{contactSync: true})
	w := &randomWorld{e: e, r: rand.New(rand.NewPCG(seed, 11))}
	for range steps {
		w.act()
		// deliver a few queued messages, in a shuffled order, some twice
		for range w.r.IntN(4) {
			w.deliverOne(t)
		}
		e.advance(time.Duration(w.r.IntN(40)) * time.Second)
	}
	for len(w.queue) > 0 {
		w.deliverOne(t)
	}
	// The mass-delete brake may hold a run's deletes: the user confirms
	// them. Then quiescence: past every grace period, each record gets one
	// more delivery (what the safety net, the poll and the reconciliation
	// publish) until a round writes nothing.
	e.advance(5 * time.Minute)
	e.hook.Store(nil)
	if len(e.held(store.HeldBrake)) > 0 {
		if _, err := e.svc.ConfirmDeletes(e.ctx, e.conn.ID); err != nil {
			t.Fatal(err)
		}
	}
	e.republish()
	for round := 0; ; round++ {
		before := e.traffic()
		for _, pid := range w.allPersons() {
			e.apply(pd, pid, queue.Upsert)
		}
		for _, rn := range w.rns {
			e.apply(gg, rn, queue.Upsert)
		}
		if d := e.traffic().sub(before); d.gWrites+d.pWrites == 0 {
			break
		}
		if round > 4 {
			t.Fatalf("no quiescence after %d rounds (ping-pong?)", round)
		}
	}
	w.check(t)
	t.Logf("%d actions, %d deliveries, %d crashes between steps", steps, w.deliveries, w.crashes)
}

func (w *randomWorld) name() string {
	w.n++
	return fmt.Sprintf("Person%d Random%d", w.n, w.n)
}

// act makes one random user action and queues its change message.
func (w *randomWorld) act() {
	e := w.e
	livePD := func() []string {
		var out []string
		for _, id := range w.pids {
			if p, ok := e.pdPerson(id); ok && p.OwnerID == e.user {
				out = append(out, id)
			}
		}
		return out
	}
	members := e.gMembers()
	switch x := w.r.IntN(12); {
	case x < 2 || len(w.pids) == 0:
		n := w.name()
		id := e.pdAdd(pipedrive.PersonInput{Name: ptr(n), Emails: emails(fmt.Sprintf("p%d@example.com", w.n)),
			Phones: phones(fmt.Sprintf("+49 30 %07d", w.n))})
		w.pids = append(w.pids, id)
		w.push(pd, id, queue.Upsert)
	case x < 4:
		n := w.name()
		rn := e.gSeed(&people.Person{Names: []*people.Name{{GivenName: "Google", FamilyName: fmt.Sprint("Contact", w.n)}},
			EmailAddresses: []*people.EmailAddress{{Value: fmt.Sprintf("g%d@example.com", w.n)}}})
		_ = n
		w.rns = append(w.rns, rn)
		w.push(gg, rn, queue.Upsert)
	case x < 7:
		if ids := livePD(); len(ids) > 0 {
			id := pick(w.r, ids)
			e.pdEdit(id, pipedrive.PersonInput{Name: ptr(w.name())})
			w.push(pd, id, queue.Upsert)
		}
	case x < 9:
		if len(members) > 0 {
			rn := pick(w.r, members)
			if _, err := e.g.EditContact(googlefake.DemoUser, rn, func(p *people.Person) {
				p.PhoneNumbers = append(p.PhoneNumbers, &people.PhoneNumber{Value: fmt.Sprintf("+49 171 %07d", w.r.IntN(1e7)), Type: "mobile"})
			}); err == nil {
				w.push(gg, rn, queue.Upsert)
			}
		}
	case x == 9:
		if ids := livePD(); len(ids) > 0 {
			id := pick(w.r, ids)
			e.pdDelete(id)
			w.push(pd, id, queue.Delete)
		}
	case x == 10:
		if len(members) > 0 {
			rn := pick(w.r, members)
			if w.r.IntN(2) == 0 {
				_ = e.g.DeleteContact(googlefake.DemoUser, rn)
			} else {
				_ = e.g.SetMembership(googlefake.DemoUser, rn, e.group, false)
			}
			w.push(gg, rn, queue.Delete)
		}
	default: // the owner changes away, or back
		if len(w.pids) > 0 {
			id := pick(w.r, w.pids)
			if p, ok := e.pdPerson(id); ok {
				owner := e.other
				if p.OwnerID == e.other {
					owner = e.user
				}
				e.pdEdit(id, pipedrive.PersonInput{OwnerID: &owner})
				w.push(pd, id, queue.Upsert)
			}
		}
	}
}

// allPersons is every person of the company ever made, by the test or by
// the sync (from Google contacts), deleted ones too.
func (w *randomWorld) allPersons() []string {
	var out []string
	for _, p := range w.e.pd.Persons(w.e.company) {
		out = append(out, strconv.FormatInt(p.ID, 10))
	}
	return out
}

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

// push queues a change message; a third of them are sent twice (Pub/Sub's
// at-least-once), some much later.
func (w *randomWorld) push(side queue.Side, id string, kind queue.Kind) {
	ch := queue.Change{ConnectionID: w.e.conn.ID, Side: side, ObjectID: id, Kind: kind, Source: queue.FromWebhook, OccurredAt: w.e.clock()}
	w.queue = append(w.queue, ch)
	if w.r.IntN(3) == 0 {
		w.queue = append(w.queue, ch)
	}
}

// deliverOne delivers a random queued message (out of order); now and then
// the applier is killed at a step, and the message stays queued.
func (w *randomWorld) deliverOne(t *testing.T) {
	if len(w.queue) == 0 {
		return
	}
	i := w.r.IntN(len(w.queue))
	ch := w.queue[i]
	crash := w.r.IntN(6) == 0
	if crash {
		w.e.crashAt(pickStep(w.r, applier.StepIntentStored, applier.StepPlanStored, applier.StepRemoteWritten))
	} else {
		w.e.hook.Store(nil)
	}
	w.deliveries++
	w.e.msgs++
	err := w.e.app.Handle(w.e.ctx, queue.Delivery{MessageID: "r" + strconv.Itoa(w.e.msgs), Data: mustJSON(t, ch)})
	if err != nil {
		if crash {
			w.crashes++
		}
		w.e.advance(3 * time.Minute) // Pub/Sub's backoff; past the intent's grace
		return                       // stays queued: redelivered
	}
	w.queue = slices.Delete(w.queue, i, i+1)
}

func pickStep(r *rand.Rand, steps ...applier.Step) applier.Step {
	return steps[r.IntN(len(steps))]
}

// check: every live person the user owns has exactly one contact in the
// group with the same synced fields, every group member is such a twin, and
// nothing is held.
func (w *randomWorld) check(t *testing.T) {
	e := w.e
	owned := 0
	seen := map[string]string{}
	for _, id := range w.allPersons() {
		p, ok := e.pdPerson(id)
		if !ok || p.OwnerID != e.user {
			continue
		}
		owned++
		l, ok := e.link(pd, id)
		if !ok || l.GoogleID == "" {
			t.Errorf("person %s has no Google twin (link %+v)", id, l)
			continue
		}
		if other, dup := seen[l.GoogleID]; dup {
			t.Errorf("persons %s and %s share the contact %s", other, id, l.GoogleID)
		}
		seen[l.GoogleID] = id
		gp, ok := e.gContact(l.GoogleID)
		if !ok || !slices.Contains(e.gMembers(), l.GoogleID) {
			t.Errorf("person %s: its contact %s is gone or outside the group", id, l.GoogleID)
			continue
		}
		org := ""
		if p.OrgID != nil {
			org, _ = e.pd.OrganizationName(*p.OrgID)
		}
		pc, gc := e.m.FromPipedrive(&p, org), e.m.FromGoogle(gp)
		pc = contact.AlignPipedrive(pc, gc)
		if d := contact.Diff(pc, gc) &^ pc.Unknown; d != 0 {
			t.Errorf("person %s and contact %s differ in %v", id, l.GoogleID, d)
		}
	}
	if members := e.gMembers(); len(members) != owned {
		t.Errorf("%d contacts in the group, %d persons owned: duplicates or leftovers", len(members), owned)
	}
	for _, rn := range e.gMembers() {
		if _, ok := seen[rn]; !ok {
			t.Errorf("group member %s is not the twin of an owned person", rn)
		}
	}
	for _, h := range e.held("") {
		t.Errorf("held after quiescence: %+v", h)
	}
}
