package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Held changes: a change that is not applied now (the connection is
// paused or needs re-authorization, the change failed permanently or too
// often, the mass-delete brake held it, its twin is ambiguous) is kept
// here instead of being dropped, one document per record, until it is
// applied, retried or dismissed. The settings page lists them; the poller
// publishes again those that are due.
//
//	connections/{id}/held/{key}      HeldChange (key: "p-<person id>" / "g-<resource name>")
//	connections/{id}/attempts/{key}  failed deliveries of one change (TTL expire_at)

const (
	colHeld     = "held"
	colAttempts = "attempts"
)

// Held kinds (HeldChange.Kind), in rising priority: a held change is only
// replaced by one of the same or a higher kind, so a delete the brake held
// stays listed as such while the connection is paused.
const (
	HeldDeferred = "deferred"
	HeldFailed   = "failed"
	HeldReview   = "review"
	HeldBrake    = "brake"
)

var heldRank = map[string]int{HeldDeferred: 1, HeldFailed: 2, HeldReview: 3, HeldBrake: 4}

// HeldChange is one held change. It carries ids and plain-words reasons;
// Name is the record's display name as last seen, for the page only.
type HeldChange struct {
	ID           string `firestore:"-"`
	Side         string `firestore:"side"`
	ObjectID     string `firestore:"object_id"`
	ChangeKind   string `firestore:"change_kind"` // upsert or delete
	MergedToID   string `firestore:"merged_to_id,omitempty"`
	MergedFromID string `firestore:"merged_from_id,omitempty"`
	Kind         string `firestore:"kind"` // HeldDeferred, …
	Code         string `firestore:"code"`
	Reason       string `firestore:"reason"`
	Name         string `firestore:"name,omitempty"`
	Attempts     int    `firestore:"attempts,omitempty"`
	// Candidates are the twins an ambiguous record matched (ids).
	Candidates []string  `firestore:"candidates,omitempty"`
	FirstAt    time.Time `firestore:"first_at"`
	LastAt     time.Time `firestore:"last_at"`
	// RetryAt, when set, is when the poller publishes the change again
	// (transient failures; a user's Retry, Confirm or Restore sets it to now).
	RetryAt time.Time `firestore:"retry_at,omitempty"`
	// Decision is the user's answer ("confirm", "restore" for a braked
	// delete; "same", "separate" for a record held for review), carried by
	// the change published again; Twin the twin the user chose ("same").
	Decision string `firestore:"decision,omitempty"`
	Twin     string `firestore:"twin,omitempty"`

	readAt time.Time // update time when read (ForgetPublished)
}

// HeldKey is the document key of a record's held change.
func HeldKey(side, objectID string) string {
	if side == "pipedrive" {
		return "p-" + objectID
	}
	return "g-" + strings.ReplaceAll(objectID, "/", "_")
}

func (s *Store) held(connID string) *firestore.CollectionRef {
	return s.conn(connID).Collection(colHeld)
}

// Hold keeps h (keyed by its record) unless a held change of a higher kind
// is already kept for that record; the first time is kept across
// replacements. In the same transaction the connection's HeldDueAt moves
// forward to when the poller must look: the change's RetryAt, or now for a
// deferred change of a connection that syncs again (a change deferred
// while the connection was being resumed).
func (s *Store) Hold(ctx context.Context, connID string, h HeldChange) error {
	if h.Side == "" || h.ObjectID == "" || heldRank[h.Kind] == 0 {
		return fmt.Errorf("store.Hold: incomplete held change (side %q, kind %q)", h.Side, h.Kind)
	}
	ref := s.held(connID).Doc(HeldKey(h.Side, h.ObjectID))
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		csnap, err := tx.Get(s.conn(connID))
		if err != nil {
			return err
		}
		conn, err := decodeConnection(csnap)
		if err != nil {
			return err
		}
		snap, err := tx.Get(ref)
		next := h
		switch {
		case notFound(err):
		case err != nil:
			return err
		default:
			var cur HeldChange
			if err := snap.DataTo(&cur); err != nil {
				return err
			}
			if heldRank[cur.Kind] > heldRank[h.Kind] {
				cur.LastAt = h.LastAt
				next = cur
			} else {
				next.FirstAt = cur.FirstAt
				if next.Name == "" {
					next.Name = cur.Name
				}
			}
		}
		due := next.RetryAt
		if next.Kind == HeldDeferred && conn.Status == StatusLive {
			due = h.LastAt
		}
		if !due.IsZero() {
			if !conn.HeldDueAt.IsZero() && !due.Before(conn.HeldDueAt) {
				due = conn.HeldDueAt // the earliest stays
			}
			if err := tx.Update(s.conn(connID), heldDue(due)); err != nil {
				return err
			}
		}
		return tx.Set(ref, next)
	})
	if notFound(err) {
		return fmt.Errorf("store.Hold: connection %s: %w", connID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store.Hold: %w", err)
	}
	return nil
}

// HeldChanges returns a connection's held changes of kind ("" = all), oldest
// first, at most limit.
func (s *Store) HeldChanges(ctx context.Context, connID, kind string, limit int) ([]HeldChange, error) {
	q := s.held(connID).Query
	if kind != "" {
		q = q.Where("kind", "==", kind)
	}
	return collectHeld(q.Limit(limit).Documents(ctx))
}

// GetHeld reads one held change by id, or ErrNotFound.
func (s *Store) GetHeld(ctx context.Context, connID, id string) (*HeldChange, error) {
	if id == "" {
		return nil, fmt.Errorf("store.GetHeld: %w", ErrNotFound)
	}
	snap, err := s.held(connID).Doc(id).Get(ctx)
	if notFound(err) {
		return nil, fmt.Errorf("store.GetHeld %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store.GetHeld: %w", err)
	}
	var h HeldChange
	if err := snap.DataTo(&h); err != nil {
		return nil, fmt.Errorf("store: decode held change %s: %w", id, err)
	}
	h.ID, h.readAt = snap.Ref.ID, snap.UpdateTime
	return &h, nil
}

// DueHeld returns up to limit held changes the poller should publish again
// for a connection that syncs: those whose RetryAt is reached, and every
// deferred one (kept while the connection was not syncing).
func (s *Store) DueHeld(ctx context.Context, connID string, now time.Time, limit int) ([]HeldChange, error) {
	due, err := collectHeld(s.held(connID).Where("retry_at", ">", time.Time{}).Where("retry_at", "<=", now).Limit(limit).Documents(ctx))
	if err != nil || len(due) >= limit {
		return due, err
	}
	deferred, err := collectHeld(s.held(connID).Where("kind", "==", HeldDeferred).Limit(limit - len(due)).Documents(ctx))
	if err != nil {
		return nil, err
	}
	for _, d := range deferred {
		if d.RetryAt.IsZero() || d.RetryAt.After(now) {
			due = append(due, d)
		}
	}
	return due, nil
}

// ReleaseHeld sets RetryAt to at (and the decision, if any) on the held
// changes of the given kind ("" = all), or on the given ids, and the
// connection's HeldDueAt to at: the poller then publishes them. It returns
// how many it released.
func (s *Store) ReleaseHeld(ctx context.Context, connID, kind string, ids []string, decision string, at time.Time) (int, error) {
	refs, err := s.heldRefs(ctx, connID, kind, ids)
	if err != nil {
		return 0, fmt.Errorf("store.ReleaseHeld: %w", err)
	}
	ups := []firestore.Update{{Path: "retry_at", Value: at}}
	if decision != "" {
		ups = append(ups, firestore.Update{Path: "decision", Value: decision})
	}
	n := 0
	for _, r := range refs {
		if _, err := r.Update(ctx, ups); err != nil {
			if notFound(err) {
				continue
			}
			return n, fmt.Errorf("store.ReleaseHeld: %w", err)
		}
		n++
	}
	if n > 0 {
		if _, err := s.conn(connID).Update(ctx, heldDue(at)); err != nil && !notFound(err) {
			return n, fmt.Errorf("store.ReleaseHeld: %w", err)
		}
	}
	return n, nil
}

// DecideHeld records the user's answer on one held change and makes it due
// at once (the poller publishes it with the answer).
func (s *Store) DecideHeld(ctx context.Context, connID, id, decision, twin string, at time.Time) error {
	_, err := s.held(connID).Doc(id).Update(ctx, []firestore.Update{
		{Path: "decision", Value: decision}, {Path: "twin", Value: twin}, {Path: "retry_at", Value: at}})
	if notFound(err) {
		return fmt.Errorf("store.DecideHeld %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store.DecideHeld: %w", err)
	}
	if _, err := s.conn(connID).Update(ctx, heldDue(at)); err != nil && !notFound(err) {
		return fmt.Errorf("store.DecideHeld: %w", err)
	}
	return nil
}

// NextHeldDue is the earliest RetryAt after `after` among a connection's
// held changes, zero when there is none; the poller stores it as the
// connection's HeldDueAt after publishing the due ones.
func (s *Store) NextHeldDue(ctx context.Context, connID string, after time.Time) (time.Time, error) {
	hs, err := collectHeld(s.held(connID).Where("retry_at", ">", after).OrderBy("retry_at", firestore.Asc).Limit(1).Documents(ctx))
	if err != nil || len(hs) == 0 {
		return time.Time{}, err
	}
	return hs[0].RetryAt, nil
}

// DeleteHeld removes held changes by id (a missing one is not an error).
func (s *Store) DeleteHeld(ctx context.Context, connID string, ids ...string) error {
	for _, id := range ids {
		if _, err := s.held(connID).Doc(id).Delete(ctx); err != nil && !notFound(err) {
			return fmt.Errorf("store.DeleteHeld: %w", err)
		}
	}
	return nil
}

// ForgetPublished removes held changes that were published again, each
// only if it is unchanged since it was read: one held again meanwhile (the
// applier got it and it still fails) stays.
func (s *Store) ForgetPublished(ctx context.Context, connID string, hs []HeldChange) error {
	for _, h := range hs {
		_, err := s.held(connID).Doc(h.ID).Delete(ctx, firestore.LastUpdateTime(h.readAt))
		if err != nil && !notFound(err) && status.Code(err) != codes.FailedPrecondition {
			return fmt.Errorf("store.ForgetPublished: %w", err)
		}
	}
	return nil
}

// CountHeld counts a connection's held changes of kind ("" = all) with an
// aggregation query.
func (s *Store) CountHeld(ctx context.Context, connID, kind string) (int64, error) {
	q := s.held(connID).Query
	if kind != "" {
		q = q.Where("kind", "==", kind)
	}
	return count(ctx, q)
}

// CountHeldDecided counts a connection's held changes that carry one of
// decisions (the user answered; the poller has not published them yet),
// with an aggregation query on one field.
func (s *Store) CountHeldDecided(ctx context.Context, connID string, decisions ...string) (int64, error) {
	n, err := count(ctx, s.held(connID).Where("decision", "in", decisions))
	if err != nil {
		return 0, fmt.Errorf("store.CountHeldDecided: %w", err)
	}
	return n, nil
}

func (s *Store) heldRefs(ctx context.Context, connID, kind string, ids []string) ([]*firestore.DocumentRef, error) {
	if len(ids) > 0 {
		refs := make([]*firestore.DocumentRef, len(ids))
		for i, id := range ids {
			refs[i] = s.held(connID).Doc(id)
		}
		return refs, nil
	}
	q := s.held(connID).Query
	if kind != "" {
		q = q.Where("kind", "==", kind)
	}
	snaps, err := q.Select().Documents(ctx).GetAll()
	if err != nil {
		return nil, err
	}
	refs := make([]*firestore.DocumentRef, len(snaps))
	for i, sn := range snaps {
		refs[i] = sn.Ref
	}
	return refs, nil
}

func collectHeld(it *firestore.DocumentIterator) ([]HeldChange, error) {
	defer it.Stop()
	var out []HeldChange
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("store: held changes: %w", err)
		}
		var h HeldChange
		if err := snap.DataTo(&h); err != nil {
			return nil, fmt.Errorf("store: decode held change %s: %w", snap.Ref.ID, err)
		}
		h.ID, h.readAt = snap.Ref.ID, snap.UpdateTime
		out = append(out, h)
	}
}

// attemptsWindow: failures further apart than this do not add up (a change
// that failed yesterday and fails again today starts a new count).
const attemptsWindow = time.Hour

type attemptsDoc struct {
	Count    int       `firestore:"count"`
	FirstAt  time.Time `firestore:"first_at"`
	ExpireAt time.Time `firestore:"expire_at"` // Firestore TTL field
}

// CountFailure records one more failed delivery of a record's change and
// returns how many there were within the last hour, this one included. It
// costs a read and a write, on the failure path only; success costs
// nothing (old counts expire by TTL and by the window).
func (s *Store) CountFailure(ctx context.Context, connID, side, objectID string, now time.Time) (int, error) {
	ref := s.conn(connID).Collection(colAttempts).Doc(HeldKey(side, objectID))
	n := 0
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var d attemptsDoc
		snap, err := tx.Get(ref)
		switch {
		case notFound(err):
		case err != nil:
			return err
		default:
			if err := snap.DataTo(&d); err != nil {
				return err
			}
		}
		if d.Count == 0 || now.Sub(d.FirstAt) > attemptsWindow {
			d = attemptsDoc{FirstAt: now}
		}
		d.Count++
		d.ExpireAt = now.Add(24 * time.Hour)
		n = d.Count
		return tx.Set(ref, d)
	})
	if err != nil {
		return 0, fmt.Errorf("store.CountFailure: %w", err)
	}
	return n, nil
}

// ClearFailures forgets a record's failed deliveries (after it was held).
func (s *Store) ClearFailures(ctx context.Context, connID, side, objectID string) error {
	_, err := s.conn(connID).Collection(colAttempts).Doc(HeldKey(side, objectID)).Delete(ctx)
	if err != nil && !notFound(err) {
		return fmt.Errorf("store.ClearFailures: %w", err)
	}
	return nil
}

// SetGoogleHolder records that instance now makes this connection's Google
// calls (one field, no read).
func (s *Store) SetGoogleHolder(ctx context.Context, connID, instance string) error {
	_, err := s.conn(connID).Update(ctx, []firestore.Update{{Path: "google_holder", Value: instance}})
	if err != nil && !notFound(err) {
		return fmt.Errorf("store.SetGoogleHolder: %w", err)
	}
	return nil
}

// SetDeleteWindow stores the brake's window of recent deletes and counts
// deletes more deletes made (no read: one connection's changes are applied
// one at a time; the counter rides on the write the brake makes anyway).
func (s *Store) SetDeleteWindow(ctx context.Context, connID string, window []time.Time, deletes int) error {
	_, err := s.conn(connID).Update(ctx, []firestore.Update{{Path: "delete_window", Value: window},
		{Path: "counts.deleted", Value: firestore.Increment(deletes)}})
	if err != nil {
		return fmt.Errorf("store.SetDeleteWindow: %w", err)
	}
	return nil
}

// heldDue is the connection update that makes held changes due at at: the
// field update of Connection.MarkHeldDue, for writes outside
// UpdateConnection.
func heldDue(at time.Time) []firestore.Update {
	return []firestore.Update{{Path: "held_due_at", Value: at}, {Path: "held_seq", Value: firestore.Increment(1)}}
}
