// Package contact is contactsync's normalized contact: exactly the fields
// the sync carries (name, organization and job title, phones, e-mails, IM
// handles, one postal address), the mapping from and to a Pipedrive person
// and a Google person, and content comparison and hashing.
//
// A Contact compares by normalized content: a phone number is its E.164
// form, an e-mail is case-insensitive, list order and the value "as typed"
// are not content. That is what makes an echo of our own write a no-op.
//
// The package is pure: no I/O, no clock.
package contact

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// Field names one synced field of a Contact.
type Field uint16

// The synced fields.
const (
	Given Field = 1 << iota
	Family
	Org
	JobTitle
	Phones
	Emails
	IM
	Address
)

// Fields is a set of Field.
type Fields = Field

// AllFields is every synced field.
const AllFields Fields = Given | Family | Org | JobTitle | Phones | Emails | IM | Address

// List returns the names of the fields in the set, in a fixed order.
func (f Field) List() []string {
	var out []string
	for _, d := range Table {
		if f&d.Field != 0 {
			out = append(out, d.Name)
		}
	}
	return out
}

// String is the comma-separated list of field names.
func (f Field) String() string { return strings.Join(f.List(), ",") }

// Item is one phone number, e-mail address or IM handle.
type Item struct {
	// Value is the value as the user typed it; it is written, never compared.
	Value string `json:"value"`
	// Label is the phone/e-mail type (work, home, mobile, other, or a
	// carried custom label) or, for IM, the protocol (google, skype, ... or
	// a carried custom protocol; "" when none).
	Label   string `json:"label,omitempty"`
	Primary bool   `json:"primary,omitempty"`
	// Key is the normalized identity: E.164 for phones (digits only when
	// unparseable), lowercased e-mail, "protocol:username" for IM.
	Key string `json:"key"`
}

// PostalAddress is the person's one postal address.
type PostalAddress struct {
	Street     string `json:"street,omitempty"`
	Extended   string `json:"extended,omitempty"` // apartment, suite
	City       string `json:"city,omitempty"`
	Region     string `json:"region,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country,omitempty"`
	// Unstructured is the address as one text, set only when none of the
	// components is: a component-less address is still an address.
	Unstructured string `json:"unstructured,omitempty"`
}

// IsZero reports whether there is no address.
func (a PostalAddress) IsZero() bool { return a == PostalAddress{} }

// Contact is the normalized record of exactly the synced fields.
type Contact struct {
	Given    string        `json:"given,omitempty"`
	Family   string        `json:"family,omitempty"`
	Org      string        `json:"org,omitempty"`
	JobTitle string        `json:"job_title,omitempty"`
	Phones   []Item        `json:"phones,omitempty"`
	Emails   []Item        `json:"emails,omitempty"`
	IM       []Item        `json:"im,omitempty"`
	Address  PostalAddress `json:"address,omitzero"`
	// Unknown holds the fields the side did not show (Pipedrive without
	// contact-sync fields has no IM, address or job title; an unresolved
	// organization). An unknown field is never read as "cleared".
	Unknown Fields `json:"unknown,omitempty"`
}

// DisplayName is "given family", trimmed.
func (c Contact) DisplayName() string { return strings.TrimSpace(c.Given + " " + c.Family) }

// Diff returns the fields whose normalized content differs between a and b.
// It ignores Unknown; callers mask it as they need.
func Diff(a, b Contact) Fields {
	var d Fields
	for _, f := range Table {
		if !f.Same(a, b) {
			d |= f.Field
		}
	}
	return d
}

// Equal reports whether a and b have the same normalized content and the
// same unknown fields. The value as typed and list order do not count.
func Equal(a, b Contact) bool {
	return a.Unknown == b.Unknown && Diff(a, b)&^a.Unknown == 0
}

// SameItems compares two lists as sets of (key, label, primary).
func SameItems(a, b []Item) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := sortedContent(a), sortedContent(b)
	return slices.Equal(x, y)
}

type itemContent struct {
	key, label string
	primary    bool
}

func sortedContent(items []Item) []itemContent {
	out := make([]itemContent, len(items))
	for i, it := range items {
		out[i] = itemContent{it.Key, it.Label, it.Primary}
	}
	slices.SortFunc(out, func(a, b itemContent) int { return strings.Compare(a.key, b.key) })
	return out
}

// Hash is a stable hex digest of the normalized content of the known
// fields and of the unknown set. Equal contacts hash the same.
func (c Contact) Hash() string {
	h := sha256.New()
	w := func(tag string, parts ...string) {
		h.Write([]byte(tag))
		for _, p := range parts {
			// length-prefixed, so no separator can be forged by content
			h.Write([]byte{byte(len(p) >> 24), byte(len(p) >> 16), byte(len(p) >> 8), byte(len(p))})
			h.Write([]byte(p))
		}
	}
	w("v1")
	w("unknown", c.Unknown.String())
	for _, d := range Table {
		if c.Unknown&d.Field != 0 {
			continue
		}
		switch d.Kind {
		case Text:
			w(d.tag, *d.Text(&c))
		case Items:
			w(d.tag)
			for _, it := range sortedContent(*d.ItemsOf(&c)) {
				p := "0"
				if it.primary {
					p = "1"
				}
				w("item", it.key, it.label, p)
			}
		case Addr:
			a := d.AddressOf(&c)
			w(d.tag, a.Street, a.Extended, a.City, a.Region, a.PostalCode, a.Country, a.Unstructured)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Clone returns a deep copy.
func (c Contact) Clone() Contact {
	c.Phones = slices.Clone(c.Phones)
	c.Emails = slices.Clone(c.Emails)
	c.IM = slices.Clone(c.IM)
	return c
}

// PrimaryKey is the key of the primary item, "" for an empty list.
func PrimaryKey(items []Item) string {
	for _, it := range items {
		if it.Primary {
			return it.Key
		}
	}
	return ""
}
