package poller

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/contactsync/contactsync/shared/google"
)

func TestRedactURL(t *testing.T) {
	// As the Google client returns it (its message is built when printed).
	err := &google.Error{Op: "people.connections.list", Err: &url.Error{Op: "Get",
		URL: "https://people.example/v1/people/me/connections?syncToken=SECRET&pageToken=P2", Err: errors.New("connection reset")}}
	got := fmt.Errorf("list Google contacts: %w", redactURL(err)).Error()
	if strings.Contains(got, "SECRET") || strings.Contains(got, "P2") || !strings.Contains(got, "connection reset") {
		t.Fatalf("redacted error %q", got)
	}
}
