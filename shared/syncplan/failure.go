package syncplan

import (
	"fmt"
	"time"
)

// Failure is the class of an error that stopped one apply, as the API
// clients classify their errors next to the wire code.
type Failure string

// Failure classes.
const (
	// FailConflict: something changed under us (a stale etag, a record gone
	// between read and write, the link changed): read and decide again.
	FailConflict Failure = "conflict"
	// FailUnauthorized: the service refused the access token (HTTP 401);
	// a fresh token may work (credentials replaced by a reconnect, or an
	// access token revoked while its refresh token is fine).
	FailUnauthorized Failure = "unauthorized"
	// FailRevokedGoogle / FailRevokedPipedrive: the grant is gone; the user
	// must connect that account again.
	FailRevokedGoogle    Failure = "revoked_google"
	FailRevokedPipedrive Failure = "revoked_pipedrive"
	// FailTransient: 429, 5xx, timeouts, Cloudflare's 403 page, a create
	// whose outcome is not known yet, a create still in flight.
	FailTransient Failure = "transient"
	// FailDailyBudget: Pipedrive's daily token budget is spent; nothing
	// works until its reset.
	FailDailyBudget Failure = "daily_budget"
	// FailPermanent: the request can never succeed as it is (a 4xx).
	FailPermanent Failure = "permanent"
)

// Recovery is what to do about a failure.
type Recovery int

// Recoveries.
const (
	// Redecide: read and decide again now, in the same delivery.
	Redecide Recovery = iota
	// Reopen: drop the connection's cached clients, open them afresh
	// from the stored credentials, and try once more.
	Reopen
	// RetryLater: return an error so Pub/Sub redelivers with backoff.
	RetryLater
	// HoldChange: keep the change as held (see Hold) and acknowledge it.
	HoldChange
	// NeedsReauth: the connection needs the account connected again; the
	// change is held as deferred and applied then.
	NeedsReauth
)

// Limits of the failure table.
const (
	// MaxRedecide bounds read-and-decide-again rounds in one delivery.
	MaxRedecide = 4
	// MaxAttempts bounds the deliveries of one change that fail
	// transiently before it is held (and retried by the poller later).
	MaxAttempts = 5
	// HeldRetry is how long a transiently failed, held change waits before
	// the poller publishes it again.
	HeldRetry = 15 * time.Minute
)

// Recover is the failure table. rounds counts the decide rounds of this
// delivery, attempts the failed deliveries of this change so far (this one
// included), reopened whether the clients were opened afresh already.
//
//	failure        condition                   → recovery
//	conflict       rounds < MaxRedecide        → decide again
//	conflict       otherwise                   → retry later (then held)
//	unauthorized   not reopened                → reopen the clients, try once more
//	unauthorized   reopened                    → retry later (then held)
//	revoked        –                           → needs re-auth (held as deferred)
//	transient      attempts < MaxAttempts      → retry later
//	transient      otherwise                   → held "failed", retried by the poller
//	daily budget   –                           → held "failed", retried after the reset
//	permanent      –                           → held "failed" until the user retries or dismisses
func Recover(f Failure, rounds, attempts int, reopened bool) (Recovery, Hold) {
	held := func(code, reason string) (Recovery, Hold) {
		return HoldChange, Hold{Kind: HoldFailed, Code: code, Reason: reason}
	}
	tooMany := func() (Recovery, Hold) {
		return held("transient", fmt.Sprintf("it failed %d times in a row (the service was unavailable or busy); it is tried again automatically", attempts))
	}
	switch f {
	case FailConflict:
		if rounds < MaxRedecide {
			return Redecide, Hold{}
		}
	case FailUnauthorized:
		if !reopened {
			return Reopen, Hold{}
		}
	case FailRevokedGoogle:
		return NeedsReauth, Hold{Kind: HoldDeferred, Code: "reauth_google", Reason: "Google access was revoked or has expired; connect Google again"}
	case FailRevokedPipedrive:
		return NeedsReauth, Hold{Kind: HoldDeferred, Code: "reauth_pipedrive", Reason: "Pipedrive access was revoked or has expired; connect Pipedrive again"}
	case FailDailyBudget:
		return held("daily_budget", "Pipedrive's daily request budget for the company is used up; it is applied after the budget resets")
	case FailPermanent:
		return held("permanent", "the service refused the change")
	}
	if attempts >= MaxAttempts {
		return tooMany()
	}
	return RetryLater, Hold{}
}
