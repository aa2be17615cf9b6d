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
	for _, d := range contact.Table {
		if !known(loser, d.Field) {
			continue
		}
		if d.Kind == contact.Items {
			l := d.ItemsOf(&out)
			if !known(survivor, d.Field) {
				*l = nil
			}
			*l = unite(*l, *d.ItemsOf(&loser))
			continue
		}
		// a value as a whole (the name: given and family together) is
		// taken from the loser when the survivor has none of it
		empty := true
		for _, u := range contact.Table {
			if u.Field&d.Unit != 0 && !u.Empty(survivor) {
				empty = false
			}
		}
		if !known(survivor, d.Field) || empty {
			d.Copy(&out, loser)
		}
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
