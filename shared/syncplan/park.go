package syncplan

// Parked links: when a person's Pipedrive owner changes away from the
// user, its Google contact leaves the group (it stays in the user's
// contacts) and the link is parked: it keeps the base and remembers the
// contact. If the person comes back to the user, the same contact rejoins
// the group instead of a second one being created next to it.

// ParkedContact is the state of a parked link's Google contact.
type ParkedContact int

// States of a parked contact.
const (
	// ContactGone: deleted, or it no longer carries our marker for the
	// person (not ours any more).
	ContactGone ParkedContact = iota
	// ContactOutOfGroup: ours, outside the group (as it was parked).
	ContactOutOfGroup
	// ContactInGroup: ours, already back in the group (the user put it back).
	ContactInGroup
)

// Unparked is what to do with a parked link.
type Unparked int

// Verdicts for a parked link.
const (
	// StillAway: the person belongs to someone else; nothing to sync.
	StillAway Unparked = iota
	// Release: the person was deleted; the link is dropped and the
	// contact outside the group is left alone.
	Release
	// Rejoin: the person is the user's again; its contact joins the group
	// and the change is decided against the kept base.
	Rejoin
	// Resume: as Rejoin, the contact being in the group already.
	Resume
	// Fresh: the person is the user's again but its contact is gone; the
	// link forgets it and the base, and the person is new to Google.
	Fresh
)

// Unpark decides about a parked link:
//
//	person (Pipedrive)         parked contact  → verdict
//	deleted or not found       –               → release
//	owned by another user      –               → still away
//	owned by the user          gone/not ours   → fresh
//	owned by the user          out of group    → rejoin
//	owned by the user          in group        → resume
func Unpark(person State, c ParkedContact) Unparked {
	switch {
	case person == Deleted || person == Absent:
		return Release
	case person == OutOfScope:
		return StillAway
	case c == ContactGone:
		return Fresh
	case c == ContactOutOfGroup:
		return Rejoin
	}
	return Resume
}
