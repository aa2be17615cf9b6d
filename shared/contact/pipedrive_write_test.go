package contact

import (
	"encoding/json"
	"testing"

	"github.com/contactsync/contactsync/shared/pipedrive"
	people "google.golang.org/api/people/v1"
)

// TestPipedriveWriteBodies: creates send only fields with a value, PATCHes
// only what changed, names as name alone, addresses only with a value,
// contact-sync fields only where the company shows them
// (facts-pipedrive.md, Corrections). The body is checked as it goes on the
// wire.
func TestPipedriveWriteBodies(t *testing.T) {
	hidden := IM | Address | JobTitle
	anna := &pipedrive.Person{ID: 1, Name: "Anna Maria Schmidt", FirstName: "Anna", LastName: "Maria Schmidt", HasContactSyncFields: true,
		Emails:        []pipedrive.Field{{Value: "anna@example.com", Label: "work", Primary: true}},
		Phones:        []pipedrive.Field{{Value: "0171 2345678", Label: "mobile", Primary: true}},
		JobTitle:      sp("CTO"),
		PostalAddress: &pipedrive.Address{Value: "Hauptstr. 5, 10115 Berlin", Route: "Hauptstr. 5", Locality: "Berlin", PostalCode: "10115"}}
	annaC := AlignPipedriveName(mapper.FromPipedrive(anna, ""), Contact{Given: "Anna Maria", Family: "Schmidt"})
	with := func(f func(*Contact)) Contact { c := annaC.Clone(); f(&c); return Normalize(c) }
	noCS := &pipedrive.Person{ID: 2, Name: "Bo", FirstName: "Bo", Emails: []pipedrive.Field{{Value: "bo@example.com", Label: "work", Primary: true}}}
	tests := []struct {
		name     string
		c        Contact
		existing *pipedrive.Person
		want     string
		org      OrgWant
		kept     Fields
	}{
		{name: "create: only fields with a value",
			c:    Normalize(Contact{Given: "Ada", Family: "Lovelace", Emails: []Item{Email("ada@example.com", "work", true)}}),
			want: `{"name":"Ada Lovelace","emails":[{"value":"ada@example.com","label":"work","primary":true}]}`},
		{name: "create: a nameless contact is named by its e-mail",
			c:    Normalize(Contact{Emails: []Item{Email("x@example.com", "", true)}}),
			want: `{"name":"x@example.com","emails":[{"value":"x@example.com","label":"work","primary":true}]}`},
		{name: "create: organization to resolve, no org_id in the body",
			c:    Normalize(Contact{Given: "Ada", Org: "Stadtwerke Köln"}),
			want: `{"name":"Ada"}`, org: OrgWant{Set: true, Name: "Stadtwerke Köln"}},
		{name: "create: contact-sync fields where the company shows them",
			c: Normalize(Contact{Given: "Ada", JobTitle: "CTO", IM: []Item{IMHandle("ada", "skype", true)},
				Address: PostalAddress{Street: "Hauptstr. 5", City: "Berlin"}}),
			want: `{"name":"Ada","im":[{"value":"ada","label":"skype","primary":true}],"postal_address":{"value":"Hauptstr. 5, Berlin","route":"Hauptstr. 5","locality":"Berlin"},"job_title":"CTO"}`},
		{name: "create: contact-sync fields never where the company hides them",
			c: func() Contact {
				c := Normalize(Contact{Given: "Ada", JobTitle: "CTO", IM: []Item{IMHandle("ada", "skype", true)}, Address: PostalAddress{City: "Berlin"}})
				c.Unknown = hidden
				return c
			}(),
			want: `{"name":"Ada"}`},
		{name: "patch: an echo sends nothing, Pipedrive's own name split is no rename",
			c: annaC, existing: anna, want: `{}`},
		{name: "patch: a rename sends name alone",
			c: with(func(c *Contact) { c.Family = "Schmidt-Müller" }), existing: anna, want: `{"name":"Anna Maria Schmidt-Müller"}`},
		{name: "patch: only the changed list, unchanged items as Pipedrive has them",
			c:        with(func(c *Contact) { c.Emails = append(c.Emails, Email("a2@example.com", "home", false)) }),
			existing: anna, want: `{"emails":[{"value":"anna@example.com","label":"work","primary":true},{"value":"a2@example.com","label":"home"}]}`},
		{name: "patch: clearing lists and the job title uses the schema's own types",
			c:        with(func(c *Contact) { c.Phones, c.JobTitle = nil, "" }),
			existing: anna, want: `{"phones":[],"job_title":""}`},
		{name: "patch: a new address is an object with its value",
			c:        with(func(c *Contact) { c.Address = PostalAddress{Street: "Ring 1", City: "Köln"} }),
			existing: anna, want: `{"postal_address":{"value":"Ring 1, Köln","route":"Ring 1","locality":"Köln"}}`},
		{name: "patch: a cleared address is left in Pipedrive and reported",
			c:        with(func(c *Contact) { c.Address, c.Phones = PostalAddress{}, nil }),
			existing: anna, want: `{"phones":[]}`, kept: Address},
		{name: "patch: a company without contact sync gets none of its fields",
			c: Normalize(Contact{Given: "Bo", Emails: []Item{Email("bo@example.com", "", true)}, JobTitle: "CEO",
				IM: []Item{IMHandle("bo", "skype", true)}, Address: PostalAddress{City: "Bonn"}}),
			existing: noCS, want: `{}`},
		{name: "patch: clearing the organization is the caller's org_id",
			c:        Normalize(Contact{Given: "Bo", Emails: []Item{Email("bo@example.com", "", true)}}),
			existing: &pipedrive.Person{ID: 3, Name: "Bo", FirstName: "Bo", OrgID: ip(7), Emails: noCS.Emails},
			want:     `{}`, org: OrgWant{Set: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orgName := ""
			if tt.existing != nil && tt.existing.OrgID != nil {
				orgName = "Acme"
			}
			w := mapper.PipedriveWriteFor(tt.c, tt.existing, orgName)
			b, err := json.Marshal(w.Input)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("body\n got %s\nwant %s", b, tt.want)
			}
			if w.Org != tt.org || w.Kept != tt.kept {
				t.Errorf("org %+v kept %v, want %+v %v", w.Org, w.Kept, tt.org, tt.kept)
			}
		})
	}
}

// TestAlignPipedriveName: a name Pipedrive split its own way is the name we
// wrote; a rename keeps the reference's parts where they still fit.
func TestAlignPipedriveName(t *testing.T) {
	ref := Contact{Given: "Anna Maria", Family: "Schmidt"}
	auto := func(full string) Contact {
		f, l := pipedrive.SplitName(full)
		return Contact{Given: f, Family: l}
	}
	tests := []struct {
		name    string
		pd, ref Contact
		wantG   string
		wantF   string
	}{
		{"same whole name", auto("Anna Maria Schmidt"), ref, "Anna Maria", "Schmidt"},
		{"family renamed in Pipedrive", auto("Anna Maria Müller"), ref, "Anna Maria", "Müller"},
		{"given renamed in Pipedrive", auto("Anne Marie Schmidt"), ref, "Anne Marie", "Schmidt"},
		{"everything renamed", auto("Jo Doe"), ref, "Jo", "Doe"},
		{"parts typed in Pipedrive are the user's", Contact{Given: "Anna Maria Luise", Family: "Müller"}, ref, "Anna Maria Luise", "Müller"},
		{"single word", auto("Cher"), Contact{Given: "Cher"}, "Cher", ""},
		{"unknown name untouched", Contact{Given: "A", Family: "B", Unknown: Given | Family}, ref, "A", "B"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AlignPipedriveName(tt.pd, tt.ref)
			if got.Given != tt.wantG || got.Family != tt.wantF {
				t.Errorf("got %q %q, want %q %q", got.Given, got.Family, tt.wantG, tt.wantF)
			}
		})
	}
}

// TestNoRenamePingPong: a Google name with two given names goes to
// Pipedrive as name alone, comes back split Pipedrive's way, and is no
// change on either side.
func TestNoRenamePingPong(t *testing.T) {
	g := gApply(nil, &people.Person{Names: []*people.Name{{GivenName: "Anna Maria", FamilyName: "Schmidt"}}}, "")
	base := mapper.FromGoogle(g)
	in, want := mapper.ToPipedriveInput(base, nil, "")
	if in.FirstName != nil || in.LastName != nil || in.Name == nil {
		t.Fatalf("create body %+v", in)
	}
	var org string
	p := pdApply(nil, in, want, map[string]int64{}, &org)
	if p.FirstName != "Anna" || p.LastName != "Maria Schmidt" {
		t.Fatalf("Pipedrive split %q %q", p.FirstName, p.LastName)
	}
	pd := AlignPipedriveName(mapper.FromPipedrive(p, org), base)
	if d := Diff(base, pd); d != 0 {
		t.Fatalf("Pipedrive side changed %v", d)
	}
	if _, mask := mapper.ApplyToGoogle(pd, g); mask != "" {
		t.Errorf("Google would be rewritten: %q", mask)
	}
	if in, w := mapper.ToPipedriveInput(base, p, org); in != (pipedrive.PersonInput{}) || w.Set {
		t.Errorf("Pipedrive would be rewritten: %+v", in)
	}
}
