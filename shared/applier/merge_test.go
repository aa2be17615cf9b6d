package applier_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/applier"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/intake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/webhook"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

// hookSink receives the Pipedrive fake's webhooks for the env's company.
type hookSink struct {
	mu     sync.Mutex
	bodies [][]byte
}

// webhooks registers a webhook of the given version ("2.0", "1.0") for
// the company, through the API as a separate user would.
func (e *env) webhooks(version string) *hookSink {
	e.t.Helper()
	s := &hookSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, b)
		s.mu.Unlock()
	}))
	e.t.Cleanup(srv.Close)
	_, tok, err := e.pd.CreateUser(e.company, "Hooks", "hooks@acme.example")
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := pipedrive.New(e.ctx, e.conn.PipedriveAPIDomain, pipedrive.WithAPIToken(tok))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := c.CreateWebhook(e.ctx, pipedrive.WebhookInput{SubscriptionURL: srv.URL, EventAction: "*",
		EventObject: "person", Name: "contactsync", Version: version}); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// merge merges loser into survivor in the Pipedrive UI and returns the
// changes its webhooks turn into, as the intake publishes them.
func (e *env) merge(s *hookSink, loser, survivor string) []queue.Change {
	e.t.Helper()
	l, _ := strconv.ParseInt(loser, 10, 64)
	sv, _ := strconv.ParseInt(survivor, 10, 64)
	return e.changesOf(s, func() error { return e.pd.UIMergePersons(e.user, l, sv) })
}

// changesOf makes a user's action in the Pipedrive UI and returns the
// changes its webhooks turn into, as the intake publishes them.
func (e *env) changesOf(s *hookSink, do func() error) []queue.Change {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	if err := e.pd.WaitDeliveries(ctx); err != nil { // earlier events are not the action's
		e.t.Fatal(err)
	}
	s.mu.Lock()
	from := len(s.bodies)
	s.mu.Unlock()
	if err := do(); err != nil {
		e.t.Fatal(err)
	}
	if err := e.pd.WaitDeliveries(ctx); err != nil {
		e.t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []queue.Change
	for _, b := range s.bodies[from:] {
		ev, err := webhook.Parse(b)
		if err != nil {
			e.t.Fatalf("webhook: %v", err)
		}
		out = append(out, intake.ToChange(e.conn.ID, e.conn.WebhookSecretHash, ev))
	}
	return out
}

// applyChange delivers ch as Pub/Sub would.
func (e *env) applyChange(ch queue.Change) {
	e.t.Helper()
	e.msgs++
	if err := e.app.Handle(e.ctx, queue.Delivery{MessageID: "m" + strconv.Itoa(e.msgs), Data: mustJSON(e.t, ch)}); err != nil {
		e.t.Fatalf("apply %s %s (merged to %q, from %q): %v", ch.ObjectID, ch.Kind, ch.MergedToID, ch.MergedFromID, err)
	}
}

// synced adds a person in Pipedrive and applies it; it returns the person
// id and its Google contact.
func (e *env) synced(in pipedrive.PersonInput) (pid, rn string) {
	e.t.Helper()
	pid = e.pdAdd(in)
	e.apply(pd, pid, queue.Upsert)
	l, ok := e.link(pd, pid)
	if !ok || l.GoogleID == "" {
		e.t.Fatalf("after create: link %+v", l)
	}
	e.advance(time.Second)
	time.Sleep(5 * time.Millisecond) // links are ordered by their commit time
	return pid, l.GoogleID
}

func (e *env) gContacts() []*people.Person {
	e.t.Helper()
	cs, err := e.g.Contacts(googlefake.DemoUser)
	if err != nil {
		e.t.Fatal(err)
	}
	return cs
}

func keys(p *people.Person) (mails, tels []string) {
	for _, m := range p.EmailAddresses {
		mails = append(mails, strings.ToLower(m.Value))
	}
	for _, t := range p.PhoneNumbers {
		tels = append(tels, t.CanonicalForm)
	}
	slices.Sort(mails)
	slices.Sort(tels)
	return mails, tels
}

func mergeEntry(l *store.Link, loser string) *store.HistoryEntry {
	for i, h := range l.History {
		if h.Action == "merge" && strings.HasPrefix(h.Detail, "merged from Pipedrive person "+loser+":") {
			return &l.History[i]
		}
	}
	return nil
}

// checkMerged asserts the outcome of merging loser (Google twin lrn) into
// survivor (twin srn): one contact with the union, the survivor's name,
// the same union in Pipedrive, no duplicate, one link.
func (e *env) checkMerged(loser, survivor, lrn, srn string, wantMails []string, contactsBefore int) {
	e.t.Helper()
	if _, ok := e.gContact(lrn); ok {
		e.t.Errorf("the loser's Google contact is still there")
	}
	gp, ok := e.gContact(srn)
	if !ok {
		e.t.Fatal("the survivor's Google contact is gone")
	}
	if mails, _ := keys(gp); !slices.Equal(mails, wantMails) {
		e.t.Errorf("survivor's Google e-mails %v, want %v", mails, wantMails)
	}
	if got := len(e.gContacts()); got != contactsBefore-1 {
		e.t.Errorf("%d Google contacts, want %d", got, contactsBefore-1)
	}
	if got := e.gMembers(); !slices.Equal(got, []string{srn}) {
		e.t.Errorf("group members %v, want [%s]", got, srn)
	}
	live := e.pdLive()
	if len(live) != 1 || strconv.FormatInt(live[0].ID, 10) != survivor {
		e.t.Fatalf("Pipedrive persons %+v, want only the survivor %s (no re-created loser)", live, survivor)
	}
	var pm []string
	for _, m := range live[0].Emails {
		pm = append(pm, strings.ToLower(m.Value))
	}
	slices.Sort(pm)
	if !slices.Equal(pm, wantMails) {
		e.t.Errorf("survivor's Pipedrive e-mails %v, want %v (sides did not converge)", pm, wantMails)
	}
	if _, ok := e.link(pd, loser); ok {
		e.t.Error("the loser's link is still there")
	}
	l, ok := e.link(pd, survivor)
	if !ok || l.GoogleID != srn {
		e.t.Fatalf("survivor's link %+v, want its contact %s", l, srn)
	}
	h := mergeEntry(l, loser)
	if h == nil {
		e.t.Fatalf("no merge in the survivor's history: %+v", l.History)
	}
	for _, m := range wantMails {
		if strings.Contains(h.Detail, m) {
			e.t.Errorf("history detail carries personal data: %q", h.Detail)
		}
	}
}

func TestMergeBothTwins(t *testing.T) {
	for _, tc := range []struct {
		name  string
		order []int // indexes into the merge's changes: 0 the loser's delete, 1 the survivor's change
	}{
		{"loser delete first", []int{0, 1}},
		{"survivor change first", []int{1, 0}},
		{"duplicated", []int{0, 0, 1, 1, 0}},
		{"duplicated, survivor first", []int{1, 1, 0, 1}},
		{"loser delete lost", []int{1}},
		{"survivor change lost", []int{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			sink := e.webhooks("2.0")
			loser, lrn := e.synced(pipedrive.PersonInput{Name: ptr("Ada Lovelace"), Emails: emails("ada@home.example"), Phones: phones("030 1234567")})
			survivor, srn := e.synced(pipedrive.PersonInput{Name: ptr("Ada King"), Emails: emails("ada@work.example")})
			contacts := len(e.gContacts())
			chs := e.merge(sink, loser, survivor)
			if len(chs) != 2 || chs[0].Kind != queue.Delete || chs[0].MergedToID != survivor || chs[1].MergedFromID != loser {
				t.Fatalf("merge webhooks gave %+v", chs)
			}
			var first traffic
			for i, k := range tc.order {
				if i == 1 {
					first = e.traffic()
				}
				e.applyChange(chs[k])
			}
			if d := e.traffic().sub(first); len(tc.order) > 1 && (d.gWrites != 0 || d.pWrites != 0 || d.fsWrites != 0) {
				t.Errorf("the merge's second change wrote %+v; want nothing", d)
			}
			e.checkMerged(loser, survivor, lrn, srn, []string{"ada@home.example", "ada@work.example"}, contacts)
			gp, _ := e.gContact(srn)
			if gp.Names[0].GivenName != "Ada" || gp.Names[0].FamilyName != "King" {
				t.Errorf("survivor's name %+v; the survivor's value must win", gp.Names[0])
			}
			if _, tels := keys(gp); !slices.Equal(tels, []string{"+49301234567"}) {
				t.Errorf("survivor's phones %v; the loser's must be folded in", tels)
			}
			// the same merge replayed writes nothing
			before := e.traffic()
			for _, ch := range chs {
				e.applyChange(ch)
			}
			if d := e.traffic().sub(before); d.gWrites != 0 || d.pWrites != 0 || d.fsWrites != 0 {
				t.Errorf("replaying the merge wrote %+v", d)
			}
		})
	}
}

// The loser's contact was edited in Google since its base: a plain delete
// would re-create the loser in Pipedrive (edit beats delete). A merge must
// not; the edit survives in the survivor's contact, and reaches Pipedrive.
func TestMergeLoserEditedSinceBase(t *testing.T) {
	e := newEnv(t, envOptions{})
	sink := e.webhooks("2.0")
	loser, lrn := e.synced(pipedrive.PersonInput{Name: ptr("Ada Lovelace"), Emails: emails("ada@home.example")})
	survivor, srn := e.synced(pipedrive.PersonInput{Name: ptr("Ada King"), Emails: emails("ada@work.example")})
	if _, err := e.g.EditContact(googlefake.DemoUser, lrn, func(p *people.Person) {
		p.EmailAddresses = append(p.EmailAddresses, &people.EmailAddress{Value: "ada@new.example", Type: "other"})
	}); err != nil {
		t.Fatal(err)
	}
	contacts := len(e.gContacts())
	chs := e.merge(sink, loser, survivor)
	e.applyChange(chs[0]) // the loser's delete, before the poll saw the edit
	e.applyChange(chs[1])
	e.apply(gg, lrn, queue.Upsert) // the poll reports the loser's contact: gone
	e.checkMerged(loser, survivor, lrn, srn, []string{"ada@home.example", "ada@new.example", "ada@work.example"}, contacts)
}

// The survivor has no link yet: it takes over the loser's, and its contact.
func TestMergeSurvivorWithoutTwin(t *testing.T) {
	for _, tc := range []struct {
		name  string
		order []int
	}{{"loser delete first", []int{0, 1}}, {"survivor change only", []int{1}}, {"duplicated", []int{1, 0, 1, 0}}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			sink := e.webhooks("2.0")
			loser, lrn := e.synced(pipedrive.PersonInput{Name: ptr("Ada Lovelace"), Emails: emails("ada@home.example")})
			survivor := e.pdAdd(pipedrive.PersonInput{Name: ptr("Ada King"), Phones: phones("030 7654321"), Emails: emails("ada@work.example")}) // its webhook was lost
			contacts := len(e.gContacts())
			chs := e.merge(sink, loser, survivor)
			for _, k := range tc.order {
				e.applyChange(chs[k])
			}
			if got := len(e.gContacts()); got != contacts {
				t.Errorf("%d Google contacts, want %d (the loser's taken over, none created)", got, contacts)
			}
			if _, ok := e.link(pd, loser); ok {
				t.Error("the loser's link is still there")
			}
			l, ok := e.link(pd, survivor)
			if !ok || l.GoogleID != lrn || mergeEntry(l, loser) == nil {
				t.Fatalf("survivor's link %+v, want the loser's contact %s and the merge in history", l, lrn)
			}
			gp, _ := e.gContact(lrn)
			if mails, tels := keys(gp); gp.Names[0].FamilyName != "King" || len(tels) != 1 || !slices.Equal(mails, []string{"ada@home.example", "ada@work.example"}) {
				t.Errorf("taken-over contact: names %+v phones %v mails %v; want the survivor's with the loser's e-mail", gp.Names, tels, mails)
			}
			live := e.pdLive()
			if len(live) != 1 {
				t.Fatalf("%d Pipedrive persons, want the survivor only", len(live))
			}
			if len(live[0].Emails) != 2 {
				t.Errorf("survivor's Pipedrive e-mails %+v, want both (converged)", live[0].Emails)
			}
			before := e.traffic()
			e.apply(pd, survivor, queue.Upsert)
			if d := e.traffic().sub(before); d.gWrites != 0 || d.pWrites != 0 || d.fsWrites != 0 {
				t.Errorf("a repeat wrote %+v", d)
			}
		})
	}
}

// The loser's link is more recent than the survivor's: the survivor keeps
// that one (SPEC: the link with the most recent base), and its own former
// contact is folded into it and deleted.
func TestMergeKeepsMoreRecentLink(t *testing.T) {
	e := newEnv(t, envOptions{})
	sink := e.webhooks("2.0")
	survivor, srn := e.synced(pipedrive.PersonInput{Name: ptr("Ada King"), Emails: emails("ada@work.example")})
	loser, lrn := e.synced(pipedrive.PersonInput{Name: ptr("Ada Lovelace"), Emails: emails("ada@home.example")})
	contacts := len(e.gContacts())
	for _, ch := range e.merge(sink, loser, survivor) {
		e.applyChange(ch)
	}
	// the roles of the two contacts are swapped: the loser's is kept
	e.checkMerged(loser, survivor, srn, lrn, []string{"ada@home.example", "ada@work.example"}, contacts)
	gp, _ := e.gContact(lrn)
	if gp.Names[0].FamilyName != "King" {
		t.Errorf("kept contact's name %+v; the survivor's value must win", gp.Names[0])
	}
}

// A loser contact the user also files in another group only leaves ours.
func TestMergeLoserInAnotherGroup(t *testing.T) {
	e := newEnv(t, envOptions{})
	sink := e.webhooks("2.0")
	loser, lrn := e.synced(pipedrive.PersonInput{Name: ptr("Ada Lovelace"), Emails: emails("ada@home.example")})
	survivor, srn := e.synced(pipedrive.PersonInput{Name: ptr("Ada King"), Emails: emails("ada@work.example")})
	friends, err := e.g.CreateGroup(googlefake.DemoUser, "Friends")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.g.SetMembership(googlefake.DemoUser, lrn, friends, true); err != nil {
		t.Fatal(err)
	}
	for _, ch := range e.merge(sink, loser, survivor) {
		e.applyChange(ch)
	}
	if _, ok := e.gContact(lrn); !ok {
		t.Fatal("a contact the user keeps in another group was deleted")
	}
	if got := e.gMembers(); !slices.Equal(got, []string{srn}) {
		t.Errorf("group members %v, want only the survivor's %s", got, srn)
	}
	if gp, _ := e.gContact(srn); len(gp.EmailAddresses) != 2 {
		t.Errorf("survivor's e-mails %+v, want both", gp.EmailAddresses)
	}
	if live := e.pdLive(); len(live) != 1 {
		t.Errorf("%d Pipedrive persons, want the survivor only", len(live))
	}
}

// The loser's contact had left the group (not yet polled): it is outside
// the group, so never touched; the link is just dropped.
func TestMergeLoserOutsideGroup(t *testing.T) {
	e := newEnv(t, envOptions{})
	sink := e.webhooks("2.0")
	loser, lrn := e.synced(pipedrive.PersonInput{Name: ptr("Ada Lovelace"), Emails: emails("ada@home.example")})
	survivor, srn := e.synced(pipedrive.PersonInput{Name: ptr("Ada King"), Emails: emails("ada@work.example")})
	if err := e.g.SetMembership(googlefake.DemoUser, lrn, e.group, false); err != nil {
		t.Fatal(err)
	}
	before, _ := e.gContact(lrn)
	chs := e.merge(sink, loser, survivor)
	e.applyChange(chs[1])
	e.applyChange(chs[0])
	after, ok := e.gContact(lrn)
	if !ok || after.Etag != before.Etag {
		t.Error("a contact outside the group was touched")
	}
	if _, ok := e.link(pd, loser); ok {
		t.Error("the loser's link is still there")
	}
	if l, ok := e.link(pd, survivor); !ok || l.GoogleID != srn || mergeEntry(l, loser) == nil {
		t.Errorf("survivor's link %+v", l)
	}
	if live := e.pdLive(); len(live) != 1 {
		t.Errorf("%d Pipedrive persons, want the survivor only", len(live))
	}
}

// Merged into a person of another user: the ownership rule, the loser's
// contact leaves the group (it is not deleted), nothing is re-created.
func TestMergeIntoOtherOwner(t *testing.T) {
	e := newEnv(t, envOptions{})
	sink := e.webhooks("2.0")
	loser, lrn := e.synced(pipedrive.PersonInput{Name: ptr("Ada Lovelace"), Emails: emails("ada@home.example")})
	sid, err := e.pd.UIAddPerson(e.other, pipedrive.PersonInput{Name: ptr("Ada King"), OwnerID: &e.other})
	if err != nil {
		t.Fatal(err)
	}
	survivor := strconv.FormatInt(sid, 10)
	e.apply(pd, survivor, queue.Upsert)
	for _, ch := range e.merge(sink, loser, survivor) {
		e.applyChange(ch)
	}
	if _, ok := e.gContact(lrn); !ok {
		t.Error("the loser's contact was deleted; it must only leave the group")
	}
	if got := e.gMembers(); len(got) != 0 {
		t.Errorf("group members %v, want none", got)
	}
	if _, ok := e.link(pd, loser); ok {
		t.Error("the loser's link is still there")
	}
	if live := e.pdLive(); len(live) != 1 {
		t.Errorf("%d Pipedrive persons, want the survivor only", len(live))
	}
}

// A merge hint naming a person that still exists is not trusted.
func TestMergeHintUnconfirmed(t *testing.T) {
	e := newEnv(t, envOptions{})
	a, arn := e.synced(pipedrive.PersonInput{Name: ptr("Ada Lovelace"), Emails: emails("ada@home.example")})
	b, _ := e.synced(pipedrive.PersonInput{Name: ptr("Ada King"), Emails: emails("ada@work.example")})
	before := e.traffic()
	e.applyChange(queue.Change{ConnectionID: e.conn.ID, Side: pd, ObjectID: b, Kind: queue.Upsert, Source: queue.FromWebhook, MergedFromID: a, OccurredAt: e.clock()})
	e.applyChange(queue.Change{ConnectionID: e.conn.ID, Side: pd, ObjectID: a, Kind: queue.Delete, Source: queue.FromWebhook, MergedToID: b, OccurredAt: e.clock()})
	if d := e.traffic().sub(before); d.gWrites != 0 || d.pWrites != 0 || d.fsWrites != 0 {
		t.Errorf("an unconfirmed merge hint wrote %+v", d)
	}
	if l, ok := e.link(pd, a); !ok || l.GoogleID != arn {
		t.Errorf("link of %s: %+v", a, l)
	}
}

// A crash between the merge's writes: the next delivery of either change
// finishes it, with no duplicate and no lost field.
func TestMergeCrashBetweenSteps(t *testing.T) {
	for _, crashes := range []int{1, 2, 3} {
		t.Run(strconv.Itoa(crashes), func(t *testing.T) {
			e := newEnv(t, envOptions{})
			sink := e.webhooks("2.0")
			loser, lrn := e.synced(pipedrive.PersonInput{Name: ptr("Ada Lovelace"), Emails: emails("ada@home.example"), Phones: phones("030 1234567")})
			survivor, srn := e.synced(pipedrive.PersonInput{Name: ptr("Ada King"), Emails: emails("ada@work.example")})
			contacts := len(e.gContacts())
			chs := e.merge(sink, loser, survivor)
			n := 0
			f := func(s applier.Step) error {
				if s == applier.StepRemoteWritten {
					if n++; n == crashes {
						return errors.New("killed")
					}
				}
				return nil
			}
			e.hook.Store(&f)
			e.msgs++
			err := e.app.Handle(e.ctx, queue.Delivery{MessageID: "crash", Data: mustJSON(t, chs[0])})
			e.hook.Store(nil)
			if err == nil {
				t.Fatal("the crash was not reported: Pub/Sub would not redeliver")
			}
			e.applyChange(chs[1])
			e.applyChange(chs[0])
			e.checkMerged(loser, survivor, lrn, srn, []string{"ada@home.example", "ada@work.example"}, contacts)
		})
	}
}
