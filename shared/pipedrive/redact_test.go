package pipedrive_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/oauth2"

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

// Pipedrive's error texts can echo the record: the client's error keeps
// the call, the status and the error code; the words stay in the fields.
func TestAPIErrorHidesPipedrivesWords(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"success":false,"error":"Person Grace Hopper <grace@navy.example> is invalid","error_info":"see grace@navy.example",` +
			`"code":"ERR_SCHEMA_VALIDATION_FAILED","errors":{"email":["grace@navy.example is taken"]}}`))
	}))
	defer srv.Close()
	c, err := pipedrive.New(context.Background(), srv.URL, pipedrive.WithAPIToken("TOKEN"), pipedrive.WithRetry(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPerson(context.Background(), 8)
	var ae *pipedrive.APIError
	if !errors.As(err, &ae) || !strings.Contains(ae.Message, "grace") {
		t.Fatalf("GetPerson error = %v, want the APIError with Pipedrive's words", err)
	}
	s := err.Error()
	if strings.Contains(s, "grace") || strings.Contains(s, "Grace") || strings.Contains(s, "TOKEN") {
		t.Errorf("error text %q carries Pipedrive's words", s)
	}
	for _, want := range []string{"GET /api/v2/persons/8", "400", "ERR_SCHEMA_VALIDATION_FAILED"} {
		if !strings.Contains(s, want) {
			t.Errorf("error text %q lacks %q", s, want)
		}
	}
}

// A refused token refresh shows its status and code, not the OAuth
// server's words.
func TestTokenRefusalHidesTheDescription(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"refresh token of grace@navy.example revoked"}`))
	}))
	defer srv.Close()
	cfg := &oauth2.Config{ClientID: "c", ClientSecret: "s", Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/oauth/token"}}
	c, err := pipedrive.New(context.Background(), srv.URL,
		pipedrive.WithTokenSource(cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: "RT-SECRET"})), pipedrive.WithRetry(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Me(context.Background())
	if !errors.Is(err, pipedrive.ErrInvalidGrant) {
		t.Fatalf("Me error = %v, want ErrInvalidGrant", err)
	}
	if s := err.Error(); strings.Contains(s, "grace") || strings.Contains(s, "RT-SECRET") || !strings.Contains(s, "invalid_grant") {
		t.Errorf("error text %q", s)
	}
}
