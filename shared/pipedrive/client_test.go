package pipedrive_test

import (
	"context"
	"testing"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

// The base URL comes from the token's api_domain: New takes only one whose
// calls go where it says.
func TestNewBaseURL(t *testing.T) {
	for _, tc := range []struct {
		base string
		ok   bool
	}{
		{"https://acme.pipedrive.com", true},
		{"https://acme.pipedrive.com/", true},
		{"http://127.0.0.1:8080/sub", true},
		{"http://[::1]:8080", true},
		{"", false},
		{"acme.pipedrive.com", false},
		{"javascript:alert(1)", false},
		{"ftp://acme.pipedrive.com", false},
		{"http://:", false},
		{"http://:8080", false},
		{"http://0:", false}, // found by FuzzAPIDomain: net/http drops the empty port
		{"http://acme.example:x", false},
	} {
		_, err := pipedrive.New(context.Background(), tc.base, pipedrive.WithAPIToken("t"))
		if (err == nil) != tc.ok {
			t.Errorf("New(%q): error %v, want ok=%v", tc.base, err, tc.ok)
		}
	}
}
