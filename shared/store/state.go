package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
)

// OAuthState is one pending OAuth authorization: single use, bound to the
// browser session that started it, and expiring. Firestore's TTL policy on
// expire_at deletes leftovers; ConsumeState checks expiry itself because TTL
// deletion is lazy.
type OAuthState struct {
	ID           string    `firestore:"-"`
	SessionHash  string    `firestore:"session_hash"`
	Provider     string    `firestore:"provider"`
	ConnectionID string    `firestore:"connection_id,omitempty"`
	Verifier     string    `firestore:"verifier,omitempty"` // PKCE code_verifier
	ExpireAt     time.Time `firestore:"expire_at"`
}

// PutState stores a new state.
func (s *Store) PutState(ctx context.Context, st *OAuthState) error {
	if st.ID == "" || st.SessionHash == "" || st.ExpireAt.IsZero() {
		return errors.New("store.PutState: id, session and expiry are required")
	}
	if _, err := s.fs.Collection(colStates).Doc(st.ID).Create(ctx, st); err != nil {
		return fmt.Errorf("store.PutState: %w", err)
	}
	return nil
}

// ConsumeState takes the state for session at now: it is deleted so it can
// never be used again. A state of another session is refused and left in
// place (so a foreign request cannot burn the owner's state). An id that
// cannot name a state (see ValidID) is ErrStateUsed, like an unknown one.
func (s *Store) ConsumeState(ctx context.Context, id, sessionHash string, now time.Time) (*OAuthState, error) {
	if !ValidID(id) {
		// Not one we made: no state has this id.
		return nil, fmt.Errorf("store.ConsumeState: %w", ErrStateUsed)
	}
	ref := s.fs.Collection(colStates).Doc(id)
	var out *OAuthState
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if notFound(err) {
			return ErrStateUsed
		}
		if err != nil {
			return err
		}
		var st OAuthState
		if err := snap.DataTo(&st); err != nil {
			return err
		}
		st.ID = id
		if st.SessionHash != sessionHash {
			return ErrStateForeign
		}
		if err := tx.Delete(ref); err != nil {
			return err
		}
		if !now.Before(st.ExpireAt) {
			out = nil
			return nil
		}
		out = &st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store.ConsumeState: %w", err)
	}
	if out == nil {
		return nil, fmt.Errorf("store.ConsumeState: %w", ErrStateExpired)
	}
	return out, nil
}
