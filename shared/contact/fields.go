package contact

// The field table: one descriptor per synced field. Diff, Hash, the
// three-way merge, the overlay of unknown fields and the fold of merged
// persons iterate it, so adding a synced field means adding one row here
// (and its mapping to each service), not editing every rule.

// Kind is the shape of a field's value.
type Kind int

// Shapes of synced fields.
const (
	// Text is one string (a name part, the organization, the job title).
	Text Kind = iota
	// Items is a multi-value list merged item by item (phones, e-mails, IM).
	Items
	// Addr is the one postal address, compared and merged as a whole.
	Addr
)

// Descriptor describes one synced field.
type Descriptor struct {
	Field Field
	Name  string
	Kind  Kind
	// Unit is the set of fields treated as one value where a rule takes a
	// value as a whole (the name: given and family together).
	Unit Field
	// tag names the field in Hash; it never changes, so stored hashes
	// stay comparable across releases.
	tag   string
	text  func(*Contact) *string
	items func(*Contact) *[]Item
	addr  func(*Contact) *PostalAddress
}

// Table is every synced field, in the fixed order of Field.List.
var Table = []Descriptor{
	{Field: Given, Name: "given", tag: "given", Kind: Text, Unit: Given | Family, text: func(c *Contact) *string { return &c.Given }},
	{Field: Family, Name: "family", tag: "family", Kind: Text, Unit: Given | Family, text: func(c *Contact) *string { return &c.Family }},
	{Field: Org, Name: "org", tag: "org", Kind: Text, Unit: Org, text: func(c *Contact) *string { return &c.Org }},
	{Field: JobTitle, Name: "job_title", tag: "job", Kind: Text, Unit: JobTitle, text: func(c *Contact) *string { return &c.JobTitle }},
	{Field: Phones, Name: "phones", tag: "phones", Kind: Items, Unit: Phones, items: func(c *Contact) *[]Item { return &c.Phones }},
	{Field: Emails, Name: "emails", tag: "emails", Kind: Items, Unit: Emails, items: func(c *Contact) *[]Item { return &c.Emails }},
	{Field: IM, Name: "im", tag: "im", Kind: Items, Unit: IM, items: func(c *Contact) *[]Item { return &c.IM }},
	{Field: Address, Name: "address", tag: "addr", Kind: Addr, Unit: Address, addr: func(c *Contact) *PostalAddress { return &c.Address }},
}

// Text returns a pointer to the field's value in c (Kind Text only).
func (d Descriptor) Text(c *Contact) *string { return d.text(c) }

// ItemsOf returns a pointer to the field's list in c (Kind Items only).
func (d Descriptor) ItemsOf(c *Contact) *[]Item { return d.items(c) }

// AddressOf returns a pointer to the address in c (Kind Addr only).
func (d Descriptor) AddressOf(c *Contact) *PostalAddress { return d.addr(c) }

// Same reports whether a and b hold the same normalized content in d.
func (d Descriptor) Same(a, b Contact) bool {
	switch d.Kind {
	case Text:
		return *d.text(&a) == *d.text(&b)
	case Items:
		return SameItems(*d.items(&a), *d.items(&b))
	default:
		return *d.addr(&a) == *d.addr(&b)
	}
}

// Empty reports whether c has no value in d.
func (d Descriptor) Empty(c Contact) bool {
	switch d.Kind {
	case Text:
		return *d.text(&c) == ""
	case Items:
		return len(*d.items(&c)) == 0
	default:
		return d.addr(&c).IsZero()
	}
}

// Copy sets dst's value of d to src's (lists are copied, not shared).
func (d Descriptor) Copy(dst *Contact, src Contact) {
	switch d.Kind {
	case Text:
		*d.text(dst) = *d.text(&src)
	case Items:
		*d.items(dst) = append([]Item(nil), *d.items(&src)...)
	default:
		*d.addr(dst) = *d.addr(&src)
	}
}

// Show renders d's value of c for a conflict record (Text and Addr).
func (d Descriptor) Show(c Contact) string {
	switch d.Kind {
	case Text:
		return *d.text(&c)
	case Addr:
		return FormatAddress(*d.addr(&c))
	}
	return ""
}

// Overlay returns c with every field in fields taken from src.
func Overlay(c, src Contact, fields Fields) Contact {
	c = c.Clone()
	for _, d := range Table {
		if fields&d.Field != 0 {
			d.Copy(&c, src)
		}
	}
	return c
}
