// Package queue carries contactsync's work between functions over Pub/Sub:
// the change messages (one per contact event, ordered per contact) and the
// poll fan-out messages (one per due connection), how they are published,
// and how a push delivery is decoded back.
package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Side is which service a record lives in.
type Side string

// The two sides of a connection.
const (
	Pipedrive Side = "pipedrive"
	Google    Side = "google"
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
)

// Change is one contact event to apply. The applier re-reads the record
// from its side, so a stale or reordered message is harmless.
type Change struct {
	ConnectionID string `json:"connection_id"`
	Side         Side   `json:"side"`
	// ObjectID is the Pipedrive person id (decimal) or the Google resourceName.
	ObjectID string `json:"object_id"`
	Kind     Kind   `json:"kind"`
	Source   Source `json:"source"`
	// EventID is the sender's delivery id where one exists (Pipedrive meta.id).
	EventID string `json:"event_id,omitempty"`
	// Version is the side's version seen by the sender (Pipedrive update_time
	// in RFC 3339, Google etag); empty when unknown.
	Version string `json:"version,omitempty"`
	// MergedToID / MergedFromID carry Pipedrive's merge hints.
	MergedToID   string `json:"merged_to_id,omitempty"`
	MergedFromID string `json:"merged_from_id,omitempty"`
	// Payload is the record as the sender saw it (optional, side-specific JSON).
	Payload    json.RawMessage `json:"payload,omitempty"`
	OccurredAt time.Time       `json:"occurred_at"`
}

// ErrBadMessage marks a message that can never be applied (acknowledge it,
// record it, do not retry).
var ErrBadMessage = errors.New("queue: malformed message")

// OrderingKey keeps one contact's changes in order on the topic.
func (c Change) OrderingKey() string {
	return c.ConnectionID + "/" + string(c.Side) + "/" + c.ObjectID
}

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
	}
	return nil
}

// PollRequest asks the poll function to poll one connection now.
type PollRequest struct {
	ConnectionID string    `json:"connection_id"`
	DueAt        time.Time `json:"due_at"`
}
