package google_test

import (
	"errors"
	"net/http"
	"testing"

	"google.golang.org/api/googleapi"

	"github.com/contactsync/contactsync/shared/google"
)

// Only a request Google refused for itself is a refusal; what may have
// been applied or may pass is not (a 500 taken for a refusal made the
// first sync create a batch's contacts again, one by one).
func TestRefused(t *testing.T) {
	api := func(code int) error { return &googleapi.Error{Code: code} }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"400 invalid argument", &google.Error{Op: "people.createContact", Err: api(http.StatusBadRequest)}, true},
		{"403 forbidden", &google.Error{Op: "people.createContact", Err: api(http.StatusForbidden)}, true},
		{"401 token", &google.Error{Op: "people.createContact", Err: api(http.StatusUnauthorized)}, false},
		{"429 quota", &google.Error{Op: "people.createContact", Kind: google.ErrRateLimited, Err: api(http.StatusTooManyRequests)}, false},
		{"500", &google.Error{Op: "people.batchCreateContacts", Err: api(http.StatusInternalServerError)}, false},
		{"500, outcome unknown", &google.Error{Op: "people.batchCreateContacts", Kind: google.ErrUncertain, Err: api(http.StatusInternalServerError)}, false},
		{"408 timeout", &google.Error{Op: "people.createContact", Err: api(http.StatusRequestTimeout)}, false},
		{"stale etag", &google.Error{Op: "people.updateContact", Kind: google.ErrStaleEtag, Err: api(http.StatusBadRequest)}, false},
		{"transport", &google.Error{Op: "people.createContact", Err: errors.New("EOF")}, false},
		{"not ours", api(http.StatusBadRequest), false},
		{"nil", nil, false},
	}
	for _, tc := range tests {
		if got := google.Refused(tc.err); got != tc.want {
			t.Errorf("%s: Refused = %v, want %v", tc.name, got, tc.want)
		}
	}
}
