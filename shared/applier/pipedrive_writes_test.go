package applier_test

import (
	"strings"
	"testing"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/queue"
)

// TestTwoGivenNamesDoNotPingPong: a Google contact "Anna Maria" "Schmidt"
// goes to Pipedrive as name alone; Pipedrive splits it its own way
// ("Anna" + "Maria Schmidt"); the echo of that create, and a later edit of
// another field, write no name anywhere.
func TestTwoGivenNamesDoNotPingPong(t *testing.T) {
	e := newEnv(t, envOptions{contactSync: true})
	rn := e.gSeed(&people.Person{
		Names:          []*people.Name{{GivenName: "Anna Maria", FamilyName: "Schmidt"}},
		EmailAddresses: []*people.EmailAddress{{Value: "anna@example.com", Type: "work"}},
	})
	e.apply(gg, rn, queue.Upsert)
	l, ok := e.link(gg, rn)
	if !ok || l.PipedriveID == "" {
		t.Fatalf("no link: %+v", l)
	}
	p, _ := e.pdPerson(l.PipedriveID)
	if p.Name != "Anna Maria Schmidt" || p.FirstName != "Anna" || p.LastName != "Maria Schmidt" {
		t.Fatalf("Pipedrive person %q = %q + %q", p.Name, p.FirstName, p.LastName)
	}
	before := e.traffic()
	e.apply(pd, l.PipedriveID, queue.Upsert) // the create's webhook
	if d := e.traffic().sub(before); d.gWrites != 0 || d.pWrites != 0 {
		t.Fatalf("echo of the create wrote %d to Google, %d to Pipedrive", d.gWrites, d.pWrites)
	}
	// An edit in Pipedrive of another field: only that field reaches Google.
	e.pdEdit(l.PipedriveID, pipedrive.PersonInput{Phones: phones("0171 2345678")})
	e.apply(pd, l.PipedriveID, queue.Upsert)
	gp, _ := e.gContact(rn)
	if n := gp.Names[0]; n.GivenName != "Anna Maria" || n.FamilyName != "Schmidt" || len(gp.PhoneNumbers) != 1 {
		t.Fatalf("Google after a phone edit: names %+v phones %+v", n, gp.PhoneNumbers)
	}
	// A family name changed in Pipedrive keeps Google's two given names.
	e.pdEdit(l.PipedriveID, pipedrive.PersonInput{Name: ptr("Anna Maria Müller")})
	e.apply(pd, l.PipedriveID, queue.Upsert)
	gp, _ = e.gContact(rn)
	if n := gp.Names[0]; n.GivenName != "Anna Maria" || n.FamilyName != "Müller" {
		t.Fatalf("Google after a rename in Pipedrive: %+v", n)
	}
	before = e.traffic()
	e.apply(gg, rn, queue.Upsert) // Google's echo of that write
	e.apply(pd, l.PipedriveID, queue.Upsert)
	if d := e.traffic().sub(before); d.gWrites != 0 || d.pWrites != 0 {
		t.Errorf("echoes wrote %d to Google, %d to Pipedrive", d.gWrites, d.pWrites)
	}
}

// TestClearedAddressStaysInPipedrive: clearing a person's postal_address
// has no documented shape in v2, so an address cleared in Google is left
// in Pipedrive, the history says so, the other fields of the same change
// are written, and the address is not copied back into Google later.
func TestClearedAddressStaysInPipedrive(t *testing.T) {
	e := newEnv(t, envOptions{contactSync: true})
	rn := e.gSeed(&people.Person{
		Names:     []*people.Name{{GivenName: "Karl", FamilyName: "Kölner"}},
		Addresses: []*people.Address{{StreetAddress: "Ring 1", City: "Köln", PostalCode: "50667", Type: "home"}},
	})
	e.apply(gg, rn, queue.Upsert)
	l, _ := e.link(gg, rn)
	p, _ := e.pdPerson(l.PipedriveID)
	if p.PostalAddress == nil || p.PostalAddress.Locality != "Köln" {
		t.Fatalf("address not created in Pipedrive: %+v", p.PostalAddress)
	}
	e.apply(pd, l.PipedriveID, queue.Upsert) // the create's webhook

	// Google: the address removed and a phone added in one edit.
	if _, err := e.g.EditContact(googlefake.DemoUser, rn, func(p *people.Person) {
		p.Addresses = nil
		p.PhoneNumbers = []*people.PhoneNumber{{Value: "0221 1780", Type: "work"}}
	}); err != nil {
		t.Fatal(err)
	}
	e.apply(gg, rn, queue.Upsert)
	p, _ = e.pdPerson(l.PipedriveID)
	if p.PostalAddress == nil || len(p.Phones) != 1 {
		t.Fatalf("Pipedrive after the Google edit: address %+v phones %+v", p.PostalAddress, p.Phones)
	}
	l, _ = e.link(gg, rn)
	last := l.History[len(l.History)-1]
	if !strings.Contains(last.Detail, "address could not be cleared in Pipedrive") {
		t.Errorf("history does not say why: %+v", last)
	}
	// Later changes on either side do not bring the address back to Google.
	e.apply(pd, l.PipedriveID, queue.Upsert)
	e.pdEdit(l.PipedriveID, pipedrive.PersonInput{Emails: emails("karl@example.com")})
	e.apply(pd, l.PipedriveID, queue.Upsert)
	e.apply(gg, rn, queue.Upsert)
	gp, _ := e.gContact(rn)
	if len(gp.Addresses) != 0 || len(gp.EmailAddresses) != 1 {
		t.Errorf("Google: addresses %+v e-mails %+v", gp.Addresses, gp.EmailAddresses)
	}
	// A new address in Google reaches Pipedrive as usual.
	if _, err := e.g.EditContact(googlefake.DemoUser, rn, func(p *people.Person) {
		p.Addresses = []*people.Address{{StreetAddress: "Hohe Str. 2", City: "Köln", Type: "home"}}
	}); err != nil {
		t.Fatal(err)
	}
	e.apply(gg, rn, queue.Upsert)
	if p, _ = e.pdPerson(l.PipedriveID); p.PostalAddress == nil || !strings.Contains(p.PostalAddress.Value, "Hohe Str. 2") {
		t.Errorf("new address: %+v", p.PostalAddress)
	}
}

// TestNoContactSyncFieldsWithoutContactSync: a Google contact with IM, an
// address and a job title goes to a company without contact sync; the
// strict fake would answer 400 if any of them were sent.
func TestNoContactSyncFieldsWithoutContactSync(t *testing.T) {
	e := newEnv(t, envOptions{})
	rn := e.gSeed(&people.Person{
		Names:         []*people.Name{{GivenName: "Ida", FamilyName: "Im"}},
		Organizations: []*people.Organization{{Name: "Stadtwerke Köln", Title: "CTO"}},
		ImClients:     []*people.ImClient{{Username: "ida", Protocol: "skype"}},
		Addresses:     []*people.Address{{City: "Köln"}},
	})
	e.apply(gg, rn, queue.Upsert)
	l, ok := e.link(gg, rn)
	if !ok || l.PipedriveID == "" {
		t.Fatalf("no Pipedrive person: %+v", l)
	}
	if _, err := e.g.EditContact(googlefake.DemoUser, rn, func(p *people.Person) {
		p.ImClients = append(p.ImClients, &people.ImClient{Username: "ida2", Protocol: "skype"})
		p.Organizations[0].Title = "CEO"
		p.EmailAddresses = []*people.EmailAddress{{Value: "ida@example.com"}}
	}); err != nil {
		t.Fatal(err)
	}
	e.apply(gg, rn, queue.Upsert)
	p, _ := e.pdPerson(l.PipedriveID)
	if len(p.Emails) != 1 || p.OrgID == nil {
		t.Errorf("Pipedrive person: %+v", p)
	}
	if n := e.pd.Calls(pipedrivefake.RouteCreatePerson) + e.pd.Calls(pipedrivefake.RoutePatchPerson); n != 2 {
		t.Errorf("%d person writes, want 2", n)
	}
}
