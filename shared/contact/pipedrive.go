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
//     existing person's; list items that did not change keep the value and
//     label exactly as Pipedrive has them. existingOrgName is the existing
//     person's organization name.
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
// Pipedrive requires a name: a contact without one is sent with its first
// e-mail, phone or organization as the name.
func (m Mapper) PipedriveWriteFor(c Contact, existing *pipedrive.Person, existingOrgName string) PipedriveWrite {
	var w PipedriveWrite
	in := &w.Input
	var ex Contact
	send := AllFields &^ c.Unknown
	if existing != nil {
		ex = m.FromPipedrive(existing, existingOrgName)
		send &= Diff(c, ex) | ex.Unknown
		// A field Pipedrive does not show for this company is not written.
		send &^= ex.Unknown & (IM | Address | JobTitle)
	} else {
		send &= Diff(c, Contact{}) // a create writes only what has a value
	}
	// A create always needs a name (PMG: "Only the name field is required").
	if send&(Given|Family) != 0 || existing == nil {
		full := c.DisplayName()
		if full == "" {
			full = fallbackName(c)
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
		in.Phones = toPDFields(c.Phones, exP, func(f pipedrive.Field) Item { return m.Phone(f.Value, f.Label, f.Primary) }, identity)
	}
	if send&Emails != 0 {
		in.Emails = toPDFields(c.Emails, exE, func(f pipedrive.Field) Item { return Email(f.Value, f.Label, f.Primary) }, identity)
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

func fallbackName(c Contact) string {
	for _, l := range [][]Item{c.Emails, c.Phones} {
		if len(l) > 0 {
			return l[0].Value
		}
	}
	return c.Org
}

// toPDFields writes a list, keeping an existing item verbatim when its
// normalized content is the model item's.
func toPDFields(items []Item, existing []pipedrive.Field, norm func(pipedrive.Field) Item, label func(string) string) *[]pipedrive.Field {
	byKey := make(map[string]pipedrive.Field, len(existing))
	for _, f := range existing {
		k := norm(f).Key
		if _, dup := byKey[k]; !dup && k != "" {
			byKey[k] = f
		}
	}
	out := make([]pipedrive.Field, 0, len(items))
	for _, it := range items {
		f := pipedrive.Field{Value: it.Value, Label: label(it.Label), Primary: it.Primary}
		if old, ok := byKey[it.Key]; ok {
			if o := norm(old); o.Label == it.Label {
				f.Label = old.Label
			}
			f.Value = old.Value
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
