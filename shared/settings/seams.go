package settings

import (
	"context"
	"time"

	"github.com/contactsync/contactsync/shared/store"
)

// Seams: the parts of the page that show what the first sync (issue 12)
// and "never lose a change" (issue 10) keep. Each is a field of connView,
// rendered by the template block of the same name in templates/seams.html,
// which shows nothing while its field is empty. fillSeams is the one place
// that fills them; Preview and Progress stay empty until the first sync
// fills them.
//
//	field        block                what fills it
//	Preview      "firstsync-preview"  issue 12: counts, ambiguous matches, time estimate before Save
//	Progress     "firstsync-progress" issue 12: done/total per side, rate, time left (set Running)
//	Counts       "counts"             created/updated/deleted/merged/held (needs.go)
//	Brake        "brake"              the held deletes, Confirm / Restore (needs.go)
//	Held         "held"               held changes with Retry / Dismiss (needs.go)
//	Ambiguous    "ambiguous"          candidates side by side, "the same" / "keep separate" (needs.go)
//	Search       "history-search"     per-contact history: search by name, e-mail or phone (history.go)
//	LastWebhook  (in "status")        when the last Pipedrive webhook arrived
//
// The forms in these blocks post to /connections/{id}/{action} with the
// actions "brake-confirm", "brake-restore", "held-retry", "held-dismiss",
// "match-same" and "match-separate", answered by Handler.needsAction.

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

// CountsView are the connection's counters since connecting (Linked is
// shown apart): summed over the links, the deletes counted with the brake's
// window, the held changes counted; nothing is written per contact.
type CountsView struct {
	CreatedInGoogle, CreatedInPipedrive int64
	Updated, Deleted, Merged            int64
	Review, Held                        int64
}

// BrakeView is a tripped mass-delete brake, or the empty-side guard
// (Guard set): the deletes it holds for the user's Confirm or Restore.
type BrakeView struct {
	Since  time.Time
	Guard  string // "", store.PauseEmptyGoogle or store.PauseEmptyPipedrive
	Title  string
	Text   string // what happened
	Held   int64  // deletes held
	Listed []HeldDelete
	More   int64 // held but not listed
	// Confirm and Restore say what each button does.
	Confirm, Restore string
}

// HeldDelete is one delete the brake holds.
type HeldDelete struct {
	Contact string // the contact's name
	What    string // where it was deleted, in words
}

// HeldChange is one change held for the user (failed or deferred).
type HeldChange struct {
	ID       string
	Contact  string // the contact's name
	What     string // which side changed, in words
	Reason   shown  // in the page's language (English when unknown)
	Deferred bool   // applied by itself once the sync runs again
	Retrying bool   // the user's Retry is being carried out
	Attempts int
	At       time.Time
}

// AmbiguousMatch is one record held for review with the records of the
// other side it could be the same as.
type AmbiguousMatch struct {
	ID         string
	Explain    string // why it waits, in words
	Record     MatchCandidate
	Candidates []MatchCandidate
	// Unread: the records could not be read now (only the name is known);
	// "the same" is offered only for records the user can see.
	Unread bool
}

// MatchCandidate is one side's record in a review.
type MatchCandidate struct {
	ID     string
	Side   string // "In Pipedrive", in words
	Name   string
	Org    string
	Emails []string
	Phones []string
	Note   string // already linked, gone
	// Same: this candidate can be chosen as the same contact.
	Same bool
}

// ContactSearch is the per-contact history search and its result.
type ContactSearch struct {
	Query    string
	Searched bool
	Results  []ContactHistory
	More     bool // more contacts matched than are shown
}

// ContactHistory is one contact's history, newest first.
type ContactHistory struct {
	ID    string
	Name  string
	About string // organization and e-mail, to tell namesakes apart
	Facts string // created where, updates, conflicts
	Lines []ContactHistoryLine
}

// ContactHistoryLine is one line of a contact's history, in words; Detail
// is the sync's own note, as written.
type ContactHistoryLine struct {
	At       time.Time
	Text     string
	Conflict string
	Detail   shown
}

// fillSeams fills v's seam fields for c.
func (h *Handler) fillSeams(ctx context.Context, c *store.Connection, v *connView) {
	h.fillNeeds(ctx, c, v)
}
