package google_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"

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

// Google's error texts can echo the contact (a name, an e-mail address in
// the message or the body): the client's error keeps the operation, the
// status and the reasons only, and the whole answer stays reachable.
func TestAPIErrorHidesGooglesWords(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"code":403,"message":"Grace Hopper <grace@navy.example> may not be written",` +
			`"errors":[{"message":"Grace Hopper <grace@navy.example>","domain":"global","reason":"forbidden"}],"status":"PERMISSION_DENIED"}}`))
	}))
	defer srv.Close()
	c, err := google.New(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "AT"}), srv.URL,
		google.WithRetry(google.Retry{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(context.Background(), "", func(*google.Page) error { return nil })
	var ge *googleapi.Error
	if err == nil || !errors.As(err, &ge) || !strings.Contains(ge.Message, "grace") {
		t.Fatalf("List error = %v, want Google's answer inside", err)
	}
	s := err.Error()
	if strings.Contains(s, "grace") || strings.Contains(s, "Grace") || strings.Contains(s, "navy") {
		t.Errorf("error text %q carries Google's words", s)
	}
	for _, want := range []string{"google: ", "403", "forbidden", "PERMISSION_DENIED"} {
		if !strings.Contains(s, want) {
			t.Errorf("error text %q lacks %q", s, want)
		}
	}
}

// A token endpoint's refusal shows its status and code, not its words.
func TestTokenRefusalHidesTheDescription(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"token of grace@navy.example was revoked"}`))
	}))
	defer srv.Close()
	cfg := &oauth2.Config{ClientID: "c", ClientSecret: "s", Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/token"}}
	ts := cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: "RT-SECRET"})
	c, err := google.New(context.Background(), ts, srv.URL, google.WithRetry(google.Retry{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(context.Background(), "", func(*google.Page) error { return nil })
	if !google.Revoked(err) {
		t.Fatalf("List error = %v, want revoked", err)
	}
	if s := err.Error(); strings.Contains(s, "grace") || strings.Contains(s, "RT-SECRET") || !strings.Contains(s, "invalid_grant") || !strings.Contains(s, "400") {
		t.Errorf("error text %q", s)
	}
}
