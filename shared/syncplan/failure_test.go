package syncplan

import "testing"

// The failure table as Apply uses it: first asked with attempts 0; when
// the answer is "retry later" the failure is counted and it is asked again
// with the count (this delivery included).
func TestRecover(t *testing.T) {
	for _, tc := range []struct {
		name     string
		f        Failure
		rounds   int
		attempts int
		reopened bool
		want     Recovery
		hold     HoldKind
		code     string
	}{
		// something changed under us
		{"a stale Google etag: read and decide again at once", FailConflict, 1, 0, false, Redecide, "", ""},
		{"the record changed again in the last round allowed", FailConflict, MaxRedecide - 1, 0, false, Redecide, "", ""},
		{"the user keeps editing while we write: after MaxRedecide rounds, retry later", FailConflict, MaxRedecide, 0, false, RetryLater, "", ""},
		{"the user keeps editing: the fourth failed delivery is still retried", FailConflict, MaxRedecide, MaxAttempts - 1, false, RetryLater, "", ""},
		{"the user keeps editing: the fifth failed delivery is held, retried by the poller", FailConflict, MaxRedecide, MaxAttempts, false, HoldChange, HoldFailed, "transient"},
		// the access token
		{"the user reconnected Google: the cached clients' token is refused", FailUnauthorized, 1, 0, false, Reopen, "", ""},
		{"still refused with fresh clients: retry later", FailUnauthorized, 2, 1, true, RetryLater, "", ""},
		{"refused with fresh clients, the fifth time: held", FailUnauthorized, 2, MaxAttempts, true, HoldChange, HoldFailed, "transient"},
		// the grant
		{"the user revoked Google's access", FailRevokedGoogle, 1, 0, false, NeedsReauth, HoldDeferred, "reauth_google"},
		{"the user revoked Pipedrive's access", FailRevokedPipedrive, 1, 0, false, NeedsReauth, HoldDeferred, "reauth_pipedrive"},
		{"revoked after other failures: still kept for the reconnect", FailRevokedGoogle, 3, MaxAttempts + 2, true, NeedsReauth, HoldDeferred, "reauth_google"},
		// transient
		{"a 5xx, a 429, a timeout or Cloudflare's 403 page: retry later", FailTransient, 1, 0, false, RetryLater, "", ""},
		{"the fourth failed delivery is still retried", FailTransient, 1, MaxAttempts - 1, false, RetryLater, "", ""},
		{"the fifth failed delivery is held, retried by the poller", FailTransient, 1, MaxAttempts, false, HoldChange, HoldFailed, "transient"},
		{"a failure count beyond the limit (a redelivery raced the hold)", FailTransient, 1, MaxAttempts + 3, false, HoldChange, HoldFailed, "transient"},
		{"an unclassified failure is retried, never dropped", Failure(""), 1, 0, false, RetryLater, "", ""},
		// held at once
		{"Pipedrive's daily budget is spent: held until the reset", FailDailyBudget, 1, 0, false, HoldChange, HoldFailed, "daily_budget"},
		{"a refusal that can never pass as it is (a 400): held for the user", FailPermanent, 1, 0, false, HoldChange, HoldFailed, "permanent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, h := Recover(tc.f, tc.rounds, tc.attempts, tc.reopened)
			if got != tc.want || h.Kind != tc.hold || h.Code != tc.code || (tc.hold != "") != (h.Reason != "") {
				t.Errorf("Recover(%q, rounds %d, attempts %d, reopened %v) = %v, %+v; want %v, %s %q with a reason",
					tc.f, tc.rounds, tc.attempts, tc.reopened, got, h, tc.want, tc.hold, tc.code)
			}
		})
	}
}
