package syncplan

import (
	"strings"
	"time"
)

// Intent is a create about to be sent to one side. The applier stores it on
// the link before the remote create and clears it with the commit after
// it, so a crash in between leaves it for the next delivery, which looks
// for the create's outcome (the clientData marker on Google; a person just
// created with a shared e-mail, phone or name on Pipedrive) instead of
// creating again.
type Intent struct {
	Side Side
	At   time.Time
}

// String is the stored form, "create:<side>:<RFC 3339 time>".
func (i Intent) String() string { return IntentPrefix(i.Side) + i.At.UTC().Format(time.RFC3339Nano) }

// IntentPrefix is the stored form's prefix for side (the store queries
// links by it).
func IntentPrefix(side Side) string { return "create:" + string(side) + ":" }

// ParseIntent reads a stored intent; ok is false for "" and for anything
// unreadable.
func ParseIntent(s string) (Intent, bool) {
	for _, side := range []Side{Google, Pipedrive} {
		if rest, ok := strings.CutPrefix(s, IntentPrefix(side)); ok {
			at, err := time.Parse(time.RFC3339Nano, rest)
			return Intent{Side: side, At: at}, err == nil
		}
	}
	return Intent{}, false
}

// DefaultIntentGrace is how old an intent must be before another delivery
// takes it for abandoned: longer than any one apply.
const DefaultIntentGrace = 2 * time.Minute

// IntentState is what a stored intent means for the delivery that finds it.
type IntentState int

// Intent states.
const (
	NoIntent IntentState = iota
	// InFlight: another delivery may still be running the create; retry
	// later rather than create a second time.
	InFlight
	// Abandoned: the create was sent (or not) by a delivery that is gone;
	// look for its outcome, then clear the intent.
	Abandoned
)

// CheckIntent is the one home of "a young pending intent means in flight":
//
//	stored            age        written by this delivery  → state
//	""                –          –                         → none
//	unreadable        –          –                         → abandoned (cleared)
//	create:<side>:<t> < grace    no                        → in flight
//	create:<side>:<t> < grace    yes                       → abandoned (ours: look, then go on)
//	create:<side>:<t> ≥ grace    –                         → abandoned
func CheckIntent(stored string, now time.Time, grace time.Duration, own bool) (Intent, IntentState) {
	if stored == "" {
		return Intent{}, NoIntent
	}
	in, ok := ParseIntent(stored)
	if ok && now.Sub(in.At) < grace && !own {
		return in, InFlight
	}
	return in, Abandoned
}
