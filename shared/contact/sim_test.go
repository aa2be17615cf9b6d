package contact

import (
	"slices"
	"strings"

	"github.com/contactsync/contactsync/shared/pipedrive"
	people "google.golang.org/api/people/v1"
)

// The two simulated servers below apply a write the way the services do
// (facts-pipedrive.md §2 write rules; facts-google-people.md §3, §5), so
// round trips are tested against the services' own normalizations.

// pdApply applies a v2 create (p nil) or PATCH body to a person.
func pdApply(p *pipedrive.Person, in pipedrive.PersonInput, want OrgWant, orgs map[string]int64, orgName *string) *pipedrive.Person {
	var out pipedrive.Person
	if p != nil {
		out = *p
	}
	out.HasContactSyncFields = true
	switch {
	case in.FirstName != nil || in.LastName != nil:
		if in.FirstName != nil {
			out.FirstName = *in.FirstName
		}
		if in.LastName != nil {
			out.LastName = *in.LastName
		}
		out.Name = strings.TrimSpace(out.FirstName + " " + out.LastName)
	case in.Name != nil:
		out.Name = *in.Name
		out.FirstName, out.LastName = pipedrive.SplitName(*in.Name)
	}
	fields := func(f *[]pipedrive.Field, old []pipedrive.Field) []pipedrive.Field {
		if f == nil {
			return old
		}
		l := slices.Clone(*f)
		prim := -1
		for i := range l {
			if l[i].Label == "" {
				l[i].Label = "work"
			}
			if l[i].Primary && prim < 0 {
				prim = i
			}
		}
		if prim < 0 && len(l) > 0 {
			prim = 0
		}
		for i := range l {
			l[i].Primary = i == prim
		}
		return l
	}
	out.Phones = fields(in.Phones, out.Phones)
	out.Emails = fields(in.Emails, out.Emails)
	out.IM = fields(in.IM, out.IM)
	if in.PostalAddress != nil {
		a := *in.PostalAddress
		out.PostalAddress = &a
	}
	if in.JobTitle != nil {
		t := *in.JobTitle
		out.JobTitle = &t
	}
	if want.Set {
		if want.Name == "" {
			out.OrgID = nil
			*orgName = ""
		} else {
			id, ok := orgs[strings.ToLower(want.Name)]
			if !ok {
				id = int64(len(orgs) + 1)
				orgs[strings.ToLower(want.Name)] = id
			}
			out.OrgID = &id
			*orgName = want.Name
		}
	}
	return &out
}

// gApply applies a create (old nil) or an updateContact with mask.
func gApply(old, sent *people.Person, mask string) *people.Person {
	var out people.Person
	if old != nil {
		out = *old
	} else {
		out = *sent
		mask = "names,organizations,phoneNumbers,emailAddresses,imClients,addresses"
	}
	for _, f := range strings.Split(mask, ",") {
		switch f {
		case "names":
			out.Names = sent.Names
		case "organizations":
			out.Organizations = sent.Organizations
		case "phoneNumbers":
			out.PhoneNumbers = sent.PhoneNumbers
		case "emailAddresses":
			out.EmailAddresses = sent.EmailAddresses
		case "imClients":
			out.ImClients = sent.ImClients
		case "addresses":
			out.Addresses = sent.Addresses
		}
	}
	// server-side: exactly one primary per non-empty field, derived parts
	out.PhoneNumbers = gPrimary(out.PhoneNumbers, func(x *people.PhoneNumber) **people.FieldMetadata { return &x.Metadata })
	out.EmailAddresses = gPrimary(out.EmailAddresses, func(x *people.EmailAddress) **people.FieldMetadata { return &x.Metadata })
	out.ImClients = gPrimary(out.ImClients, func(x *people.ImClient) **people.FieldMetadata { return &x.Metadata })
	out.Addresses = gPrimary(out.Addresses, func(x *people.Address) **people.FieldMetadata { return &x.Metadata })
	for i, a := range out.Addresses {
		if a.FormattedValue == "" {
			cp := *a
			cp.FormattedValue = strings.Join(slices.DeleteFunc([]string{a.PoBox, a.StreetAddress, a.ExtendedAddress, a.City, a.Region, a.PostalCode, a.Country}, func(s string) bool { return s == "" }), "\n")
			out.Addresses[i] = &cp
		}
	}
	for i, n := range out.Names {
		cp := *n
		cp.DisplayName = strings.TrimSpace(n.GivenName + " " + n.MiddleName + " " + n.FamilyName)
		out.Names[i] = &cp
	}
	return &out
}

func gPrimary[T any](l []*T, md func(*T) **people.FieldMetadata) []*T {
	out := make([]*T, len(l))
	prim := -1
	for i, x := range l {
		if m := *md(x); m != nil && (m.SourcePrimary || m.Primary) && prim < 0 {
			prim = i
		}
	}
	if prim < 0 && len(l) > 0 {
		prim = 0
	}
	for i, x := range l {
		cp := *x
		var m people.FieldMetadata
		if old := *md(x); old != nil {
			m = *old
		}
		m.Primary, m.SourcePrimary = i == prim, i == prim
		*md(&cp) = &m
		out[i] = &cp
	}
	return out
}
