package contact

import (
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Mapper maps persons of both services to Contacts and back. Its zero
// value works; DefaultRegion (ISO 3166-1 alpha-2, e.g. "DE") is the region
// assumed for phone numbers typed without a country code.
type Mapper struct {
	DefaultRegion string
}

// PhoneKey is the normalized identity of a phone number: E.164 (with
// ";ext=N" when it has an extension) when libphonenumber can parse it as a
// possible number, otherwise "#" and its digits, otherwise its lowercased
// text, so nothing is ever dropped.
func (m Mapper) PhoneKey(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ""
	}
	if k, ok := e164(raw, strings.ToUpper(m.DefaultRegion)); ok {
		return k
	}
	if d := phonenumbers.NormalizeDigitsOnly(raw); d != "" {
		return "#" + d
	}
	return "?" + strings.ToLower(collapse(raw))
}

// IsE164Key reports whether a phone key is an E.164 number (not a fallback).
func IsE164Key(k string) bool { return strings.HasPrefix(k, "+") }

func e164(raw, region string) (key string, ok bool) {
	// libphonenumber is outside code fed with outside input: a panic in it
	// must not take the applier down, the number just falls back to digits.
	defer func() {
		if recover() != nil {
			key, ok = "", false
		}
	}()
	n, err := phonenumbers.Parse(raw, region)
	if err != nil || !phonenumbers.IsPossibleNumber(n) {
		return "", false
	}
	k := phonenumbers.Format(n, phonenumbers.E164)
	// Some numbers do not survive their own E.164 form: "000000" in DE
	// formats as +4900000, which parses back as +490000 (libphonenumber
	// strips the national prefix again). A key must be its own key, or
	// writing the number in E.164 would look like an edit; such numbers
	// fall back to their digits.
	if again, err := phonenumbers.Parse(k, region); err != nil || phonenumbers.Format(again, phonenumbers.E164) != k {
		return "", false
	}
	if ext := n.GetExtension(); ext != "" {
		k += ";ext=" + ext
	}
	return k, true
}

// EmailKey is the normalized identity of an e-mail address: trimmed and
// lowercased (the local part is case-insensitive in practice everywhere).
func EmailKey(raw string) string {
	s := strings.TrimSpace(raw)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "mailto:"), "MAILTO:")
	return strings.ToLower(strings.TrimSpace(s))
}

// IMKey is the normalized identity of an IM handle: canonical protocol,
// ":" and the lowercased username.
func IMKey(protocol, username string) string {
	u := strings.ToLower(strings.TrimSpace(username))
	if u == "" {
		return ""
	}
	return CanonIMProtocol(protocol) + ":" + u
}

// collapse trims and folds runs of white space into one space.
func collapse(s string) string { return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ") }

// Phone labels known to either side, by lowercase spelling: Google's phone
// types (facts-google-people.md, phoneNumbers), of which Pipedrive
// documents work, home, mobile and other.
var phoneLabels = canonTable("work", "home", "mobile", "other", "main",
	"homeFax", "workFax", "otherFax", "pager", "workMobile", "workPager", "googleVoice")

var emailLabels = canonTable("work", "home", "other")

// IM protocols in Pipedrive's spelling; Google's differ only for these.
var imProtocols = canonTable("google", "aim", "msn", "yahoo", "skype", "qq", "icq", "jabber", "netmeeting")

var (
	imToGoogle   = map[string]string{"google": "googleTalk", "netmeeting": "netMeeting"}
	imFromGoogle = map[string]string{"googletalk": "google", "hangouts": "google", "gtalk": "google"}
)

func canonTable(labels ...string) map[string]string {
	m := make(map[string]string, len(labels))
	for _, l := range labels {
		m[strings.ToLower(l)] = l
	}
	return m
}

// CanonPhoneLabel maps a phone label or type to the model's spelling. Empty
// becomes "work", Pipedrive's default, so Pipedrive's defaulting is not a
// change; unknown labels are carried verbatim (trimmed).
func CanonPhoneLabel(l string) string { return canonLabel(phoneLabels, l) }

// CanonEmailLabel is CanonPhoneLabel for e-mail types.
func CanonEmailLabel(l string) string { return canonLabel(emailLabels, l) }

func canonLabel(table map[string]string, l string) string {
	l = collapse(l)
	if l == "" {
		return "work"
	}
	if c, ok := table[strings.ToLower(l)]; ok {
		return c
	}
	return l
}

// Pipedrive documents the phone labels work, home, mobile and other and the
// e-mail labels work, home and other (v1; its UI offers only these), and
// whether it keeps any other label is undocumented (facts-pipedrive.md,
// Corrections, "Labels"). Every other type is written to Pipedrive as the
// nearest of them. The model keeps the Google type (the base is stored on
// the link), AlignPipedriveLabels reads Pipedrive's coarser label back as
// that type, and PipedriveWriteFor compares in Pipedrive's labels, so the
// mapping is no change on either side and a round trip restores the type.
var (
	nearestPDPhone = map[string]string{
		"work": "work", "home": "home", "mobile": "mobile", "other": "other",
		"workFax": "work", "workPager": "work", "main": "work",
		"homeFax":    "home",
		"workMobile": "mobile", "googleVoice": "mobile",
		"otherFax": "other", "pager": "other",
	}
	nearestPDEmail = map[string]string{"work": "work", "home": "home", "other": "other"}
)

// PipedrivePhoneLabel is the documented Pipedrive label nearest to a phone
// label or Google type: a fax or pager at work is "work", a work mobile or
// Google Voice number "mobile", a custom label "other".
func PipedrivePhoneLabel(l string) string { return pdLabel(nearestPDPhone, CanonPhoneLabel(l)) }

// PipedriveEmailLabel is PipedrivePhoneLabel for e-mail types: a custom
// label is "other".
func PipedriveEmailLabel(l string) string { return pdLabel(nearestPDEmail, CanonEmailLabel(l)) }

func pdLabel(table map[string]string, canon string) string {
	if l, ok := table[canon]; ok {
		return l
	}
	return "other"
}

// CanonIMProtocol maps a Pipedrive IM label or a Google IM protocol to the
// model's protocol. Pipedrive's generic labels (work/home/other, and its
// "work" default) mean "no protocol", "".
func CanonIMProtocol(p string) string {
	p = collapse(p)
	lp := strings.ToLower(p)
	switch lp {
	case "", "work", "home", "other":
		return ""
	}
	if c, ok := imFromGoogle[lp]; ok {
		return c
	}
	if c, ok := imProtocols[lp]; ok {
		return c
	}
	return p
}

// googleIMProtocol is the Google spelling of a model protocol.
func googleIMProtocol(p string) string {
	if g, ok := imToGoogle[p]; ok {
		return g
	}
	return p
}

// normalizeItems drops empty items, merges duplicate keys (first wins) and
// leaves exactly one primary in a non-empty list (the first one marked, or
// the first item), as both services do.
func normalizeItems(items []Item) []Item {
	if len(items) == 0 {
		return nil
	}
	out := make([]Item, 0, len(items))
	seen := make(map[string]bool, len(items))
	primary := ""
	for _, it := range items {
		if it.Key == "" {
			continue
		}
		if it.Primary && primary == "" {
			primary = it.Key
		}
		if seen[it.Key] {
			continue
		}
		seen[it.Key] = true
		it.Value = strings.TrimSpace(it.Value)
		out = append(out, it)
	}
	if len(out) == 0 {
		return nil
	}
	if primary == "" {
		primary = out[0].Key
	}
	for i := range out {
		out[i].Primary = out[i].Key == primary
	}
	return out
}

// Normalize returns c with trimmed scalars and normalized lists. Mapping
// functions return normalized contacts; call it on hand-built ones.
func Normalize(c Contact) Contact {
	c.Given, c.Family = collapse(c.Given), collapse(c.Family)
	c.Org, c.JobTitle = collapse(c.Org), collapse(c.JobTitle)
	c.Phones = normalizeItems(c.Phones)
	c.Emails = normalizeItems(c.Emails)
	c.IM = normalizeItems(c.IM)
	a := &c.Address
	a.Street, a.Extended, a.City = collapse(a.Street), collapse(a.Extended), collapse(a.City)
	a.Region, a.PostalCode, a.Country = collapse(a.Region), collapse(a.PostalCode), collapse(a.Country)
	a.Unstructured = collapse(a.Unstructured)
	if a.Street != "" || a.Extended != "" || a.City != "" || a.Region != "" || a.PostalCode != "" || a.Country != "" {
		a.Unstructured = ""
	}
	return c
}

// Phone builds a normalized phone item.
func (m Mapper) Phone(value, label string, primary bool) Item {
	return Item{Value: strings.TrimSpace(value), Label: CanonPhoneLabel(label), Primary: primary, Key: m.PhoneKey(value)}
}

// Email builds a normalized e-mail item.
func Email(value, label string, primary bool) Item {
	return Item{Value: strings.TrimSpace(value), Label: CanonEmailLabel(label), Primary: primary, Key: EmailKey(value)}
}

// IMHandle builds a normalized IM item.
func IMHandle(username, protocol string, primary bool) Item {
	return Item{Value: strings.TrimSpace(username), Label: CanonIMProtocol(protocol), Primary: primary, Key: IMKey(protocol, username)}
}

// splitName splits a one-line name: a single word is a given name; else
// the last word is the family name and the rest the given name.
func splitName(full string) (given, family string) {
	w := strings.Fields(full)
	switch len(w) {
	case 0:
		return "", ""
	case 1:
		return w[0], ""
	}
	return strings.Join(w[:len(w)-1], " "), w[len(w)-1]
}
