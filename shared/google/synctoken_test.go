package google

import (
	"strings"
	"testing"
)

// FuzzLoadSyncToken: a stored token, whatever Firestore holds, never makes
// LoadSyncToken panic; what StoreSyncToken wrote loads back unchanged; a
// token with another fingerprint is dropped.
func FuzzLoadSyncToken(f *testing.F) {
	for _, s := range []string{"", "EnAKHAgC", "sp1.", "sp1.abc|", "sp1.000000000000|EN1", "sp1.|x|y", "a|b"} {
		f.Add(s)
	}
	c := &Client{pageSize: 1000}
	other := &Client{pageSize: 50}
	f.Fuzz(func(t *testing.T, s string) {
		tok, ok := c.LoadSyncToken(s)
		if ok && strings.HasPrefix(s, storedTokenPrefix) && tok == "" {
			t.Fatalf("%q: empty token accepted", s)
		}
		if !ok && tok != "" {
			t.Fatalf("%q: dropped token returned", s)
		}
		if s == "" {
			return
		}
		if got, ok := c.LoadSyncToken(c.StoreSyncToken(s)); !ok || got != s {
			t.Fatalf("round trip of %q: %q %v", s, got, ok)
		}
		if got, ok := other.LoadSyncToken(c.StoreSyncToken(s)); ok || got != "" {
			t.Fatalf("token of other parameters loaded: %q", got)
		}
	})
}
