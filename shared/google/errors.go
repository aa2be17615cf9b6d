package google

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
)

// Errors the client classifies; match them with errors.Is. The underlying
// *googleapi.Error or *oauth2.RetrieveError stays reachable with errors.As.
var (
	// ErrExpiredSyncToken: the sync token expired; run a full sync without it.
	ErrExpiredSyncToken = errors.New("google: sync token expired")
	// ErrStaleEtag: the contact changed since it was read; re-read and merge.
	ErrStaleEtag = errors.New("google: stale etag")
	// ErrRevoked: the refresh token was revoked or expired (invalid_grant);
	// the connection needs a new consent. Not retryable.
	ErrRevoked = errors.New("google: authorization revoked or expired")
	// ErrNotFound: the contact or group does not exist (any more).
	ErrNotFound = errors.New("google: not found")
	// ErrAlreadyExists: a contact group with that name exists.
	ErrAlreadyExists = errors.New("google: already exists")
	// ErrRateLimited: quota still exceeded after every retry.
	ErrRateLimited = errors.New("google: rate limited")
	// ErrUncertain: a create failed in a way that does not tell whether it
	// was applied (5xx, timeout, dropped connection); it was not retried so
	// as not to duplicate the contact. Look for it before creating again.
	ErrUncertain = errors.New("google: write outcome unknown")
	// ErrTooMany: a batch exceeds the API's limit; nothing was sent.
	ErrTooMany = errors.New("google: batch too large")
)

// Error is an error of one client operation.
type Error struct {
	Op   string // e.g. "people.updateContact"
	Kind error  // one of the Err* sentinels, or nil
	Err  error  // the underlying error
}

func (e *Error) Error() string {
	if e.Kind != nil && !errors.Is(e.Err, e.Kind) {
		return fmt.Sprintf("google: %s: %v: %v", e.Op, e.Kind, e.Err)
	}
	return fmt.Sprintf("google: %s: %v", e.Op, e.Err)
}

// Unwrap exposes both the classification and the cause.
func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// opKind says how an operation may be retried and which errors apply.
type opKind int

const (
	opRead   opKind = iota // safe to retry on anything transient
	opList                 // a read that may answer EXPIRED_SYNC_TOKEN
	opUpdate               // etag-guarded or idempotent write: retried; a replay shows up as stale etag or not found
	opCreate               // not idempotent: retried only on 429, which Google answers before committing
)

// isExpiredSyncToken follows facts §1: the ErrorInfo reason in Details,
// then the message prefix, then the 410 of old docs. apierror's Reason() is
// not used: it comes back empty when the body carries the legacy errors[].
func isExpiredSyncToken(ge *googleapi.Error) bool {
	for _, d := range ge.Details {
		if m, ok := d.(map[string]any); ok && m["reason"] == "EXPIRED_SYNC_TOKEN" {
			return true
		}
	}
	return ge.Code == http.StatusGone ||
		(ge.Code == http.StatusBadRequest && strings.HasPrefix(ge.Message, "Sync token is expired"))
}

// isStaleEtag: 400 failedPrecondition on an update (facts §3). Some
// clients saw the same message as 403, so the message alone also counts.
func isStaleEtag(ge *googleapi.Error) bool {
	if strings.HasPrefix(ge.Message, "Request person.etag is different") {
		return true
	}
	if ge.Code != http.StatusBadRequest {
		return false
	}
	for _, it := range ge.Errors {
		if it.Reason == "failedPrecondition" {
			return true
		}
	}
	return bodyStatus(ge.Body) == "FAILED_PRECONDITION"
}

func bodyStatus(body string) string {
	var b struct {
		Error struct {
			Status string `json:"status"`
		} `json:"error"`
	}
	_ = json.Unmarshal([]byte(body), &b)
	return b.Error.Status
}

func isRevoked(err error) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == "invalid_grant"
}

// classify maps err of an operation of kind k to a sentinel (or nil).
func classify(k opKind, err error) error {
	if isRevoked(err) {
		return ErrRevoked
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return nil
	}
	switch {
	case k == opList && isExpiredSyncToken(ge):
		return ErrExpiredSyncToken
	case k == opUpdate && isStaleEtag(ge):
		return ErrStaleEtag
	case ge.Code == http.StatusNotFound:
		return ErrNotFound
	case ge.Code == http.StatusConflict:
		return ErrAlreadyExists
	case ge.Code == http.StatusTooManyRequests:
		return ErrRateLimited
	}
	return nil
}
