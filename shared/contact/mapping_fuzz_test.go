package contact

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/google/go-cmp/cmp"
	people "google.golang.org/api/people/v1"
)

// contactSize is the bytes of text a contact holds.
func contactSize(c Contact) int {
	n := len(c.Given) + len(c.Family) + len(c.Org) + len(c.JobTitle)
	for _, l := range [][]Item{c.Phones, c.Emails, c.IM} {
		for _, it := range l {
			n += len(it.Value) + len(it.Label) + len(it.Key)
		}
	}
	a := c.Address
	return n + len(a.Street) + len(a.Extended) + len(a.City) + len(a.Region) + len(a.PostalCode) + len(a.Country) + len(a.Unstructured)
}

// maxGrowth bounds what a mapping may make of n bytes of JSON: a string
// decodes at most 3 bytes per byte (invalid UTF-8 reads as U+FFFD), lower
// case may be longer than upper case, and each item gains a key and a
// default label.
func maxGrowth(n int) int { return 10*n + 64 }

// checkNormalized holds for every contact a mapping returns.
func checkNormalized(t *testing.T, c Contact, in []byte) {
	t.Helper()
	if n := Normalize(c); !reflect.DeepEqual(n, c) {
		t.Fatalf("mapping result is not normalized:\n%s\ninput %s", cmp.Diff(c, n), in)
	}
	if s := contactSize(c); s > maxGrowth(len(in)) {
		t.Fatalf("%d bytes of input made a contact of %d bytes", len(in), s)
	}
}

// asStored is g as the People API would hold it: no null list items, and
// the output-only forms (displayName, formattedValue, primary) derived as
// gApply derives them. A copy: gApply shares the lists it does not write.
func asStored(g *people.Person) *people.Person {
	var cp people.Person
	b, _ := json.Marshal(g)
	_ = json.Unmarshal(b, &cp)
	cp.Names = slices.DeleteFunc(cp.Names, func(x *people.Name) bool { return x == nil })
	cp.Organizations = slices.DeleteFunc(cp.Organizations, func(x *people.Organization) bool { return x == nil })
	cp.PhoneNumbers = slices.DeleteFunc(cp.PhoneNumbers, func(x *people.PhoneNumber) bool { return x == nil })
	cp.EmailAddresses = slices.DeleteFunc(cp.EmailAddresses, func(x *people.EmailAddress) bool { return x == nil })
	cp.ImClients = slices.DeleteFunc(cp.ImClients, func(x *people.ImClient) bool { return x == nil })
	cp.Addresses = slices.DeleteFunc(cp.Addresses, func(x *people.Address) bool { return x == nil })
	return gApply(nil, &cp, "")
}

// FuzzFromGoogle: any person the People API could return (JSON, as the
// client decodes it) maps to a normalized contact with every field known
// and no larger than the person; it survives Google → Google (create) and
// Google → Pipedrive, the mapping never changes the person it reads, and
// an edit written back onto the person as Google holds it reads back.
func FuzzFromGoogle(f *testing.F) {
	for _, s := range []string{
		// facts-google-people.md §3's shapes, and the edge cases of mapping_test.go
		`{"resourceName":"people/c1","etag":"%EgUBAi43PRoEAQIFByIMMGxhQnVaMjFhQzg9","names":[{"metadata":{"primary":true,"source":{"type":"CONTACT","id":"1"}},"displayName":"Ada Lovelace","familyName":"Lovelace","givenName":"Ada","displayNameLastFirst":"Lovelace, Ada","unstructuredName":"Ada Lovelace"}],` +
			`"phoneNumbers":[{"metadata":{"primary":true},"value":"030 1234567","canonicalForm":"+49301234567","type":"work","formattedType":"Work"},{"value":"+49 30 1234567","type":"workFax"}],` +
			`"emailAddresses":[{"metadata":{"primary":true},"value":"Ada@Example.COM","type":"home","displayName":"Dr. Ada"},{"value":"ada@example.com","type":"Rechnungen"}],` +
			`"organizations":[{"metadata":{"primary":true},"name":"Analytical Engines","title":"CTO","department":"R&D","type":"work"}],` +
			`"imClients":[{"username":"ada","protocol":"googleTalk","type":"home"},{"username":"Ada.L","protocol":"skype"}],` +
			`"addresses":[{"streetAddress":"Hauptstr. 5","city":"Berlin","postalCode":"10115","countryCode":"DE","type":"work"},{"metadata":{"primary":true},"formattedValue":"PO Box 12","type":"home"}],` +
			`"memberships":[{"contactGroupMembership":{"contactGroupResourceName":"contactGroups/abc"}}],"metadata":{"sources":[{"type":"CONTACT","id":"1","etag":"#e1","updateTime":"2026-01-02T03:04:05Z"}]}}`,
		`{"names":[{"unstructuredName":"Anna  Maria Schmidt"}],"organizations":[{"name":"","title":""}]}`,
		`{"names":[{"displayName":"Cher","metadata":{"source":{"type":"PROFILE"}}},{"givenName":"","familyName":""}]}`,
		`{"phoneNumbers":[{"value":"*100#"},{"value":"+1 (415) 555-0100 ext. 5","type":"mobile"},{"value":"١٢٣٤٥٦٧٨٩"},{"value":" "}],"emailAddresses":[{"value":"mailto:A@B"},null]}`,
		`{"addresses":[{"poBox":"PO 9","country":"","countryCode":"US"},{"metadata":{"source":{"type":"PROFILE"}},"city":"Elsewhere"}]}`,
		`{"imClients":[{"username":"x","protocol":"Work"},{"username":"x","protocol":"hangouts"},{"username":"","protocol":"skype"}]}`,
		`{}`, `null`, `{"names":null,"phoneNumbers":[{}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var g people.Person
		if json.Unmarshal(b, &g) != nil {
			return
		}
		before, _ := json.Marshal(&g)
		c := mapper.FromGoogle(&g)
		checkNormalized(t, c, b)
		if c.Unknown != 0 {
			t.Fatalf("a Google person leaves %v unknown", c.Unknown)
		}
		// Google → Google: a create of the contact reads back as it.
		sent, mask := mapper.ApplyToGoogle(c, nil)
		if c2 := mapper.FromGoogle(gApply(nil, sent, mask)); !Equal(c, c2) {
			t.Fatalf("created in Google, read back differently:\n%s\ninput %s", cmp.Diff(c, c2, cmpContent), b)
		}
		// Our own read written back is no write at all.
		if _, mask := mapper.ApplyToGoogle(c, &g); mask != "" {
			t.Fatalf("echo writes %q\ninput %s", mask, b)
		}
		if after, _ := json.Marshal(&g); string(after) != string(before) {
			t.Fatalf("mapping changed the person it read:\n%s\n%s", before, after)
		}
		// An edit from Pipedrive (one more e-mail) onto the person as
		// Google holds it reads back as the edit.
		held := asStored(&g)
		c4 := mapper.FromGoogle(held).Clone()
		c4.Emails = append(c4.Emails, Email("fuzz-new@example.com", "home", false))
		c4 = Normalize(c4)
		sent, mask = mapper.ApplyToGoogle(c4, held)
		if mask != "emailAddresses" {
			t.Fatalf("adding an e-mail writes %q\ninput %s", mask, b)
		}
		if c5 := mapper.FromGoogle(gApply(held, sent, mask)); !Equal(c4, c5) {
			t.Fatalf("update lost content:\n%s\ninput %s", cmp.Diff(c4, c5, cmpContent), b)
		}
		// Google → Pipedrive (a create there) reads back as the contact.
		in, want := mapper.ToPipedriveInput(c, nil, "")
		var org string
		back := mapper.FromPipedrive(pdApply(nil, in, want, map[string]int64{}, &org), org)
		if c3 := AlignPipedrive(UnderiveName(back, DerivedName(c, back)), c); !Equal(c, c3) {
			t.Fatalf("Google→Pipedrive:\n%s\ninput %s", cmp.Diff(c, c3, cmpContent), b)
		}
	})
}

// FuzzFromPipedrive: any person Pipedrive could send (the API's JSON read
// by the typed decoder, or a webhook's read by the lenient one), with any
// organization name, maps to a normalized contact no larger than its
// input, whose unknown fields are blank and are exactly what Pipedrive did
// not show; our own read written back is no write, and a fully known
// contact survives Pipedrive → Google → Pipedrive.
func FuzzFromPipedrive(f *testing.F) {
	for _, s := range []string{
		// API v2 GET /persons/{id} (facts-pipedrive.md §2), contact sync on
		`{"id":8,"name":"Sample Person","first_name":"Sample","last_name":"Person","owner_id":12415231,"org_id":1,` +
			`"emails":[{"value":"sample@example.com","label":"work","primary":true},{"value":"Sample@Example.com","label":"home"}],` +
			`"phones":[{"value":"030 1234567","label":"mobile","primary":true},{"value":"+49301234567","label":"work"}],` +
			`"im":[{"value":"sample","label":"skype","primary":true}],"postal_address":{"value":"Hauptstr. 5, 10115 Berlin","street_number":"5","route":"Hauptstr.","locality":"Berlin","postal_code":"10115","country":"Germany","sublocality":"Mitte","subpremise":"3. OG"},` +
			`"job_title":"CTO","add_time":"2024-01-01T00:00:00Z","update_time":"2025-02-17T21:26:58Z","is_deleted":false,"visible_to":3,"label_ids":[1],"custom_fields":{"abc":"x"}}`,
		// contact sync off: no im, postal_address or job_title
		`{"id":9,"name":"Ann Lee","owner_id":7,"org_id":null,"emails":[],"phones":[{"value":"+372 5555 1234","label":"work","primary":true}]}`,
		`{"id":10,"name":"  Cher ","ims":[{"value":"cher","label":"google"}],"im":null,"postal_address":{"value":"PO Box 12"},"job_title":null}`,
		// a v1 webhook's current (S6): v1 keys, placeholders, flat address
		`{"owner_id":1234567890,"postal_address_locality":"Tartu","id":11,"job_title":null,"postal_address":"Main St 1","im":[{"value":"","primary":true}],` +
			`"phone":[{"value":"","primary":true}],"visible_to":"3","org_id":{"value":"3","name":"Acme"},"name":"Person Name","active_flag":true,"update_time":"2025-02-17 21:26:58",` +
			`"postal_address_route":"Main St","first_name":"Person Name","email":[{"value":"p@example.test","primary":true,"label":"work"}],` +
			`"postal_address_street_number":"1","last_name":"Surname","0123456789abcdef0123456789abcdef01234567":"custom"}`,
		`{"id":"12","phone":"+49 30 1234567","email":"a@b.example","im":["x"],"postal_address":{"sublocality":"Mitte","admin_area_level_2":"Berlin"}}`,
		`{"id":13,"first_name":"","last_name":"","name":"","org_id":5}`,
		`{"id":1}`, `{}`, `null`,
	} {
		f.Add([]byte(s), "Acme", true)
		f.Add([]byte(s), "", false)
	}
	f.Fuzz(func(t *testing.T, b []byte, orgName string, lenient bool) {
		var p *pipedrive.Person
		if lenient {
			var err error
			if p, err = pipedrive.DecodePerson(b); err != nil {
				return
			}
		} else {
			p = &pipedrive.Person{}
			if json.Unmarshal(b, p) != nil {
				return
			}
		}
		in := append(append([]byte(nil), b...), orgName...)
		c := mapper.FromPipedrive(p, orgName)
		checkNormalized(t, c, in)
		if c.Unknown&^(Org|IM|Address|JobTitle) != 0 {
			t.Fatalf("unknown %v: Pipedrive always shows names, phones and e-mails", c.Unknown)
		}
		if want := p.OrgID != nil && strings.TrimSpace(orgName) == ""; want != (c.Unknown&Org != 0) {
			t.Fatalf("organization unknown = %v with org_id %v and name %q", !want, p.OrgID, orgName)
		}
		if !reflect.DeepEqual(blankUnknown(c), c) {
			t.Fatalf("an unknown field has a value: %+v", c)
		}
		// Our own read written back is no write at all (no ping-pong).
		if w := mapper.PipedriveWriteFor(c, p, orgName); !reflect.DeepEqual(w.Input, pipedrive.PersonInput{}) || w.Org.Set {
			body, _ := json.Marshal(w.Input)
			t.Fatalf("echo writes %s (org %+v)\ninput %s", body, w.Org, b)
		}
		if c.Unknown != 0 {
			return
		}
		// Pipedrive → Google → Pipedrive.
		sent, mask := mapper.ApplyToGoogle(c, nil)
		c2 := mapper.FromGoogle(gApply(nil, sent, mask))
		if !Equal(c, c2) {
			t.Fatalf("Pipedrive→Google:\n%s\ninput %s", cmp.Diff(c, c2, cmpContent), b)
		}
		pin, want := mapper.ToPipedriveInput(c2, nil, "")
		var org string
		back := mapper.FromPipedrive(pdApply(nil, pin, want, map[string]int64{}, &org), org)
		if c3 := AlignPipedrive(UnderiveName(back, DerivedName(c2, back)), c2); !Equal(c, c3) {
			t.Fatalf("Google→Pipedrive:\n%s\ninput %s", cmp.Diff(c, c3, cmpContent), b)
		}
	})
}
