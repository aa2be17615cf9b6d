package syncplan

import (
	"fmt"
	"math"
)

// Brake is the mass-delete brake: a batch (one poll, one webhook burst)
// that would delete more than Share of the linked contacts, and more than
// Min, pauses the connection until the user confirms.
type Brake struct {
	Share float64 // e.g. 0.2
	Min   int     // deletes up to Min never trip the brake
}

// DefaultBrake is SPEC's default: 20 %, min 10 contacts.
var DefaultBrake = Brake{Share: 0.2, Min: 10}

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

// CheckEmptySide is the empty-side guard, for full listings.
func CheckEmptySide(side Side, links, listed int) error {
	if links > 0 && listed == 0 {
		return &EmptySideError{Side: side, Links: links}
	}
	return nil
}
