package pipedrive

import (
	"context"
	"errors"
	"net/http"
)

// How an error of this client may be handled, decided here next to the
// wire code so callers only ask.

// Unauthorized reports an HTTP 401: the token was refused (an API token
// regenerated or removed, an OAuth access token revoked).
func Unauthorized(err error) bool { return errors.Is(err, ErrUnauthorized) }

// Revoked reports that the OAuth grant itself is gone (refresh refused).
func Revoked(err error) bool { return errors.Is(err, ErrInvalidGrant) }

// Transient reports an error that may pass when the call is made again
// later: 429 (burst window), 5xx, a 403 that is not Pipedrive's JSON (the
// Cloudflare page Pipedrive serves clients it throttles, facts §5), and
// transport errors and timeouts.
func Transient(err error) bool {
	if err == nil || Revoked(err) || errors.Is(err, context.Canceled) {
		return false
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return true
	}
	switch {
	case ae.StatusCode == http.StatusTooManyRequests, ae.StatusCode >= 500:
		return true
	case ae.StatusCode == http.StatusForbidden:
		return !ae.JSON
	}
	return false
}

// Gone reports that the record does not exist (any more): 404 or 410.
func Gone(err error) bool { return errors.Is(err, ErrNotFound) || errors.Is(err, ErrGone) }

// DailyBudget reports a 429 of the company's daily token budget rather
// than of the 2-second burst window (see ErrDailyBudget): waiting seconds
// cannot help; back off until DailyBudgetRetryAt.
func DailyBudget(err error) bool { return errors.Is(err, ErrDailyBudget) }
