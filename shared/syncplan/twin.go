package syncplan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/match"
)

// Twin identification: what a record without a link is paired with.

// TwinVerdict is the outcome of a twin rule.
type TwinVerdict int

// Twin verdicts.
const (
	// NoTwin: nothing found; Decide creates the twin.
	NoTwin TwinVerdict = iota
	// AdoptLink: an existing link is this record's (our own create whose
	// commit is missing, or our contact re-keyed by Google); the change
	// continues on that link.
	AdoptLink
	// LinkTo: pair with the found record (a new link, decided with no base).
	LinkTo
	// Search: the marker rule found nothing; search by keys.
	Search
	// TwinInFlight: the found twin is being created by another delivery;
	// retry later.
	TwinInFlight
	// HoldForReview: the twin is ambiguous or already taken; held, never
	// guessed.
	HoldForReview
)

// MarkerFacts are the facts about a Google contact's clientData marker (the
// Pipedrive person id written on every contact we create).
type MarkerFacts struct {
	// Marker is the person id the contact carries, "" for none.
	Marker string
	// Linked: that person has a link. LinkContact is the link's Google
	// contact ("" when it has none yet); LinkCreating: the link holds a
	// pending Google create.
	Linked       bool
	LinkContact  string
	LinkCreating bool
	// LinkContactGone: LinkContact no longer exists (Google re-keyed it).
	LinkContactGone bool
	// PersonLive: the person exists and is not deleted.
	PersonLive bool
}

// ByMarker is the marker rule for a Google contact in the group without a
// link:
//
//	marker  person's link                                → verdict
//	none    –                                            → search
//	set     no contact yet, or a pending Google create   → adopt (our create, commit missing)
//	set     another contact that is gone                 → adopt (Google re-keyed ours)
//	set     another contact that exists                  → hold for review (a copy)
//	set     none, person live                            → link to the person
//	set     none, person gone                            → search
func ByMarker(f MarkerFacts) (TwinVerdict, Hold) {
	switch {
	case f.Marker == "":
		return Search, Hold{}
	case f.Linked && (f.LinkContact == "" || f.LinkCreating || f.LinkContactGone):
		return AdoptLink, Hold{}
	case f.Linked:
		h := review("copy", "it carries the mark of Pipedrive person "+f.Marker+
			", which is already linked to another Google contact (a copy?)")
		h.Candidates = []string{f.Marker}
		return HoldForReview, h
	case f.PersonLive:
		return LinkTo, Hold{}
	}
	return Search, Hold{}
}

// SearchFacts are the results of searching the other side by keys.
type SearchFacts struct {
	// Rule is the matching rule that found candidates ("email", …).
	Rule string
	// Candidates are the matching records' ids.
	Candidates []string
	// Linked: the single candidate already has a link; Creating: that
	// link's pending create is young (still in flight).
	Linked, Creating bool
}

// BySearch is the search rule:
//
//	candidates  the one candidate          → verdict
//	none        –                          → no twin (create)
//	several     –                          → hold for review (ambiguous)
//	one         linked, create in flight   → retry later
//	one         linked                     → hold for review (taken)
//	one         free                       → link to it
func BySearch(f SearchFacts) (TwinVerdict, Hold) {
	switch {
	case len(f.Candidates) == 0:
		return NoTwin, Hold{}
	case len(f.Candidates) > 1:
		h := review("ambiguous", fmt.Sprintf("it matches %d records of the other side (%s) by %s",
			len(f.Candidates), strings.Join(f.Candidates, ", "), f.Rule))
		h.Candidates = f.Candidates
		return HoldForReview, h
	case f.Linked && f.Creating:
		return TwinInFlight, Hold{}
	case f.Linked:
		h := review("taken", "it matches "+f.Candidates[0]+" by "+f.Rule+
			", which is already linked to another contact")
		h.Candidates = f.Candidates
		return HoldForReview, h
	}
	return LinkTo, Hold{}
}

func review(code, reason string) Hold { return Hold{Kind: HoldReview, Code: code, Reason: reason} }

// SharesKey reports whether a and b share a normalized e-mail, an E.164
// phone, or the same non-empty name: how the outcome of a create whose
// answer was lost is recognised among recent records.
func SharesKey(a, b contact.Contact) bool {
	for _, r := range []match.Rule{match.ByEmail, match.ByPhone} {
		bk := match.Keys(r, b)
		for _, k := range match.Keys(r, a) {
			if slices.Contains(bk, k) {
				return true
			}
		}
	}
	n := strings.ToLower(strings.Join(strings.Fields(a.DisplayName()), " "))
	return n != "" && n == strings.ToLower(strings.Join(strings.Fields(b.DisplayName()), " "))
}

// CreatedSince reports whether a record added at added can be the outcome
// of a create intended at at: added no earlier than two seconds before it
// (the service's clock is not ours; Pipedrive keeps whole seconds).
func CreatedSince(added, at time.Time) bool { return !added.Before(at.Add(-2 * time.Second)) }
