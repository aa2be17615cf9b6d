package contact

// Round-trip fidelity (issue 11, "found by trying it"): what the user typed
// on one side is neither lost, renamed, reordered nor duplicated by the
// mapping to the other side and back.

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/google/go-cmp/cmp"
	people "google.golang.org/api/people/v1"
)

// Every phone and e-mail type Google documents (facts-google-people.md,
// phoneNumbers and emailAddresses), and custom labels.
var (
	googlePhoneTypes = []string{"home", "work", "mobile", "homeFax", "workFax", "otherFax", "pager",
		"workMobile", "workPager", "main", "googleVoice", "other", "Zentrale", ""}
	googleEmailTypes = []string{"home", "work", "other", "Rechnungen", ""}
)

// documented are the labels Pipedrive documents (facts-pipedrive.md).
var documented = map[string]bool{"work": true, "home": true, "mobile": true, "other": true}

// TestNearestPipedriveLabel: every Google type maps to the nearest label
// Pipedrive documents.
func TestNearestPipedriveLabel(t *testing.T) {
	phones := map[string]string{
		"home": "home", "work": "work", "mobile": "mobile", "other": "other", "": "work",
		"homeFax": "home", "workFax": "work", "otherFax": "other", "pager": "other", "workPager": "work",
		"workMobile": "mobile", "main": "work", "googleVoice": "mobile", "Zentrale": "other", "WORKFAX": "work",
	}
	for typ, want := range phones {
		if got := PipedrivePhoneLabel(typ); got != want {
			t.Errorf("phone type %q → %q, want %q", typ, got, want)
		}
	}
	mails := map[string]string{"home": "home", "work": "work", "other": "other", "": "work", "Rechnungen": "other", "school": "other", "mobile": "other"}
	for typ, want := range mails {
		if got := PipedriveEmailLabel(typ); got != want {
			t.Errorf("e-mail type %q → %q, want %q", typ, got, want)
		}
	}
	for _, typ := range googlePhoneTypes {
		if !documented[PipedrivePhoneLabel(typ)] {
			t.Errorf("phone type %q has no documented Pipedrive label", typ)
		}
	}
}

// TestGoogleTypesSurviveTheRoundTrip: a phone or e-mail of any Google type
// goes to Pipedrive with a documented label, comes back as no change (no
// write on either side), and a contact created again in Google from the
// Pipedrive person gets its type back. A label changed in Pipedrive is a
// change and reaches Google.
func TestGoogleTypesSurviveTheRoundTrip(t *testing.T) {
	type tc struct {
		name  string
		g     *people.Person
		field Field
	}
	var tests []tc
	for _, typ := range googlePhoneTypes {
		tests = append(tests, tc{"phone " + typ, &people.Person{Names: []*people.Name{{GivenName: "T"}},
			PhoneNumbers: []*people.PhoneNumber{{Value: "0171 2345678", Type: typ}}}, Phones})
	}
	for _, typ := range googleEmailTypes {
		tests = append(tests, tc{"e-mail " + typ, &people.Person{Names: []*people.Name{{GivenName: "T"}},
			EmailAddresses: []*people.EmailAddress{{Value: "t@example.com", Type: typ}}}, Emails})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gApply(nil, tt.g, "")
			base := mapper.FromGoogle(g)
			w := mapper.PipedriveWriteFor(base, nil, "")
			for _, l := range [][]pipedrive.Field{deref(w.Input.Phones), deref(w.Input.Emails)} {
				for _, f := range l {
					if !documented[f.Label] {
						t.Errorf("Pipedrive gets the undocumented label %q", f.Label)
					}
				}
			}
			var org string
			p := pdApply(nil, w.Input, w.Org, map[string]int64{}, &org)
			pd := AlignPipedrive(mapper.FromPipedrive(p, org), base)
			if d := Diff(base, pd); d != 0 {
				t.Fatalf("the Pipedrive person reads as a change of %v:\n%s", d, cmp.Diff(base, pd))
			}
			if w := mapper.PipedriveWriteFor(base, p, org); w.Input != (pipedrive.PersonInput{}) {
				t.Errorf("Pipedrive would be written again: %+v", w.Input)
			}
			if _, mask := mapper.ApplyToGoogle(pd, g); mask != "" {
				t.Errorf("Google would be written: %q", mask)
			}
			// Deleted in Google, created again from Pipedrive: the type is back.
			sent, mask := mapper.ApplyToGoogle(pd, nil)
			again := gApply(nil, sent, mask)
			typed := types(g)
			if typed[0] == "" {
				typed[0] = "work" // no type is Pipedrive's default label
			}
			if d := cmp.Diff(typed, types(again)); d != "" {
				t.Errorf("types after a round trip (-typed +got):\n%s", d)
			}
			// A label changed in Pipedrive is the user's change.
			items := &p.Phones
			if tt.field == Emails {
				items = &p.Emails
			}
			(*items)[0].Label = "home"
			if PipedrivePhoneLabel(types(g)[0]) == "home" {
				(*items)[0].Label = "other"
			}
			edited := AlignPipedrive(mapper.FromPipedrive(p, org), base)
			if d := Diff(base, edited); d != tt.field {
				t.Fatalf("a relabel in Pipedrive changes %v, want %v", d, tt.field)
			}
			out, mask := mapper.ApplyToGoogle(edited, g)
			if mask == "" || types(out)[0] != (*items)[0].Label {
				t.Errorf("the relabel reaches Google as %q (mask %q)", types(out), mask)
			}
		})
	}
}

func deref(p *[]pipedrive.Field) []pipedrive.Field {
	if p == nil {
		return nil
	}
	return *p
}

// types lists a person's phone types, then its e-mail types.
func types(g *people.Person) []string {
	var out []string
	for _, p := range g.PhoneNumbers {
		out = append(out, p.Type)
	}
	for _, e := range g.EmailAddresses {
		out = append(out, e.Type)
	}
	return out
}

// TestWritesKeepEachSidesItems: a write to a side keeps that side's items
// whose key stays where they are, with the side's own spelling and label,
// every spelling of a kept key included (e-mails differing only in case, a
// number typed twice in two formats); new items are appended. Checked as
// the body goes on the wire to Pipedrive and as the list goes to Google.
func TestWritesKeepEachSidesItems(t *testing.T) {
	pf := func(v, l string, p bool) pipedrive.Field { return pipedrive.Field{Value: v, Label: l, Primary: p} }
	tests := []struct {
		name string
		// the side's list as the user typed it, and the model list to write
		pd     []pipedrive.Field
		g      []*people.EmailAddress
		gPhone []*people.PhoneNumber
		phones bool
		model  []Item
		wantPD string
		wantG  []string // value/type
	}{
		{
			name:  "Pipedrive: a case variant typed in Pipedrive stays when Google adds an e-mail",
			pd:    []pipedrive.Field{pf("Max@Firma.de", "work", true), pf("max@firma.de", "home", false)},
			model: []Item{Email("Max@Firma.de", "work", true), Email("max.mueller@privat.de", "home", false)},
			wantPD: `{"emails":[{"value":"Max@Firma.de","label":"work","primary":true},{"value":"max@firma.de","label":"home"},` +
				`{"value":"max.mueller@privat.de","label":"home"}]}`,
		},
		{
			name:   "Pipedrive: the other side's spelling does not replace Pipedrive's",
			pd:     []pipedrive.Field{pf("max@firma.de", "work", true), pf("a@b.de", "home", false)},
			model:  []Item{Email("MAX@FIRMA.DE", "work", true)},
			wantPD: `{"emails":[{"value":"max@firma.de","label":"work","primary":true}]}`,
		},
		{
			name:   "Pipedrive: the primary stays on the variant Pipedrive marks primary",
			pd:     []pipedrive.Field{pf("a@b.de", "work", false), pf("max@firma.de", "home", false), pf("Max@Firma.de", "work", true)},
			model:  []Item{Email("a@b.de", "work", false), Email("max@firma.de", "home", true), Email("c@d.de", "other", false)},
			wantPD: `{"emails":[{"value":"a@b.de","label":"work"},{"value":"max@firma.de","label":"home"},{"value":"Max@Firma.de","label":"work","primary":true},{"value":"c@d.de","label":"other"}]}`,
		},
		{
			name:   "Pipedrive: phone order kept, new numbers appended, one number in two formats kept twice",
			phones: true,
			pd: []pipedrive.Field{pf("0171 2345678", "mobile", true), pf("+49 (0)30 1234567", "work", false),
				pf("+49 171 2345678", "other", false)},
			model: []Item{mapper.Phone("030 9999999", "home", false), mapper.Phone("+49301234567", "work", false),
				mapper.Phone("+491712345678", "mobile", true)},
			wantPD: `{"phones":[{"value":"0171 2345678","label":"mobile","primary":true},{"value":"+49 (0)30 1234567","label":"work"},` +
				`{"value":"+49 171 2345678","label":"other"},{"value":"030 9999999","label":"home"}]}`,
		},
		{
			name: "Google: a case variant typed in Google stays when Pipedrive adds an e-mail",
			g: []*people.EmailAddress{{Value: "Max@Firma.de", Type: "work", Metadata: primary(true)},
				{Value: "max@firma.de", Type: "home"}},
			model: []Item{Email("max@firma.de", "work", true), Email("max.mueller@privat.de", "home", false)},
			wantG: []string{"Max@Firma.de/work*", "max@firma.de/home", "max.mueller@privat.de/home"},
		},
		{
			name:   "Google: phone order kept, one number in two formats stays in place",
			phones: true,
			gPhone: []*people.PhoneNumber{{Value: "0171 2345678", Type: "mobile", Metadata: primary(true)},
				{Value: "+49 (0)30 1234567", Type: "workFax"}, {Value: "+49 171 2345678", Type: "googleVoice"}},
			model: []Item{mapper.Phone("0221 1780", "work", false), mapper.Phone("+49301234567", "workFax", false),
				mapper.Phone("+491712345678", "mobile", true)},
			wantG: []string{"0171 2345678/mobile*", "+49 (0)30 1234567/workFax", "+49 171 2345678/googleVoice", "0221 1780/work"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			model := Normalize(Contact{Given: "Max"})
			if tt.phones {
				model.Phones = normalizeItems(tt.model)
			} else {
				model.Emails = normalizeItems(tt.model)
			}
			if tt.wantPD != "" {
				p := &pipedrive.Person{ID: 1, Name: "Max", HasContactSyncFields: true}
				if tt.phones {
					p.Phones = tt.pd
				} else {
					p.Emails = tt.pd
				}
				w := mapper.PipedriveWriteFor(model, p, "")
				b, _ := json.Marshal(w.Input)
				if string(b) != tt.wantPD {
					t.Errorf("Pipedrive body\n got %s\nwant %s", b, tt.wantPD)
				}
				return
			}
			g := &people.Person{Names: []*people.Name{{GivenName: "Max"}}, EmailAddresses: tt.g, PhoneNumbers: tt.gPhone}
			out, _ := mapper.ApplyToGoogle(model, g)
			var got []string
			show := func(v, typ string, md *people.FieldMetadata) string {
				s := v + "/" + typ
				if md != nil && md.SourcePrimary {
					s += "*"
				}
				return s
			}
			for _, p := range out.PhoneNumbers {
				got = append(got, show(p.Value, p.Type, p.Metadata))
			}
			for _, e := range out.EmailAddresses {
				got = append(got, show(e.Value, e.Type, e.Metadata))
			}
			if d := cmp.Diff(tt.wantG, got); d != "" {
				t.Errorf("Google list (-want +got):\n%s", d)
			}
		})
	}
}

// TestNoNameInGoogle: Pipedrive requires a name, Google does not. A contact
// without one is named in Pipedrive after its organization, else its
// e-mail, else its phone; that name, recorded as derived, reads back as no
// name, so it never becomes the Google contact's name; a name the user
// types in Pipedrive later is the contact's name.
func TestNoNameInGoogle(t *testing.T) {
	stadtwerke := Normalize(Contact{Org: "Stadtwerke Köln", Phones: []Item{mapper.Phone("0221 178-0", "work", true)}})
	tests := []struct {
		name     string
		c        Contact
		wantName string
		wantFrom string
	}{
		{"organization first", stadtwerke, "Stadtwerke Köln", "organization"},
		{"then the primary e-mail", Normalize(Contact{Emails: []Item{Email("a@b.de", "", false), Email("Info@Müller-Söhne.de", "", true)},
			Phones: []Item{mapper.Phone("0171 2345678", "", true)}}), "Info@Müller-Söhne.de", "e-mail"},
		{"then the phone", Normalize(Contact{Phones: []Item{mapper.Phone("+49 (0)30 1234567", "", true)}}), "+49 (0)30 1234567", "phone"},
		{"then an IM handle", Normalize(Contact{IM: []Item{IMHandle("max", "skype", true)}}), "max", "IM handle"},
		{"then the address", Normalize(Contact{Address: PostalAddress{Street: "Ring 1", City: "Köln"}}), "Ring 1, Köln", "address"},
		{"nothing at all", Contact{}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, from := FallbackName(tt.c)
			if name != tt.wantName || from != tt.wantFrom {
				t.Fatalf("FallbackName = %q from %q, want %q from %q", name, from, tt.wantName, tt.wantFrom)
			}
			if name == "" {
				return
			}
			if got := NamedAfter(tt.c, name); got != from {
				t.Errorf("NamedAfter = %q, want %q", got, from)
			}
			in, want := mapper.ToPipedriveInput(tt.c, nil, "")
			if in.Name == nil || *in.Name != tt.wantName {
				t.Fatalf("create name %v", in.Name)
			}
			var org string
			p := pdApply(nil, in, want, map[string]int64{}, &org)
			raw := mapper.FromPipedrive(p, org)
			derived := DerivedName(tt.c, raw)
			if derived != tt.wantName {
				t.Fatalf("DerivedName = %q", derived)
			}
			pd := AlignPipedrive(UnderiveName(raw, derived), tt.c)
			if d := Diff(tt.c, pd); d != 0 {
				t.Fatalf("the derived name reads as a change of %v", d)
			}
			if _, mask := mapper.ApplyToGoogle(pd, gApply(nil, func() *people.Person { s, _ := mapper.ApplyToGoogle(tt.c, nil); return s }(), "")); mask != "" {
				t.Errorf("Google would be written: %q", mask)
			}
			if in, w := mapper.ToPipedriveInput(tt.c, p, org); in != (pipedrive.PersonInput{}) || w.Set {
				t.Errorf("Pipedrive would be written again: %+v", in)
			}
			// The user types a real name in Pipedrive: that is a name.
			p.Name, p.FirstName, p.LastName = "Zentrale Störungsdienst", "Zentrale", "Störungsdienst"
			typed := AlignPipedrive(UnderiveName(mapper.FromPipedrive(p, org), derived), tt.c)
			if d := Diff(tt.c, typed); d != Given|Family {
				t.Errorf("a name typed in Pipedrive changes %v, want given,family", d)
			}
			if DerivedName(typed, typed) != "" {
				t.Errorf("a typed name is recorded as derived")
			}
		})
	}
}

// TestDerivedNameOnPatch: a PATCH of a contact without a name keeps the
// person's derived name while it still is one of the contact's details, and
// renames it when it no longer is; a contact whose name was cleared in
// Google gets a derived name in Pipedrive.
func TestDerivedNameOnPatch(t *testing.T) {
	person := func(name string) *pipedrive.Person {
		f, l := pipedrive.SplitName(name)
		return &pipedrive.Person{ID: 1, Name: name, FirstName: f, LastName: l, HasContactSyncFields: true,
			Phones: []pipedrive.Field{{Value: "0221 178-0", Label: "work", Primary: true}}}
	}
	phone := []Item{mapper.Phone("0221 178-0", "work", true)}
	tests := []struct {
		name     string
		c        Contact
		existing *pipedrive.Person
		want     string
	}{
		{"a phone added: the name stays", Normalize(Contact{Org: "Stadtwerke Köln", Phones: append(slices.Clone(phone), mapper.Phone("0221 178-1", "home", false))}),
			person("Stadtwerke Köln"),
			`{"phones":[{"value":"0221 178-0","label":"work","primary":true},{"value":"0221 178-1","label":"home"}]}`},
		{"an organization added: a name after the phone stays", Normalize(Contact{Org: "Stadtwerke Köln", Phones: phone}), person("0221 178-0"), `{}`},
		{"the organization renamed: so is the person", Normalize(Contact{Org: "RheinEnergie & Co", Phones: phone}), person("Stadtwerke Köln"),
			`{"name":"RheinEnergie \u0026 Co"}`},
		{"the name cleared in Google", Normalize(Contact{Phones: phone}), person("Max Müller"), `{"name":"0221 178-0"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := mapper.PipedriveWriteFor(tt.c, tt.existing, "")
			w.Org = OrgWant{}
			b, _ := json.Marshal(w.Input)
			if string(b) != tt.want {
				t.Errorf("body\n got %s\nwant %s", b, tt.want)
			}
		})
	}
}

// TestUnderiveName: only the recorded derived name, whole, is no name.
func TestUnderiveName(t *testing.T) {
	tests := []struct {
		name    string
		pd      Contact
		derived string
		want    string
	}{
		{"the derived name", Contact{Given: "Stadtwerke", Family: "Köln"}, "Stadtwerke Köln", ""},
		{"nothing recorded", Contact{Given: "Stadtwerke", Family: "Köln"}, "", "Stadtwerke Köln"},
		{"another name", Contact{Given: "Stadtwerke", Family: "Köln-Süd"}, "Stadtwerke Köln", "Stadtwerke Köln-Süd"},
		{"an unknown name is left alone", Contact{Given: "Stadtwerke", Family: "Köln", Unknown: Given | Family}, "Stadtwerke Köln", "Stadtwerke Köln"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UnderiveName(tt.pd, tt.derived).DisplayName(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSecondGoogleAddress: one address syncs; the others are counted for
// the contact's history and stay in Google when the synced one changes or
// is cleared.
func TestSecondGoogleAddress(t *testing.T) {
	g := &people.Person{Names: []*people.Name{{GivenName: "A"}}, Addresses: []*people.Address{
		{StreetAddress: "Hohe Str. 2", City: "Köln", Type: "home"},
		{StreetAddress: "Ring 1", City: "Köln", Type: "work", Metadata: primary(true)},
		{City: "Profile", Metadata: &people.FieldMetadata{Source: &people.Source{Type: "PROFILE"}}},
	}}
	if n := UnsyncedGoogleAddresses(g); n != 1 {
		t.Errorf("UnsyncedGoogleAddresses = %d, want 1", n)
	}
	if n := UnsyncedGoogleAddresses(&people.Person{Addresses: g.Addresses[:1]}); n != 0 {
		t.Errorf("one address: %d unsynced", n)
	}
	c := mapper.FromGoogle(g)
	if c.Address.Street != "Ring 1" {
		t.Fatalf("synced address %+v, want the primary", c.Address)
	}
	for _, a := range []PostalAddress{{Street: "Neumarkt 3", City: "Köln"}, {}} {
		e := c.Clone()
		e.Address = a
		out, mask := mapper.ApplyToGoogle(e, g)
		if mask != "addresses" {
			t.Fatalf("mask %q", mask)
		}
		if len(out.Addresses) == 0 || out.Addresses[0].StreetAddress != "Hohe Str. 2" || out.Addresses[0].Type != "home" {
			t.Errorf("the unsynced address did not stay: %+v", out.Addresses)
		}
	}
}
