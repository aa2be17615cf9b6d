package settings

import (
	"context"
	"time"

	"github.com/contactsync/contactsync/shared/store"
)

// Seams: the parts of the page that show what the first sync (issue 12)
// and "never lose a change" (issue 10) will keep. Each is a field of
// connView that stays empty today, rendered by the template block of the
// same name in templates/seams.html, which shows nothing while its field
// is empty; their texts are in the i18n files under "seam.". fillSeams is
// the one place that fills them.
//
//	field        block                what fills it
//	Preview      "firstsync-preview"  issue 12: counts, ambiguous matches, time estimate before Save
//	Progress     "firstsync-progress" issue 12: done/total per side, rate, time left (set Running)
//	Counts       "counts"             created/updated/deleted/merged/held, aggregated per applied batch
//	Brake        "brake"              issue 10: the held deletes, Confirm / Restore
//	Held         "held"               issue 10: held changes with Retry / Dismiss
//	Ambiguous    "ambiguous"          issue 12: candidates side by side, "the same" / "keep separate"
//	Search       "history-search"     per-contact history: search by name, e-mail or phone
//	LastWebhook  (in "status")        when the last Pipedrive webhook arrived
//
// The forms in these blocks post to /connections/{id}/{action} with the
// actions "brake-confirm", "brake-restore", "held-retry", "held-dismiss",
// "match-same" and "match-separate"; Handler.action answers them with 404
// until their handlers exist.

// FirstSyncPreview is what Save will do, shown before the first sync.
type FirstSyncPreview struct {
	ToGoogle, ToPipedrive, Matched, Ambiguous int64
	Estimate                                  time.Duration
}

// FirstSyncProgress is the first sync's live progress.
type FirstSyncProgress struct {
	PipedriveDone, PipedriveTotal int64
	GoogleDone, GoogleTotal       int64
	PerMinute                     int64
	Left                          time.Duration
}

// CountsView are the connection's counters (Linked is shown apart).
type CountsView struct {
	Created, Updated, Deleted, Merged, Held int64
}

// BrakeView is a tripped mass-delete brake.
type BrakeView struct {
	Deletes, Limit, Linked int64
	// Contacts are the held deletes' contacts, by name.
	Contacts []string
}

// HeldChange is one change held for review.
type HeldChange struct {
	ID       string
	Contact  string // the contact's name
	Reason   string // in the page's language
	Attempts int
	At       time.Time
}

// AmbiguousMatch is one contact that matches several on the other side.
type AmbiguousMatch struct {
	ID         string
	Contact    string
	Candidates []MatchCandidate
}

// MatchCandidate is one side's record in an ambiguous match.
type MatchCandidate struct {
	Side, Name, Email, Phone string
}

// ContactSearch is the per-contact history search and its result.
type ContactSearch struct {
	Query   string
	Results []ContactHistory
}

// ContactHistory is one contact's history lines, newest first.
type ContactHistory struct {
	Name  string
	Lines []ContactHistoryLine
}

// ContactHistoryLine is one line of a contact's history, in words.
type ContactHistoryLine struct {
	At   time.Time
	Text string
}

// fillSeams fills v's seam fields for c. Nothing fills them yet.
func (h *Handler) fillSeams(_ context.Context, _ *store.Connection, _ *connView) {}
