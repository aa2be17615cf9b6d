package syncplan

import "fmt"

// Conn is what the rules need to know about a connection, in the
// connection store's own words.
type Conn struct {
	// Status is the connection's state: "live", "first_sync", "paused",
	// "needs_reauth", "error" or "setup".
	Status string
	// HasGroup and HasUser: a Google group is chosen and the Pipedrive
	// user is known.
	HasGroup, HasUser bool
	// ReauthGoogle and ReauthPipedrive name the account that must be
	// connected again (a revoked grant).
	ReauthGoogle, ReauthPipedrive bool
}

// HoldKind says why a change is held instead of applied.
type HoldKind string

// Kinds of held changes.
const (
	// HoldDeferred: the connection is not syncing (paused, needs re-auth,
	// in error, not set up); the change is applied when it syncs again.
	HoldDeferred HoldKind = "deferred"
	// HoldFailed: the change failed permanently or too often; the user
	// retries or dismisses it. Transient failures are retried on their own.
	HoldFailed HoldKind = "failed"
	// HoldBrake: a delete held by the mass-delete brake; the user confirms
	// or restores it.
	HoldBrake HoldKind = "brake"
	// HoldReview: the record's twin is ambiguous; the user decides.
	HoldReview HoldKind = "review"
)

// Hold is the verdict "keep this change, with this reason, and acknowledge
// the message". Reason is plain words without personal data; Code is a
// stable key for the page and for tests.
type Hold struct {
	Kind   HoldKind
	Code   string
	Reason string
	// Candidates are the twins a record held for review could be (their
	// ids on the other side), for the user to choose from.
	Candidates []string
}

func (h Hold) String() string { return fmt.Sprintf("%s (%s): %s", h.Kind, h.Code, h.Reason) }

// Gate decides whether a connection's changes are applied now. A change of
// a connection that is not syncing is held as deferred, never dropped:
//
//	status                 → verdict
//	live                   → apply (a group and a Pipedrive user are set)
//	live without group/user → deferred "setup"
//	first_sync             → deferred "first_sync" (applied when it ends,
//	                         after the pairs it makes)
//	paused                 → deferred "paused"
//	needs_reauth           → deferred "reauth_google" / "reauth_pipedrive"
//	error                  → deferred "error"
//	setup, anything else   → deferred "setup"
func Gate(c Conn) (ok bool, h Hold) {
	deferred := func(code, reason string) (bool, Hold) {
		return false, Hold{Kind: HoldDeferred, Code: code, Reason: reason}
	}
	switch c.Status {
	case "live":
		if c.HasGroup && c.HasUser {
			return true, Hold{}
		}
	case "first_sync":
		return deferred("first_sync", "the first sync is running; it is applied when the first sync has paired this record")
	case "paused":
		return deferred("paused", "the sync is paused; it is applied when the sync resumes")
	case "needs_reauth":
		if c.ReauthPipedrive && !c.ReauthGoogle {
			return deferred("reauth_pipedrive", "Pipedrive must be connected again; it is applied then")
		}
		return deferred("reauth_google", "Google must be connected again; it is applied then")
	case "error":
		return deferred("error", "the connection is in error; it is applied when the sync resumes")
	}
	return deferred("setup", "the connection is not fully set up yet; it is applied when the sync starts")
}

// UnderReview is the rule for a record the first sync held for review (it
// matches several records of the other side, and is never guessed): its
// changes are held with its candidates until the user answers; the
// answer ("same" with the chosen twin, or "separate") lets the change
// through, and the record is then twinned as the user said.
func UnderReview(review, decision string, candidates []string) (held bool, h Hold) {
	if review == "" || decision == "same" || decision == "separate" {
		return false, Hold{}
	}
	return true, Hold{Kind: HoldReview, Code: "ambiguous", Candidates: candidates,
		Reason: "it matches several records of the other side; choose its twin, or keep it separate"}
}
