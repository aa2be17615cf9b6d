package store

import (
	"context"
	"fmt"
	"time"
)

// Who is connected, in words, and what happened to the connection itself.
// These fields are personal data shown to the connection's owner on the
// settings page; they are stored, never logged.

// AccountNames are the connected accounts as their owner knows them,
// recorded at connect time (Pipedrive's /v1/users/me, Google's people/me).
type AccountNames struct {
	PipedriveUserName    string `firestore:"pipedrive_user_name,omitempty"`
	PipedriveUserEmail   string `firestore:"pipedrive_user_email,omitempty"`
	PipedriveCompanyName string `firestore:"pipedrive_company_name,omitempty"`
	// GoogleEmail is the Google account's primary e-mail address; empty
	// for a grant made without the e-mail scope.
	GoogleEmail string `firestore:"google_email,omitempty"`
	// GoogleGroupName is the chosen contact group's name when it was
	// chosen (the page shows the current name when Google answers).
	GoogleGroupName string `firestore:"google_group_name,omitempty"`
}

// Connection events, as ConnectionEvent.Kind.
const (
	// EventPipedriveConnected: a Pipedrive account was connected (or
	// connected again) from the owner's browser.
	EventPipedriveConnected = "pipedrive_connected"
	// EventGoogleConnected: a Google account was connected (or again).
	EventGoogleConnected = "google_connected"
	// EventTakenOver: signing in with the connection's Pipedrive user in
	// another browser moved the connection to that browser.
	EventTakenOver = "taken_over"
	// EventSignedIn: the connection had no browser (after a sign-out, or
	// the sandbox's demo) and a browser signed in with its Pipedrive user.
	EventSignedIn = "signed_in"
	// EventSignedOut: the owner signed out; the sync goes on, and signing
	// in with Pipedrive again brings the connection back.
	EventSignedOut = "signed_out"
)

// ConnectionEvent is one line of a connection's own history.
type ConnectionEvent struct {
	At   time.Time `firestore:"at"`
	Kind string    `firestore:"kind"`
}

// MaxEvents bounds the events kept on a connection.
const MaxEvents = 20

// AddEvent records kind at at, keeping the newest MaxEvents.
func (c *Connection) AddEvent(at time.Time, kind string) {
	c.Events = append(c.Events, ConnectionEvent{At: at.UTC(), Kind: kind})
	if n := len(c.Events); n > MaxEvents {
		c.Events = c.Events[n-MaxEvents:]
	}
}

// SignOut detaches every connection owned by ownerHash from it (the sync
// goes on; signing in with the Pipedrive user brings a connection back)
// and records the sign-out in each connection's history. It returns the
// connections it detached.
func (s *Store) SignOut(ctx context.Context, ownerHash string, at time.Time) ([]*Connection, error) {
	cs, err := s.ConnectionsByOwner(ctx, ownerHash)
	if err != nil {
		return nil, fmt.Errorf("store.SignOut: %w", err)
	}
	var out []*Connection
	for _, c := range cs {
		u, err := s.UpdateConnection(ctx, c.ID, func(c *Connection) error {
			if c.OwnerHash != ownerHash {
				return nil // taken over meanwhile
			}
			c.OwnerHash = ""
			c.AddEvent(at, EventSignedOut)
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("store.SignOut: %w", err)
		}
		out = append(out, u)
	}
	return out, nil
}

// TransferOwner moves every connection owned by from to to (the session
// cookie was rotated).
func (s *Store) TransferOwner(ctx context.Context, from, to string) error {
	if from == "" || to == "" {
		return fmt.Errorf("store.TransferOwner: empty owner")
	}
	cs, err := s.ConnectionsByOwner(ctx, from)
	if err != nil {
		return fmt.Errorf("store.TransferOwner: %w", err)
	}
	for _, c := range cs {
		if _, err := s.UpdateConnection(ctx, c.ID, func(c *Connection) error {
			if c.OwnerHash == from {
				c.OwnerHash = to
			}
			return nil
		}); err != nil {
			return fmt.Errorf("store.TransferOwner: %w", err)
		}
	}
	return nil
}
