package contact

import (
	"slices"
	"strings"

	people "google.golang.org/api/people/v1"
)

// GooglePersonFields is the personFields value a reader must request for
// FromGoogle and ApplyToGoogle to see every synced field (plus the group
// memberships and the source metadata that carry scope, etag and time).
const GooglePersonFields = "names,organizations,phoneNumbers,emailAddresses,imClients,addresses,memberships,metadata"

// Google updatePersonFields names of the fields we own.
const (
	gNames  = "names"
	gOrgs   = "organizations"
	gPhones = "phoneNumbers"
	gEmails = "emailAddresses"
	gIM     = "imClients"
	gAddrs  = "addresses"
)

// fromContactSource reports whether a field item is contact data (not
// data from a linked profile, which updateContact ignores and which must
// never be copied into the CRM as if it were the contact's).
func fromContactSource(md *people.FieldMetadata) bool {
	return md == nil || md.Source == nil || md.Source.Type == "" || md.Source.Type == "CONTACT"
}

func isPrimary(md *people.FieldMetadata) bool {
	return md != nil && (md.Primary || md.SourcePrimary)
}

// FromGoogle maps a Google person to a Contact. Every synced field is
// known on the Google side. Items from non-contact sources are ignored.
// The synced name and organization are the first contact-source ones; the
// synced address is the primary one (else the first).
func (m Mapper) FromGoogle(p *people.Person) Contact {
	if p == nil {
		return Contact{Unknown: AllFields}
	}
	var c Contact
	if n := ourName(p); n != nil {
		c.Given, c.Family = n.GivenName, n.FamilyName
		if strings.TrimSpace(c.Given) == "" && strings.TrimSpace(c.Family) == "" {
			full := n.UnstructuredName
			if strings.TrimSpace(full) == "" {
				full = n.DisplayName
			}
			c.Given, c.Family = splitName(full)
		}
	}
	if i := ourOrg(p); i >= 0 {
		o := p.Organizations[i]
		c.Org, c.JobTitle = o.Name, o.Title
	}
	for _, ph := range p.PhoneNumbers {
		if ph != nil && fromContactSource(ph.Metadata) {
			c.Phones = append(c.Phones, m.Phone(ph.Value, ph.Type, isPrimary(ph.Metadata)))
		}
	}
	for _, e := range p.EmailAddresses {
		if e != nil && fromContactSource(e.Metadata) {
			c.Emails = append(c.Emails, Email(e.Value, e.Type, isPrimary(e.Metadata)))
		}
	}
	for _, im := range p.ImClients {
		if im != nil && fromContactSource(im.Metadata) {
			c.IM = append(c.IM, IMHandle(im.Username, im.Protocol, isPrimary(im.Metadata)))
		}
	}
	if i := ourAddress(p); i >= 0 {
		a := p.Addresses[i]
		c.Address = PostalAddress{
			Street: a.StreetAddress, Extended: a.ExtendedAddress, City: a.City,
			Region: a.Region, PostalCode: a.PostalCode, Country: a.Country,
			Unstructured: a.FormattedValue,
		}
		if strings.TrimSpace(a.Country) == "" {
			c.Address.Country = a.CountryCode
		}
		if strings.TrimSpace(c.Address.Unstructured) == "" {
			c.Address.Unstructured = a.PoBox
		}
	}
	return Normalize(c)
}

func ourName(p *people.Person) *people.Name {
	for _, n := range p.Names {
		if n != nil && fromContactSource(n.Metadata) {
			return n
		}
	}
	return nil
}

func ourOrg(p *people.Person) int {
	for i, o := range p.Organizations {
		if o != nil && fromContactSource(o.Metadata) {
			return i
		}
	}
	return -1
}

// UnsyncedGoogleAddresses counts the contact's addresses that are not
// synced: one address syncs by design (the primary one, else the first);
// the others stay in Google as they are (ApplyToGoogle never drops them)
// and the contact's history says so.
func UnsyncedGoogleAddresses(p *people.Person) int {
	if p == nil || ourAddress(p) < 0 {
		return 0
	}
	n := -1 // ours
	for _, a := range p.Addresses {
		if a != nil && fromContactSource(a.Metadata) {
			n++
		}
	}
	return n
}

func ourAddress(p *people.Person) int {
	first := -1
	for i, a := range p.Addresses {
		if a == nil || !fromContactSource(a.Metadata) {
			continue
		}
		if isPrimary(a.Metadata) {
			return i
		}
		if first < 0 {
			first = i
		}
	}
	return first
}

// ApplyToGoogle writes c onto a Google person and returns the person to
// send and the updatePersonFields mask ("" means nothing to write). With
// existing nil it builds a new person for a create (the caller adds the
// group membership). Otherwise the result is a copy of existing (etag,
// metadata, resource name and every field we do not sync kept) in which
// only the synced fields whose normalized content differs are rewritten,
// and in them, items that did not change are kept as they are and where
// they are (an e-mail's displayName and spelling, a phone's formatting and
// type, a second spelling of the same e-mail or number, the addresses we
// do not sync, organization department). Unknown fields of c are not
// touched. existing is not modified.
func (m Mapper) ApplyToGoogle(c Contact, existing *people.Person) (*people.Person, string) {
	var out people.Person
	var ex Contact
	write := AllFields &^ c.Unknown
	if existing != nil {
		out = *existing
		ex = m.FromGoogle(existing)
		write &= Diff(c, ex)
	} else {
		// a create writes only what is there
		var none Contact
		write &= Diff(c, none)
	}
	var mask []string
	if write&(Given|Family) != 0 {
		out.Names = m.googleNames(c, out.Names)
		mask = append(mask, gNames)
	}
	if write&(Org|JobTitle) != 0 {
		out.Organizations = googleOrgs(c, out.Organizations)
		mask = append(mask, gOrgs)
	}
	if write&Phones != 0 {
		out.PhoneNumbers = googleItems(c.Phones, out.PhoneNumbers,
			func(p *people.PhoneNumber) (Item, *people.FieldMetadata) {
				return m.Phone(p.Value, p.Type, false), p.Metadata
			},
			func(it Item, old *people.PhoneNumber, own bool) *people.PhoneNumber {
				n := &people.PhoneNumber{Value: it.Value, Type: it.Label}
				if old != nil {
					cp := *old
					cp.CanonicalForm, cp.FormattedType = "", ""
					if !own && m.Phone(old.Value, old.Type, false).Label != it.Label {
						cp.Type = it.Label
					}
					n = &cp
				}
				n.Metadata = primaryMD(n.Metadata, it.Primary)
				return n
			})
		mask = append(mask, gPhones)
	}
	if write&Emails != 0 {
		out.EmailAddresses = googleItems(c.Emails, out.EmailAddresses,
			func(e *people.EmailAddress) (Item, *people.FieldMetadata) {
				return Email(e.Value, e.Type, false), e.Metadata
			},
			func(it Item, old *people.EmailAddress, own bool) *people.EmailAddress {
				n := &people.EmailAddress{Value: it.Value, Type: it.Label}
				if old != nil {
					cp := *old
					cp.FormattedType = ""
					if !own && CanonEmailLabel(old.Type) != it.Label {
						cp.Type = it.Label
					}
					n = &cp
				}
				n.Metadata = primaryMD(n.Metadata, it.Primary)
				return n
			})
		mask = append(mask, gEmails)
	}
	if write&IM != 0 {
		out.ImClients = googleItems(c.IM, out.ImClients,
			func(im *people.ImClient) (Item, *people.FieldMetadata) {
				return IMHandle(im.Username, im.Protocol, false), im.Metadata
			},
			func(it Item, old *people.ImClient, _ bool) *people.ImClient {
				// the key holds the protocol, so a kept item has ours
				n := &people.ImClient{Username: it.Value, Protocol: googleIMProtocol(it.Label)}
				if old != nil {
					cp := *old
					cp.FormattedProtocol, cp.FormattedType = "", ""
					n = &cp
				}
				n.Metadata = primaryMD(n.Metadata, it.Primary)
				return n
			})
		mask = append(mask, gIM)
	}
	if write&Address != 0 {
		out.Addresses = googleAddresses(c.Address, out.Addresses)
		mask = append(mask, gAddrs)
	}
	slices.Sort(mask)
	return &out, strings.Join(mask, ",")
}

func primaryMD(md *people.FieldMetadata, primary bool) *people.FieldMetadata {
	var n people.FieldMetadata
	if md != nil {
		n = *md
	}
	// primary is output-only; sourcePrimary is the writable one. Both are
	// set so the returned person reads back as written.
	n.Primary, n.SourcePrimary = primary, primary
	return &n
}

func (m Mapper) googleNames(c Contact, names []*people.Name) []*people.Name {
	out := make([]*people.Name, 0, len(names)+1)
	done := false
	for _, n := range names {
		if n == nil || !fromContactSource(n.Metadata) {
			continue // profile names are not ours to write
		}
		if done {
			continue // names is a singleton for contacts
		}
		cp := *n
		cp.GivenName, cp.FamilyName = c.Given, c.Family
		// derived or competing forms would contradict the new parts
		cp.UnstructuredName, cp.DisplayName, cp.DisplayNameLastFirst = "", "", ""
		out = append(out, &cp)
		done = true
	}
	if !done && (c.Given != "" || c.Family != "") {
		out = append(out, &people.Name{GivenName: c.Given, FamilyName: c.Family})
	}
	return out
}

func googleOrgs(c Contact, orgs []*people.Organization) []*people.Organization {
	var out []*people.Organization
	done := false
	for _, o := range orgs {
		if o == nil || !fromContactSource(o.Metadata) {
			continue
		}
		if done {
			out = append(out, o)
			continue
		}
		done = true
		cp := *o
		cp.Name = c.Org
		if c.Unknown&JobTitle == 0 {
			cp.Title = c.JobTitle
		}
		cp.FormattedType = ""
		rest := cp
		rest.Name, rest.Title, rest.Metadata, rest.Type, rest.Current = "", "", nil, "", false
		if cp.Name == "" && cp.Title == "" && isZeroOrg(rest) {
			continue // nothing left of it
		}
		out = append(out, &cp)
	}
	if !done && (c.Org != "" || (c.JobTitle != "" && c.Unknown&JobTitle == 0)) {
		o := &people.Organization{Name: c.Org, Type: "work"}
		if c.Unknown&JobTitle == 0 {
			o.Title = c.JobTitle
		}
		out = append(out, o)
	}
	return out
}

func isZeroOrg(o people.Organization) bool {
	return o.CostCenter == "" && o.Department == "" && o.Domain == "" && o.EndDate == nil &&
		o.JobDescription == "" && o.Location == "" && o.PhoneticName == "" && o.StartDate == nil &&
		o.Symbol == "" && o.FullTimeEquivalentMillipercent == 0
}

// googleItems rewrites a Google list from the model items (see arrange):
// existing items whose key stays are kept where they are (rebuilt by mk
// with old set), every spelling of a kept key included; new items are
// appended; removed ones dropped; non-contact items are left out. mk gets
// own set for a second spelling of a kept key: it keeps its own type.
func googleItems[T any](items []Item, existing []*T, norm func(*T) (Item, *people.FieldMetadata), mk func(it Item, old *T, own bool) *T) []*T {
	keys := make([]string, len(existing))
	prim := make([]bool, len(existing))
	for i, e := range existing {
		if e == nil {
			continue
		}
		it, md := norm(e)
		if !fromContactSource(md) {
			continue
		}
		keys[i], prim[i] = it.Key, isPrimary(md)
	}
	slots := arrange(items, keys, prim)
	out := make([]*T, 0, len(slots))
	for _, s := range slots {
		w := s.item
		w.Primary = s.primary
		var old *T
		if s.old >= 0 {
			old = existing[s.old]
		}
		out = append(out, mk(w, old, s.own))
	}
	return out
}

func googleAddresses(a PostalAddress, addrs []*people.Address) []*people.Address {
	ours := -1
	tmp := people.Person{Addresses: addrs}
	ours = ourAddress(&tmp)
	out := make([]*people.Address, 0, len(addrs)+1)
	for i, x := range addrs {
		if x == nil || !fromContactSource(x.Metadata) {
			continue
		}
		if i != ours {
			out = append(out, x)
			continue
		}
		if a.IsZero() {
			continue
		}
		cp := *x
		setGoogleAddress(&cp, a)
		out = append(out, &cp)
	}
	if ours < 0 && !a.IsZero() {
		n := &people.Address{Type: "work"}
		setGoogleAddress(n, a)
		n.Metadata = primaryMD(nil, len(out) == 0)
		out = append(out, n)
	}
	return out
}

func setGoogleAddress(g *people.Address, a PostalAddress) {
	if a.Country != g.Country || (g.Country == "" && a.Country != g.CountryCode) {
		g.CountryCode = "" // would contradict the new country
	}
	g.StreetAddress, g.ExtendedAddress, g.City = a.Street, a.Extended, a.City
	g.Region, g.PostalCode, g.Country = a.Region, a.PostalCode, a.Country
	g.FormattedType = ""
	if a.Unstructured != "" {
		g.FormattedValue = a.Unstructured
	} else {
		g.FormattedValue = "" // Google builds it from the parts
	}
}
