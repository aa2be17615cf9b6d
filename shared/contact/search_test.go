package contact

import (
	"slices"
	"testing"
)

func TestSearchKeysFindWhatUsersType(t *testing.T) {
	m := Mapper{DefaultRegion: "DE"}
	c := Normalize(Contact{Given: "Jürgen", Family: "Groß-Müller", Org: "Stadtwerke Köln",
		Emails: []Item{Email("Max@Firma.de", "work", true)},
		Phones: []Item{m.Phone("0171 2345678", "mobile", true), m.Phone("+1 415 555 0100", "work", false)}})
	keys := m.SearchKeys(c)
	for _, typed := range []string{"jürgen", "Groß", "köln", "max@firma.de", "MAX@FIRMA.DE", "0171 2345678", "+49 171 2345678",
		"01712345678", "+1 (415) 555-0100", "Stadtwerke Köln"} {
		terms := m.SearchTerm(typed)
		if len(terms) == 0 || !slices.ContainsFunc(terms, func(k string) bool { return slices.Contains(keys, k) }) {
			t.Errorf("%q (terms %v) finds nothing in %v", typed, terms, keys)
		}
	}
	for _, typed := range []string{"", "ada", "0172 0000000", "other@firma.de"} {
		for _, k := range m.SearchTerm(typed) {
			if slices.Contains(keys, k) {
				t.Errorf("%q matches %q", typed, k)
			}
		}
	}
}

func FuzzSearchTerm(f *testing.F) {
	m := Mapper{DefaultRegion: "DE"}
	for _, s := range []string{"ada", "+49 30 123", "a@b.c", "", "((((", "0171-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(m.SearchTerm(s)) > len(s)+2 {
			t.Fatalf("%q gives too many terms", s)
		}
		_ = m.SearchKeys(Normalize(Contact{Given: s, Phones: []Item{m.Phone(s, "", true)}, Emails: []Item{Email(s, "", false)}}))
	})
}
