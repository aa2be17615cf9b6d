package google

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"

	"github.com/contactsync/contactsync/shared/logging"
)

// Errors the client classifies; match them with errors.Is. The underlying
// *googleapi.Error or *oauth2.RetrieveError stays reachable with errors.As.
var (
	// ErrExpiredSyncToken: the sync token expired; run a full sync without it.
	ErrExpiredSyncToken = errors.New("google: sync token expired")
	// ErrSyncTokenRefused: a request with a sync token was refused (400),
	// typically because our list parameters changed since the call that
	// produced the token ("all other request parameters must match the
	// first call", discovery doc, connections.list). It wraps
	// ErrExpiredSyncToken: drop the token and run a full sync, exactly as
	// for an expired one.
	ErrSyncTokenRefused = fmt.Errorf("google: sync token refused (list parameters changed?): %w", ErrExpiredSyncToken)
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

// Error says what failed in our words and Google's answer by its status and
// reasons only: the message, details and body of an API error, and the
// description of a token endpoint's refusal, can echo the contact or the
// request (a name, an e-mail address) and are left out, since callers log
// this text. The cause, whole, stays reachable with errors.As.
func (e *Error) Error() string {
	if e.Kind != nil && !errors.Is(e.Err, e.Kind) {
		return fmt.Sprintf("google: %s: %v: %s", e.Op, e.Kind, describe(e.Err))
	}
	return fmt.Sprintf("google: %s: %s", e.Op, describe(e.Err))
}

// describe is err's text without what Google's answer said.
func describe(err error) string {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		s := fmt.Sprintf("Google answered HTTP %d", ge.Code)
		var reasons []string
		for _, it := range ge.Errors {
			if r := word(it.Reason); r != "" && !slices.Contains(reasons, r) {
				reasons = append(reasons, r)
			}
		}
		if st := word(bodyStatus(ge.Body)); st != "" {
			reasons = append(reasons, st)
		}
		if len(reasons) > 0 {
			s += " (" + strings.Join(reasons, ", ") + ")"
		}
		return s
	}
	if err == nil {
		return "<nil>"
	}
	return logging.RedactTokenError(err).Error()
}

// word keeps a reason or status code ("failedPrecondition",
// "FAILED_PRECONDITION") if it is one: letters and "_", at most 40.
func word(s string) string {
	if len(s) > 40 || strings.IndexFunc(s, func(r rune) bool { return r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') }) >= 0 {
		return ""
	}
	return s
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
	opRead      opKind = iota // safe to retry on anything transient
	opList                    // a listing without a sync token
	opListToken               // a listing with a sync token: may answer EXPIRED_SYNC_TOKEN or refuse the token
	opEtagWrite               // etag-guarded write (updateContact, batchUpdateContacts): a replay shows up as stale etag
	opWrite                   // idempotent write without an etag (deletes, members.modify): retried; no stale-etag reading
	opCreate                  // not idempotent: retried only on 429, which Google answers before committing
)

// mutates reports whether k changes data: such calls are serialized per
// user, as Google asks.
func (k opKind) mutates() bool { return k == opEtagWrite || k == opWrite || k == opCreate }

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
	case (k == opList || k == opListToken) && isExpiredSyncToken(ge):
		return ErrExpiredSyncToken
	case k == opListToken && ge.Code == http.StatusBadRequest:
		// The refusal of a token whose parameters changed is not
		// described (an INVALID_ARGUMENT was seen for a bad token, facts
		// §8 [I-fp2]); any other 400 of a token call is taken for it too:
		// the full listing that follows shows whether the request itself
		// is at fault.
		return ErrSyncTokenRefused
	case k == opEtagWrite && isStaleEtag(ge):
		// Only calls that send an etag can have a stale one.
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
