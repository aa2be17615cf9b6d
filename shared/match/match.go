// Package match pairs Pipedrive persons and Google contacts that have no
// link yet (the first sync, and a new contact): by existing link, then by
// normalized e-mail, then by E.164 phone, then by exact normalized name +
// organization. A contact that matches several, or that several match, is
// ambiguous and is never guessed: it is returned for review.
//
// Matching is by hash indexes, linear in the number of contacts and their
// keys, so 10,000 × 10,000 is a matter of milliseconds. The package is pure.
package match

import (
	"slices"
	"strings"
	"unicode"

	"github.com/contactsync/contactsync/shared/contact"
)

// Record is one contact with its id on its side (Pipedrive person id in
// decimal, Google resourceName).
type Record struct {
	ID      string
	Contact contact.Contact
}

// Link is an existing pair.
type Link struct {
	PipedriveID, GoogleID string
}

// Rule is how a pair was found.
type Rule string

// Rules, in the order they are tried.
const (
	ByLink    Rule = "link"
	ByEmail   Rule = "email"
	ByPhone   Rule = "phone"
	ByNameOrg Rule = "name+org"
)

// Rules is the matching order.
var Rules = []Rule{ByEmail, ByPhone, ByNameOrg}

// Pair is a match.
type Pair struct {
	PipedriveID string
	GoogleID    string
	By          Rule
}

// Ambiguous is a group of contacts that share keys under one rule without
// forming a one-to-one pair. They are held for review.
type Ambiguous struct {
	By           Rule
	PipedriveIDs []string
	GoogleIDs    []string
}

// Result of matching. Every input id is in exactly one of Pairs,
// Ambiguous, OnlyPipedrive or OnlyGoogle (links whose records are
// missing on a side are left out).
type Result struct {
	Pairs     []Pair
	Ambiguous []Ambiguous
	// Unmatched records: to be created on the other side.
	OnlyPipedrive []string
	OnlyGoogle    []string
}

// Keys returns a contact's match keys under a rule.
func Keys(r Rule, c contact.Contact) []string {
	var ks []string
	switch r {
	case ByEmail:
		for _, it := range c.Emails {
			if it.Key != "" {
				ks = append(ks, it.Key)
			}
		}
	case ByPhone:
		for _, it := range c.Phones {
			if contact.IsE164Key(it.Key) {
				ks = append(ks, it.Key)
			}
		}
	case ByNameOrg:
		if n := fold(c.DisplayName()); n != "" {
			ks = append(ks, n+"\x00"+fold(c.Org))
		}
	}
	return ks
}

// fold lowercases and collapses white space (names typed on two devices
// differ in case and spacing, not in letters).
func fold(s string) string {
	return strings.ToLower(strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " "))
}

// Match pairs pd and g records. Links are taken first (both ids must be
// present); then each rule in turn on what is still unmatched. Under one
// rule, contacts connected through shared keys form a group; a group of
// exactly one Pipedrive and one Google contact is a pair, a bigger one is
// ambiguous (and its members are not tried under later rules), and a
// one-sided group goes on to the next rule.
func Match(pd, g []Record, links []Link) Result {
	var res Result
	pdIdx := make(map[string]int, len(pd))
	for i, r := range pd {
		pdIdx[r.ID] = i
	}
	gIdx := make(map[string]int, len(g))
	for i, r := range g {
		gIdx[r.ID] = i
	}
	pDone := make([]bool, len(pd))
	gDone := make([]bool, len(g))
	for _, l := range links {
		pi, okP := pdIdx[l.PipedriveID]
		gi, okG := gIdx[l.GoogleID]
		if !okP || !okG || pDone[pi] || gDone[gi] {
			continue
		}
		pDone[pi], gDone[gi] = true, true
		res.Pairs = append(res.Pairs, Pair{PipedriveID: l.PipedriveID, GoogleID: l.GoogleID, By: ByLink})
	}
	for _, rule := range Rules {
		matchRule(rule, pd, g, pDone, gDone, &res)
	}
	for i, r := range pd {
		if !pDone[i] {
			res.OnlyPipedrive = append(res.OnlyPipedrive, r.ID)
		}
	}
	for i, r := range g {
		if !gDone[i] {
			res.OnlyGoogle = append(res.OnlyGoogle, r.ID)
		}
	}
	return res
}

// matchRule runs one rule with a union-find over nodes 0..len(pd)-1 (pd)
// and len(pd)..len(pd)+len(g)-1 (g), joined through shared keys.
func matchRule(rule Rule, pd, g []Record, pDone, gDone []bool, res *Result) {
	n := len(pd) + len(g)
	uf := newUnionFind(n)
	first := make(map[string]int) // key → first node holding it
	hasKey := make([]bool, n)
	join := func(node int, c contact.Contact) {
		for _, k := range Keys(rule, c) {
			hasKey[node] = true
			if f, ok := first[k]; ok {
				uf.union(f, node)
			} else {
				first[k] = node
			}
		}
	}
	for i, r := range pd {
		if !pDone[i] {
			join(i, r.Contact)
		}
	}
	for i, r := range g {
		if !gDone[i] {
			join(len(pd)+i, r.Contact)
		}
	}
	type group struct{ p, g []int }
	groups := make(map[int]*group)
	var roots []int // first-seen order keeps the result deterministic
	for node := 0; node < n; node++ {
		if !hasKey[node] {
			continue
		}
		root := uf.find(node)
		gr, ok := groups[root]
		if !ok {
			gr = &group{}
			groups[root] = gr
			roots = append(roots, root)
		}
		if node < len(pd) {
			gr.p = append(gr.p, node)
		} else {
			gr.g = append(gr.g, node-len(pd))
		}
	}
	for _, root := range roots {
		gr := groups[root]
		if len(gr.p) == 0 || len(gr.g) == 0 {
			continue // one-sided: try the next rule
		}
		if len(gr.p) == 1 && len(gr.g) == 1 {
			pDone[gr.p[0]], gDone[gr.g[0]] = true, true
			res.Pairs = append(res.Pairs, Pair{PipedriveID: pd[gr.p[0]].ID, GoogleID: g[gr.g[0]].ID, By: rule})
			continue
		}
		a := Ambiguous{By: rule}
		for _, i := range gr.p {
			pDone[i] = true
			a.PipedriveIDs = append(a.PipedriveIDs, pd[i].ID)
		}
		for _, i := range gr.g {
			gDone[i] = true
			a.GoogleIDs = append(a.GoogleIDs, g[i].ID)
		}
		slices.Sort(a.PipedriveIDs)
		slices.Sort(a.GoogleIDs)
		res.Ambiguous = append(res.Ambiguous, a)
	}
}

type unionFind struct{ parent, rank []int32 }

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]int32, n), rank: make([]int32, n)}
	for i := range u.parent {
		u.parent[i] = int32(i)
	}
	return u
}

func (u *unionFind) find(x int) int {
	for int(u.parent[x]) != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = int(u.parent[x])
	}
	return x
}

func (u *unionFind) union(a, b int) {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return
	}
	if u.rank[ra] < u.rank[rb] {
		ra, rb = rb, ra
	}
	u.parent[rb] = int32(ra)
	if u.rank[ra] == u.rank[rb] {
		u.rank[ra]++
	}
}

// Index answers "which records have this key" for one side, for matching
// one new contact against the other side without rebuilding everything.
type Index struct {
	byRule map[Rule]map[string][]string
}

// NewIndex indexes records under every rule.
func NewIndex(recs []Record) *Index {
	ix := &Index{byRule: make(map[Rule]map[string][]string, len(Rules))}
	for _, rule := range Rules {
		m := make(map[string][]string)
		for _, r := range recs {
			for _, k := range uniq(Keys(rule, r.Contact)) {
				m[k] = append(m[k], r.ID)
			}
		}
		ix.byRule[rule] = m
	}
	return ix
}

// Lookup finds c's candidates in the index: the first rule under which c
// has any candidate decides. One candidate is a match (ambiguous false);
// several are ambiguous, never guessed; none means create. Several keys of
// c pointing to different records are ambiguous too. exclude (may be nil)
// skips already-linked ids.
func (ix *Index) Lookup(c contact.Contact, exclude func(id string) bool) (ids []string, by Rule, ambiguous bool) {
	for _, rule := range Rules {
		m := ix.byRule[rule]
		var cand []string
		for _, k := range uniq(Keys(rule, c)) {
			for _, id := range m[k] {
				if (exclude == nil || !exclude(id)) && !slices.Contains(cand, id) {
					cand = append(cand, id)
				}
			}
		}
		if len(cand) > 0 {
			slices.Sort(cand)
			return cand, rule, len(cand) > 1
		}
	}
	return nil, "", false
}

func uniq(ks []string) []string {
	if len(ks) < 2 {
		return ks
	}
	slices.Sort(ks)
	return slices.Compact(ks)
}
