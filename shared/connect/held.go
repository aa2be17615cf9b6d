package connect

import (
	"context"
	"time"

	"github.com/contactsync/contactsync/shared/store"
)

// Held changes and the mass-delete brake: what the settings page offers
// the user (SPEC section 4: "the user confirms them or restores the deleted
// records"). The decisions are recorded on the held changes; the poller
// publishes them again with the decision and the applier carries it out.

// HeldChanges lists a connection's held changes of kind ("" = all).
func (s *Service) HeldChanges(ctx context.Context, connID, kind string, limit int) ([]store.HeldChange, error) {
	return s.store.HeldChanges(ctx, connID, kind, limit)
}

// ConfirmDeletes applies the deletes the brake (or the empty-side guard)
// holds: they are deleted on the other side as they would have been. The
// brake is released and a connection the guard paused syncs again.
func (s *Service) ConfirmDeletes(ctx context.Context, connID string) (int, error) {
	return s.decideBraked(ctx, connID, "confirm")
}

// RestoreDeletes answers the held deletes the other way: each deleted
// record is put back on the side it was deleted from (re-created from its
// twin, or back into the group), nothing is deleted. The brake is released
// and a connection it paused syncs again.
func (s *Service) RestoreDeletes(ctx context.Context, connID string) (int, error) {
	return s.decideBraked(ctx, connID, "restore")
}

func (s *Service) decideBraked(ctx context.Context, connID, decision string) (int, error) {
	if _, err := s.Get(ctx, connID); err != nil {
		return 0, err
	}
	n, err := s.store.ReleaseHeld(ctx, connID, store.HeldBrake, nil, decision, s.now())
	if err != nil {
		return 0, err
	}
	_, err = s.update(ctx, connID, func(c *store.Connection) error {
		c.BrakeTrippedAt, c.DeleteWindow = time.Time{}, nil
		switch c.PauseReason {
		case store.PauseBrake, store.PauseEmptyGoogle, store.PauseEmptyPipedrive:
			if c.Status == store.StatusPaused && ready(c) == "" {
				s.setLive(c)
			}
		}
		return nil
	})
	return n, err
}

// RetryHeld publishes the given held changes again at the next poll (the
// user's Retry), whatever held them.
func (s *Service) RetryHeld(ctx context.Context, connID string, ids ...string) (int, error) {
	return s.store.ReleaseHeld(ctx, connID, "", ids, "", s.now())
}

// DismissHeld forgets the given held changes: they are not applied (the
// user's Dismiss). The records stay as they are on both sides.
func (s *Service) DismissHeld(ctx context.Context, connID string, ids ...string) error {
	return s.store.DeleteHeld(ctx, connID, ids...)
}

// ResolveReview answers a record held for review: twin names the record
// of the other side it is the same as (one of the held change's
// candidates), or is "" to keep it separate (a twin is created for it).
func (s *Service) ResolveReview(ctx context.Context, connID, heldID, twin string) error {
	decision := "separate"
	if twin != "" {
		decision = "same"
	}
	return s.store.DecideHeld(ctx, connID, heldID, decision, twin, s.now())
}
