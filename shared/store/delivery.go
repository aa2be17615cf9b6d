package store

import (
	"context"
	"fmt"
	"time"
)

// DeliveryTTL is how long the journal remembers a message id. Pub/Sub
// redelivers within its retention (7 days at most).
const DeliveryTTL = 7 * 24 * time.Hour

// Delivery is one change message the applier has taken.
type Delivery struct {
	MessageID string    `firestore:"-"`
	Side      string    `firestore:"side"`
	ObjectID  string    `firestore:"object_id"`
	Kind      string    `firestore:"kind"`
	Source    string    `firestore:"source"`
	Outcome   string    `firestore:"outcome,omitempty"`
	At        time.Time `firestore:"at"`
	ExpireAt  time.Time `firestore:"expire_at"`
}

// RecordDelivery journals d under its message id. It reports false when the
// id was already journaled (a duplicate delivery).
func (s *Store) RecordDelivery(ctx context.Context, connID string, d Delivery) (bool, error) {
	if d.At.IsZero() {
		d.At = time.Now().UTC()
	}
	if d.ExpireAt.IsZero() {
		d.ExpireAt = d.At.Add(DeliveryTTL)
	}
	_, err := s.conn(connID).Collection(colDeliveries).Doc(d.MessageID).Create(ctx, d)
	if alreadyExists(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store.RecordDelivery: %w", err)
	}
	return true, nil
}

// Deliveries lists a connection's journal (for tests and the status page).
func (s *Store) Deliveries(ctx context.Context, connID string) ([]Delivery, error) {
	snaps, err := s.conn(connID).Collection(colDeliveries).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("store.Deliveries: %w", err)
	}
	out := make([]Delivery, 0, len(snaps))
	for _, snap := range snaps {
		var d Delivery
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("store.Deliveries: %w", err)
		}
		d.MessageID = snap.Ref.ID
		out = append(out, d)
	}
	return out, nil
}
