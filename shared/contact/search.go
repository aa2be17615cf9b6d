package contact

import (
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Search keys let the settings page find a contact's history by name,
// e-mail or phone without reading every link: each link stores the keys
// of its base, and a search looks for one of the keys of the term.

// SearchKeys are c's keys: each word of the name and of the organization,
// lowercased; each e-mail, lowercased; each phone's digits (its E.164 form
// without "+", and the national digits for numbers of the default region).
func (m Mapper) SearchKeys(c Contact) []string {
	seen := map[string]bool{}
	var out []string
	add := func(k string) {
		if k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, s := range []string{c.Given, c.Family, c.Org} {
		for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			add(w)
		}
	}
	for _, e := range c.Emails {
		add(e.Key)
	}
	for _, p := range c.Phones {
		for _, k := range m.phoneDigits(p.Value) {
			add(k)
		}
	}
	return out
}

// SearchTerm turns what a user typed into the keys to look for.
func (m Mapper) SearchTerm(term string) []string {
	term = strings.TrimSpace(term)
	switch {
	case term == "":
		return nil
	case strings.Contains(term, "@"):
		return []string{EmailKey(term)}
	case strings.IndexFunc(term, unicode.IsLetter) < 0:
		return m.phoneDigits(term)
	}
	var out []string
	for _, w := range strings.Fields(strings.ToLower(term)) {
		out = append(out, strings.Trim(w, ".,;:()\"'"))
	}
	return out
}

// phoneDigits are the digits of a phone in E.164 and, when it is a
// number of the default region, as dialled there (0171 2345678).
func (m Mapper) phoneDigits(v string) []string {
	k := m.PhoneKey(v)
	if !IsE164Key(k) {
		d := strings.TrimPrefix(k, "#")
		if strings.HasPrefix(k, "?") {
			return nil
		}
		return []string{d}
	}
	k, _, _ = strings.Cut(k, ";")
	out := []string{strings.TrimPrefix(k, "+")}
	if nat := m.national(k); nat != "" {
		out = append(out, nat)
	}
	return out
}

// national is an E.164 number as dialled in the default region ("0" and
// the national significant number for most regions), "" when the number is
// of another region or the mapper has none.
func (m Mapper) national(e164 string) (out string) {
	defer func() {
		if recover() != nil {
			out = ""
		}
	}()
	region := strings.ToUpper(m.DefaultRegion)
	if region == "" {
		return ""
	}
	n, err := phonenumbers.Parse(e164, region)
	if err != nil || phonenumbers.GetRegionCodeForNumber(n) != region {
		return ""
	}
	return phonenumbers.NormalizeDigitsOnly(phonenumbers.Format(n, phonenumbers.NATIONAL))
}
