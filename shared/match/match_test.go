package match

import (
	"fmt"
	"testing"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var m = contact.Mapper{DefaultRegion: "DE"}

func rec(id, given, family, org string, emails []string, phones []string) Record {
	c := contact.Contact{Given: given, Family: family, Org: org}
	for _, e := range emails {
		c.Emails = append(c.Emails, contact.Email(e, "work", false))
	}
	for _, p := range phones {
		c.Phones = append(c.Phones, m.Phone(p, "work", false))
	}
	return Record{ID: id, Contact: contact.Normalize(c)}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name  string
		pd, g []Record
		links []Link
		want  Result
	}{
		{
			name:  "existing link first, even when the e-mail points elsewhere",
			pd:    []Record{rec("1", "A", "", "", []string{"a@x.com"}, nil)},
			g:     []Record{rec("g1", "A", "", "", nil, nil), rec("g2", "A", "", "", []string{"a@x.com"}, nil)},
			links: []Link{{"1", "g1"}},
			want:  Result{Pairs: []Pair{{"1", "g1", ByLink}}, OnlyGoogle: []string{"g2"}},
		},
		{
			name: "e-mail, case-insensitive",
			pd:   []Record{rec("1", "Ada", "", "", []string{"Ada@X.com"}, nil)},
			g:    []Record{rec("g1", "Someone", "Else", "", []string{"ada@x.com"}, nil)},
			want: Result{Pairs: []Pair{{"1", "g1", ByEmail}}},
		},
		{
			name: "phone in E.164, formatting aside",
			pd:   []Record{rec("1", "Ada", "", "", nil, []string{"030 1234567"})},
			g:    []Record{rec("g1", "Ada L", "", "", nil, []string{"+49 (30) 123-4567"})},
			want: Result{Pairs: []Pair{{"1", "g1", ByPhone}}},
		},
		{
			name: "unparseable phones do not match",
			pd:   []Record{rec("1", "Ada", "", "", nil, []string{"*100#"})},
			g:    []Record{rec("g1", "Bob", "", "", nil, []string{"*100#"})},
			want: Result{OnlyPipedrive: []string{"1"}, OnlyGoogle: []string{"g1"}},
		},
		{
			name: "name + organization, normalized",
			pd:   []Record{rec("1", "Ada", "Lovelace", "Acme", nil, nil)},
			g:    []Record{rec("g1", "ada", "LOVELACE", "acme", nil, nil), rec("g2", "Ada", "Lovelace", "Other", nil, nil)},
			want: Result{Pairs: []Pair{{"1", "g1", ByNameOrg}}, OnlyGoogle: []string{"g2"}},
		},
		{
			name: "one-to-many is ambiguous, never guessed",
			pd:   []Record{rec("1", "A", "", "", []string{"info@x.com"}, nil)},
			g:    []Record{rec("g1", "B", "", "", []string{"info@x.com"}, nil), rec("g2", "C", "", "", []string{"INFO@x.com"}, nil)},
			want: Result{Ambiguous: []Ambiguous{{ByEmail, []string{"1"}, []string{"g1", "g2"}}}},
		},
		{
			name: "many-to-one is ambiguous",
			pd:   []Record{rec("1", "A", "", "", nil, []string{"030 1234567"}), rec("2", "B", "", "", nil, []string{"+49301234567"})},
			g:    []Record{rec("g1", "C", "", "", nil, []string{"030/1234567"})},
			want: Result{Ambiguous: []Ambiguous{{ByPhone, []string{"1", "2"}, []string{"g1"}}}},
		},
		{
			name: "two keys pointing to two contacts is ambiguous",
			pd:   []Record{rec("1", "A", "", "", []string{"a@x.com", "b@x.com"}, nil)},
			g:    []Record{rec("g1", "A", "", "", []string{"a@x.com"}, nil), rec("g2", "B", "", "", []string{"b@x.com"}, nil)},
			want: Result{Ambiguous: []Ambiguous{{ByEmail, []string{"1"}, []string{"g1", "g2"}}}},
		},
		{
			name: "an ambiguous contact is not retried by a later rule",
			pd: []Record{rec("1", "A", "", "", []string{"info@x.com"}, []string{"030 1234567"}),
				rec("2", "B", "", "", []string{"info@x.com"}, nil)},
			g:    []Record{rec("g1", "A", "", "", []string{"info@x.com"}, []string{"030 1234567"})},
			want: Result{Ambiguous: []Ambiguous{{ByEmail, []string{"1", "2"}, []string{"g1"}}}},
		},
		{
			name: "duplicates on one side only do not block: two pd share an e-mail no Google has",
			pd:   []Record{rec("1", "A", "", "", []string{"x@x.com"}, nil), rec("2", "A", "", "", []string{"x@x.com"}, []string{"0170 1111111"})},
			g:    []Record{rec("g1", "Z", "", "", nil, []string{"01701111111"})},
			want: Result{Pairs: []Pair{{"2", "g1", ByPhone}}, OnlyPipedrive: []string{"1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Match(tt.pd, tt.g, tt.links)
			if d := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestIndexLookup(t *testing.T) {
	ix := NewIndex([]Record{
		rec("g1", "Ada", "", "", []string{"ada@x.com"}, nil),
		rec("g2", "Bob", "", "", []string{"info@x.com"}, nil),
		rec("g3", "Cy", "", "", []string{"info@x.com"}, []string{"030 1234567"}),
	})
	tests := []struct {
		name      string
		c         Record
		exclude   func(string) bool
		wantIDs   []string
		wantBy    Rule
		ambiguous bool
	}{
		{"one by e-mail", rec("1", "", "", "", []string{"ADA@x.com"}, nil), nil, []string{"g1"}, ByEmail, false},
		{"several", rec("1", "", "", "", []string{"info@x.com"}, nil), nil, []string{"g2", "g3"}, ByEmail, true},
		{"linked ones excluded", rec("1", "", "", "", []string{"info@x.com"}, nil), func(id string) bool { return id == "g2" }, []string{"g3"}, ByEmail, false},
		{"by phone", rec("1", "", "", "", nil, []string{"+49 30 1234567"}), nil, []string{"g3"}, ByPhone, false},
		{"none", rec("1", "Zed", "", "", nil, nil), nil, nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, by, amb := ix.Lookup(tt.c.Contact, tt.exclude)
			if d := cmp.Diff(tt.wantIDs, ids); d != "" || by != tt.wantBy || amb != tt.ambiguous {
				t.Errorf("got %v %v %v; ids (-want +got):\n%s", ids, by, amb, d)
			}
		})
	}
}

// firstSync builds n + n contacts with 30 % overlap (by e-mail, phone or
// name, a third each), like SPEC section 7's first sync.
func firstSync(n int) (pd, g []Record) {
	for i := range n {
		pd = append(pd, rec(fmt.Sprintf("%d", i), fmt.Sprintf("P%d", i), "Person", "Acme",
			[]string{fmt.Sprintf("p%d@pd.example", i)}, []string{fmt.Sprintf("+49 30 %07d", i)}))
	}
	overlap := n * 3 / 10
	for i := range n {
		r := rec(fmt.Sprintf("people/c%d", i), fmt.Sprintf("G%d", i), "Contact", "",
			[]string{fmt.Sprintf("g%d@g.example", i)}, []string{fmt.Sprintf("+49 40 %07d", i)})
		if i < overlap {
			switch i % 3 {
			case 0:
				r.Contact.Emails = append(r.Contact.Emails, contact.Email(fmt.Sprintf("P%d@PD.example", i), "home", false))
			case 1:
				r.Contact.Phones = append(r.Contact.Phones, m.Phone(fmt.Sprintf("030 %07d", i), "work", false))
			case 2:
				r.Contact.Given, r.Contact.Family, r.Contact.Org = fmt.Sprintf("p%d", i), "PERSON", "acme"
				r.Contact.Emails, r.Contact.Phones = nil, nil
			}
			r.Contact = contact.Normalize(r.Contact)
		}
		g = append(g, r)
	}
	return pd, g
}

func TestFirstSyncOverlap(t *testing.T) {
	pd, g := firstSync(3000)
	res := Match(pd, g, nil)
	if len(res.Pairs) != 900 || len(res.Ambiguous) != 0 || len(res.OnlyPipedrive) != 2100 || len(res.OnlyGoogle) != 2100 {
		t.Fatalf("pairs %d ambiguous %d only pd %d only g %d", len(res.Pairs), len(res.Ambiguous), len(res.OnlyPipedrive), len(res.OnlyGoogle))
	}
	for _, p := range res.Pairs {
		if "people/c"+p.PipedriveID != p.GoogleID {
			t.Fatalf("wrong pair %+v", p)
		}
	}
}

func BenchmarkMatch10kx10k(b *testing.B) {
	pd, g := firstSync(10000)
	b.ReportAllocs()
	for b.Loop() {
		res := Match(pd, g, nil)
		if len(res.Pairs) != 3000 {
			b.Fatalf("pairs %d", len(res.Pairs))
		}
	}
}
