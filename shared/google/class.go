package google

import (
	"context"
	"errors"
	"net/http"

	"google.golang.org/api/googleapi"
)

// How an error of this client may be handled, decided here next to the
// wire code so callers only ask.

// IsClientError reports whether err came from this client (an *Error).
func IsClientError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// Unauthorized reports an HTTP 401 from the API: the access token was
// refused. A fresh token source may still work (the refresh token was
// replaced by a reconnect, or only the access token was revoked); a revoked
// refresh token shows up as Revoked when the token is refreshed.
func Unauthorized(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusUnauthorized
}

// Revoked reports that the grant itself is gone (invalid_grant on refresh).
func Revoked(err error) bool { return errors.Is(err, ErrRevoked) }

// Transient reports an error of this client that may pass when the call is
// made again later: quota (429 after the client's retries), 5xx, 408,
// timeouts and transport errors, and a create whose outcome is unknown.
func Transient(err error) bool {
	var e *Error
	if !errors.As(err, &e) || Revoked(err) || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, ErrRateLimited) || errors.Is(err, ErrUncertain) {
		return true
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return true // transport error or timeout
	}
	return ge.Code == http.StatusRequestTimeout || ge.Code == http.StatusTooManyRequests || ge.Code >= 500
}

// Refused reports that Google refused the request itself (a 4xx that is
// not about the grant, the token, the quota, a timeout or a conflict): the
// same request will be refused again, another one may not. A 5xx, a 429 or
// a create whose outcome is unknown is never a refusal: it may have been
// applied, or pass.
func Refused(err error) bool {
	var ge *googleapi.Error
	return IsClientError(err) && errors.As(err, &ge) && ge.Code >= 400 && ge.Code < 500 &&
		!Revoked(err) && !Unauthorized(err) && !Conflict(err) && !Transient(err)
}

// Conflict reports that the contact changed or vanished between the read
// and the write (a stale etag, not found on write): read again and decide
// again.
func Conflict(err error) bool { return errors.Is(err, ErrStaleEtag) || errors.Is(err, ErrNotFound) }
