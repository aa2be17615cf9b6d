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

// ToPipedriveInput builds the v2 create/PATCH body for c. Only fields we
// own and know are sent; with an existing person (nil for a create) only
// the fields whose normalized content differs are sent, and list items
// that did not change keep the value and label exactly as Pipedrive has
// them. existingOrgName is the existing person's organization name.
//
// Organization resolution is the caller's: it gets OrgWant and sets
// in.SetOrg/in.OrgID. OwnerID is the caller's too (creates are owned by
// the connected user).
//
// Pipedrive requires a name: a contact without one is sent with its first
// e-mail, phone or organization as the name, which then syncs back as the
// given name.
func (m Mapper) ToPipedriveInput(c Contact, existing *pipedrive.Person, existingOrgName string) (pipedrive.PersonInput, OrgWant) {
	var in pipedrive.PersonInput
	var want OrgWant
	var ex Contact
	send := AllFields &^ c.Unknown
	if existing != nil {
		ex = m.FromPipedrive(existing, existingOrgName)
		send &= Diff(c, ex) | ex.Unknown
		// A field Pipedrive does not show for this company is not written.
		send &^= ex.Unknown & (IM | Address | JobTitle)
	}
	if send&(Given|Family) != 0 {
		given, family := c.Given, c.Family
		if given == "" && family == "" {
			given = fallbackName(c)
		}
		if given != "" || family != "" {
			full := strings.TrimSpace(given + " " + family)
			in.Name, in.FirstName, in.LastName = &full, &given, &family
		}
	}
	if send&Org != 0 {
		want = OrgWant{Set: true, Name: c.Org}
	}
	if send&JobTitle != 0 {
		t := c.JobTitle
		in.JobTitle = &t
	}
	var exP, exE, exI []pipedrive.Field
	if existing != nil {
		exP, exE, exI = existing.Phones, existing.Emails, existing.IM
	}
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
		in.PostalAddress = toPDAddress(c.Address, old)
	}
	return in, want
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

func toPDAddress(a PostalAddress, old *pipedrive.Address) *pipedrive.Address {
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
	// Components Google has no place for stay as they are, unless the
	// address is being cleared.
	if old != nil && !a.IsZero() {
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
