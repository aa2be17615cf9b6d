package syncplan

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/google/go-cmp/cmp"
)

var (
	seed   = flag.Uint64("seed", 1, "seed of the randomized tests (0: random)")
	rounds = flag.Int("rounds", 300, "edit/sync rounds of the convergence test")
)

// rec is one record on an in-memory side.
type rec struct {
	c       contact.Contact
	updated time.Time
	deleted bool
	out     bool // left the scope: removed from the group / owner changed away
}

type link struct {
	pd, g string
	base  contact.Contact
	// parked is the Google contact of a person whose owner changed away
	// (Unpark); g is "" meanwhile.
	parked    string
	committed time.Time
	// planned is the update plan of a run that stopped before its commit
	planned *Planned
}

// world is two in-memory sides and the links between them.
type world struct {
	r      *rand.Rand
	now    time.Time
	pd, g  map[string]*rec
	links  []*link
	hidden contact.Fields // what the Pipedrive company does not show
	nextID int
	writes int

	// The mass-delete brake over the world's window, with a small minimum
	// so it trips; braked are the links whose deletes it holds.
	brake   Brake
	window  []time.Time
	tripped bool
	braked  map[*link]bool
	// failRate makes a plan fail (not applied, held) now and then: a held
	// change is decided again later.
	failRate int
	held     int
	// stopRate makes a run stop after some of an update plan's writes,
	// before its commit (a crash): the link keeps the plan's Planned.
	stopRate int
	stops    int
	merges   int
	restores int
}

func (w *world) tick() time.Time { w.now = w.now.Add(time.Second); return w.now }

func (w *world) id(prefix string) string { w.nextID++; return fmt.Sprintf("%s%d", prefix, w.nextID) }

// store writes c as the side would hold it: Pipedrive neither keeps nor
// shows its hidden fields.
func (w *world) store(side Side, c contact.Contact) contact.Contact {
	c = c.Clone()
	c.Unknown = 0
	if side == Pipedrive {
		c.Unknown = w.hidden
		switch {
		case w.hidden&contact.IM != 0:
			c.IM = nil
		}
		if w.hidden&contact.Address != 0 {
			c.Address = contact.PostalAddress{}
		}
		if w.hidden&contact.JobTitle != 0 {
			c.JobTitle = ""
		}
	}
	return contact.Normalize(c)
}

func (w *world) sideMap(s Side) map[string]*rec {
	if s == Pipedrive {
		return w.pd
	}
	return w.g
}

func (w *world) state(s Side, id string) SideState {
	r, ok := w.sideMap(s)[id]
	switch {
	case !ok:
		return SideState{State: Absent}
	case r.deleted:
		return SideState{State: Deleted, Updated: r.updated}
	case r.out:
		return SideState{State: OutOfScope, Contact: r.c, Updated: r.updated}
	}
	return SideState{State: Present, Contact: r.c, Updated: r.updated}
}

// apply runs a plan's actions and returns the ids after creates.
func (w *world) apply(p Plan, pdID, gID string) (string, string) {
	for _, a := range p.Actions {
		w.writes++
		m := w.sideMap(a.Side)
		id := gID
		if a.Side == Pipedrive {
			id = pdID
		}
		switch a.Op {
		case Create:
			id = w.id(string(a.Side[:1]))
			m[id] = &rec{c: w.store(a.Side, a.Contact), updated: w.tick()}
		case Update:
			m[id].c, m[id].updated = w.store(a.Side, a.Contact), w.tick()
		case Delete:
			m[id].deleted, m[id].updated = true, w.tick()
		case Leave:
			m[id].out = true
		}
		if a.Side == Pipedrive {
			pdID = id
		} else {
			gID = id
		}
	}
	return pdID, gID
}

// syncOnce plans every link and every unlinked in-scope record once and
// applies the plans; it returns the number of actions.
func (w *world) syncOnce(t *testing.T) int {
	n := 0
	linkedPD, linkedG := map[string]bool{}, map[string]bool{}
	var keep []*link
	for _, l := range w.links {
		if l.parked != "" && !w.unpark(l) {
			linkedPD[l.pd] = true
			if l.pd != "" || l.parked != "" {
				keep = append(keep, l)
			}
			continue
		}
		p, err := Decide(Input{Base: &l.base, Pipedrive: w.state(Pipedrive, l.pd), Google: w.state(Google, l.g), Now: w.now, PipedriveHidden: w.hidden, Planned: l.planned})
		if err != nil {
			t.Fatal(err)
		}
		if w.hold(l, p, false) {
			linkedPD[l.pd], linkedG[l.g] = true, true
			keep = append(keep, l)
			continue
		}
		if p.Planned != nil && w.stopRate > 0 && w.r.IntN(w.stopRate) == 0 {
			// stopped after some of the writes, before the commit
			w.stops++
			done := p
			done.Actions = p.Actions[:w.r.IntN(len(p.Actions))]
			n += len(done.Actions)
			w.apply(done, l.pd, l.g)
			l.planned = p.Planned
			linkedPD[l.pd], linkedG[l.g] = true, true
			keep = append(keep, l)
			continue
		}
		n += len(p.Actions)
		l.pd, l.g = w.apply(p, l.pd, l.g)
		if p.Unlink && slices.ContainsFunc(p.Actions, func(a Action) bool { return a.Op == Leave }) {
			// the owner changed away: parked with its base (Unpark)
			l.parked, l.g = l.g, ""
			linkedPD[l.pd] = true
			keep = append(keep, l)
			continue
		}
		if p.Unlink {
			continue
		}
		if p.Base != nil {
			l.base, l.committed, l.planned = *p.Base, w.now, nil
		}
		linkedPD[l.pd], linkedG[l.g] = true, true
		keep = append(keep, l)
	}
	w.links = keep
	for _, s := range []Side{Pipedrive, Google} {
		m := w.sideMap(s)
		for _, id := range sortedKeys(m) {
			r := m[id]
			if r.deleted || r.out || (s == Pipedrive && linkedPD[id]) || (s == Google && linkedG[id]) {
				continue
			}
			in := Input{Now: w.now, PipedriveHidden: w.hidden}
			if s == Pipedrive {
				in.Pipedrive = w.state(s, id)
			} else {
				in.Google = w.state(s, id)
			}
			p, err := Decide(in)
			if err != nil {
				t.Fatal(err)
			}
			if w.failRate > 0 && w.r.IntN(w.failRate) == 0 {
				w.held++ // failed: held, decided again at the next pass
				continue
			}
			n += len(p.Actions)
			pdID, gID := "", ""
			if s == Pipedrive {
				pdID = id
			} else {
				gID = id
			}
			pdID, gID = w.apply(p, pdID, gID)
			if p.Base != nil && pdID != "" && gID != "" {
				w.links = append(w.links, &link{pd: pdID, g: gID, base: *p.Base, committed: w.now})
				linkedPD[pdID], linkedG[gID] = true, true
			}
		}
	}
	return n
}

// unpark runs Unpark on a parked link; it reports whether the link is to be
// decided now (its contact back in the group).
func (w *world) unpark(l *link) bool {
	pc := ContactGone
	if g, ok := w.g[l.parked]; ok && !g.deleted {
		pc = ContactOutOfGroup
		if !g.out {
			pc = ContactInGroup
		}
	}
	switch Unpark(w.state(Pipedrive, l.pd).State, pc) {
	case StillAway:
		return false
	case Release:
		l.pd, l.parked = "", "" // dropped
		return false
	case Fresh:
		l.parked = "" // forgotten: the person is new to Google
		l.pd = ""
		return false
	case Rejoin:
		w.g[l.parked].out = false
		w.writes++
	}
	l.g, l.parked = l.parked, ""
	return true
}

// hold runs the brake on a plan that deletes, and fails plans now and
// then; it reports whether the plan is held instead of applied.
func (w *world) hold(l *link, p Plan, confirmed bool) bool {
	if w.failRate > 0 && w.r.IntN(w.failRate) == 0 {
		w.held++
		return true
	}
	if p.Deletes() == 0 || w.brake == (Brake{}) {
		return false
	}
	ok, win := w.brake.Allow(w.window, w.now, len(w.links), p.Deletes(), w.tripped, confirmed)
	if !ok {
		w.tripped = true
		w.braked[l] = true
		return true
	}
	if !confirmed {
		w.window = win
	}
	return false
}

// decideBraked is the user's answer to the held deletes: confirm them or
// restore the deleted records; the brake is released.
func (w *world) decideBraked(t *testing.T) {
	if len(w.braked) == 0 {
		return
	}
	restore := w.r.IntN(2) == 0
	var keep []*link
	gone := map[*link]bool{}
	for _, l := range w.links {
		if !w.braked[l] {
			continue
		}
		p, err := Decide(Input{Base: &l.base, Pipedrive: w.state(Pipedrive, l.pd), Google: w.state(Google, l.g), Now: w.now,
			PipedriveHidden: w.hidden, Restore: restore, Planned: l.planned})
		if err != nil {
			t.Fatal(err)
		}
		if restore {
			w.restores++
		}
		l.pd, l.g = w.apply(p, l.pd, l.g)
		switch {
		case p.Unlink && slices.ContainsFunc(p.Actions, func(a Action) bool { return a.Op == Leave }):
			l.parked, l.g = l.g, ""
		case p.Unlink:
			gone[l] = true
		case p.Base != nil:
			l.base, l.committed, l.planned = *p.Base, w.now, nil
		}
	}
	for _, l := range w.links {
		if !gone[l] {
			keep = append(keep, l)
		}
	}
	w.links, w.braked, w.tripped, w.window = keep, map[*link]bool{}, false, nil
}

// merge merges two persons in Pipedrive as Pipedrive does (the survivor's
// values win, lists united) and runs the merge table on the world, as the
// applier does when the merge's webhooks arrive.
func (w *world) merge() {
	var linked []*link
	for _, l := range w.links {
		if l.pd != "" && l.g != "" && !w.pd[l.pd].deleted && !w.pd[l.pd].out {
			linked = append(linked, l)
		}
	}
	var live []string
	for _, id := range sortedKeys(w.pd) {
		if r := w.pd[id]; !r.deleted && !r.out {
			live = append(live, id)
		}
	}
	if len(linked) == 0 || len(live) < 2 {
		return
	}
	la := pick(w.r, linked...)
	sid := pick(w.r, live...)
	if sid == la.pd {
		return
	}
	w.merges++
	loser, survivor := w.pd[la.pd], w.pd[sid]
	survivor.c, survivor.updated = w.store(Pipedrive, Fold(survivor.c, loser.c)), w.tick()
	loser.deleted, loser.updated = true, w.tick()
	var lb *link
	for _, l := range w.links {
		if l.pd == sid {
			lb = l
		}
	}
	twin := func(l *link) bool {
		if l == nil || l.g == "" {
			return false
		}
		g, ok := w.g[l.g]
		return ok && !g.deleted && !g.out
	}
	f := MergeFacts{Survivor: Present, SurvivorLinked: lb != nil, SameContact: lb != nil && lb.g == la.g,
		LoserTwin: twin(la), SurvivorTwin: twin(lb), LoserNewer: lb != nil && la.committed.After(lb.committed)}
	plan := PlanMerge(f)
	drop := func(x *link) {
		w.links = slices.DeleteFunc(w.links, func(l *link) bool { return l == x })
	}
	for _, op := range plan.Ops {
		w.writes++
		switch op {
		case MergeLeaveLoserTwin:
			w.g[la.g].out = true
		case MergeFoldIntoSurvivorTwin:
			w.g[lb.g].c, w.g[lb.g].updated = w.store(Google, Fold(w.g[lb.g].c, w.g[la.g].c)), w.tick()
		case MergeFoldIntoLoserTwin:
			w.g[la.g].c, w.g[la.g].updated = w.store(Google, Fold(w.g[lb.g].c, w.g[la.g].c)), w.tick()
		case MergeFoldRecordIntoLoserTwin:
			w.g[la.g].c, w.g[la.g].updated = w.store(Google, Fold(survivor.c, w.g[la.g].c)), w.tick()
		case MergeRemoveSurvivorTwin:
			w.g[lb.g].deleted = true
		case MergeRemoveLoserTwin:
			w.g[la.g].deleted = true
		case MergeNote:
		case MergeTakeOverWithRecord, MergeTakeOverWithBase:
			base := survivor.c
			if op == MergeTakeOverWithBase {
				base = lb.base
			}
			if lb != nil {
				drop(lb)
			}
			w.links = append(w.links, &link{pd: sid, g: la.g, base: base, committed: w.now})
			drop(la)
		case MergeDropLoserLink:
			drop(la)
		}
	}
}

func sortedKeys(m map[string]*rec) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

var phonePool = []string{"030 1111111", "030 2222222", "+49 30 3333333", "0170 4444444", "+1 415 555 0100", "*100#"}

// edit makes one random user edit to a live record.
func (w *world) edit(s Side, r *rec) {
	c := r.c.Clone()
	rr := w.r
	switch rr.IntN(9) {
	case 0:
		c.Given = pick(rr, "Ada", "Grace", "Alan", "Barbara")
	case 1:
		c.Family = pick(rr, "Lovelace", "Hopper", "Turing", "", "Liskov")
	case 2:
		c.Org = pick(rr, "Acme", "", "Initech")
	case 3:
		c.Phones = append(c.Phones, m.Phone(pick(rr, phonePool...), pick(rr, "work", "home", "mobile", "Custom"), rr.IntN(3) == 0))
	case 4:
		if len(c.Phones) > 0 {
			c.Phones = slices.Delete(c.Phones, 0, 1)
		}
	case 5:
		c.Emails = append(c.Emails, contact.Email(fmt.Sprintf("%s@example.com", pick(rr, "a", "b", "C", "d")), pick(rr, "work", "home"), rr.IntN(3) == 0))
	case 6:
		if len(c.Emails) > 0 {
			i := rr.IntN(len(c.Emails))
			c.Emails[i].Label = pick(rr, "work", "home", "other")
		}
	case 7:
		c.IM = append(c.IM, contact.IMHandle(pick(rr, "x", "y", "z"), pick(rr, "skype", "google", "whatsapp"), false))
		c.JobTitle = pick(rr, "", "CTO", "Dev")
	case 8:
		c.Address.City = pick(rr, "", "Berlin", "Paris")
		if len(c.Phones) > 1 {
			k := rr.IntN(len(c.Phones))
			for i := range c.Phones {
				c.Phones[i].Primary = i == k
			}
		}
	}
	r.c, r.updated = w.store(s, c), w.tick()
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

// mutate makes a few random user actions on either side.
func (w *world) mutate() {
	for range 1 + w.r.IntN(6) {
		s := pick(w.r, Pipedrive, Google)
		m := w.sideMap(s)
		ids := sortedKeys(m)
		if len(ids) == 0 || w.r.IntN(8) == 0 {
			id := w.id(string(s[:1]))
			m[id] = &rec{updated: w.tick()}
			w.edit(s, m[id])
			m[id].c.Given = pick(w.r, "New", "Fresh")
			continue
		}
		if s == Pipedrive && w.r.IntN(25) == 0 {
			w.merge()
			continue
		}
		r := m[pick(w.r, ids...)]
		if r.deleted {
			continue
		}
		switch x := w.r.IntN(20); {
		case x == 0:
			r.deleted, r.updated = true, w.tick()
		case x == 1:
			r.out = !r.out // removed from the group / owner changed away, or back
			r.updated = w.tick()
		default:
			if !r.out {
				w.edit(s, r)
			}
		}
	}
}

// check: every link joins two live in-scope records with the same content
// (on the fields Pipedrive shows), equal to the base; no live in-scope
// record is left unlinked; a rerun plans nothing.
func (w *world) check(t *testing.T, round int) {
	t.Helper()
	linked := map[string]bool{}
	for _, l := range w.links {
		if l.parked != "" {
			if p := w.pd[l.pd]; !p.out || p.deleted {
				t.Fatalf("round %d: link parked for %s, which is in scope again or gone", round, l.pd)
			}
			continue
		}
		p, g := w.pd[l.pd], w.g[l.g]
		if p.deleted || g.deleted || p.out || g.out {
			t.Fatalf("round %d: link %s↔%s to a record gone (%+v %+v)", round, l.pd, l.g, p, g)
		}
		if d := contact.Diff(p.c, g.c) &^ w.hidden; d != 0 {
			t.Fatalf("round %d: %s↔%s differ in %v:\n%s", round, l.pd, l.g, d, cmp.Diff(p.c, g.c, cmpContent))
		}
		if d := contact.Diff(l.base, g.c); d != 0 {
			t.Fatalf("round %d: base differs from Google in %v", round, d)
		}
		linked["p"+l.pd], linked["g"+l.g] = true, true
	}
	for _, s := range []Side{Pipedrive, Google} {
		for id, r := range w.sideMap(s) {
			if !r.deleted && !r.out && !linked[string(s[:1])+id] {
				t.Fatalf("round %d: %s %s is not linked", round, s, id)
			}
		}
	}
	if n := w.syncOnce(t); n != 0 {
		t.Fatalf("round %d: a rerun planned %d actions", round, n)
	}
}

// TestConverge: random edits, deletes, group removals, owner changes
// (parked and back) and Pipedrive merges on both sides, with plans that
// fail now and then (held, decided again later) and a mass-delete brake
// that holds deletes until the user confirms or restores them. After each
// round both sides hold the same contacts, every live record is linked,
// and a rerun plans nothing.
func TestConverge(t *testing.T) {
	for _, hidden := range []contact.Fields{0, contact.IM | contact.Address | contact.JobTitle} {
		t.Run(fmt.Sprintf("hidden=%v", hidden), func(t *testing.T) {
			s := *seed
			if s == 0 {
				s = rand.Uint64()
			}
			t.Logf("seed %d", s)
			w := &world{r: rand.New(rand.NewPCG(s, 7)), now: t0, pd: map[string]*rec{}, g: map[string]*rec{}, hidden: hidden,
				brake: Brake{Share: 0.1, Min: 1, Window: time.Hour}, braked: map[*link]bool{}, failRate: 10}
			for round := range *rounds {
				w.mutate()
				before := w.writes
				// Phase 0 has failing plans (held, decided again); later
				// phases retry them with the service back. Between phases
				// the user answers the brake's held deletes.
				for phase := 0; ; phase++ {
					if phase > 10 {
						t.Fatalf("round %d: the brake kept holding deletes after %d answers", round, phase)
					}
					w.failRate, w.stopRate = 0, 0
					if phase == 0 {
						w.failRate, w.stopRate = 10, 8
					}
					passes := 0
					for w.syncOnce(t) > 0 {
						if passes++; passes > 12 {
							t.Fatalf("round %d: no convergence after %d passes", round, passes)
						}
					}
					if phase > 0 && len(w.braked) == 0 {
						break
					}
					w.decideBraked(t)
				}
				w.check(t, round)
				// no ping-pong: a round's writes are bounded by the records touched
				if wr := w.writes - before; wr > 4*(len(w.links)+8) {
					t.Fatalf("round %d: %d writes", round, wr)
				}
			}
			t.Logf("%d links, %d pd, %d google records, %d writes, %d held then retried, %d runs stopped before their commit, %d merges, %d restores",
				len(w.links), len(w.pd), len(w.g), w.writes, w.held, w.stops, w.merges, w.restores)
			if w.held == 0 || w.stops == 0 || w.merges == 0 || w.restores == 0 {
				t.Errorf("the run did not exercise held changes (%d), stopped runs (%d), merges (%d) and restores (%d)", w.held, w.stops, w.merges, w.restores)
			}
		})
	}
}

func BenchmarkDecide(b *testing.B) {
	base := mk("Ada", "Lovelace", phone("030 1234567", "work"), phone("0170 1111111", "mobile"), email("ada@example.com"), org("Acme"), im("ada", "skype"), city("Berlin"))
	pdc := mk("Ada", "King", phone("030 1234567", "work"), phone("0170 1111111", "mobile"), email("ada@example.com"), email("ada@home.example"), org("Acme"), im("ada", "skype"), city("Berlin"))
	gc := mk("Ada", "Lovelace", phone("030 1234567", "home"), email("ada@example.com"), org("Acme Ltd"), im("ada", "skype"), city("Berlin"))
	for _, bc := range []struct {
		name  string
		pd, g contact.Contact
	}{
		{"echo", base, base},
		{"one-side", pdc, base},
		{"both-sides", pdc, gc},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := Input{Base: &base, Pipedrive: present(bc.pd, t0), Google: present(bc.g, t0.Add(time.Second)), Now: t0}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decide(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
