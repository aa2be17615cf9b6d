package syncplan

import (
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/contact"
)

// The prints of a deleted person's keys, as the intake makes them from the
// webhook (a Mapper without region), meet those of the pair's record as
// the applier makes them (with its region): e-mail, E.164 phone, name.
func TestKeyPrints(t *testing.T) {
	secret := []byte("webhook secret hash")
	pd := contact.Mapper{}
	ap := contact.Mapper{DefaultRegion: "DE"}
	grace := contact.Contact{Given: "Grace", Family: "Hopper",
		Emails: []contact.Item{{Value: "Grace@Example.com", Key: "grace@example.com"}},
		Phones: []contact.Item{{Value: "+49 30 1234567", Key: pd.PhoneKey("+49 30 1234567")}}}
	for _, tc := range []struct {
		name   string
		gone   contact.Contact
		shares bool
	}{
		{"the same e-mail", contact.Contact{Emails: []contact.Item{{Key: "grace@example.com"}}}, true},
		{"the same phone, in E.164", contact.Contact{Phones: []contact.Item{{Key: ap.PhoneKey("030 1234567")}}}, true},
		{"the same name", contact.Contact{Given: "grace", Family: "HOPPER"}, true},
		{"nothing shared", contact.Contact{Given: "Ada", Emails: []contact.Item{{Key: "ada@example.com"}}}, false},
		{"no keys at all", contact.Contact{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
			lc := LostCreate{IntentAt: now.Add(-time.Minute), LookedAt: now.Add(-50 * time.Second)}
			got := WasLostCreate(lc, now, now.Add(-time.Minute), KeyPrints(secret, tc.gone), KeyPrints(secret, grace))
			if got != tc.shares {
				t.Errorf("WasLostCreate = %v, want %v", got, tc.shares)
			}
		})
	}
	if p := KeyPrints(nil, grace); p != nil {
		t.Errorf("prints without a secret: %v", p)
	}
	if a, b := KeyPrints([]byte("one"), grace), KeyPrints([]byte("two"), grace); len(a) == 0 || a[0] == b[0] {
		t.Errorf("prints under two secrets: %v, %v", a, b)
	}
}

// A deleted person is the lost create's only if it was added between the
// create's sending and the look, and deleted within the window after.
func TestWasLostCreate(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	lc := LostCreate{IntentAt: at, LookedAt: at.Add(5 * time.Second)}
	prints := []string{"a", "b"}
	for _, tc := range []struct {
		name  string
		lc    LostCreate
		now   time.Time
		added time.Time
		gone  []string
		want  bool
	}{
		{"added as the create was sent", lc, at.Add(10 * time.Second), at, []string{"b"}, true},
		{"added a second earlier (Pipedrive's clock)", lc, at.Add(10 * time.Second), at.Add(-time.Second), []string{"a"}, true},
		{"added well before the create: the user's own person", lc, at.Add(10 * time.Second), at.Add(-time.Minute), []string{"a"}, false},
		{"added after the look: not the lost create's", lc, at.Add(10 * time.Second), at.Add(time.Minute), []string{"a"}, false},
		{"no key shared", lc, at.Add(10 * time.Second), at, []string{"c"}, false},
		{"deleted after the window", lc, at.Add(LostCreateWindow + 10*time.Second), at, []string{"a"}, false},
		{"no lost create", LostCreate{}, at, at, []string{"a"}, false},
		{"no add time", lc, at.Add(10 * time.Second), time.Time{}, []string{"a"}, false},
	} {
		if got := WasLostCreate(tc.lc, tc.now, tc.added, tc.gone, prints); got != tc.want {
			t.Errorf("%s: WasLostCreate = %v, want %v", tc.name, got, tc.want)
		}
	}
}
