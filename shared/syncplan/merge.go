package syncplan

import (
	"fmt"
	"strings"
	"time"

	"github.com/contactsync/contactsync/shared/contact"
)

// merger does the three-way merge of two present sides against the base.
type merger struct {
	later     Side // the side whose own modification time is later
	conflicts []Conflict
}

// merge returns the merged record and the true conflicts. A field unknown
// on one side is taken from the other; unknown on both, from the base.
func merge(base contact.Contact, pd, g SideState) (contact.Contact, []Conflict) {
	m := merger{later: Pipedrive}
	// Pipedrive's update_time has whole seconds, so both times are compared
	// at that precision: a Google change in the second of a Pipedrive edit
	// may be the older one. Ties go to Pipedrive, the CRM, so the result
	// does not depend on order.
	if g.Updated.Truncate(time.Second).After(pd.Updated.Truncate(time.Second)) {
		m.later = Google
	}
	p, q := pd.Contact, g.Contact
	var out contact.Contact
	for _, d := range contact.Table {
		pk, gk := p.Unknown&d.Field == 0, q.Unknown&d.Field == 0
		switch d.Kind {
		case contact.Text:
			*d.Text(&out) = scalar(&m, d.Name, *d.Text(&base), *d.Text(&p), *d.Text(&q), pk, gk, ident)
		case contact.Items:
			*d.ItemsOf(&out) = m.items(d.Name, *d.ItemsOf(&base), *d.ItemsOf(&p), *d.ItemsOf(&q), pk, gk)
		case contact.Addr:
			*d.AddressOf(&out) = scalar(&m, d.Name, *d.AddressOf(&base), *d.AddressOf(&p), *d.AddressOf(&q), pk, gk, contact.FormatAddress)
		}
	}
	out.Unknown = p.Unknown & q.Unknown
	return contact.Normalize(out), m.conflicts
}

func ident(s string) string { return s }

// scalar is the three-way merge of one value: a side equal to the base
// did not change it; a true conflict goes to the later side.
func scalar[T comparable](m *merger, field string, b, p, g T, pKnown, gKnown bool, show func(T) string) T {
	switch {
	case !pKnown && !gKnown:
		return b
	case !pKnown:
		return g
	case !gKnown:
		return p
	case p == g:
		return p
	case p == b:
		return g
	case g == b:
		return p
	}
	win := p
	if m.later == Google {
		win = g
	}
	m.conflicts = append(m.conflicts, Conflict{Field: field, Base: show(b), Pipedrive: show(p), Google: show(g), Winner: m.later})
	return win
}

// items merges a list item by item, items identified by normalized key:
// added on either side → kept (union); removed on one side and untouched
// on the other → removed; removed on one and relabelled on the other →
// kept (edit beats delete); a label is a scalar of its item; which item is
// primary is a scalar of the list.
func (m *merger) items(field string, b, p, g []contact.Item, pKnown, gKnown bool) []contact.Item {
	switch {
	case !pKnown && !gKnown:
		return b
	case !pKnown:
		return g
	case !gKnown:
		return p
	}
	bi, pi, gi := index(b), index(p), index(g)
	var keys []string
	seen := map[string]bool{}
	for _, l := range [][]contact.Item{p, g} {
		for _, it := range l {
			if !seen[it.Key] {
				seen[it.Key] = true
				keys = append(keys, it.Key)
			}
		}
	}
	var out []contact.Item
	for _, k := range keys {
		bIt, inB := bi[k]
		pIt, inP := pi[k]
		gIt, inG := gi[k]
		switch {
		case inP && inG:
			it := pIt
			it.Label = scalar(m, fmt.Sprintf("%s[%s].label", field, k), bIt.Label, pIt.Label, gIt.Label, true, true, ident)
			out = append(out, it)
		case inP && (!inB || pIt.Label != bIt.Label):
			out = append(out, pIt) // added, or edited while removed on Google
		case inG && (!inB || gIt.Label != bIt.Label):
			out = append(out, gIt)
		}
	}
	present := map[string]bool{}
	for _, it := range out {
		present[it.Key] = true
	}
	prim := scalar(m, field+".primary", contact.PrimaryKey(b), contact.PrimaryKey(p), contact.PrimaryKey(g), true, true, ident)
	if !present[prim] {
		// the winner's primary item is gone: normalization picks the first
		prim = ""
	}
	for i := range out {
		out[i].Primary = out[i].Key == prim
	}
	return out
}

func index(items []contact.Item) map[string]contact.Item {
	m := make(map[string]contact.Item, len(items))
	for _, it := range items {
		m[it.Key] = it
	}
	return m
}

// String renders a conflict for logs and the status page.
func (c Conflict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: base %q, Pipedrive %q, Google %q → %s won", c.Field, c.Base, c.Pipedrive, c.Google, sideName(c.Winner))
	return b.String()
}
