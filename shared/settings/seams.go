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
// that fills them.
//
//	field        block                what fills it
//	Preview      "firstsync-preview"  the preview before Save: counts, samples, time (firstsync.go)
//	Progress     "firstsync-progress" the first sync's or a reconcile's progress (firstsync.go; sets Running)
//	Finished     "firstsync-done"     what the finished first sync did (firstsync.go)
//	Counts       "counts"             created/updated/deleted/merged/held (needs.go)
//	Brake        "brake"              the held deletes, Confirm / Restore (needs.go)
//	Held         "held"               held changes with Retry / Dismiss (needs.go)
//	Ambiguous    "ambiguous"          candidates side by side, "the same" / "keep separate" (needs.go)
//	Search       "history-search"     per-contact history: search by name, e-mail or phone (history.go)
//	LastWebhook  (in "status")        when the last Pipedrive webhook arrived
//
// The forms in these blocks post to /connections/{id}/{action} with the
// actions "preview" (the preview's button, in the setup form), "brake-confirm", "brake-restore", "held-retry", "held-dismiss",
// "match-same" and "match-separate", answered by Handler.needsAction.

// FirstSyncPreview is what Save will do, shown before the first sync: a
// preview being prepared (Running), one that failed (Failed), or its
// counts, samples and time estimate, in the page's language.
type FirstSyncPreview struct {
	Running bool  // both sides are being listed and matched
	Failed  shown // why the preview did not finish ("" if it did)
	At      time.Time

	PipedriveListed, GoogleListed int64
	ToGoogle, ToPipedrive         int64  // records created on the other side
	Matched                       int64  // twins found on both sides
	MatchedBy                     string // how many by which rule, in words
	AlreadyLinked                 int64
	UpdateGoogle, UpdatePipedrive int64
	Conflicts                     int64 // fields the twins fill differently
	ConflictSample                []PreviewConflict
	ConflictsMore                 int64 // conflicts not in the sample
	Ambiguous                     int64 // records held for the user to decide
	AmbiguousSample               []PreviewAmbiguous
	OutsideGroup                  int64 // Google contacts outside the group, left alone
	Missing                       int64
	OrgsToCreate                  int64

	Estimate     time.Duration
	EstimateText string // "about 2 hours"
	Budget       string // why it takes days: Pipedrive's daily budget ("" if it does not bind)
	Plan         string // the Pipedrive plan detected, in words
}

// PreviewConflict is one field a pair of twins fills differently (the
// owner's own data, shown only on the owner's page).
type PreviewConflict struct {
	Name   string
	Text   string // the field and both values, in words
	Winner string // which value is kept, in words
}

// PreviewAmbiguous is one group of records that match each other without
// pairing: the rule and the records' names on both sides, in words.
type PreviewAmbiguous struct {
	Text string
}

// FirstSyncProgress is the live progress of the first sync (or of a full
// reconcile): its phase in words, done/total per side, rate, time left.
type FirstSyncProgress struct {
	Reconcile bool
	Phase     string // store.PhaseListing, PhaseWriting or PhaseWaiting
	Title     string // the phase in words
	ResumeAt  time.Time
	Reason    shown // why it waits

	PipedriveDone, PipedriveTotal int64
	GoogleDone, GoogleTotal       int64
	LinksDone, LinksTotal         int64
	PerMinute                     int64
	Left                          time.Duration
	LeftText                      string // "" while unknown
}

// FirstSyncDone is what the finished first sync (or reconcile) did, from
// the job's counts.
type FirstSyncDone struct {
	Title string // "First sync finished"
	At    time.Time
	Text  string // "12 created in Google, 3 in Pipedrive, …"
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
	h.fillFirstSync(c, v) // after the counts: the links counted last
}
