package pipedrive_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection reset")
}

// A search's URL carries the e-mail address: the client's error must not,
// since callers log it.
func TestTransportErrorHidesSearchTerm(t *testing.T) {
	c, err := pipedrive.New(context.Background(), "http://api.example", pipedrive.WithAPIToken("TOKEN"),
		pipedrive.WithHTTPClient(&http.Client{Transport: failingTransport{}}), pipedrive.WithRetry(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.FindPersonsByEmail(context.Background(), "grace@navy.example")
	if err == nil {
		t.Fatal("search succeeded without a network")
	}
	if s := err.Error(); strings.Contains(s, "grace") || strings.Contains(s, "navy") || !strings.Contains(s, "connection reset") {
		t.Fatalf("search error %q", s)
	}
}
