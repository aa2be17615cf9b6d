package contact

import "testing"

// The table is the one place a synced field is declared: every field of
// AllFields has exactly one row, and each row's accessors reach its own
// struct field (a row wired to the wrong field would make Diff blind).
func TestTableCoversEveryFieldOnce(t *testing.T) {
	var seen Fields
	for _, d := range Table {
		if seen&d.Field != 0 {
			t.Fatalf("field %s has two rows", d.Name)
		}
		seen |= d.Field
		var a, b Contact
		switch d.Kind {
		case Text:
			*d.Text(&b) = "x"
		case Items:
			*d.ItemsOf(&b) = []Item{{Value: "x", Key: "x"}}
		case Addr:
			d.AddressOf(&b).City = "x"
		}
		if got := Diff(a, b); got != d.Field {
			t.Errorf("setting %s changes %s", d.Name, got)
		}
		if d.Empty(b) || !d.Empty(a) {
			t.Errorf("%s: Empty wrong", d.Name)
		}
		var c Contact
		d.Copy(&c, b)
		if Diff(c, b) != 0 {
			t.Errorf("%s: Copy did not copy", d.Name)
		}
	}
	if seen != AllFields {
		t.Fatalf("table covers %s, want %s", seen, AllFields)
	}
}
