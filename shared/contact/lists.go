package contact

// slot is one item of a list to write to a side: an existing item of that
// side (old >= 0) or a new one (old < 0).
type slot struct {
	old int
	// item is the model item the slot stands for; its label is the one to
	// write unless own is set.
	item Item
	// own: a second spelling of a kept key on that side (a case variant of
	// an e-mail, a phone number written twice in two formats). The model
	// holds one item per key, so this one keeps its own label; only the
	// value of the first is the model's.
	own     bool
	primary bool
}

// arrange lays out a list to write to a side from the model items and the
// side's existing items (their keys in the side's order, "" for items that
// are not ours to write, and which of them the side marks primary):
//
//   - an existing item whose key the model keeps stays, where it is, with
//     the side's own spelling; every existing item with that key stays,
//     so a case variant the user typed on one side is never dropped
//     because the model (or the other side) holds the key once;
//   - model items the side lacks are appended, in the model's order;
//   - existing items whose key the model dropped go.
//
// Of the items of the primary key, the one the side marked primary keeps
// the mark (else the first of them).
func arrange(items []Item, existing []string, existingPrimary []bool) []slot {
	want := make(map[string]Item, len(items))
	for _, it := range items {
		want[it.Key] = it
	}
	// which existing item of each key carries the key's primary mark
	carrier := map[string]int{}
	for i, k := range existing {
		if _, ok := want[k]; !ok || k == "" {
			continue
		}
		if c, seen := carrier[k]; !seen || (existingPrimary[i] && !existingPrimary[c]) {
			carrier[k] = i
		}
	}
	out := make([]slot, 0, len(items))
	had := make(map[string]bool, len(existing))
	for i, k := range existing {
		it, ok := want[k]
		if !ok || k == "" {
			continue
		}
		out = append(out, slot{old: i, item: it, own: had[k], primary: it.Primary && carrier[k] == i})
		had[k] = true
	}
	for _, it := range items {
		if !had[it.Key] {
			out = append(out, slot{old: -1, item: it, primary: it.Primary})
			had[it.Key] = true
		}
	}
	return out
}
