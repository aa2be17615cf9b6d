package syncplan

import (
	"slices"

	"github.com/contactsync/contactsync/shared/contact"
)

// Fold is the record of two persons merged in Pipedrive, by Pipedrive's
// own rule: the survivor's non-empty values win and its empty ones are
// filled from the loser (the name as a whole, as Pipedrive treats it).
// Multi-value fields are the union of both lists by normalized key (SPEC
// section 4, "fields union"): the survivor's items first, with their labels
// and primary; the loser's other items after them, not primary. A field the
// survivor does not show is taken from the loser. Folding is idempotent:
// Fold(Fold(s, l), l) equals Fold(s, l).
func Fold(survivor, loser contact.Contact) contact.Contact {
	out := survivor.Clone()
	known := func(c contact.Contact, f contact.Field) bool { return c.Unknown&f == 0 }
	fill := func(f contact.Field, empty bool, take func()) {
		if known(loser, f) && (!known(survivor, f) || empty) {
			take()
		}
	}
	fill(contact.Given|contact.Family, out.Given == "" && out.Family == "", func() { out.Given, out.Family = loser.Given, loser.Family })
	fill(contact.Org, out.Org == "", func() { out.Org = loser.Org })
	fill(contact.JobTitle, out.JobTitle == "", func() { out.JobTitle = loser.JobTitle })
	fill(contact.Address, out.Address.IsZero(), func() { out.Address = loser.Address })
	lists := []struct {
		f   contact.Field
		dst *[]contact.Item
		src []contact.Item
	}{{contact.Phones, &out.Phones, loser.Phones}, {contact.Emails, &out.Emails, loser.Emails}, {contact.IM, &out.IM, loser.IM}}
	for _, l := range lists {
		if !known(loser, l.f) {
			continue
		}
		if !known(survivor, l.f) {
			*l.dst = nil
		}
		*l.dst = unite(*l.dst, l.src)
	}
	out.Unknown = survivor.Unknown & loser.Unknown
	return contact.Normalize(out)
}

// unite appends to a the items of b whose key a lacks, not primary unless
// a is empty (then b's primary stays primary, as Pipedrive fills it).
func unite(a, b []contact.Item) []contact.Item {
	keep := len(a) == 0
	has := make(map[string]bool, len(a))
	for _, it := range a {
		has[it.Key] = true
	}
	out := slices.Clone(a)
	for _, it := range b {
		if it.Key == "" || has[it.Key] {
			continue
		}
		has[it.Key] = true
		it.Primary = it.Primary && keep
		out = append(out, it)
	}
	return out
}
