package syncplan

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Brake is the mass-delete brake (SPEC section 4): it counts a
// connection's destructive writes (deletes and group removals, from either
// side) over a sliding window, and holds every delete beyond the limit
// until the user confirms it or restores the deleted record.
type Brake struct {
	Share  float64       // e.g. 0.2 of the linked contacts
	Min    int           // a window may always hold this many deletes
	Window time.Duration // the sliding window
}

// DefaultBrake is SPEC's default: more than 20 % of the linked contacts,
// at least 10, within 30 minutes.
var DefaultBrake = Brake{Share: 0.2, Min: 10, Window: 30 * time.Minute}

// Allow decides one change's destructive writes against the window:
// recent are the times of the deletes already made (any order), links the
// linked contacts now, deletes this change's destructive writes, tripped
// whether the brake holds deletes awaiting the user's decision, confirmed
// whether the user confirmed this one. It returns whether they may run
// and the window to store (pruned, with this change's deletes added when
// allowed).
//
//	confirmed by the user              → allowed, not counted
//	brake tripped, awaiting a decision → held (resuming without deciding
//	                                     keeps deletes held)
//	window + deletes > limit           → held (the brake trips)
//	otherwise                          → allowed, counted
func (b Brake) Allow(recent []time.Time, now time.Time, links, deletes int, tripped, confirmed bool) (bool, []time.Time) {
	win := b.Window
	if win <= 0 {
		win = DefaultBrake.Window
	}
	kept := make([]time.Time, 0, len(recent)+deletes)
	for _, t := range recent {
		// A delete stamped ahead of now was made by an instance whose
		// clock runs ahead: it counts (dropped, it would also be gone
		// from the stored window for good). Only a stamp a whole window
		// ahead, a clock gone wrong, is dropped, so it cannot count forever.
		if now.Sub(t) < win && t.Sub(now) < win {
			kept = append(kept, t)
		}
	}
	slices.SortFunc(kept, func(a, b time.Time) int { return a.Compare(b) })
	switch {
	case deletes == 0 || confirmed:
		return true, kept
	case tripped:
		return false, kept
	}
	// The limit is taken of the links before the window's deletes, so a
	// mass delete does not lower its own limit as it goes.
	if b.Check(links+len(kept), len(kept)+deletes) != nil {
		return false, kept
	}
	for range deletes {
		kept = append(kept, now)
	}
	return true, kept
}

// MassDeleteError is returned when the brake trips.
type MassDeleteError struct {
	Deletes int // planned deletes in the batch
	Links   int // linked contacts of the connection
	Limit   int // the most deletes allowed
}

func (e *MassDeleteError) Error() string {
	return fmt.Sprintf("syncplan: mass-delete brake: %d deletes planned for %d linked contacts (limit %d); confirm to continue",
		e.Deletes, e.Links, e.Limit)
}

// Limit is the most deletes a batch may make with links linked contacts:
// the share, but never less than Min.
func (b Brake) Limit(links int) int {
	share := b.Share
	if share <= 0 || math.IsNaN(share) {
		share = DefaultBrake.Share
	}
	lim := int(math.Floor(share * float64(max(links, 0))))
	return max(lim, b.Min)
}

// Check returns a *MassDeleteError when deletes exceed the limit. Run it
// over a batch's plans (Plan.Deletes) before executing any of them.
func (b Brake) Check(links, deletes int) error {
	if lim := b.Limit(links); deletes > lim {
		return &MassDeleteError{Deletes: deletes, Links: links, Limit: lim}
	}
	return nil
}

// CountDeletes sums the destructive actions of a batch of plans.
func CountDeletes(plans []Plan) int {
	n := 0
	for _, p := range plans {
		n += p.Deletes()
	}
	return n
}

// EmptySideError is returned when a side lists no contacts at all while
// links exist: far more likely an outage, a revoked scope or a wrong group
// than the user deleting everything, so the connection pauses.
type EmptySideError struct {
	Side  Side
	Links int
}

func (e *EmptySideError) Error() string {
	return fmt.Sprintf("syncplan: %s lists no contacts while %d are linked; paused instead of deleting them all", sideName(e.Side), e.Links)
}

// CheckEmptySide is the empty-side guard: links is the number of linked
// contacts, listed how many the side shows now (a full listing, or the
// group's member count after a delta poll). It guards more links than the
// brake's minimum: deleting up to that many is the user's to do (the brake
// lets as many through), and a user who deletes the one contact of a
// small group is not stopped by a pause.
func CheckEmptySide(side Side, links, listed int) error {
	if links > DefaultBrake.Min && listed == 0 {
		return &EmptySideError{Side: side, Links: links}
	}
	return nil
}

// LinksLost says the link table was lost (or never made): of the persons
// the user owns, more than half have no link, and they are more than the
// brake's minimum. Every owned person is linked once synced, so this is
// far beyond the few a pending change or a held one explains; the cure is
// a full reconcile, which re-pairs them without duplicates.
func LinksLost(links, owned int) bool {
	return owned > DefaultBrake.Min && links*2 < owned
}
