package google_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/contactsync/contactsync/shared/google"
)

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection reset")
}

// A transport error's URL carries the sync token: the client's error must
// not, since callers log it.
func TestTransportErrorHidesSyncToken(t *testing.T) {
	c, err := google.New(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "AT"}), "http://people.example",
		google.WithHTTPClient(&http.Client{Transport: failingTransport{}}), google.WithRetry(google.Retry{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(context.Background(), "SECRET", func(*google.Page) error { return nil })
	var ue *url.Error
	if err == nil || !errors.As(err, &ue) {
		t.Fatalf("List error = %v, want a transport error", err)
	}
	if s := err.Error(); strings.Contains(s, "SECRET") || !strings.Contains(s, "connection reset") {
		t.Fatalf("List error %q", s)
	}
}
