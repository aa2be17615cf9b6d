package contact

import (
	"strings"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

// FromPipedrive maps a Pipedrive person to a Contact. orgName is the name
// of the person's organization, resolved by the caller from org_id ("" when
// the person has none). A field Pipedrive did not show is marked Unknown:
// the contact-sync fields (IM, address, job title) when the company has
// contact sync off, and the organization when org_id is set but its name
// could not be resolved.
func (m Mapper) FromPipedrive(p *pipedrive.Person, orgName string) Contact {
	if p == nil {
		return Contact{Unknown: AllFields}
	}
	var c Contact
	if strings.TrimSpace(p.FirstName) != "" || strings.TrimSpace(p.LastName) != "" {
		c.Given, c.Family = p.FirstName, p.LastName
	} else {
		c.Given, c.Family = splitName(p.Name)
	}
	c.Org = orgName
	if p.OrgID != nil && strings.TrimSpace(orgName) == "" {
		c.Unknown |= Org
	}
	if p.OrgID == nil {
		c.Org = ""
	}
	// The contact-sync fields come together; any one present proves them.
	hasCS := p.HasContactSyncFields || p.JobTitle != nil || p.PostalAddress != nil || len(p.IM) > 0
	if !hasCS {
		c.Unknown |= IM | Address | JobTitle
	}
	if p.JobTitle != nil {
		c.JobTitle = *p.JobTitle
	}
	for _, f := range p.Phones {
		c.Phones = append(c.Phones, m.Phone(f.Value, f.Label, f.Primary))
	}
	for _, f := range p.Emails {
		c.Emails = append(c.Emails, Email(f.Value, f.Label, f.Primary))
	}
	for _, f := range p.IM {
		c.IM = append(c.IM, IMHandle(f.Value, f.Label, f.Primary))
	}
	if a := p.PostalAddress; a != nil {
		c.Address = PostalAddress{
			Street:     joinStreet(a.StreetNumber, a.Route, a.Value),
			Extended:   a.Subpremise,
			City:       a.Locality,
			Region:     a.AdminAreaLevel1,
			PostalCode: a.PostalCode,
			Country:    a.Country,
		}
		c.Address.Unstructured = a.Value
		if strings.TrimSpace(a.Value) == "" {
			// components only Pipedrive has are still an address
			c.Address.Unstructured = strings.TrimSpace(a.Sublocality + " " + a.AdminAreaLevel2)
		}
	}
	c = Normalize(c)
	c = blankUnknown(c)
	return c
}

// blankUnknown zeroes unknown fields so they cannot leak as values.
func blankUnknown(c Contact) Contact {
	u := c.Unknown
	if u&Org != 0 {
		c.Org = ""
	}
	if u&JobTitle != 0 {
		c.JobTitle = ""
	}
	if u&IM != 0 {
		c.IM = nil
	}
	if u&Address != 0 {
		c.Address = PostalAddress{}
	}
	return c
}

// joinStreet puts the street number and the route in the order the typed
// address shows them ("Hauptstr. 5" vs "5 Main St"), number first when the
// typed address does not tell.
func joinStreet(number, route, typed string) string {
	number, route = strings.TrimSpace(number), strings.TrimSpace(route)
	switch {
	case number == "":
		return route
	case route == "":
		return number
	}
	rn, nr := route+" "+number, number+" "+route
	if strings.Contains(collapse(typed), rn) && !strings.Contains(collapse(typed), nr) {
		return rn
	}
	return nr
}

// OrgWant is what the caller must do about the person's organization:
// nothing (Set false), clear org_id (Set, Name ""), or find the organization
// by exact case-insensitive name, creating it if missing, and set org_id.
type OrgWant struct {
	Set  bool
	Name string
}

// PipedriveWrite is one v2 create or PATCH of a Pipedrive person: the body,
// the organization the caller must resolve into org_id, and the fields the
// body leaves as Pipedrive has them although the contact differs.
type PipedriveWrite struct {
	Input pipedrive.PersonInput
	Org   OrgWant
	// Kept are fields the contact changes but the write does not, because
	// Pipedrive documents no way to write the change: today only clearing
	// the postal address. The caller says so in the contact's history and
	// keeps Pipedrive's value in the base, so it is not copied back.
	Kept Fields
}

// ToPipedriveInput is PipedriveWriteFor without Kept: the body and the
// organization to resolve.
func (m Mapper) ToPipedriveInput(c Contact, existing *pipedrive.Person, existingOrgName string) (pipedrive.PersonInput, OrgWant) {
	w := m.PipedriveWriteFor(c, existing, existingOrgName)
	return w.Input, w.Org
}

// PipedriveWriteFor builds the v2 create (existing nil) or PATCH of c. It
// speaks only what Pipedrive documents (facts-pipedrive.md, Corrections):
//
//   - A create sends only fields that have a value: no empty list, no
//     empty job title, no address without a value, no org_id.
//   - A PATCH sends only the fields whose content differs from the
//     existing person's, compared in Pipedrive's labels; in a list written,
//     Pipedrive's items that stay keep their place and value as Pipedrive
//     has them (case variants and numbers typed twice included) and new
//     ones are appended. existingOrgName is the existing person's
//     organization name.
//   - Phone and e-mail labels are only the documented work, home, mobile
//     and other: other Google types go as the nearest of them
//     (PipedrivePhoneLabel, PipedriveEmailLabel; "Labels" in the
//     Corrections: arbitrary labels are undocumented).
//   - Fields this company does not show (contact sync off: IM, address,
//     job title; in c.Unknown for a create, absent from the existing
//     person for a PATCH) are never sent: what writing them there does is
//     undocumented.
//   - The name is sent as name alone, never with first_name and last_name:
//     name is in the v2 request schema, the PHP SDK 17.5.1 request models
//     and the migration guide ("Only the name field is required"), while
//     first_name/last_name appear only in the guide's prose and sending all
//     three is documented nowhere. Pipedrive splits it (pipedrive.SplitName);
//     names compare whole (AlignPipedriveName), so the split is no change.
//   - The address is sent only as an object with its value (PMG: "Only
//     value subfield is required"). Clearing it has no documented shape, so
//     a cleared address is left in Pipedrive and reported in Kept.
//
// Organization resolution is the caller's (Org), and so is OwnerID
// (creates are owned by the connected user).
//
// Pipedrive requires a name: a contact without one is named after its
// organization, e-mail or phone (FallbackName). The caller records that
// name as derived (DerivedName) and reads it back as no name
// (UnderiveName), so it never reaches Google. A PATCH of such a contact
// renames the person only when the name no longer is one of its details.
func (m Mapper) PipedriveWriteFor(c Contact, existing *pipedrive.Person, existingOrgName string) PipedriveWrite {
	var w PipedriveWrite
	in := &w.Input
	var ex Contact
	send := AllFields &^ c.Unknown
	if existing != nil {
		ex = m.FromPipedrive(existing, existingOrgName)
		// compared in Pipedrive's labels: a Google type Pipedrive holds as
		// its nearest label is no change
		send &= Diff(pipedriveLabels(c), pipedriveLabels(ex)) | ex.Unknown
		// A field Pipedrive does not show for this company is not written.
		send &^= ex.Unknown & (IM | Address | JobTitle)
	} else {
		send &= Diff(c, Contact{}) // a create writes only what has a value
	}
	// A create always needs a name (PMG: "Only the name field is required").
	if send&(Given|Family) != 0 || existing == nil {
		full := c.DisplayName()
		switch {
		case full != "":
		case existing != nil && NamedAfter(c, ex.DisplayName()) != "":
			full = ex.DisplayName() // still named after one of its details
		default:
			full, _ = FallbackName(c)
		}
		// Compared whole: Pipedrive's own split of the same name is no change.
		if full != "" && (existing == nil || full != ex.DisplayName()) {
			in.Name = &full
		}
	}
	if send&Org != 0 {
		w.Org = OrgWant{Set: true, Name: c.Org}
	}
	if send&JobTitle != 0 {
		// On a PATCH "" clears it: a string, as the schema types job_title.
		t := c.JobTitle
		in.JobTitle = &t
	}
	var exP, exE, exI []pipedrive.Field
	if existing != nil {
		exP, exE, exI = existing.Phones, existing.Emails, existing.IM
	}
	// On a PATCH an empty list clears the field: an array, as the schema
	// types it; a create never sends one (Diff against the empty contact).
	if send&Phones != 0 {
		in.Phones = toPDFields(c.Phones, exP, func(f pipedrive.Field) Item { return m.Phone(f.Value, f.Label, f.Primary) }, PipedrivePhoneLabel)
	}
	if send&Emails != 0 {
		in.Emails = toPDFields(c.Emails, exE, func(f pipedrive.Field) Item { return Email(f.Value, f.Label, f.Primary) }, PipedriveEmailLabel)
	}
	if send&IM != 0 {
		in.IM = toPDFields(c.IM, exI, func(f pipedrive.Field) Item { return IMHandle(f.Value, f.Label, f.Primary) }, identity)
	}
	if send&Address != 0 {
		var old *pipedrive.Address
		if existing != nil {
			old = existing.PostalAddress
		}
		if a := toPDAddress(c.Address, old); a != nil {
			in.PostalAddress = a
		} else {
			w.Kept |= Address
		}
	}
	return w
}

// AlignPipedrive returns pd, a contact read from a Pipedrive person, as it
// compares against ref (the base, or the Google contact for twins without
// one): AlignPipedriveName and AlignPipedriveLabels.
func AlignPipedrive(pd, ref Contact) Contact {
	return AlignPipedriveLabels(AlignPipedriveName(pd, ref), ref)
}

// AlignPipedriveName returns pd, a contact read from a Pipedrive person,
// with ref's given and family name when Pipedrive holds ref's name: we
// write a name whole and Pipedrive splits it its own way
// (pipedrive.SplitName), so the parts alone say nothing; the whole name
// does. ref is the base, or the Google contact for twins without one.
// When the name did change and Pipedrive's parts are its own split, ref's
// given or family name is kept where the new name still starts or ends
// with it, so a family name changed in Pipedrive does not move a second
// given name into Google's family name.
func AlignPipedriveName(pd, ref Contact) Contact {
	if pd.Unknown&(Given|Family) != 0 || ref.Unknown&(Given|Family) != 0 {
		return pd
	}
	full := pd.DisplayName()
	if full == ref.DisplayName() {
		pd.Given, pd.Family = ref.Given, ref.Family
		return pd
	}
	if f, l := pipedrive.SplitName(full); f != pd.Given || l != pd.Family {
		return pd // parts typed in Pipedrive: they are the user's
	}
	switch {
	case ref.Given != "" && strings.HasPrefix(full, ref.Given+" "):
		pd.Given, pd.Family = ref.Given, strings.TrimPrefix(full, ref.Given+" ")
	case ref.Family != "" && strings.HasSuffix(full, " "+ref.Family):
		pd.Given, pd.Family = strings.TrimSuffix(full, " "+ref.Family), ref.Family
	}
	return pd
}

func identity(s string) string { return s }

// pipedriveLabels is c with its phone and e-mail labels as Pipedrive holds
// them (PipedrivePhoneLabel, PipedriveEmailLabel).
func pipedriveLabels(c Contact) Contact {
	c = c.Clone()
	for i := range c.Phones {
		c.Phones[i].Label = PipedrivePhoneLabel(c.Phones[i].Label)
	}
	for i := range c.Emails {
		c.Emails[i].Label = PipedriveEmailLabel(c.Emails[i].Label)
	}
	return c
}

// AlignPipedriveLabels returns pd, a contact read from a Pipedrive person,
// with ref's label on each phone and e-mail whose Pipedrive label is the
// one ref's label maps to: Pipedrive holds a Google "workFax" as "work"
// (PipedrivePhoneLabel), and that is no change. ref is the base, or the
// Google contact for twins without one; the base keeps the Google type, so
// a contact created again in Google from Pipedrive gets it back. A label
// the user changed in Pipedrive maps elsewhere and stays the change it is.
func AlignPipedriveLabels(pd, ref Contact) Contact {
	align := func(items, refs []Item, label func(string) string) []Item {
		if len(items) == 0 || len(refs) == 0 {
			return items
		}
		byKey := make(map[string]string, len(refs))
		for _, it := range refs {
			byKey[it.Key] = it.Label
		}
		out := make([]Item, len(items))
		for i, it := range items {
			if l, ok := byKey[it.Key]; ok && label(l) == label(it.Label) {
				it.Label = l
			}
			out[i] = it
		}
		return out
	}
	pd.Phones = align(pd.Phones, ref.Phones, PipedrivePhoneLabel)
	pd.Emails = align(pd.Emails, ref.Emails, PipedriveEmailLabel)
	return pd
}

// FallbackName is the name Pipedrive, which requires one, gets for a
// contact without one, and what it is taken from: the organization, else
// the primary e-mail, else the primary phone, else the primary IM handle,
// else the address ("" when the contact has none of them).
func FallbackName(c Contact) (name, from string) {
	for _, f := range fallbacks(c) {
		if f.name != "" {
			return f.name, f.from
		}
	}
	return "", ""
}

type fallback struct{ name, from string }

func fallbacks(c Contact) []fallback {
	prim := func(items []Item) string {
		for _, it := range items {
			if it.Primary {
				return collapse(it.Value)
			}
		}
		if len(items) > 0 {
			return collapse(items[0].Value)
		}
		return ""
	}
	return []fallback{
		{collapse(c.Org), "organization"},
		{prim(c.Emails), "e-mail"},
		{prim(c.Phones), "phone"},
		{prim(c.IM), "IM handle"},
		{collapse(FormatAddress(c.Address)), "address"},
	}
}

// NamedAfter says which of c's details a fallback name could be taken
// from name is ("organization", "e-mail", "phone", "IM handle", "address"),
// "" when none: a derived name is not renamed only because another detail
// now comes first, and the history can say what the name was taken from.
func NamedAfter(c Contact, name string) string {
	if name == "" {
		return ""
	}
	for _, f := range fallbacks(c) {
		if f.name == name {
			return f.from
		}
	}
	for i, l := range [][]Item{c.Emails, c.Phones, c.IM} {
		for _, it := range l {
			if collapse(it.Value) == name {
				return []string{"e-mail", "phone", "IM handle"}[i]
			}
		}
	}
	return ""
}

// DerivedName is the name to record on the link as derived after a sync
// whose new base is base and after which the Pipedrive person reads as pd:
// Pipedrive's whole name when the contact has no name (the person holds a
// name only because Pipedrive requires one, see PipedriveWriteFor), else "".
func DerivedName(base, pd Contact) string {
	if base.DisplayName() != "" || base.Unknown&(Given|Family) != 0 || pd.Unknown&(Given|Family) != 0 {
		return ""
	}
	return pd.DisplayName()
}

// UnderiveName returns pd, a contact read from a Pipedrive person, without
// a name when its whole name is the derived one recorded on the link: that
// name was chosen for Pipedrive, not typed by the user, and must not reach
// Google. Any other name, including one the user types later, is the
// contact's name.
func UnderiveName(pd Contact, derived string) Contact {
	if derived != "" && pd.Unknown&(Given|Family) == 0 && pd.DisplayName() == derived {
		pd.Given, pd.Family = "", ""
	}
	return pd
}

// toPDFields writes a list (see arrange): existing items whose key stays
// keep their place and their value as Pipedrive has it, every spelling of
// a kept key included; new items are appended. Labels are written as
// label maps them (to the ones Pipedrive documents); a second spelling of
// a kept key keeps its own label.
func toPDFields(items []Item, existing []pipedrive.Field, norm func(pipedrive.Field) Item, label func(string) string) *[]pipedrive.Field {
	keys := make([]string, len(existing))
	prim := make([]bool, len(existing))
	for i, f := range existing {
		keys[i], prim[i] = norm(f).Key, f.Primary
	}
	out := make([]pipedrive.Field, 0, len(items))
	for _, s := range arrange(items, keys, prim) {
		f := pipedrive.Field{Value: s.item.Value, Label: label(s.item.Label), Primary: s.primary}
		if s.old >= 0 {
			old := existing[s.old]
			f.Value = old.Value
			if s.own {
				f.Label = label(old.Label)
			}
		}
		out = append(out, f)
	}
	return &out
}

// toPDAddress is the v2 postal_address object for a, nil when a has no
// value to send (an empty address: clearing is undocumented).
func toPDAddress(a PostalAddress, old *pipedrive.Address) *pipedrive.Address {
	if a.IsZero() {
		return nil
	}
	out := &pipedrive.Address{
		Subpremise:      a.Extended,
		Route:           a.Street,
		Locality:        a.City,
		AdminAreaLevel1: a.Region,
		PostalCode:      a.PostalCode,
		Country:         a.Country,
	}
	if a.Unstructured != "" {
		out.Value = a.Unstructured
	} else {
		out.Value = FormatAddress(a)
	}
	if strings.TrimSpace(out.Value) == "" {
		return nil // value is the one required subfield (PMG)
	}
	// Components Google has no place for stay as they are.
	if old != nil {
		out.Sublocality, out.AdminAreaLevel2 = old.Sublocality, old.AdminAreaLevel2
	}
	return out
}

// FormatAddress renders an address on one line: street, extended, postal
// code and city, region, country.
func FormatAddress(a PostalAddress) string {
	if a.Unstructured != "" {
		return a.Unstructured
	}
	var parts []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	add(a.Street)
	add(a.Extended)
	add(strings.TrimSpace(a.PostalCode + " " + a.City))
	add(a.Region)
	add(a.Country)
	return strings.Join(parts, ", ")
}
