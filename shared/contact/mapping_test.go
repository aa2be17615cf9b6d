package contact

import (
	"testing"

	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	people "google.golang.org/api/people/v1"
)

var mapper = Mapper{DefaultRegion: "DE"}

func sp(s string) *string { return &s }
func ip(i int64) *int64   { return &i }

func primary(ok bool) *people.FieldMetadata { return &people.FieldMetadata{Primary: ok} }

// cmpContent compares contacts by content: order and typed values aside.
var cmpContent = cmp.Options{
	cmpopts.SortSlices(func(a, b Item) bool { return a.Key < b.Key }),
	cmpopts.IgnoreFields(Item{}, "Value"),
	cmpopts.EquateEmpty(),
}

// TestSpecRows covers every row of SPEC section 3 in both directions: each
// row is one Pipedrive person and the Google person it corresponds to;
// both must map to want, and each must map onto the other side and read
// back as want.
func TestSpecRows(t *testing.T) {
	tests := []struct {
		name    string
		pd      *pipedrive.Person
		orgName string
		g       *people.Person
		want    Contact
	}{
		{
			name: "name: first and last ↔ given and family",
			pd:   &pipedrive.Person{Name: "Ada Lovelace", FirstName: "Ada", LastName: "Lovelace", HasContactSyncFields: true},
			g:    &people.Person{Names: []*people.Name{{GivenName: "Ada", FamilyName: "Lovelace", DisplayName: "Ada Lovelace"}}},
			want: Contact{Given: "Ada", Family: "Lovelace"},
		},
		{
			name: "name: a single-word name is a given name",
			pd:   &pipedrive.Person{Name: "Cher", HasContactSyncFields: true},
			g:    &people.Person{Names: []*people.Name{{GivenName: "Cher"}}},
			want: Contact{Given: "Cher"},
		},
		{
			name: "name: only a whole name on each side is split",
			pd:   &pipedrive.Person{Name: "Mary Ann  Smith", HasContactSyncFields: true},
			g:    &people.Person{Names: []*people.Name{{UnstructuredName: "Mary Ann Smith"}}},
			want: Contact{Given: "Mary Ann", Family: "Smith"},
		},
		{
			name:    "organization: org name and job title ↔ organizations[0]",
			pd:      &pipedrive.Person{Name: "A B", FirstName: "A", LastName: "B", OrgID: ip(7), JobTitle: sp("CTO"), HasContactSyncFields: true},
			orgName: "Acme GmbH",
			g: &people.Person{Names: []*people.Name{{GivenName: "A", FamilyName: "B"}},
				Organizations: []*people.Organization{{Name: "Acme GmbH", Title: "CTO"}}},
			want: Contact{Given: "A", Family: "B", Org: "Acme GmbH", JobTitle: "CTO"},
		},
		{
			name: "phones: E.164 identity, labels work/home/mobile/other, primary",
			pd: &pipedrive.Person{Name: "P", HasContactSyncFields: true, Phones: []pipedrive.Field{
				{Value: "030 1234567", Label: "work"},
				{Value: "+49 170 1234567", Label: "mobile", Primary: true},
				{Value: "+1 (415) 555-0100", Label: "home"},
				{Value: "0049 30 7654321", Label: "other"},
			}},
			g: &people.Person{Names: []*people.Name{{GivenName: "P"}}, PhoneNumbers: []*people.PhoneNumber{
				{Value: "+49 30 1234567", Type: "work", Metadata: primary(false)},
				{Value: "01701234567", Type: "mobile", Metadata: primary(true)},
				{Value: "+14155550100", Type: "home"},
				{Value: "+49307654321", Type: "other"},
			}},
			want: Contact{Given: "P", Phones: []Item{
				{Label: "work", Key: "+49301234567"},
				{Label: "mobile", Key: "+491701234567", Primary: true},
				{Label: "home", Key: "+14155550100"},
				{Label: "other", Key: "+49307654321"},
			}},
		},
		{
			// (Pipedrive gets only documented labels from us, but a person
			// written before, or by another tool, may hold others.)
			name: "phones: unknown label and Google-only types carried, unparseable kept as digits",
			pd: &pipedrive.Person{Name: "P", HasContactSyncFields: true, Phones: []pipedrive.Field{
				{Value: "+49 30 111111", Label: "homeFax", Primary: true},
				{Value: "+49 30 222222", Label: "Assistant"},
				{Value: "*100#", Label: "work"},
			}},
			g: &people.Person{Names: []*people.Name{{GivenName: "P"}}, PhoneNumbers: []*people.PhoneNumber{
				{Value: "+49 30 111111", Type: "homeFax", Metadata: primary(true)},
				{Value: "+49 30 222222", Type: "Assistant"},
				{Value: "*100#", Type: "work"},
			}},
			want: Contact{Given: "P", Phones: []Item{
				{Label: "homeFax", Key: "+4930111111", Primary: true},
				{Label: "Assistant", Key: "+4930222222"},
				{Label: "work", Key: "#100"},
			}},
		},
		{
			name: "e-mails: case-insensitive, labels work/home/other and custom",
			pd: &pipedrive.Person{Name: "E", HasContactSyncFields: true, Emails: []pipedrive.Field{
				{Value: "Ada@Example.COM", Label: "work", Primary: true},
				{Value: "ada@home.example", Label: "home"},
				{Value: "ada@old.example", Label: "previous"},
			}},
			g: &people.Person{Names: []*people.Name{{GivenName: "E"}}, EmailAddresses: []*people.EmailAddress{
				{Value: "ada@example.com", Type: "work", Metadata: primary(true)},
				{Value: "ADA@home.example", Type: "home"},
				{Value: "ada@old.example", Type: "previous"},
			}},
			want: Contact{Given: "E", Emails: []Item{
				{Label: "work", Key: "ada@example.com", Primary: true},
				{Label: "home", Key: "ada@home.example"},
				{Label: "previous", Key: "ada@old.example"},
			}},
		},
		{
			name: "IM: google ↔ googleTalk, skype, unknown protocol carried, no protocol",
			pd: &pipedrive.Person{Name: "I", HasContactSyncFields: true, IM: []pipedrive.Field{
				{Value: "ada.l", Label: "google", Primary: true},
				{Value: "AdaSkype", Label: "skype"},
				{Value: "+491701234567", Label: "whatsapp"},
				{Value: "ada", Label: "work"},
			}},
			g: &people.Person{Names: []*people.Name{{GivenName: "I"}}, ImClients: []*people.ImClient{
				{Username: "ada.l", Protocol: "googleTalk", Metadata: primary(true)},
				{Username: "adaskype", Protocol: "skype"},
				{Username: "+491701234567", Protocol: "whatsapp"},
				{Username: "ada"},
			}},
			want: Contact{Given: "I", IM: []Item{
				{Label: "google", Key: "google:ada.l", Primary: true},
				{Label: "skype", Key: "skype:adaskype"},
				{Label: "whatsapp", Key: "whatsapp:+491701234567"},
				{Label: "", Key: ":ada"},
			}},
		},
		{
			name: "address: components ↔ addresses[0]",
			pd: &pipedrive.Person{Name: "A", HasContactSyncFields: true, PostalAddress: &pipedrive.Address{
				Value: "Hauptstr. 5, App. 3, 10115 Berlin, Germany", Route: "Hauptstr.", StreetNumber: "5", Subpremise: "App. 3",
				Locality: "Berlin", AdminAreaLevel1: "Berlin", PostalCode: "10115", Country: "Germany",
			}},
			g: &people.Person{Names: []*people.Name{{GivenName: "A"}}, Addresses: []*people.Address{{
				StreetAddress: "Hauptstr. 5", ExtendedAddress: "App. 3", City: "Berlin", Region: "Berlin",
				PostalCode: "10115", Country: "Germany", Type: "work", FormattedValue: "Hauptstr. 5\nApp. 3\n10115 Berlin\nGermany",
			}}},
			want: Contact{Given: "A", Address: PostalAddress{Street: "Hauptstr. 5", Extended: "App. 3", City: "Berlin", Region: "Berlin", PostalCode: "10115", Country: "Germany"}},
		},
		{
			name: "address: only typed text",
			pd:   &pipedrive.Person{Name: "A", HasContactSyncFields: true, PostalAddress: &pipedrive.Address{Value: "Somewhere 1, Nowhere"}},
			g:    &people.Person{Names: []*people.Name{{GivenName: "A"}}, Addresses: []*people.Address{{FormattedValue: "Somewhere 1, Nowhere"}}},
			want: Contact{Given: "A", Address: PostalAddress{Unstructured: "Somewhere 1, Nowhere"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fromPD := mapper.FromPipedrive(tt.pd, tt.orgName)
			if d := cmp.Diff(tt.want, fromPD, cmpContent); d != "" {
				t.Errorf("FromPipedrive (-want +got):\n%s", d)
			}
			fromG := mapper.FromGoogle(tt.g)
			if d := cmp.Diff(tt.want, fromG, cmpContent); d != "" {
				t.Errorf("FromGoogle (-want +got):\n%s", d)
			}
			// Pipedrive → Google: created and read back.
			sent, mask := mapper.ApplyToGoogle(fromPD, nil)
			if d := cmp.Diff(tt.want, mapper.FromGoogle(gApply(nil, sent, mask)), cmpContent); d != "" {
				t.Errorf("Pipedrive→Google (-want +got):\n%s", d)
			}
			// and onto the corresponding Google person: nothing to write
			if _, mask := mapper.ApplyToGoogle(fromPD, tt.g); mask != "" {
				t.Errorf("ApplyToGoogle onto the equal person wants to write %q", mask)
			}
			// Google → Pipedrive: created and read back (Pipedrive splits
			// the name its own way: compared whole, against what was sent).
			in, want := mapper.ToPipedriveInput(fromG, nil, "")
			org := ""
			got := AlignPipedrive(mapper.FromPipedrive(pdApply(nil, in, want, map[string]int64{}, &org), org), fromG)
			if d := cmp.Diff(tt.want, got, cmpContent); d != "" {
				t.Errorf("Google→Pipedrive (-want +got):\n%s", d)
			}
			in, want = mapper.ToPipedriveInput(fromG, tt.pd, tt.orgName)
			if d := cmp.Diff(pipedrive.PersonInput{}, in); d != "" || want.Set {
				t.Errorf("ToPipedriveInput onto the equal person sends %s (org %+v)", d, want)
			}
		})
	}
}

func TestFormattingIsNotAChangeAndIsKept(t *testing.T) {
	pd := &pipedrive.Person{Name: "P", HasContactSyncFields: true,
		Phones: []pipedrive.Field{{Value: "030 1234567", Label: "work", Primary: true}},
		Emails: []pipedrive.Field{{Value: "P@Example.com", Label: "work", Primary: true}}}
	g := &people.Person{
		Names:          []*people.Name{{GivenName: "P", MiddleName: "Q"}},
		PhoneNumbers:   []*people.PhoneNumber{{Value: "+49 (30) 123-4567", Type: "", Metadata: primary(true)}},
		EmailAddresses: []*people.EmailAddress{{Value: "p@example.com", DisplayName: "Dr. P", Metadata: primary(true)}},
	}
	if !Equal(mapper.FromPipedrive(pd, ""), mapper.FromGoogle(g)) {
		t.Fatalf("formatting alone is a difference:\n%+v\n%+v", mapper.FromPipedrive(pd, ""), mapper.FromGoogle(g))
	}
	// Add a phone in Pipedrive: Google keeps its own formatting, type and
	// displayName on the untouched items, and gets the new one as typed.
	c := mapper.FromPipedrive(pd, "")
	c.Phones = append(c.Phones, mapper.Phone("0170 7654321", "mobile", false))
	c = Normalize(c)
	out, mask := mapper.ApplyToGoogle(c, g)
	if mask != "phoneNumbers" {
		t.Errorf("mask = %q, want phoneNumbers", mask)
	}
	if got := out.PhoneNumbers[0]; got.Value != "+49 (30) 123-4567" || got.Type != "" {
		t.Errorf("existing phone rewritten: %+v", got)
	}
	if got := out.PhoneNumbers[1]; got.Value != "0170 7654321" || got.Type != "mobile" {
		t.Errorf("new phone: %+v", got)
	}
	if out.EmailAddresses[0].DisplayName != "Dr. P" || out.Names[0].MiddleName != "Q" {
		t.Errorf("fields we do not sync were touched: %+v %+v", out.EmailAddresses[0], out.Names[0])
	}
	if g.PhoneNumbers[0].Metadata.SourcePrimary || len(g.PhoneNumbers) != 1 {
		t.Errorf("existing person was modified")
	}
	// The other way: Pipedrive keeps its formatting for unchanged items.
	gc := mapper.FromGoogle(g)
	gc.Emails = append(gc.Emails, Email("new@example.com", "home", false))
	in, _ := mapper.ToPipedriveInput(Normalize(gc), pd, "")
	want := pipedrive.PersonInput{Emails: &[]pipedrive.Field{
		{Value: "P@Example.com", Label: "work", Primary: true},
		{Value: "new@example.com", Label: "home"},
	}}
	if d := cmp.Diff(want, in); d != "" {
		t.Errorf("ToPipedriveInput (-want +got):\n%s", d)
	}
}

func TestUnknownFieldsAreNotCleared(t *testing.T) {
	// Contact sync off: Pipedrive shows no IM, address or job title.
	pd := &pipedrive.Person{Name: "U V", FirstName: "U", LastName: "V", OrgID: ip(3)}
	c := mapper.FromPipedrive(pd, "") // and the org could not be resolved
	if want := IM | Address | JobTitle | Org; c.Unknown != want {
		t.Fatalf("Unknown = %v, want %v", c.Unknown, want)
	}
	g := &people.Person{
		Names:         []*people.Name{{GivenName: "U", FamilyName: "V"}},
		Organizations: []*people.Organization{{Name: "Acme", Title: "Boss"}},
		ImClients:     []*people.ImClient{{Username: "uv", Protocol: "skype"}},
		Addresses:     []*people.Address{{City: "Berlin"}},
	}
	out, mask := mapper.ApplyToGoogle(c, g)
	if mask != "" {
		t.Errorf("mask = %q, want nothing", mask)
	}
	if d := cmp.Diff(g, out, cmpopts.IgnoreUnexported(people.Person{})); d != "" {
		t.Errorf("person changed (-want +got):\n%s", d)
	}
	// And a Google contact written to that company leaves them out.
	gc := mapper.FromGoogle(g)
	in, want := mapper.ToPipedriveInput(gc, pd, "")
	if in.IM != nil || in.PostalAddress != nil || in.JobTitle != nil {
		t.Errorf("hidden fields written: %+v", in)
	}
	if !want.Set || want.Name != "Acme" {
		t.Errorf("org want = %+v", want)
	}
}

func TestApplyToGoogleKeepsOtherAddressesAndOrgDetails(t *testing.T) {
	g := &people.Person{
		Organizations: []*people.Organization{{Name: "Old", Department: "R&D"}},
		Addresses: []*people.Address{
			{City: "Home Town", Type: "home"},
			{City: "Work City", Type: "work", Metadata: primary(true)},
		},
	}
	c := Contact{Org: "New", JobTitle: "Dev", Address: PostalAddress{City: "Moved"}}
	out, mask := mapper.ApplyToGoogle(Normalize(c), g)
	if mask != "addresses,organizations" {
		t.Errorf("mask = %q", mask)
	}
	if out.Addresses[0].City != "Home Town" || out.Addresses[1].City != "Moved" || out.Addresses[1].Type != "work" {
		t.Errorf("addresses: %+v %+v", out.Addresses[0], out.Addresses[1])
	}
	if o := out.Organizations[0]; o.Name != "New" || o.Title != "Dev" || o.Department != "R&D" {
		t.Errorf("org: %+v", o)
	}
	// clearing the org keeps the item for its department
	out, _ = mapper.ApplyToGoogle(Contact{Address: c.Address}, out)
	if len(out.Organizations) != 1 || out.Organizations[0].Name != "" || out.Organizations[0].Department != "R&D" {
		t.Errorf("cleared org: %+v", out.Organizations)
	}
}

func TestProfileDataIsNotContactData(t *testing.T) {
	profile := &people.FieldMetadata{Source: &people.Source{Type: "PROFILE"}}
	g := &people.Person{
		Names:          []*people.Name{{GivenName: "Profile", Metadata: profile}, {GivenName: "Contact"}},
		EmailAddresses: []*people.EmailAddress{{Value: "profile@example.com", Metadata: profile}},
	}
	c := mapper.FromGoogle(g)
	if c.Given != "Contact" || len(c.Emails) != 0 {
		t.Errorf("got %+v", c)
	}
}

func TestNoNameFallback(t *testing.T) {
	c := Normalize(Contact{Emails: []Item{Email("x@example.com", "", true)}})
	in, _ := mapper.ToPipedriveInput(c, nil, "")
	if in.Name == nil || *in.Name != "x@example.com" {
		t.Errorf("name = %v", in.Name)
	}
}

func TestHashAndEqual(t *testing.T) {
	a := mapper.FromPipedrive(&pipedrive.Person{Name: "A", HasContactSyncFields: true, Phones: []pipedrive.Field{
		{Value: "030 1234561", Label: "work"}, {Value: "030 1234562", Label: "home"}}}, "")
	b := mapper.FromPipedrive(&pipedrive.Person{Name: "A", HasContactSyncFields: true, Phones: []pipedrive.Field{
		{Value: "+49 30 123 4562", Label: "home"}, {Value: "+49301234561", Label: "work", Primary: true}}}, "")
	if !Equal(a, b) || a.Hash() != b.Hash() {
		t.Errorf("same content differs: equal=%v %s %s", Equal(a, b), a.Hash(), b.Hash())
	}
	b.Phones[0].Label = "mobile"
	if Equal(a, b) || a.Hash() == b.Hash() {
		t.Errorf("different content is equal")
	}
	u := a
	u.Unknown = IM
	if Equal(a, u) || a.Hash() == u.Hash() {
		t.Errorf("unknown set does not count")
	}
}

func TestFieldsString(t *testing.T) {
	if got := (Given | Phones | Address).String(); got != "given,phones,address" {
		t.Errorf("got %q", got)
	}
}
