package firstsync_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/applier"
	"github.com/contactsync/contactsync/shared/firstsync"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/poller"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

// changes collects what the poller publishes; the test hands it to the
// applier.
type changes struct {
	mu sync.Mutex
	cs []queue.Change
}

func (c *changes) PublishChanges(_ context.Context, _ string, cs ...queue.Change) error {
	c.mu.Lock()
	c.cs = append(c.cs, cs...)
	c.mu.Unlock()
	return nil
}
func (c *changes) PublishPolls(context.Context, string, ...queue.PollRequest) error { return nil }
func (c *changes) PublishFirstSync(context.Context, string, ...queue.FirstSyncStep) error {
	return nil
}

func (c *changes) take() []queue.Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.cs
	c.cs = nil
	return out
}

// Edits on both sides made while the first sync runs are all there at the
// end: the webhook's change waits (held) until the job has paired the
// record, Google's is seen by the first poll after the job (the job's
// listing token), and both are applied by the applier.
func TestLiveChangesDuringTheFirstSyncAreKept(t *testing.T) {
	e := newEnv(t, envOptions{googleChunk: 2, chunk: 1})
	seedBooks(e)
	pdEdit := e.person(e.user, pin("Paul Pair", []string{"paul@example.com"}, []string{"+49 30 555"}))
	gEdit := e.contact("Paul", "Pair", "", []string{"PAUL@example.com"}, []string{"030 555"}, true)
	gOnly := e.contact("Rita", "Google", "", []string{"rita@example.com"}, nil, true)

	app, err := applier.New(applier.Config{Store: e.st, Accounts: e.accts, Mapper: e.m, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var published changes
	poll, err := poller.New(poller.Config{Store: e.st, Publisher: &published, Accounts: e.accts,
		PollsTopic: "polls", ChangesTopic: "changes", PollInterval: time.Minute, SafetyNetInterval: 10 * time.Minute, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var newP int64
	var newG string
	edited := false
	e.setHook(func(ctx context.Context, s firstsync.Step) error {
		if s != firstsync.StepChunkDone || edited {
			return nil
		}
		edited = true
		// the user works on while the first sync runs
		name := "Paul Pair-Edited"
		if err := e.pd.UIEditPerson(e.user, pdEdit, pipedrive.PersonInput{Name: &name}); err != nil {
			return err
		}
		if _, err := e.g.EditContact(e.email, gEdit, func(p *people.Person) {
			p.Organizations = []*people.Organization{{Name: "Edited in Google"}}
		}); err != nil {
			return err
		}
		if _, err := e.g.EditContact(e.email, gOnly, func(p *people.Person) { p.Names[0].FamilyName = "Google-Edited" }); err != nil {
			return err
		}
		newP = e.person(e.user, pin("Sara During", []string{"sara@example.com"}, nil))
		newG = e.contact("Tom", "During", "", []string{"tom@example.com"}, nil, true)
		// the webhooks of the Pipedrive edits reach the applier now
		for _, id := range []int64{pdEdit, newP} {
			if err := app.Apply(ctx, queue.Change{ConnectionID: e.conn.ID, Side: queue.Pipedrive, ObjectID: fmt.Sprint(id),
				Kind: queue.Upsert, Source: queue.FromWebhook, OccurredAt: e.clock.Now()}); err != nil {
				return err
			}
		}
		// they wait for the first sync, held
		held, err := e.st.HeldChanges(ctx, e.conn.ID, store.HeldDeferred, 10)
		if err != nil {
			return err
		}
		if len(held) != 2 || held[0].Code != "first_sync" {
			t.Errorf("held during the first sync: %+v", held)
		}
		return nil
	})
	if err := e.start(store.FirstSyncRun); err != nil {
		t.Fatal(err)
	}
	if !edited {
		t.Fatal("the edits were not made during the first sync")
	}
	if c := e.get(); c.Status != store.StatusLive {
		t.Fatalf("status %s", c.Status)
	}
	// Polls and applies until nothing is left: the held changes and
	// Google's changes since the job's listing.
	for range 5 {
		e.clock.Advance(time.Minute)
		if err := poll.PollOne(e.ctx, queue.PollRequest{ConnectionID: e.conn.ID}); err != nil {
			t.Fatal(err)
		}
		cs := published.take()
		if len(cs) == 0 {
			break
		}
		for _, ch := range cs {
			if err := app.Apply(e.ctx, ch); err != nil {
				t.Fatalf("apply %+v: %v", ch, err)
			}
		}
	}
	w := e.world()
	if p := w.problems(e.m); len(p) != 0 {
		t.Fatalf("problems:\n%s", strings.Join(p, "\n"))
	}
	lg, err := e.st.LinkByPipedrive(e.ctx, e.conn.ID, fmt.Sprint(pdEdit))
	if err != nil {
		t.Fatal(err)
	}
	if got := w.contacts[lg.GoogleID]; got.Family != "Pair-Edited" || got.Org != "Edited in Google" {
		t.Errorf("the pair edited on both sides: Google has %q / %q", got.DisplayName(), got.Org)
	}
	if got := w.persons[fmt.Sprint(pdEdit)]; got.Org != "Edited in Google" {
		t.Errorf("Pipedrive's organization %q: want Google's edit", got.Org)
	}
	lo, err := e.st.LinkByGoogle(e.ctx, e.conn.ID, gOnly)
	if err != nil {
		t.Fatal(err)
	}
	if got := w.persons[lo.PipedriveID]; got.Family != "Google-Edited" {
		t.Errorf("the contact created in Pipedrive: %q, want Google's edit", got.DisplayName())
	}
	if _, err := e.st.LinkByPipedrive(e.ctx, e.conn.ID, fmt.Sprint(newP)); err != nil {
		t.Errorf("person added during the first sync: %v", err)
	}
	if _, err := e.st.LinkByGoogle(e.ctx, e.conn.ID, newG); err != nil {
		t.Errorf("contact added during the first sync: %v", err)
	}
}

// The user's answers to the records held for review: "same" pairs the
// chosen twin (whose own review is settled with it), "separate" creates a
// twin.
func TestReviewAnswersAfterTheFirstSync(t *testing.T) {
	e := newEnv(t, envOptions{})
	seedBooks(e)
	app, err := applier.New(applier.Config{Store: e.st, Accounts: e.accts, Mapper: e.m, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var published changes
	poll, err := poller.New(poller.Config{Store: e.st, Publisher: &published, Accounts: e.accts,
		PollsTopic: "polls", ChangesTopic: "changes", PollInterval: time.Minute, SafetyNetInterval: 10 * time.Minute, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.start(store.FirstSyncRun); err != nil {
		t.Fatal(err)
	}
	settle := func() {
		t.Helper()
		for range 5 {
			e.clock.Advance(time.Minute)
			if err := poll.PollOne(e.ctx, queue.PollRequest{ConnectionID: e.conn.ID}); err != nil {
				t.Fatal(err)
			}
			cs := published.take()
			if len(cs) == 0 {
				return
			}
			for _, ch := range cs {
				if err := app.Apply(e.ctx, ch); err != nil {
					t.Fatalf("apply %+v: %v", ch, err)
				}
			}
		}
	}
	settle() // what waited for the first sync: nothing answered yet, all still held
	held, err := e.st.HeldChanges(e.ctx, e.conn.ID, store.HeldReview, 10)
	if err != nil || len(held) != 3 {
		t.Fatalf("held for review: %d, %v", len(held), err)
	}
	var contactHeld, pOne, pTwo store.HeldChange
	names := map[string]string{}
	for _, p := range e.pd.Persons(e.company) {
		names[fmt.Sprint(p.ID)] = p.Name
	}
	for _, h := range held {
		switch {
		case h.Side == "google":
			contactHeld = h
		case names[h.ObjectID] == "Fritz One":
			pOne = h
		default:
			pTwo = h
		}
	}
	// the contact is Fritz One; Fritz Two is someone else
	if err := e.st.DecideHeld(e.ctx, e.conn.ID, contactHeld.ID, "same", pOne.ObjectID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.st.DecideHeld(e.ctx, e.conn.ID, pTwo.ID, "separate", "", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	settle()
	w := e.world()
	if p := w.problems(e.m); len(p) != 0 {
		t.Fatalf("problems:\n%s", strings.Join(p, "\n"))
	}
	l, err := e.st.LinkByGoogle(e.ctx, e.conn.ID, contactHeld.ObjectID)
	if err != nil || l.PipedriveID != pOne.ObjectID || l.Review != "" {
		t.Fatalf("the contact's link %+v, %v: want Fritz One", l, err)
	}
	if l, err := e.st.LinkByPipedrive(e.ctx, e.conn.ID, pTwo.ObjectID); err != nil || l.GoogleID == "" || l.GoogleID == contactHeld.ObjectID {
		t.Fatalf("Fritz Two's link %+v, %v: want a contact of its own", l, err)
	}
	if rest, _ := e.st.HeldChanges(e.ctx, e.conn.ID, store.HeldReview, 10); len(rest) != 0 {
		t.Errorf("still held for review: %+v", rest)
	}
}

// A person the first sync created just before a crash, and the user
// edited before the job found it again: the found person is linked, and
// the user's edit is not mistaken for our own write (it reaches Google).
func TestEditOfARecoveredCreateIsKept(t *testing.T) {
	e := newEnv(t, envOptions{chunk: 1})
	rn := e.contact("Vera", "Crash", "", []string{"vera@example.com"}, nil, true)
	app, err := applier.New(applier.Config{Store: e.st, Accounts: e.accts, Mapper: e.m, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	crashed := false
	e.setHook(func(ctx context.Context, s firstsync.Step) error {
		if s != firstsync.StepPipedriveCreated || crashed {
			return nil
		}
		crashed = true
		// the user edits the new person before the job links it
		for _, p := range e.pd.Persons(e.company) {
			if p.OwnerID == e.user {
				name := "Vera Edited"
				if err := e.pd.UIEditPerson(e.user, p.ID, pipedrive.PersonInput{Name: &name}); err != nil {
					return err
				}
				if err := app.Apply(ctx, queue.Change{ConnectionID: e.conn.ID, Side: queue.Pipedrive, ObjectID: fmt.Sprint(p.ID),
					Kind: queue.Upsert, Source: queue.FromWebhook, OccurredAt: e.clock.Now()}); err != nil {
					return err
				}
			}
		}
		return errKilled
	})
	if err := e.start(store.FirstSyncRun); err == nil {
		t.Fatal("the crash was not reported")
	}
	e.setHook(nil)
	e.clock.Advance(11 * time.Minute)
	if err := e.direct.Redeliver(e.ctx); err != nil {
		t.Fatal(err)
	}
	var published changes
	poll, err := poller.New(poller.Config{Store: e.st, Publisher: &published, Accounts: e.accts,
		PollsTopic: "polls", ChangesTopic: "changes", PollInterval: time.Minute, SafetyNetInterval: 10 * time.Minute, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.clock.Advance(time.Minute)
		if err := poll.PollOne(e.ctx, queue.PollRequest{ConnectionID: e.conn.ID}); err != nil {
			t.Fatal(err)
		}
		for _, ch := range published.take() {
			if err := app.Apply(e.ctx, ch); err != nil {
				t.Fatal(err)
			}
		}
	}
	w := e.world()
	if p := w.problems(e.m); len(p) != 0 {
		t.Fatalf("problems:\n%s", strings.Join(p, "\n"))
	}
	if got := w.contacts[rn]; got.Family != "Edited" {
		t.Errorf("Google has %q: the edit of the recovered person was taken for our own write", got.DisplayName())
	}
	if len(w.persons) != 1 {
		t.Errorf("%d persons", len(w.persons))
	}
}
