package connect

import (
	"testing"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

// FuzzWebhookListing: the names and URLs of a webhook listing (Pipedrive's
// answer) never make the matching panic; our own names map back to their
// connection, and a URL always matches itself.
func FuzzWebhookListing(f *testing.F) {
	f.Add("contactsync person create (abc123)", "", "https://x.example/intake")
	f.Add("contactsync person change ()", "u", "HTTPS://X.example:443/intake/")
	f.Add("Example webhook", "", "http://example.org")
	f.Add("contactsync person (", "", "%zz")
	f.Fuzz(func(t *testing.T, name, authUser, u string) {
		_ = hookConnection(pipedrive.Webhook{Name: name, HTTPAuthUser: authUser})
		if got := hookConnection(pipedrive.Webhook{Name: webhookName("create", name)}); name != "" && got != name {
			t.Fatalf("name of connection %q read back as %q", name, got)
		}
		if !sameURL(u, u) {
			t.Fatalf("%q differs from itself", u)
		}
		_ = sameURL(u, "https://x.example/intake")
	})
}
