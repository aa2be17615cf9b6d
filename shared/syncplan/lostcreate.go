package syncplan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/match"
	"github.com/contactsync/contactsync/shared/pipedrive"
)

// A Pipedrive create whose answer was lost is looked for among the persons
// added since (CheckIntent, CreatedSince). If the user deleted the person
// before the look, nothing is found and the person is created again, while
// the delete's webhook names a person no link knows, and comes after the
// retry (changes are ordered per connection). The delete is then
// recognised by what its webhook tells of the deleted person: when it was
// added, and keyed prints of its keys (KeyPrints). The rules below decide
// whether it was the lost create's person.

// LostCreate is what a link keeps of a Pipedrive create whose outcome was
// looked for and not found, after which the person was created again.
type LostCreate struct {
	// IntentAt is when the lost create was sent; LookedAt when the retry
	// found nothing and created again.
	IntentAt, LookedAt time.Time
}

// LostCreateWindow is how long after the look a delete can still be
// recognised as the lost create's person's.
const LostCreateWindow = time.Hour

// KeyPrints are keyed prints (HMAC-SHA256 under secret, 16 bytes in hex)
// of c's keys as SharesKey compares them: e-mail keys, E.164 phone keys,
// the folded display name. They let a message say which keys a deleted
// person had without carrying them: personal data stays out of Pub/Sub.
// An empty secret gives none.
func KeyPrints(secret []byte, c contact.Contact) []string {
	if len(secret) == 0 {
		return nil
	}
	var keys []string
	for _, r := range []match.Rule{match.ByEmail, match.ByPhone} {
		for _, k := range match.Keys(r, c) {
			keys = append(keys, string(r)+":"+k)
		}
	}
	if n := strings.ToLower(strings.Join(strings.Fields(c.DisplayName()), " ")); n != "" {
		keys = append(keys, "name:"+n)
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("contactsync key print\x00" + k))
		out = append(out, hex.EncodeToString(m.Sum(nil)[:16]))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// WasLostCreate reports whether a deleted person, added at added and with
// the key prints gone, was the person of the lost create lc of a link
// whose record has the key prints linked: added between the create's
// sending and the look (with Pipedrive's clock skew and whole seconds),
// sharing a key, and deleted within LostCreateWindow of the look.
func WasLostCreate(lc LostCreate, now, added time.Time, gone, linked []string) bool {
	if lc.IntentAt.IsZero() || added.IsZero() || now.Sub(lc.LookedAt) > LostCreateWindow {
		return false
	}
	if !CreatedSince(added, lc.IntentAt) || added.After(lc.LookedAt.Add(time.Second+pipedrive.ClockSkew)) {
		return false
	}
	for _, p := range gone {
		if slices.Contains(linked, p) {
			return true
		}
	}
	return false
}
