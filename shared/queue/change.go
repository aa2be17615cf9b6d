// Package queue carries contactsync's work between functions over Pub/Sub:
// the change messages (one per contact event, ordered per connection) and the
// poll fan-out messages (one per due connection), how they are published,
// and how a push delivery is decoded back.
package queue

import (
	"errors"
	"fmt"
	"time"

	"github.com/contactsync/contactsync/shared/syncplan"
)

// Side is which service a record lives in: the sync core's one Side type.
type Side = syncplan.Side

// The two sides of a connection.
const (
	Pipedrive = syncplan.Pipedrive
	Google    = syncplan.Google
)

// Kind says what happened to the object.
type Kind string

// Kinds of change. Removal from the Google group is a Delete for the sync.
const (
	Upsert Kind = "upsert"
	Delete Kind = "delete"
)

// Source says which path noticed the change; it is for history and metrics,
// never for decisions.
type Source string

// Sources of changes.
const (
	FromWebhook   Source = "webhook"
	FromPoll      Source = "poll"
	FromSafetyNet Source = "safety-net"
	FromFirstSync Source = "first-sync"
	// FromReconcile: the comparison of linked and owned Pipedrive persons.
	FromReconcile Source = "reconcile"
	// FromHeld: a held change published again.
	FromHeld Source = "held"
)

// Decision is a user's answer to a held change (a braked delete, a record
// held for review), carried by the change published again for it.
type Decision string

// Decisions.
const (
	// ConfirmDelete: apply the delete despite the brake.
	ConfirmDelete Decision = "confirm"
	// Restore: put the deleted record back on the deleting side.
	Restore Decision = "restore"
	// Same: the record held for review is the twin named by Change.Twin.
	Same Decision = "same"
	// Separate: the record held for review has no twin; create one.
	Separate Decision = "separate"
)

// Change is one contact event to apply. It carries ids only, never the
// record (no personal data in Pub/Sub or its dead-letter hold): the
// applier re-reads the record from its side, so a stale or reordered
// message is harmless. A Pipedrive delete also carries keyed prints of the
// deleted person's keys (Gone), since it can no longer be read.
type Change struct {
	ConnectionID string `json:"connection_id"`
	Side         Side   `json:"side"`
	// ObjectID is the Pipedrive person id (decimal) or the Google resourceName.
	ObjectID string `json:"object_id"`
	Kind     Kind   `json:"kind"`
	Source   Source `json:"source"`
	// MergedToID / MergedFromID carry Pipedrive's merge hints.
	MergedToID   string `json:"merged_to_id,omitempty"`
	MergedFromID string `json:"merged_from_id,omitempty"`
	// Decision is the user's answer to a held change, if any; Twin the
	// twin the user chose (Same): a Pipedrive person id or a resource name.
	Decision   Decision  `json:"decision,omitempty"`
	Twin       string    `json:"twin,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
	// Gone is what a Pipedrive delete webhook told of the deleted person.
	Gone *Gone `json:"gone,omitempty"`
}

// Gone describes a deleted Pipedrive person without personal data: when it
// was added, and keyed prints of its keys (syncplan.KeyPrints under the
// connection's webhook secret hash). With them the applier recognises a
// person its lost create made and the user deleted (syncplan.LostCreate).
type Gone struct {
	AddedAt time.Time `json:"added_at"`
	Prints  []string  `json:"prints,omitempty"`
}

// ErrBadMessage marks a message that can never be applied (acknowledge it,
// record it, do not retry).
var ErrBadMessage = errors.New("queue: malformed message")

// OrderingKey is the connection: a push subscription with message ordering
// has only one outstanding message per ordering key ("For a push
// subscription, Pub/Sub supports only one outstanding message for each
// ordering key at a time", Pub/Sub's ordering docs, section "Push
// subscriptions"), so one connection's changes are applied one at a time
// however many Apply instances run: no two mutations for one Google user
// at once, as the People API asks, and one contact's changes in order.
func (c Change) OrderingKey() string { return c.ConnectionID }

// Validate reports whether the message can be applied at all.
func (c Change) Validate() error {
	switch {
	case c.ConnectionID == "":
		return fmt.Errorf("%w: no connection_id", ErrBadMessage)
	case c.Side != Pipedrive && c.Side != Google:
		return fmt.Errorf("%w: side %q", ErrBadMessage, c.Side)
	case c.ObjectID == "":
		return fmt.Errorf("%w: no object_id", ErrBadMessage)
	case c.Kind != Upsert && c.Kind != Delete:
		return fmt.Errorf("%w: kind %q", ErrBadMessage, c.Kind)
	case c.Decision != "" && c.Decision != ConfirmDelete && c.Decision != Restore && c.Decision != Same && c.Decision != Separate:
		return fmt.Errorf("%w: decision %q", ErrBadMessage, c.Decision)
	case c.Decision == Same && c.Twin == "":
		return fmt.Errorf("%w: decision same without a twin", ErrBadMessage)
	}
	return nil
}

// PollRequest asks the poll function to poll one connection now.
type PollRequest struct {
	ConnectionID string    `json:"connection_id"`
	DueAt        time.Time `json:"due_at"`
}
