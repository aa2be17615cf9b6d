package pipedrive

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors. Every error returned for a non-2xx answer is an *APIError
// that matches exactly one of these with errors.Is.
var (
	ErrBadRequest    = errors.New("pipedrive: bad request")              // 400
	ErrUnauthorized  = errors.New("pipedrive: unauthorized")             // 401: token bad, expired or revoked
	ErrPaymentReq    = errors.New("pipedrive: company account not open") // 402
	ErrForbidden     = errors.New("pipedrive: forbidden")                // 403: scope, plan limit or Cloudflare
	ErrNotFound      = errors.New("pipedrive: not found")                // 404
	ErrGone          = errors.New("pipedrive: gone")                     // 410
	ErrWebhookLimit  = errors.New("pipedrive: webhook limit reached")    // 422 on POST /v1/webhooks
	ErrUnprocessable = errors.New("pipedrive: unprocessable entity")     // 422 elsewhere
	ErrRateLimited   = errors.New("pipedrive: rate limited")             // 429 after our retries gave up
	ErrUnavailable   = errors.New("pipedrive: service unavailable")      // 5xx
	// ErrDailyBudget is a 429 that is not the 2-second burst window: the
	// company's daily token budget is spent, and every request is refused
	// until Pipedrive's daily reset (PRL). It wraps ErrRateLimited, so
	// checks for that still hold. Back off until DailyBudgetRetryAt.
	ErrDailyBudget = fmt.Errorf("pipedrive: daily API budget spent: %w", ErrRateLimited)
)

// DailyBudgetMargin is added to the expected daily reset before trying
// again, for clock skew between us and Pipedrive.
const DailyBudgetMargin = 15 * time.Minute

// DailyBudgetRecheck is how often to try again once the expected daily
// reset has passed and the budget is still refused.
const DailyBudgetRecheck = time.Hour

// DailyBudgetRetryAt says when to send the next request after
// ErrDailyBudget, first seen at blockedSince (the zero time: now).
//
// Pipedrive resets the budget "at server midnight" (PRL); which time zone
// that is, and the headers of the daily-budget 429, are undocumented
// (facts-pipedrive.md, Corrections, "Rate-limit headers"), so no reset
// time is read from the answer. Assumed: midnight in loc, the company's
// time zone when known (e.g. users/me timezone_name), else UTC. Until
// that midnight (plus DailyBudgetMargin) has passed since blockedSince,
// wait for it; after it, a budget still refused means the assumption was
// wrong (another zone's midnight): try again every DailyBudgetRecheck
// rather than skipping a whole day.
func DailyBudgetRetryAt(now, blockedSince time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	if blockedSince.IsZero() || blockedSince.After(now) {
		blockedSince = now
	}
	b := blockedSince.In(loc)
	reset := time.Date(b.Year(), b.Month(), b.Day()+1, 0, 0, 0, 0, loc).Add(DailyBudgetMargin)
	if now.Before(reset) {
		return reset
	}
	return now.Add(DailyBudgetRecheck)
}

// RateLimit is what the x-ratelimit-* headers of one response said.
// Zero values mean the header was absent.
type RateLimit struct {
	Limit     int
	Remaining int
	// Reset is how long until the 2-second burst window frees up again;
	// documented for that window only (PRL), never a daily reset.
	Reset time.Duration
	// DailyLeft is x-daily-requests-left (API-token clients, writes only); -1 if absent.
	DailyLeft int
}

// APIError is a non-2xx answer from Pipedrive.
type APIError struct {
	StatusCode int
	Method     string
	Path       string // without query, never carrying a token
	Message    string // the envelope's "error"
	Info       string // the envelope's "error_info"
	Code       string // the envelope's "code", for plan-limit 403s
	// Fields holds per-field messages of the v1 webhook error shape.
	Fields map[string][]string
	// JSON: the body was Pipedrive's JSON envelope (not, e.g., the HTML
	// page of its Cloudflare front).
	JSON      bool
	RateLimit RateLimit
	kind      error
}

// Error says which call failed and how, by the status (and Pipedrive's
// error code, when it is one): the envelope's message, error_info and
// field messages are Pipedrive's words, which can echo the record (a name,
// an e-mail address), and are left out since callers log this text. They
// stay in the fields.
func (e *APIError) Error() string {
	s := fmt.Sprintf("pipedrive: %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if c := errorCode(e.Code); c != "" {
		s += " (code " + c + ")"
	}
	return s
}

// errorCode keeps Pipedrive's error code ("feature_capping_…") if it looks
// like one: letters, digits, "_", "-" and ".", at most 60.
func errorCode(s string) string {
	if len(s) > 60 || strings.IndexFunc(s, func(r rune) bool {
		return r != '_' && r != '-' && r != '.' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9')
	}) >= 0 {
		return ""
	}
	return s
}

// Unwrap lets errors.Is match the sentinel for the status code.
func (e *APIError) Unwrap() error { return e.kind }

func kindFor(status int, method, path string) error {
	switch {
	case status == http.StatusBadRequest:
		return ErrBadRequest
	case status == http.StatusUnauthorized:
		return ErrUnauthorized
	case status == http.StatusPaymentRequired:
		return ErrPaymentReq
	case status == http.StatusForbidden:
		return ErrForbidden
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusGone:
		return ErrGone
	case status == http.StatusUnprocessableEntity:
		if method == http.MethodPost && path == "/api/v1/webhooks" {
			return ErrWebhookLimit
		}
		return ErrUnprocessable
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status >= 500:
		return ErrUnavailable
	}
	return ErrBadRequest
}
