package applier_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/applier"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
)

const (
	pd = queue.Pipedrive
	gg = queue.Google
)

// ada adds Ada in Pipedrive and applies it: she is in the Google group.
func (e *env) ada() (pid, rn string) {
	e.t.Helper()
	pid = e.pdAdd(pipedrive.PersonInput{Name: ptr("Ada Lovelace"), Emails: emails("ada@example.com"), Phones: phones("030 1234567")})
	e.apply(pd, pid, queue.Upsert)
	l, ok := e.link(pd, pid)
	if !ok || l.GoogleID == "" || l.Pending != "" {
		e.t.Fatalf("after create: link %+v", l)
	}
	return pid, l.GoogleID
}

func TestPipedriveToGoogle(t *testing.T) {
	e := newEnv(t, envOptions{})
	pid, rn := e.ada()
	gp, ok := e.gContact(rn)
	if !ok || gp.Names[0].GivenName != "Ada" || gp.Names[0].FamilyName != "Lovelace" || gp.EmailAddresses[0].Value != "ada@example.com" {
		t.Fatalf("Google contact after create: %+v", gp)
	}
	if got := e.gMembers(); len(got) != 1 || got[0] != rn {
		t.Fatalf("group members %v, want [%s]", got, rn)
	}
	if len(gp.ClientData) != 1 || gp.ClientData[0].Key != applier.MarkerKey || gp.ClientData[0].Value != pid {
		t.Errorf("clientData marker %+v", gp.ClientData)
	}

	// update: a new organization reaches Google with one read and one write
	org, err := e.pd.AddOrganization(e.user, "Acme Ltd")
	if err != nil {
		t.Fatal(err)
	}
	e.pdEdit(pid, pipedrive.PersonInput{SetOrg: true, OrgID: &org, Phones: phones("030 1234567", "+49 170 5555555")})
	before := e.traffic()
	e.apply(pd, pid, queue.Upsert)
	d := e.traffic().sub(before)
	if d.gReads != 1 || d.gWrites != 1 {
		t.Errorf("a Pipedrive edit cost %d Google reads and %d writes, want 1 and 1", d.gReads, d.gWrites)
	}
	if d.fsReads > 3 || d.fsWrites > 2 {
		t.Errorf("a Pipedrive edit cost %d Firestore reads and %d writes, want ≤3 and ≤2", d.fsReads, d.fsWrites)
	}
	gp, _ = e.gContact(rn)
	if len(gp.Organizations) != 1 || gp.Organizations[0].Name != "Acme Ltd" || len(gp.PhoneNumbers) != 2 {
		t.Fatalf("Google contact after update: orgs %+v phones %+v", gp.Organizations, gp.PhoneNumbers)
	}
	l, _ := e.link(pd, pid)
	if len(l.History) != 2 || l.History[1].Action != "update google" {
		t.Errorf("history %+v", l.History)
	}

	// delete
	n, _ := strconv.ParseInt(pid, 10, 64)
	if err := e.pd.UIDeletePerson(e.user, n); err != nil {
		t.Fatal(err)
	}
	e.apply(pd, pid, queue.Delete)
	if _, ok := e.gContact(rn); ok {
		t.Error("Google contact still there after the Pipedrive delete")
	}
	if _, ok := e.link(pd, pid); ok {
		t.Error("link still there after the delete")
	}
}

func TestGoogleToPipedrive(t *testing.T) {
	e := newEnv(t, envOptions{contactSync: true})
	rn := e.gSeed(&people.Person{
		Names:          []*people.Name{{GivenName: "Grace", FamilyName: "Hopper"}},
		EmailAddresses: []*people.EmailAddress{{Value: "grace@navy.example", Type: "work"}},
		Organizations:  []*people.Organization{{Name: "US Navy"}},
	})
	e.apply(gg, rn, queue.Upsert)
	l, ok := e.link(gg, rn)
	if !ok || l.PipedriveID == "" {
		t.Fatalf("no link after a Google create: %+v", l)
	}
	p, ok := e.pdPerson(l.PipedriveID)
	if !ok || p.FirstName != "Grace" || p.LastName != "Hopper" || p.OwnerID != e.user || p.OrgID == nil || len(p.Emails) != 1 {
		t.Fatalf("Pipedrive person after create: %+v", p)
	}

	// update in Google
	if _, err := e.g.EditContact(googlefake.DemoUser, rn, func(p *people.Person) {
		p.PhoneNumbers = []*people.PhoneNumber{{Value: "+1 202 555 0100", Type: "work"}}
	}); err != nil {
		t.Fatal(err)
	}
	e.apply(gg, rn, queue.Upsert)
	p, _ = e.pdPerson(l.PipedriveID)
	if len(p.Phones) != 1 || p.Phones[0].Value != "+1 202 555 0100" {
		t.Fatalf("Pipedrive phones after a Google edit: %+v", p.Phones)
	}

	// removal from the group is a delete for the sync (policy propagate)
	if err := e.g.SetMembership(googlefake.DemoUser, rn, e.group, false); err != nil {
		t.Fatal(err)
	}
	e.apply(gg, rn, queue.Upsert)
	if _, ok := e.pdPerson(l.PipedriveID); ok {
		t.Error("Pipedrive person still there after its contact left the group")
	}
	if _, ok := e.gContact(rn); !ok {
		t.Error("the Google contact itself must stay")
	}

	// a Google delete deletes the Pipedrive twin
	rn2 := e.gSeed(&people.Person{Names: []*people.Name{{GivenName: "Alan", FamilyName: "Turing"}}})
	e.apply(gg, rn2, queue.Upsert)
	l2, ok := e.link(gg, rn2)
	if !ok {
		t.Fatal("no link for the second contact")
	}
	if err := e.g.DeleteContact(googlefake.DemoUser, rn2); err != nil {
		t.Fatal(err)
	}
	e.apply(gg, rn2, queue.Delete)
	if _, ok := e.pdPerson(l2.PipedriveID); ok {
		t.Error("Pipedrive person still there after the Google delete")
	}
}

func TestEchoCostsNoWrites(t *testing.T) {
	e := newEnv(t, envOptions{})
	pid, rn := e.ada()
	before := e.traffic()
	for range 2 { // our own writes come back through both paths
		e.apply(pd, pid, queue.Upsert)
		e.apply(gg, rn, queue.Upsert)
	}
	d := e.traffic().sub(before)
	if d.gWrites != 0 || d.pWrites != 0 || d.fsWrites != 0 {
		t.Fatalf("echo wrote: Google %d, Pipedrive %d, Firestore %d", d.gWrites, d.pWrites, d.fsWrites)
	}
	if d.fsReads > 4*2 {
		t.Errorf("4 echoes read %d Firestore documents, want ≤ 2 each", d.fsReads)
	}
}

func TestDuplicateAndOutOfOrderDelivery(t *testing.T) {
	e := newEnv(t, envOptions{})
	pid, rn := e.ada()
	e.pdEdit(pid, pipedrive.PersonInput{Name: ptr("Ada King")})
	e.pdEdit(pid, pipedrive.PersonInput{Name: ptr("Ada Byron")})
	before := e.traffic()
	// the second edit's message arrives first; then the first one (older
	// payload); then the second again (duplicate delivery)
	for range 3 {
		e.apply(pd, pid, queue.Upsert)
	}
	d := e.traffic().sub(before)
	if d.gWrites != 1 {
		t.Errorf("three deliveries of two edits wrote Google %d times, want 1", d.gWrites)
	}
	gp, _ := e.gContact(rn)
	if got := gp.Names[0].FamilyName; got != "Byron" {
		t.Errorf("family name %q, want the newest, Byron", got)
	}

	// a "delete" whose record still exists is an upsert
	before = e.traffic()
	e.apply(pd, pid, queue.Delete)
	if _, ok := e.gContact(rn); !ok || e.traffic().sub(before).gWrites != 0 {
		t.Fatal("a stale delete message deleted the contact")
	}
	// an "upsert" whose record is gone is a delete
	if err := e.g.DeleteContact(googlefake.DemoUser, rn); err != nil {
		t.Fatal(err)
	}
	e.apply(gg, rn, queue.Upsert)
	if _, ok := e.pdPerson(pid); ok {
		t.Fatal("an upsert message for a deleted contact did not delete the twin")
	}
}

func TestStaleEtagReDecides(t *testing.T) {
	e := newEnv(t, envOptions{})
	pid, rn := e.ada()
	e.pdEdit(pid, pipedrive.PersonInput{Name: ptr("Ada King")})
	// the user edits the Google contact between our read and our write
	var once bool
	tamper := func(r *http.Request) {
		if r.Method == http.MethodPatch && strings.HasSuffix(r.URL.Path, ":updateContact") && !once {
			once = true
			if _, err := e.g.EditContact(googlefake.DemoUser, rn, func(p *people.Person) {
				p.EmailAddresses = append(p.EmailAddresses, &people.EmailAddress{Value: "ada@home.example", Type: "home"})
			}); err != nil {
				t.Error(err)
			}
		}
	}
	e.gTamper.Store(&tamper)
	e.apply(pd, pid, queue.Upsert)
	e.gTamper.Store(nil)
	if !once {
		t.Fatal("no update was sent")
	}
	gp, _ := e.gContact(rn)
	if gp.Names[0].FamilyName != "King" || len(gp.EmailAddresses) != 2 {
		t.Fatalf("after a stale etag: name %+v emails %+v; want both edits", gp.Names[0], gp.EmailAddresses)
	}
	p, _ := e.pdPerson(pid)
	if len(p.Emails) != 2 {
		t.Fatalf("the concurrent Google edit did not reach Pipedrive: %+v", p.Emails)
	}
}
