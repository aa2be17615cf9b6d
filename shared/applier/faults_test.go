package applier_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/applier"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

func grace(e *env) { e.advance(2 * time.Minute) }

// A crash after Google created the contact but before the link commit:
// the retry finds the contact by its marker instead of creating another.
func TestCrashAfterGoogleCreate(t *testing.T) {
	for _, step := range []applier.Step{applier.StepRemoteWritten, applier.StepIntentStored} {
		t.Run(string(step), func(t *testing.T) {
			e := newEnv(t, envOptions{})
			pid := e.pdAdd(pipedrive.PersonInput{Name: ptr("Ada Lovelace"), Emails: emails("ada@example.com")})
			e.crashAt(step)
			if err := e.deliver(pd, pid, queue.Upsert); err == nil {
				t.Fatal("a crashed apply returned nil")
			}
			if l, ok := e.link(pd, pid); !ok || l.Pending == "" {
				t.Fatalf("no pending intent after the crash: %+v", l)
			}
			// redelivered at once: the intent is young, maybe still running
			if err := e.deliver(pd, pid, queue.Upsert); err == nil {
				t.Fatal("a young intent was taken for abandoned")
			}
			grace(e)
			e.apply(pd, pid, queue.Upsert)
			members := e.gMembers()
			if len(members) != 1 {
				t.Fatalf("group has %d members after crash and retry, want 1", len(members))
			}
			l, _ := e.link(pd, pid)
			if l.GoogleID != members[0] || l.Pending != "" {
				t.Fatalf("link after recovery: %+v", l)
			}
			before := e.traffic()
			e.apply(gg, members[0], queue.Upsert)
			if d := e.traffic().sub(before); d.gWrites+d.pWrites != 0 {
				t.Fatalf("echo after recovery wrote %+v", d)
			}
		})
	}
}

// A dropped answer to the create (the write happened, the client got a
// transport error): the applier finds it at once by its marker.
func TestGoogleCreateAnswerLost(t *testing.T) {
	e := newEnv(t, envOptions{})
	pid := e.pdAdd(pipedrive.PersonInput{Name: ptr("Ada Lovelace")})
	e.g.InjectFault(googlefake.Fault{Kind: googlefake.FaultDropResponse, Method: googlefake.MethodCreateContact})
	e.apply(pd, pid, queue.Upsert)
	if e.g.PendingFaults() != 0 {
		t.Fatal("the fault was not hit")
	}
	members := e.gMembers()
	l, _ := e.link(pd, pid)
	if len(members) != 1 || l.GoogleID != members[0] {
		t.Fatalf("members %v, link %+v", members, l)
	}
}

// A crash after Pipedrive created the person: the webhook of that create
// may come first (it is adopted, not copied back to Google), or the
// retry finds the person by listing the user's recent persons.
func TestCrashAfterPipedriveCreate(t *testing.T) {
	for _, webhookFirst := range []bool{true, false} {
		t.Run("webhook first "+strconv.FormatBool(webhookFirst), func(t *testing.T) {
			e := newEnv(t, envOptions{})
			rn := e.gSeed(&people.Person{Names: []*people.Name{{GivenName: "Grace", FamilyName: "Hopper"}},
				EmailAddresses: []*people.EmailAddress{{Value: "grace@navy.example"}}})
			e.crashAt(applier.StepRemoteWritten)
			if err := e.deliver(gg, rn, queue.Upsert); err == nil {
				t.Fatal("a crashed apply returned nil")
			}
			live := e.pdLive()
			if len(live) != 1 {
				t.Fatalf("%d persons after the crash, want 1", len(live))
			}
			pid := strconv.FormatInt(live[0].ID, 10)
			if webhookFirst {
				e.apply(pd, pid, queue.Upsert)
			}
			grace(e)
			e.apply(gg, rn, queue.Upsert)
			if !webhookFirst {
				e.apply(pd, pid, queue.Upsert)
			}
			if n := len(e.pdLive()); n != 1 {
				t.Fatalf("%d Pipedrive persons, want 1", n)
			}
			if m := e.gMembers(); len(m) != 1 {
				t.Fatalf("group members %v, want only %s", m, rn)
			}
			l, ok := e.link(gg, rn)
			if !ok || l.PipedriveID != pid || l.Pending != "" {
				t.Fatalf("link %+v, want %s ↔ %s committed", l, pid, rn)
			}
		})
	}
}

func TestPipedriveCreateAnswerLost(t *testing.T) {
	e := newEnv(t, envOptions{})
	rn := e.gSeed(&people.Person{Names: []*people.Name{{GivenName: "Grace", FamilyName: "Hopper"}},
		PhoneNumbers: []*people.PhoneNumber{{Value: "+1 202 555 0100"}}})
	e.pd.FailNext(1, pipedrivefake.Fault{Kind: pipedrivefake.FaultDropResponse, Method: "POST", Path: "/api/v2/persons"})
	e.apply(gg, rn, queue.Upsert)
	live := e.pdLive()
	l, _ := e.link(gg, rn)
	if len(live) != 1 || l.PipedriveID != strconv.FormatInt(live[0].ID, 10) {
		t.Fatalf("persons %d, link %+v", len(live), l)
	}
}

func TestOwnership(t *testing.T) {
	e := newEnv(t, envOptions{})
	// a person of another owner never reaches Google
	id, err := e.pd.UIAddPerson(e.other, pipedrive.PersonInput{Name: ptr("Sam's Client"), Emails: emails("c@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	other := strconv.FormatInt(id, 10)
	e.webhooksSeen()
	before := e.traffic()
	e.apply(pd, other, queue.Upsert)
	if d := e.traffic().sub(before); d.gWrites != 0 || d.gReads != 0 || d.fsWrites != 0 {
		t.Fatalf("a person of another owner cost %+v", d)
	}
	// ...until it is handed to the connected user
	e.pdEdit(other, pipedrive.PersonInput{OwnerID: &e.user})
	e.apply(pd, other, queue.Upsert)
	if len(e.gMembers()) != 1 {
		t.Fatal("a person handed to the user did not join the group")
	}

	// an owner change away leaves the group (policy propagate); the
	// Google contact itself stays
	pid, rn := e.ada()
	e.pdEdit(pid, pipedrive.PersonInput{OwnerID: &e.other})
	e.apply(pd, pid, queue.Upsert)
	for _, m := range e.gMembers() {
		if m == rn {
			t.Fatal("contact still in the group after its owner changed away")
		}
	}
	if _, ok := e.gContact(rn); !ok {
		t.Fatal("the Google contact was deleted; it should only leave the group")
	}
	if l, ok := e.link(pd, pid); ok && (l.GoogleID != "" || l.Parked != rn) {
		t.Fatalf("after the owner changed away the pair must be unlinked, its contact parked: %+v", l)
	}
	if _, ok := e.link(gg, rn); ok {
		t.Fatal("the contact that left the group is still linked")
	}
	if _, ok := e.pdPerson(pid); !ok {
		t.Fatal("the Pipedrive person was deleted")
	}
	// an edit by the new owner reaches nobody
	e.pdEdit(pid, pipedrive.PersonInput{Phones: phones("030 7654321")})
	before = e.traffic()
	e.apply(pd, pid, queue.Upsert)
	if d := e.traffic().sub(before); d.gWrites != 0 {
		t.Fatalf("an edit of a person owned by another user wrote Google: %+v", d)
	}

	// handed back to the user, the same contact rejoins the group, with the
	// edit made meanwhile: no second contact next to it
	contacts, _ := e.g.Contacts(googlefake.DemoUser)
	e.pdEdit(pid, pipedrive.PersonInput{OwnerID: &e.user})
	e.apply(pd, pid, queue.Upsert)
	if !slices.Contains(e.gMembers(), rn) {
		t.Fatalf("the parked contact did not rejoin the group: members %v", e.gMembers())
	}
	if after, _ := e.g.Contacts(googlefake.DemoUser); len(after) != len(contacts) {
		t.Fatalf("%d Google contacts after the person came back, %d before: a duplicate", len(after), len(contacts))
	}
	if gp, _ := e.gContact(rn); len(gp.PhoneNumbers) != 1 || gp.PhoneNumbers[0].Value != "030 7654321" {
		t.Errorf("the rejoined contact lacks the edit made meanwhile: %+v", gp.PhoneNumbers)
	}
	if l, ok := e.link(gg, rn); !ok || l.PipedriveID != pid || l.Parked != "" {
		t.Fatalf("link after the person came back: %+v", l)
	}
	// an echo again
	before = e.traffic()
	e.apply(pd, pid, queue.Upsert)
	if d := e.traffic().sub(before); d.gWrites != 0 || d.pWrites != 0 {
		t.Errorf("a repeat after the rejoin wrote %+v", d)
	}

	// a parked person deleted by its new owner releases the link and
	// leaves the contact alone
	pid2, rn2 := func() (string, string) {
		id := e.pdAdd(pipedrive.PersonInput{Name: ptr("Bob Parked"), Emails: emails("bob@example.com")})
		e.apply(pd, id, queue.Upsert)
		l, _ := e.link(pd, id)
		return id, l.GoogleID
	}()
	e.pdEdit(pid2, pipedrive.PersonInput{OwnerID: &e.other})
	e.apply(pd, pid2, queue.Upsert)
	n2, _ := strconv.ParseInt(pid2, 10, 64)
	if err := e.pd.UIDeletePerson(e.other, n2); err != nil {
		t.Fatal(err)
	}
	e.apply(pd, pid2, queue.Delete)
	if _, ok := e.link(pd, pid2); ok {
		t.Error("the parked link of a deleted person was kept")
	}
	if _, ok := e.gContact(rn2); !ok {
		t.Error("the contact outside the group was deleted")
	}
}

func TestAmbiguousMatchHeld(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, n := range []string{"Ada Lovelace", "A. Lovelace"} {
		if _, err := e.pd.SeedPerson(e.user, pipedrive.PersonInput{Name: ptr(n), Emails: emails("ada@example.com")}); err != nil {
			t.Fatal(err)
		}
	}
	rn := e.gSeed(&people.Person{Names: []*people.Name{{GivenName: "Ada", FamilyName: "Lovelace"}},
		EmailAddresses: []*people.EmailAddress{{Value: "ADA@example.com"}}})
	before := e.traffic()
	e.apply(gg, rn, queue.Upsert)
	if d := e.traffic().sub(before); d.pWrites != 0 || d.gWrites != 0 {
		t.Fatalf("an ambiguous match wrote %+v", d)
	}
	if _, ok := e.link(gg, rn); ok {
		t.Fatal("an ambiguous match was linked")
	}
	held := e.held("")
	if len(held) != 1 || held[0].Kind != store.HeldReview || held[0].Code != "ambiguous" || held[0].ObjectID != rn ||
		strings.Contains(held[0].Reason, "ada@") || strings.Contains(strings.ToLower(held[0].Reason), "lovelace") {
		t.Fatalf("held changes %+v, want the contact held for review without personal data", held)
	}
}

func TestMatchLinksExistingTwin(t *testing.T) {
	e := newEnv(t, envOptions{})
	id, err := e.pd.SeedPerson(e.user, pipedrive.PersonInput{Name: ptr("Ada Lovelace"), Phones: phones("+49 30 1234567")})
	if err != nil {
		t.Fatal(err)
	}
	rn := e.gSeed(&people.Person{Names: []*people.Name{{GivenName: "Ada", FamilyName: "Lovelace"}},
		PhoneNumbers:   []*people.PhoneNumber{{Value: "+49 30 1234567", Type: "mobile"}},
		EmailAddresses: []*people.EmailAddress{{Value: "ada@example.com"}}})
	e.apply(gg, rn, queue.Upsert)
	l, ok := e.link(gg, rn)
	if !ok || l.PipedriveID != strconv.FormatInt(id, 10) {
		t.Fatalf("twin not linked: %+v", l)
	}
	if n := len(e.pdLive()); n != 1 {
		t.Fatalf("%d persons: the twin was duplicated", n)
	}
	p, _ := e.pdPerson(l.PipedriveID)
	if len(p.Emails) != 1 {
		t.Fatalf("the Google e-mail was not merged into the twin: %+v", p.Emails)
	}
}

func TestDeletePolicies(t *testing.T) {
	for _, pol := range []string{"unlink", "ignore"} {
		t.Run(pol, func(t *testing.T) {
			e := newEnv(t, envOptions{policy: pol})
			pid, rn := e.ada()
			n, _ := strconv.ParseInt(pid, 10, 64)
			if err := e.pd.UIDeletePerson(e.user, n); err != nil {
				t.Fatal(err)
			}
			e.apply(pd, pid, queue.Delete)
			if _, ok := e.gContact(rn); !ok {
				t.Fatal("the Google contact was deleted")
			}
			if _, ok := e.link(pd, pid); ok != (pol == "ignore") {
				t.Fatalf("link kept = %v", ok)
			}
		})
	}
}

// Changes of a connection that is not syncing are held as deferred, with
// the reason, and cost no API call; nothing else of the connection moves.
func TestConnectionNotSyncing(t *testing.T) {
	for _, tc := range []struct {
		status store.Status
		code   string
	}{{store.StatusPaused, "paused"}, {store.StatusNeedsReauth, "reauth_google"}, {store.StatusError, "error"}, {store.StatusSetup, "setup"}} {
		t.Run(string(tc.status), func(t *testing.T) {
			e := newEnv(t, envOptions{})
			pid := e.pdAdd(pipedrive.PersonInput{Name: ptr("Ada")})
			e.setStatus(tc.status)
			before := e.traffic()
			e.apply(pd, pid, queue.Delete)
			e.apply(gg, "people/c1", queue.Upsert)
			if d := e.traffic().sub(before); d.gReads+d.gWrites+d.pCall != 0 {
				t.Fatalf("a %s connection was synced: %+v", tc.status, d)
			}
			held := e.held(store.HeldDeferred)
			if len(held) != 2 {
				t.Fatalf("held %+v, want both changes deferred", held)
			}
			for _, h := range held {
				if h.Code != tc.code || h.Reason == "" {
					t.Errorf("held %+v, want code %s with a reason", h, tc.code)
				}
				if h.ObjectID == pid && h.ChangeKind != string(queue.Delete) {
					t.Errorf("the deferred delete was kept as %s", h.ChangeKind)
				}
			}
		})
	}
}

func TestRevokedGoogleGrant(t *testing.T) {
	e := newEnv(t, envOptions{})
	pid := e.pdAdd(pipedrive.PersonInput{Name: ptr("Ada")})
	e.g.RevokeTokens(googlefake.DemoUser)
	if err := e.deliver(pd, pid, queue.Upsert); err != nil {
		t.Fatalf("a revoked grant was retried: %v", err)
	}
	c := e.connection()
	if c.Status != store.StatusNeedsReauth || len(c.LastErrors) == 0 || !strings.Contains(c.LastErrors[0].Message, "Google") {
		t.Fatalf("connection %s %+v", c.Status, c.LastErrors)
	}
	if k := c.LastErrors[0].Key; k != "reauth_google" {
		t.Errorf("error key %q, want reauth_google (the page translates by it)", k)
	}
}

func TestTransientAndPermanentErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	pid, _ := e.ada()
	e.pdEdit(pid, pipedrive.PersonInput{Name: ptr("Ada King")})
	e.g.InjectFault(googlefake.Fault{Kind: googlefake.Fault500, Method: googlefake.MethodGet, Times: 10})
	if err := e.deliver(pd, pid, queue.Upsert); err == nil {
		t.Fatal("a 5xx after retries was acknowledged")
	}
	e.g.ClearFaults()
	e.apply(pd, pid, queue.Upsert)
	if n := len(e.connection().LastErrors); n != 0 {
		t.Fatalf("a transient failure was recorded as permanent (%d errors)", n)
	}

	// a malformed message is acknowledged and recorded
	err := e.app.Handle(e.ctx, queue.Delivery{MessageID: "bad", Data: []byte(`{"connection_id":"` + e.conn.ID + `","side":"nowhere"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.connection().LastErrors); n != 1 {
		t.Fatalf("bad message not recorded (%d errors)", n)
	}
	// a change for a connection that no longer exists is dropped
	if err := e.app.Apply(e.ctx, queue.Change{ConnectionID: "gone", Side: pd, ObjectID: "1", Kind: queue.Upsert}); err != nil {
		t.Fatal(err)
	}
}

// Google re-keys a contact when profile-linking fields change: the link
// follows the new resource name (found by our marker) instead of holding
// the contact as a copy.
func TestGoogleResourceNameChange(t *testing.T) {
	e := newEnv(t, envOptions{})
	pid, rn := e.ada()
	nrn, err := e.g.ChangeResourceName(googlefake.DemoUser, rn)
	if err != nil {
		t.Fatal(err)
	}
	before := e.traffic()
	e.apply(gg, nrn, queue.Upsert)
	if d := e.traffic().sub(before); d.gWrites+d.pWrites != 0 {
		t.Fatalf("a re-keyed contact caused writes: %+v", d)
	}
	l, ok := e.link(pd, pid)
	if !ok || l.GoogleID != nrn {
		t.Fatalf("link %+v, want it to follow %s", l, nrn)
	}
	if n := len(e.connection().LastErrors); n != 0 {
		t.Fatalf("%d errors recorded", n)
	}
}
