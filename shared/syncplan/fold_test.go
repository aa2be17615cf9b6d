package syncplan

import (
	"testing"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/google/go-cmp/cmp"
)

func TestFold(t *testing.T) {
	for _, tc := range []struct {
		name            string
		survivor, loser contact.Contact
		want            contact.Contact
	}{
		{name: "lists united, survivor's primary kept",
			survivor: mk("Ada", "King", primaryPhone("030 1111111", "work"), email("a@work.example")),
			loser:    mk("Ada", "Lovelace", primaryPhone("030 2222222", "home"), phone("+49 30 1111111", "mobile"), email("a@home.example")),
			want:     mk("Ada", "King", primaryPhone("030 1111111", "work"), phone("030 2222222", "home"), email("a@work.example"), email("a@home.example"))},
		{name: "empty scalars filled, set ones kept",
			survivor: mk("Ada", "King", org("")),
			loser:    mk("Ada", "Lovelace", org("Acme"), city("Berlin")),
			want:     mk("Ada", "King", org("Acme"), city("Berlin"))},
		{name: "the name is one value",
			survivor: mk("Ada", ""),
			loser:    mk("Augusta", "Lovelace"),
			want:     mk("Ada", "")},
		{name: "no name: the loser's",
			survivor: mk("", "", email("a@work.example")),
			loser:    mk("Augusta", "Lovelace"),
			want:     mk("Augusta", "Lovelace", email("a@work.example"))},
		{name: "empty list takes the loser's primary",
			survivor: mk("Ada", "King"),
			loser:    mk("Ada", "Lovelace", phone("030 2222222", "home"), primaryPhone("030 3333333", "work")),
			want:     mk("Ada", "King", phone("030 2222222", "home"), primaryPhone("030 3333333", "work"))},
		{name: "a field the survivor does not show comes from the loser",
			survivor: mk("Ada", "King", unknown(contact.IM|contact.Address)),
			loser:    mk("Ada", "Lovelace", im("ada", "skype"), city("Berlin")),
			want:     mk("Ada", "King", im("ada", "skype"), city("Berlin"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Fold(tc.survivor, tc.loser)
			if !contact.Equal(got, tc.want) {
				t.Errorf("Fold: %s", cmp.Diff(tc.want, got))
			}
			if again := Fold(got, tc.loser); !contact.Equal(again, got) {
				t.Errorf("not idempotent: %s", cmp.Diff(got, again))
			}
		})
	}
}
