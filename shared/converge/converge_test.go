package converge_test

import (
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/store"
)

var (
	flagSeed      = flag.Uint64("converge.seed", 0, "run this one scenario seed")
	flagScenarios = flag.Int("converge.scenarios", 3, "scenarios to run (seeds from..from+n-1): 3 is CI's budget, the long mode (scripts/converge) runs hundreds or thousands")
	flagFrom      = flag.Uint64("converge.from", 1, "the first seed of -converge.scenarios")
	flagActions   = flag.Int("converge.actions", 30, "user actions per scenario")
	flagParallel  = flag.Int("converge.parallel", 3, "scenarios run at once (each with its own accounts)")
)

// TestRandomizedConvergence runs random scenarios through the whole sync:
// each connects fresh accounts holding records on both sides (the first
// sync pairs them) and, while the first sync and then the live sync run,
// makes random creates, edits of every synced field, deletes, group
// removals, owner changes and Pipedrive merges on both sides, with faults
// injected everywhere: 429, 5xx, timeouts and answers lost after the write
// in both APIs, webhooks lost, duplicated and reordered, Pub/Sub
// deliveries refused and duplicated, the applier and the first sync
// crashing between steps, Google's grant revoked and connected again.
// After quiescence each scenario is checked against a model of what the
// user did: both sides hold the same contacts with the same synced
// fields, no duplicates, no edit lost that a later edit or the delete
// policy does not explain, no held change left unexplained, and the API
// writes bounded by the user's actions (no ping-pong). Every scenario is
// reproducible from its printed seed (-converge.seed).
func TestRandomizedConvergence(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole stack: not in -short")
	}
	if *flagScenarios <= 0 && *flagSeed == 0 {
		t.Skip("no scenarios (-converge.scenarios=0)")
	}
	s := newStack(t)
	seeds := make([]uint64, 0, *flagScenarios)
	if *flagSeed != 0 {
		seeds = append(seeds, *flagSeed)
	} else {
		for i := range *flagScenarios {
			seeds = append(seeds, *flagFrom+uint64(i))
		}
	}
	start := time.Now()
	var (
		mu              sync.Mutex
		wg              sync.WaitGroup
		failed, ran     int
		actions, writes int
		limits          = map[string]int{}
	)
	work := make(chan uint64)
	for range max(*flagParallel, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range work {
				began := time.Now()
				done := make(chan result, 1)
				go func() { // a fatal scenario ends its own goroutine only
					defer close(done)
					done <- runScenario(t, s, seed, *flagActions)
				}()
				r, ok := <-done
				mu.Lock()
				ran++
				actions += r.actions
				writes += r.writes
				for k, n := range r.limits {
					limits[k] += n
				}
				if !ok || len(r.problems) > 0 {
					failed++
				}
				// progress, for the long mode
				fmt.Printf("converge: seed %d %s in %v (%d of %d ran, %d failed, %v)\n", seed,
					map[bool]string{true: "ok", false: "FAILED"}[ok && len(r.problems) == 0],
					time.Since(began).Round(time.Second), ran, len(seeds), failed, time.Since(start).Round(time.Second))
				// each known limitation met, with what it explained, for review
				for _, e := range r.excused {
					fmt.Printf("converge: seed %d met a known limitation, %s\n", seed, e)
				}
				mu.Unlock()
				if len(r.problems) > 0 {
					t.Errorf("scenario seed %d (rerun: go test ./shared/converge -run TestRandomizedConvergence -converge.seed=%d): %d problems:\n  %s",
						seed, seed, len(r.problems), strings.Join(r.problems, "\n  "))
				}
			}
		}()
	}
	for _, seed := range seeds {
		work <- seed
	}
	close(work)
	wg.Wait()
	var kinds []string
	for k, n := range s.injected {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	fmt.Printf("converge: %d scenarios, %d failed, %d user actions, %d API writes (%.2f a user action), %v\n",
		ran, failed, actions, writes, float64(writes)/float64(max(actions, 1)), time.Since(start).Round(time.Second))
	fmt.Printf("converge: faults injected: %s\n", strings.Join(kinds, ", "))
	var met []string
	total := 0
	for k, n := range limits {
		met = append(met, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(met)
	fmt.Printf("converge: known limitations met (README, Reliability): %d%s\n", total, strings.TrimSuffix(": "+strings.Join(met, ", "), ": "))
}

type result struct {
	actions, writes int
	problems        []string
	limits          map[string]int // known limitations met, by kind
	excused         []string       // what they explained, for review
}

// Known limitations: user actions whose outcome the sync does not promise,
// documented in the README ("Reliability"). An identity that met one is
// not failed when it ends as a duplicate or survives its delete; the run
// prints how often that happened.
const (
	// The first sync lists the user's persons once: a person given to a
	// colleague at that moment is not theirs, its Google twin gets a new
	// person, and when it comes back there are two.
	limitAwayDuringListing = "given to a colleague and back while the first sync listed"
	// A run that stopped between a remote write and its commit is resumed
	// by its retry; a removal made in between (of a phone number it wrote,
	// of the record it created) reads as not written yet and is written
	// again. Both sides must still agree.
	limitUndoOfStoppedRun = "removed right after a run that stopped after its write"
)

// undoAfterStoppedRun notes the known limitation limitUndoOfStoppedRun
// when id's removal (a phone number, the record) came in the seconds after
// an applier run on its pair stopped between a remote write and its
// commit: the write may be what the user removed.
func (sc *scenario) undoAfterStoppedRun(id *ident) {
	var objects []string
	if p, ok := sc.personOf(id); ok {
		objects = append(objects, strconv.FormatInt(p.ID, 10))
	}
	if c, ok := sc.contactOf(id); ok {
		objects = append(objects, c.ResourceName)
	}
	if id.limit == "" && sc.s.stoppedBefore(sc.connID, objects, 10*time.Second) {
		id.limit = limitUndoOfStoppedRun
		sc.note("#%d: removed in the seconds after a run on it stopped after its write", id.n)
	}
}

// A scenario's accounts and the model of what its user did.
type scenario struct {
	s         *stack
	t         *testing.T
	r         *mrand.Rand
	seed      uint64
	email     string // the Google user
	group     string
	company   int64
	user      int64 // the connected Pipedrive user
	colleague int64
	owner     string // the browser session
	connID    string
	ids       []*ident
	counter   int
	revoked   bool
	held      bool // webhooks held for reordering
	firstDone bool // the first sync has finished
	actions   int
	orgs      map[string]int64
	log       []string // what happened, in order, for a failure's report
	limits    map[string]int
	excused   []string // the problems a known limitation explained
}

// fatalf ends the scenario (its goroutine) with a failure.
func (sc *scenario) fatalf(format string, args ...any) {
	sc.t.Errorf("scenario seed %d: "+format, append([]any{sc.seed}, args...)...)
	runtime.Goexit()
}

func (sc *scenario) note(format string, args ...any) {
	sc.log = append(sc.log, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
}

// ident is one contact as the user knows it: its key is an e-mail address
// no action removes; the model holds what both sides must show at the end.
type ident struct {
	n       int
	key     string
	given   string
	family  []string // the allowed final values: the last edit's (and a concurrent one's, see scalar)
	org     []string
	phones  map[string]bool // E.164 keys
	emails  map[string]bool // lowercased, the key included
	state   string          // live, deleted, outside, merged
	loose   bool            // a delete raced with an edit: present or gone, but consistent
	survive bool            // a merge survivor: checked for consistency, not against the model
	twin    bool            // on both sides before connecting: the first sync merges it without a base
	limit   string          // a known limitation this identity met (see limits); its outcome is counted, not failed
	edits   map[string]edit // last edit per scalar field and side (field+"/"+side)
	open    []conflict      // conflicts the sync may still decide either way
	// during holds, per scalar field and side, the last value set while
	// the first sync ran
	during  map[string]map[string]string
	touched map[string]time.Time // last edit of any field, by side
}

type edit struct {
	at    time.Time
	side  string
	value string
	seen  bool // the other side showed it when the user edited the field there
}

// conflict is an edit (winner) of field that did not see the other side's
// last value of it (loser): the loser wins if its side's record changes
// again before the sync brings the winner there (SPEC 4: the later change
// wins by the sides' own, per-record, modification times).
type conflict struct {
	field, loserSide, loser, winner string
}

// sameSecond is how close two records' changes may be and still be
// decided either way: Pipedrive's update_time has whole seconds (ties go
// to Pipedrive), and our clock reads the fakes' times a little later.
const sameSecond = 1500 * time.Millisecond

func (sc *scenario) newIdent() *ident {
	sc.counter++
	n := sc.counter
	id := &ident{n: n, key: fmt.Sprintf("cv%d-%d@example.com", sc.seed, n), given: fmt.Sprintf("Cv%d", n),
		family: []string{"Base"}, org: []string{""}, phones: map[string]bool{}, emails: map[string]bool{},
		state: "live", edits: map[string]edit{}, touched: map[string]time.Time{}, during: map[string]map[string]string{}}
	id.emails[id.key] = true
	sc.ids = append(sc.ids, id)
	return id
}

func runScenario(t *testing.T, s *stack, seed uint64, steps int) result {
	sc := &scenario{s: s, t: t, r: mrand.New(mrand.NewPCG(seed, 2026)), seed: seed, orgs: map[string]int64{}, limits: map[string]int{},
		email: fmt.Sprintf("cv%d@example.com", seed), owner: fmt.Sprintf("session-%d", seed)}
	ctx := s.ctx
	if err := s.gf.AddUser(sc.email); err != nil {
		sc.fatalf("%v", err)
	}
	var err error
	if sc.group, err = s.gf.CreateGroup(sc.email, "Pipedrive"); err != nil {
		sc.fatalf("%v", err)
	}
	sc.company = s.pf.CreateCompany(pipedrivefake.CompanyOptions{Name: fmt.Sprintf("Co%d", seed), ContactSync: true})
	var apiToken string
	if sc.user, apiToken, err = s.pf.CreateUser(sc.company, "Pat", fmt.Sprintf("pat%d@acme.example", seed)); err != nil {
		sc.fatalf("%v", err)
	}
	if sc.colleague, _, err = s.pf.CreateUser(sc.company, "Sam", fmt.Sprintf("sam%d@acme.example", seed)); err != nil {
		sc.fatalf("%v", err)
	}
	// Records on both sides before connecting: the first sync pairs them.
	for range 2 + sc.r.IntN(4) {
		sc.createP(false)
	}
	for range 2 + sc.r.IntN(4) {
		sc.createG(false)
	}
	for range sc.r.IntN(3) { // twins
		id := sc.createP(false)
		sc.seedG(id)
		id.twin = true
	}
	gBefore, pBefore := s.gf.Stats(sc.email).ContactWrites, s.pf.CompanyWrites(sc.company)

	// Connect as the settings page does, and save: the first sync starts.
	tok, err := s.gf.IssueToken(sc.email, googleClient)
	if err != nil {
		sc.fatalf("%v", err)
	}
	c, err := s.svc.ConnectPipedriveToken(ctx, sc.owner, "", apiToken)
	if err == nil {
		c, err = s.svc.ConnectGoogle(ctx, sc.owner, c.ID, tok.RefreshToken)
	}
	if err == nil {
		c, err = s.svc.ChooseGroup(ctx, c.ID, sc.group)
	}
	if err == nil {
		c, err = s.svc.GoLive(ctx, c.ID)
	}
	if err != nil {
		sc.fatalf("connect: %v", err)
	}
	sc.connID = c.ID

	s.setFaults(sc.connID, true)
	for range steps {
		if !sc.firstDone {
			if c, err := s.st.GetConnection(ctx, sc.connID); err == nil && c.FirstSync != nil && c.FirstSync.Phase == store.PhaseDone {
				sc.firstDone = true
				sc.note("the first sync finished")
			}
		}
		sc.act()
		sc.infraFault()
		time.Sleep(time.Duration(50+sc.r.IntN(200)) * time.Millisecond)
	}
	s.setFaults(sc.connID, false)
	sc.clearFaults()
	if sc.held {
		s.pf.ReleaseDeliveries(true)
	}
	probs := sc.settle()
	w := s.gf.Stats(sc.email).ContactWrites - gBefore + s.pf.CompanyWrites(sc.company) - pBefore
	probs = append(probs, sc.check(w)...)
	// The user is done: the connection stops being polled, or in a long
	// run the polls of finished scenarios crowd out the running ones (the
	// fan-out queued 76 connections a tick after 45 scenarios, and every
	// later scenario failed to settle).
	if _, err := s.svc.Pause(ctx, sc.connID); err != nil {
		t.Logf("seed %d: pause the finished scenario's connection: %v", seed, err)
	}
	if len(probs) > 0 {
		probs = append(probs, fmt.Sprintf("messages published but never handled: %d", s.unhandled(sc.connID)),
			"connection "+sc.connID+"; what the user did:\n    "+strings.Join(sc.log, "\n    "))
	}
	return result{actions: sc.actions, writes: w, problems: probs, limits: sc.limits, excused: sc.excused}
}

// --- user actions ---

// act makes one random user action on one side.
func (sc *scenario) act() {
	type action struct {
		w  int
		do func() bool
	}
	acts := []action{
		{8, func() bool { sc.createP(true); return true }},
		{8, func() bool { sc.createG(true); return true }},
		{10, func() bool { return sc.editP("family") }},
		{10, func() bool { return sc.editG("family") }},
		{5, func() bool { return sc.editP("org") }},
		{5, func() bool { return sc.editG("org") }},
		{6, func() bool { return sc.editP("phone+") }},
		{6, func() bool { return sc.editG("phone+") }},
		{3, func() bool { return sc.editP("phone-") }},
		{3, func() bool { return sc.editG("phone-") }},
		{4, func() bool { return sc.editP("email+") }},
		{4, func() bool { return sc.editG("email+") }},
		{3, sc.deleteP},
		{3, sc.deleteG},
		{2, sc.leaveGroup},
		{2, sc.ownerAway},
		{2, sc.ownerBack},
		{2, sc.merge},
	}
	total := 0
	for _, a := range acts {
		total += a.w
	}
	for range 10 { // an action may not apply (nothing to edit yet): try another
		k := sc.r.IntN(total)
		for _, a := range acts {
			if k < a.w {
				if a.do() {
					sc.actions++
					return
				}
				break
			}
			k -= a.w
		}
	}
}

func (sc *scenario) personOf(id *ident) (pipedrive.Person, bool) {
	for _, p := range sc.s.pf.Persons(sc.company) {
		if p.IsDeleted || p.OwnerID != sc.user {
			continue
		}
		for _, e := range p.Emails {
			if strings.EqualFold(e.Value, id.key) {
				return p, true
			}
		}
	}
	return pipedrive.Person{}, false
}

func (sc *scenario) contactOf(id *ident) (*people.Person, bool) {
	cs, err := sc.s.gf.Contacts(sc.email)
	if err != nil {
		sc.fatalf("%v", err)
	}
	for _, c := range cs {
		if !inGroup(c, sc.group) {
			continue
		}
		for _, e := range c.EmailAddresses {
			if strings.EqualFold(e.Value, id.key) {
				return c, true
			}
		}
	}
	return nil, false
}

func inGroup(c *people.Person, group string) bool {
	for _, m := range c.Memberships {
		if m.ContactGroupMembership != nil && m.ContactGroupMembership.ContactGroupResourceName == group {
			return true
		}
	}
	return false
}

func (sc *scenario) phone() string {
	sc.counter++
	return fmt.Sprintf("+49 30 %07d", sc.seed%1000*10000+uint64(sc.counter))
}

func (sc *scenario) createP(counted bool) *ident {
	id := sc.newIdent()
	ph := sc.phone()
	in := pipedrive.PersonInput{Name: ptr(id.given + " Base")}
	in.Emails = &[]pipedrive.Field{{Value: id.key, Label: "work", Primary: true}}
	in.Phones = &[]pipedrive.Field{{Value: ph, Label: "work", Primary: true}}
	id.phones[e164(ph)] = true
	var err error
	var pid int64
	if counted {
		pid, err = sc.s.pf.UIAddPerson(sc.user, in)
	} else {
		pid, err = sc.s.pf.SeedPerson(sc.user, in)
	}
	if err != nil {
		sc.fatalf("%v", err)
	}
	sc.note("#%d created in Pipedrive: person %d", id.n, pid)
	return id
}

func (sc *scenario) createG(_ bool) *ident {
	id := sc.newIdent()
	sc.seedG(id)
	return id
}

// seedG creates id's contact in the group, as the user would.
func (sc *scenario) seedG(id *ident) {
	p := &people.Person{Names: []*people.Name{{GivenName: id.given, FamilyName: "Base"}},
		EmailAddresses: []*people.EmailAddress{{Value: id.key, Type: "work"}},
		Memberships: []*people.Membership{
			{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: "contactGroups/myContacts"}},
			{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: sc.group}}}}
	if len(id.phones) == 0 {
		ph := sc.phone()
		id.phones[e164(ph)] = true
		p.PhoneNumbers = []*people.PhoneNumber{{Value: ph, Type: "work"}}
	} else {
		for k := range id.phones {
			p.PhoneNumbers = append(p.PhoneNumbers, &people.PhoneNumber{Value: k, Type: "work"})
		}
	}
	out, err := sc.s.gf.SeedContact(sc.email, p)
	if err != nil {
		sc.fatalf("%v", err)
	}
	sc.note("#%d created in Google: %s", id.n, out.ResourceName)
}

// live picks a random identity in the model's live state.
func (sc *scenario) live(pred func(*ident) bool) *ident {
	var c []*ident
	for _, id := range sc.ids {
		if id.state == "live" && !id.survive && (pred == nil || pred(id)) {
			c = append(c, id)
		}
	}
	if len(c) == 0 {
		return nil
	}
	return c[sc.r.IntN(len(c))]
}

// scalar records an edit of a scalar field on side, which showed shown
// before it. In a true conflict (SPEC 4) the later change wins by the
// sides' own modification times, and both sides give one time per record,
// not per field: so the other side's last value of the field, if this edit
// did not see it (the sync had not brought it here yet), may still win if
// that side's record changed about as late (within Pipedrive's whole
// second) or changes again before the sync brings this value there (see
// touch).
func (id *ident) scalar(field, side, value, shown string, now time.Time, firstDone bool) {
	cur := &id.family
	if field == "org" {
		cur = &id.org
	}
	o, seenOther := id.edits[field+"/"+other(side)]
	if seenOther && shown == o.value {
		o.seen = true
		id.edits[field+"/"+other(side)] = o
	}
	id.open = slices.DeleteFunc(id.open, func(c conflict) bool { return c.field == field })
	switch {
	case id.twin && !firstDone:
		// the first sync merges twins without a base: the newer record
		// wins each field, whichever field made it newer (SPEC 4)
		*cur = append([]string{value}, *cur...)
	case !firstDone:
		// Live changes wait while the first sync runs and are decided
		// together when it ends; in a true conflict the record changed
		// last wins (Pipedrive's update_time has whole seconds), so the
		// other side's value set meanwhile may win too.
		*cur = []string{value}
		if o, ok := id.during[field][other(side)]; ok {
			*cur = append(*cur, o)
		}
	default:
		*cur = []string{value}
		if !seenOther || o.seen {
			break
		}
		if now.Sub(id.touched[other(side)]) < sameSecond {
			*cur = append(*cur, o.value)
		} else {
			id.open = append(id.open, conflict{field: field, loserSide: other(side), loser: o.value, winner: value})
		}
	}
	if !firstDone {
		if id.during[field] == nil {
			id.during[field] = map[string]string{}
		}
		id.during[field][side] = value
	}
	id.edits[field+"/"+side] = edit{at: now, side: side, value: value}
}

// touch records that side's record changed (any field, by the user), when
// it showed family and org: an open conflict whose losing value that side
// still shows may now win, its record being the later one.
func (id *ident) touch(side, family, org string, now time.Time) {
	id.open = slices.DeleteFunc(id.open, func(c conflict) bool {
		if c.loserSide != side {
			return false
		}
		shown, cur := family, &id.family
		if c.field == "org" {
			shown, cur = org, &id.org
		}
		switch shown {
		case c.loser:
			if !slices.Contains(*cur, c.loser) {
				*cur = append(*cur, c.loser)
			}
			return true
		case c.winner:
			return true // the sync brought the winner: decided
		}
		return false
	})
	id.touched[side] = now
}

func other(side string) string {
	if side == "google" {
		return "pipedrive"
	}
	return "google"
}

func (sc *scenario) editP(what string) bool {
	id := sc.live(nil)
	if id == nil {
		return false
	}
	p, ok := sc.personOf(id)
	if !ok {
		return false // not in Pipedrive yet
	}
	in := pipedrive.PersonInput{}
	now := time.Now()
	shown := sc.shownP(p)
	sc.counter++
	switch what {
	case "family":
		fam := fmt.Sprintf("Fam%d", sc.counter)
		in.Name = ptr(id.given + " " + fam)
		id.scalar("family", "pipedrive", fam, shown.Family, now, sc.firstDone)
	case "org":
		name := fmt.Sprintf("Org%d", sc.counter)
		oid, err := sc.s.pf.AddOrganization(sc.user, name)
		if err != nil {
			sc.fatalf("%v", err)
		}
		in.SetOrg, in.OrgID = true, &oid
		id.scalar("org", "pipedrive", name, shown.Org, now, sc.firstDone)
	case "phone+":
		ph := sc.phone()
		fs := append(slices.Clone(p.Phones), pipedrive.Field{Value: ph, Label: "mobile"})
		in.Phones = &fs
		id.phones[e164(ph)] = true
	case "phone-":
		if len(p.Phones) < 2 {
			return false
		}
		gone := p.Phones[len(p.Phones)-1]
		fs := slices.Clone(p.Phones[:len(p.Phones)-1])
		in.Phones = &fs
		delete(id.phones, e164(gone.Value))
	case "email+":
		e := fmt.Sprintf("extra%d-%s", sc.counter, id.key)
		fs := append(slices.Clone(p.Emails), pipedrive.Field{Value: e, Label: "home"})
		in.Emails = &fs
		id.emails[strings.ToLower(e)] = true
	}
	if err := sc.s.pf.UIEditPerson(sc.user, p.ID, in); err != nil {
		sc.fatalf("edit person: %v", err)
	}
	sc.note("#%d %s in Pipedrive (person %d)", id.n, what, p.ID)
	id.touch("pipedrive", shown.Family, shown.Org, now)
	if what == "phone-" {
		sc.undoAfterStoppedRun(id)
	}
	return true
}

// shownP is what Pipedrive shows of person p.
func (sc *scenario) shownP(p pipedrive.Person) contact.Contact {
	org := ""
	if p.OrgID != nil {
		org, _ = sc.s.pf.OrganizationName(*p.OrgID)
	}
	return sc.s.m.FromPipedrive(&p, org)
}

// touchP records a change of id's person p (as it was before) that no
// scalar edit records: its record changed all the same.
func (sc *scenario) touchP(id *ident, p pipedrive.Person) {
	shown := sc.shownP(p)
	id.touch("pipedrive", shown.Family, shown.Org, time.Now())
}

func (sc *scenario) editG(what string) bool {
	id := sc.live(nil)
	if id == nil {
		return false
	}
	c, ok := sc.contactOf(id)
	if !ok {
		return false
	}
	now := time.Now()
	sc.counter++
	n := sc.counter
	var removed string
	var shown contact.Contact
	ok = true
	_, err := sc.s.gf.EditContact(sc.email, c.ResourceName, func(p *people.Person) {
		shown = sc.s.m.FromGoogle(p)
		switch what {
		case "family":
			if len(p.Names) == 0 {
				p.Names = []*people.Name{{}}
			}
			p.Names[0].GivenName, p.Names[0].FamilyName = id.given, fmt.Sprintf("Fam%d", n)
		case "org":
			p.Organizations = []*people.Organization{{Name: fmt.Sprintf("Org%d", n)}}
		case "phone+":
			p.PhoneNumbers = append(p.PhoneNumbers, &people.PhoneNumber{Value: fmt.Sprintf("030 %07d", sc.seed%1000*10000+uint64(n)), Type: "mobile"})
		case "phone-":
			if len(p.PhoneNumbers) < 2 {
				ok = false
				return
			}
			removed = p.PhoneNumbers[len(p.PhoneNumbers)-1].Value
			p.PhoneNumbers = p.PhoneNumbers[:len(p.PhoneNumbers)-1]
		case "email+":
			p.EmailAddresses = append(p.EmailAddresses, &people.EmailAddress{Value: fmt.Sprintf("Extra%d-%s", n, id.key), Type: "home"})
		}
	})
	if err != nil || !ok {
		return false
	}
	sc.note("#%d %s in Google (%s)", id.n, what, c.ResourceName)
	id.touch("google", shown.Family, shown.Org, now)
	if what == "phone-" {
		sc.undoAfterStoppedRun(id)
	}
	switch what {
	case "family":
		id.scalar("family", "google", fmt.Sprintf("Fam%d", n), shown.Family, now, sc.firstDone)
	case "org":
		id.scalar("org", "google", fmt.Sprintf("Org%d", n), shown.Org, now, sc.firstDone)
	case "phone+":
		id.phones[fmt.Sprintf("+4930%07d", sc.seed%1000*10000+uint64(n))] = true
	case "phone-":
		delete(id.phones, e164(removed))
	case "email+":
		id.emails[strings.ToLower(fmt.Sprintf("Extra%d-%s", n, id.key))] = true
	}
	return true
}

// deleted marks id deleted from side; an edit on the other side shortly
// before may beat the delete (the contact is then re-created).
func (sc *scenario) deleted(id *ident, side string) {
	now := time.Now()
	id.state = "deleted"
	if !sc.firstDone {
		// The first sync brings together what it lists: a record deleted
		// on one side before it was linked can come back from the other
		// (README, Reliability). Either way, both sides agree.
		id.loose = true
	}
	for s, at := range id.touched {
		if s != side && now.Sub(at) < 10*time.Second {
			id.loose = true // an edit the delete may not have seen beats it
		}
	}
}

func (sc *scenario) deleteP() bool {
	id := sc.live(nil)
	if id == nil {
		return false
	}
	p, ok := sc.personOf(id)
	if !ok {
		return false
	}
	if err := sc.s.pf.UIDeletePerson(sc.user, p.ID); err != nil {
		sc.fatalf("%v", err)
	}
	sc.note("#%d deleted in Pipedrive (person %d)", id.n, p.ID)
	sc.deleted(id, "pipedrive")
	sc.undoAfterStoppedRun(id)
	return true
}

func (sc *scenario) deleteG() bool {
	return sc.goneFromGoogle("deleted in Google", func(rn string) error { return sc.s.gf.DeleteContact(sc.email, rn) })
}

// leaveGroup removes a contact from the group: a delete for the sync.
func (sc *scenario) leaveGroup() bool {
	return sc.goneFromGoogle("left the group", func(rn string) error { return sc.s.gf.SetMembership(sc.email, rn, sc.group, false) })
}

// goneFromGoogle takes a live contact out of the synced group with do (a
// delete for the sync) and notes it as what.
func (sc *scenario) goneFromGoogle(what string, do func(resourceName string) error) bool {
	id := sc.live(nil)
	if id == nil {
		return false
	}
	c, ok := sc.contactOf(id)
	if !ok {
		return false
	}
	if err := do(c.ResourceName); err != nil {
		return false
	}
	sc.note("#%d %s (%s)", id.n, what, c.ResourceName)
	sc.deleted(id, "google")
	sc.undoAfterStoppedRun(id)
	return true
}

func (sc *scenario) ownerAway() bool {
	id := sc.live(nil)
	if id == nil {
		return false
	}
	p, ok := sc.personOf(id)
	if !ok {
		return false
	}
	if err := sc.s.pf.UIEditPerson(sc.user, p.ID, pipedrive.PersonInput{OwnerID: &sc.colleague}); err != nil {
		sc.fatalf("%v", err)
	}
	id.state = "outside"
	sc.touchP(id, p)
	if !sc.firstDone {
		id.limit = limitAwayDuringListing
	}
	sc.note("#%d given to a colleague (person %d)", id.n, p.ID)
	return true
}

func (sc *scenario) ownerBack() bool {
	var c []*ident
	for _, id := range sc.ids {
		if id.state == "outside" {
			c = append(c, id)
		}
	}
	if len(c) == 0 {
		return false
	}
	id := c[sc.r.IntN(len(c))]
	for _, p := range sc.s.pf.Persons(sc.company) {
		if p.IsDeleted || p.OwnerID != sc.colleague || !slices.ContainsFunc(p.Emails, func(f pipedrive.Field) bool { return strings.EqualFold(f.Value, id.key) }) {
			continue
		}
		if err := sc.s.pf.UIEditPerson(sc.user, p.ID, pipedrive.PersonInput{OwnerID: &sc.user}); err != nil {
			sc.fatalf("%v", err)
		}
		id.state = "live"
		sc.touchP(id, p)
		sc.note("#%d back to the user (person %d)", id.n, p.ID)
		return true
	}
	return false
}

// merge merges two of the user's persons in Pipedrive: the loser is gone,
// the survivor keeps both's details (checked for consistency only).
func (sc *scenario) merge() bool {
	a := sc.live(nil)
	if a == nil {
		return false
	}
	b := sc.live(func(x *ident) bool { return x != a })
	if b == nil {
		return false
	}
	pa, ok1 := sc.personOf(a)
	pb, ok2 := sc.personOf(b)
	if !ok1 || !ok2 {
		return false
	}
	if err := sc.s.pf.UIMergePersons(sc.user, pb.ID, pa.ID); err != nil {
		return false
	}
	b.state, a.survive = "merged", true
	sc.note("#%d merged into #%d (persons %d into %d)", b.n, a.n, pb.ID, pa.ID)
	return true
}

// --- faults of the infrastructure, between user actions ---

func (sc *scenario) infraFault() {
	s := sc.s
	switch {
	case s.fault(sc.connID, "google 429", 0.06):
		s.gf.InjectFault(googlefake.Fault{Kind: googlefake.Fault429, User: sc.email})
	case s.fault(sc.connID, "google 500", 0.05):
		s.gf.InjectFault(googlefake.Fault{Kind: googlefake.Fault500, User: sc.email})
	case s.fault(sc.connID, "google answer lost after the write", 0.04):
		s.gf.InjectFault(googlefake.Fault{Kind: googlefake.FaultDropResponse, User: sc.email, Method: googlefake.MethodCreateContact})
	case s.fault(sc.connID, "google timeout", 0.02):
		s.gf.InjectFault(googlefake.Fault{Kind: googlefake.FaultTimeout, User: sc.email, Delay: 4 * time.Second})
	case s.fault(sc.connID, "pipedrive 429", 0.05):
		s.pf.FailNext(1, pipedrivefake.Fault{Kind: pipedrivefake.Fault429})
	case s.fault(sc.connID, "pipedrive 503", 0.05):
		s.pf.FailNext(1, pipedrivefake.Fault{Kind: pipedrivefake.Fault503})
	case s.fault(sc.connID, "pipedrive answer lost after the write", 0.04):
		s.pf.FailNext(1, pipedrivefake.Fault{Kind: pipedrivefake.FaultDropResponse, Method: "POST", Path: "/api/v2/persons"})
	case s.fault(sc.connID, "webhook lost", 0.06):
		s.pf.LoseNext(1)
	case s.fault(sc.connID, "webhook duplicated", 0.05):
		s.pf.DuplicateNext(1)
	case !sc.held && s.fault(sc.connID, "webhooks reordered", 0.04):
		s.pf.HoldDeliveries()
		sc.held = true
	case sc.held && sc.r.IntN(3) == 0:
		s.pf.ReleaseDeliveries(true)
		sc.held = false
	case !sc.revoked && s.fault(sc.connID, "google revoked", 0.015):
		s.gf.RevokeTokens(sc.email)
		sc.revoked = true
		sc.note("Google's grant revoked")
	case sc.revoked && sc.r.IntN(6) == 0:
		sc.reconnect()
	}
}

// reconnect connects Google again, as the user does from the page.
func (sc *scenario) reconnect() {
	tok, err := sc.s.gf.IssueToken(sc.email, googleClient)
	if err != nil {
		sc.fatalf("%v", err)
	}
	if _, err := sc.s.svc.ConnectGoogle(sc.s.ctx, sc.owner, sc.connID, tok.RefreshToken); err != nil {
		sc.t.Logf("seed %d: reconnect Google: %v", sc.seed, err)
		return
	}
	sc.revoked = false
	sc.note("Google connected again")
}

// --- quiescence and the checks ---

// settle brings the scenario to rest as its user would: reconnects a
// revoked account, confirms deletes the brake holds, retries changes that
// failed while faults were injected; then waits until a few rounds of
// polls and safety nets write nothing anywhere.
func (sc *scenario) settle() []string {
	s := sc.s
	ctx := s.ctx
	var probs []string
	stable, last := 0, -1
	// a poll (Google) and a safety net (Pipedrive) must have run since the
	// user stopped: a poll whose delivery Pub/Sub is backing off makes no
	// activity, and nothing would be seen to wait for it
	stopped := time.Now()
	for round := 0; round < 30 && stable < 3; round++ {
		q := s.quiet(sc.connID, 800*time.Millisecond, 20*time.Second)
		c, err := s.st.GetConnection(ctx, sc.connID)
		if err != nil {
			sc.fatalf("%v", err)
		}
		if sc.revoked || c.Status == store.StatusNeedsReauth {
			sc.reconnect()
		}
		if !c.BrakeTrippedAt.IsZero() {
			if _, err := s.svc.ConfirmDeletes(ctx, sc.connID); err != nil {
				sc.t.Logf("confirm deletes: %v", err)
			}
		}
		failed, err := s.st.HeldChanges(ctx, sc.connID, store.HeldFailed, 100)
		if err != nil {
			sc.fatalf("%v", err)
		}
		for _, h := range failed {
			s.count("held after faults, retried by the user")
			if _, err := s.svc.RetryHeld(ctx, sc.connID, h.ID); err != nil {
				sc.t.Logf("retry held: %v", err)
			}
		}
		// held changes already due wait only for the next poll: not quiet
		due, err := s.st.DueHeld(ctx, sc.connID, time.Now(), 1)
		if err != nil {
			sc.fatalf("%v", err)
		}
		w := s.gf.Stats(sc.email).ContactWrites + s.pf.CompanyWrites(sc.company)
		polled := c.LastPollAt.After(stopped) && c.LastSafetyNetAt.After(stopped)
		if q && polled && len(due) == 0 && w == last && c.Status == store.StatusLive && len(failed) == 0 {
			stable++
		} else {
			stable = 0
		}
		last = w
		time.Sleep(1200 * time.Millisecond) // a safety net and a reconciliation run meanwhile
	}
	if stable < 3 {
		probs = append(probs, "no quiescence: writes went on after the user stopped (ping-pong?)")
	}
	c, _ := s.st.GetConnection(ctx, sc.connID)
	if c.Status != store.StatusLive {
		probs = append(probs, fmt.Sprintf("connection %s (%s) at the end", c.Status, c.StatusReason))
	}
	held, err := s.st.HeldChanges(ctx, sc.connID, "", 100)
	if err != nil {
		sc.fatalf("%v", err)
	}
	for _, h := range held {
		probs = append(probs, fmt.Sprintf("held change left: %s %s %s (%s): %s", h.Side, h.ObjectID, h.Kind, h.Code, h.Reason))
	}
	return probs
}

// check compares both sides with the model.
func (sc *scenario) check(writes int) []string {
	var probs []string
	persons := map[string][]pipedrive.Person{} // by key, owned by the user
	others := map[string]int{}                 // by key, owned by the colleague
	for _, p := range sc.s.pf.Persons(sc.company) {
		if p.IsDeleted {
			continue
		}
		for _, e := range p.Emails {
			k := strings.ToLower(e.Value)
			switch p.OwnerID {
			case sc.user:
				persons[k] = append(persons[k], p)
			case sc.colleague:
				others[k]++
			}
		}
	}
	cs, err := sc.s.gf.Contacts(sc.email)
	if err != nil {
		sc.fatalf("%v", err)
	}
	contacts := map[string][]*people.Person{}
	for _, c := range cs {
		if !inGroup(c, sc.group) {
			continue
		}
		for _, e := range c.EmailAddresses {
			k := strings.ToLower(e.Value)
			contacts[k] = append(contacts[k], c)
		}
	}
	for _, id := range sc.ids {
		if id.state == "merged" {
			continue
		}
		before := len(probs)
		sc.checkIdent(id, persons, contacts, others, &probs)
		if id.limit != "" && len(probs) > before && excused(id.limit, probs[before:]) {
			sc.excused = append(sc.excused, fmt.Sprintf("%s: %s", id.limit, strings.Join(probs[before:], "; ")))
			probs = probs[:before]
			sc.limits[id.limit]++
		}
	}
	// No ping-pong: writes bounded by what the user did (each action at
	// most a few writes; the first sync's creates once each).
	if bound := 4*sc.actions + 2*len(sc.ids) + 10; writes > bound {
		probs = append(probs, fmt.Sprintf("%d API writes for %d user actions and %d contacts (bound %d)", writes, sc.actions, len(sc.ids), bound))
	}
	return probs
}

// excused reports whether a known limitation explains all of probs: an
// undo after a stopped run may be written again, but the sides must agree
// and hold no duplicate.
func excused(limit string, probs []string) bool {
	if limit != limitUndoOfStoppedRun {
		return true
	}
	for _, p := range probs {
		if strings.Contains(p, "the sides differ") || strings.Contains(p, "duplicates") {
			return false
		}
	}
	return true
}

// checkIdent adds to probs what is wrong with one identity at the end.
func (sc *scenario) checkIdent(id *ident, persons map[string][]pipedrive.Person, contacts map[string][]*people.Person, others map[string]int, probs *[]string) {
	ps, gs := persons[id.key], contacts[id.key]
	name := fmt.Sprintf("#%d (%s)", id.n, id.state)
	if len(ps) > 1 || len(gs) > 1 {
		*probs = append(*probs, fmt.Sprintf("%s: duplicates: %d persons, %d contacts", name, len(ps), len(gs)))
		return
	}
	switch {
	case id.state == "outside":
		if len(ps) != 0 || len(gs) != 0 || others[id.key] != 1 {
			*probs = append(*probs, fmt.Sprintf("%s: owned by a colleague: want it out of the group and the colleague's; persons %d, contacts %d, colleague's %d", name, len(ps), len(gs), others[id.key]))
		}
		return
	case id.state == "deleted" && !id.loose:
		if len(ps) != 0 || len(gs) != 0 {
			*probs = append(*probs, fmt.Sprintf("%s: deleted, still %d persons, %d contacts", name, len(ps), len(gs)))
		}
		return
	case id.state == "deleted" && id.loose && len(ps) == 0 && len(gs) == 0:
		return // the delete won
	}
	if len(ps) != 1 || len(gs) != 1 {
		*probs = append(*probs, fmt.Sprintf("%s: %d persons, %d contacts, want one each", name, len(ps), len(gs)))
		return
	}
	p := ps[0]
	org := ""
	if p.OrgID != nil {
		org, _ = sc.s.pf.OrganizationName(*p.OrgID)
	}
	pc := sc.s.m.FromPipedrive(&p, org)
	gc := sc.s.m.FromGoogle(gs[0])
	if d := contact.Diff(contact.AlignPipedrive(pc, gc), gc) &^ (pc.Unknown | gc.Unknown); d != 0 {
		*probs = append(*probs, fmt.Sprintf("%s: the sides differ in %s", name, d))
		return
	}
	if id.survive || id.loose {
		return // consistent; its content is the merge's or the race's
	}
	if !slices.Contains(id.family, gc.Family) {
		*probs = append(*probs, fmt.Sprintf("%s: family name %q, want one of %q (an edit lost)", name, gc.Family, id.family))
	}
	if !slices.Contains(id.org, gc.Org) {
		*probs = append(*probs, fmt.Sprintf("%s: organization %q, want one of %q (an edit lost)", name, gc.Org, id.org))
	}
	if got, want := keys(gc.Phones), setKeys(id.phones); !slices.Equal(got, want) {
		*probs = append(*probs, fmt.Sprintf("%s: phones %v, want %v", name, got, want))
	}
	if got, want := keys(gc.Emails), setKeys(id.emails); !slices.Equal(got, want) {
		*probs = append(*probs, fmt.Sprintf("%s: e-mails %v, want %v", name, got, want))
	}
}

func keys(items []contact.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Key)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func setKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// e164 is the model's reading of a phone number in the stack's default
// region (DE): "030 …" is "+4930…", "0049 …" is "+49…".
func e164(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '+' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	n := b.String()
	switch {
	case strings.HasPrefix(n, "00"):
		return "+" + n[2:]
	case strings.HasPrefix(n, "0"):
		return "+49" + n[1:]
	}
	return n
}

func ptr[T any](v T) *T { return &v }

// clearFaults removes the faults still pending for this scenario's user.
func (sc *scenario) clearFaults() {
	sc.s.gf.ClearFaults()
	sc.s.pf.ClearFaults()
}
