// Package applier applies change messages delivered by Pub/Sub: it decodes
// them, drops duplicate deliveries, and hands each change to the sync core.
// It returns an error only for transient failures, so Pub/Sub retries those
// and acknowledges everything else; a message that can never be applied is
// recorded on its connection, never silently dropped.
package applier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

// Applier handles deliveries.
type Applier struct {
	store *store.Store
	now   func() time.Time
}

// New refuses a nil store.
func New(s *store.Store) (*Applier, error) {
	if s == nil {
		return nil, errors.New("applier.New: nil store")
	}
	return &Applier{store: s, now: func() time.Time { return time.Now().UTC() }}, nil
}

// Handle applies one delivery.
func (a *Applier) Handle(ctx context.Context, d queue.Delivery) error {
	c, err := queue.DecodeChange(d.Data)
	if err != nil {
		a.recordPermanent(ctx, c.ConnectionID, fmt.Sprintf("a change message could not be read and was skipped (%v)", err))
		logging.FromContext(ctx).Error("applier: bad message acknowledged", "message", d.MessageID, "err", err)
		return nil
	}
	ctx = logging.With(ctx, "connection", c.ConnectionID, "side", c.Side, "object", c.ObjectID, "message", d.MessageID)
	first, err := a.store.RecordDelivery(ctx, c.ConnectionID, store.Delivery{
		MessageID: d.MessageID, Side: string(c.Side), ObjectID: c.ObjectID,
		Kind: string(c.Kind), Source: string(c.Source), At: a.now(),
	})
	if err != nil {
		return fmt.Errorf("applier: journal: %w", err) // transient: retry
	}
	if !first {
		logging.FromContext(ctx).Info("applier: duplicate delivery ignored")
		return nil
	}
	logging.FromContext(ctx).Info("applier: change recorded", "kind", c.Kind, "source", c.Source)
	return nil
}

// recordPermanent notes a failure on the connection for the status page.
func (a *Applier) recordPermanent(ctx context.Context, connID, msg string) {
	if connID == "" {
		return
	}
	_, err := a.store.UpdateConnection(ctx, connID, func(c *store.Connection) error {
		c.AddError(a.now(), msg)
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		logging.FromContext(ctx).Error("applier: could not record error on connection", "err", err)
	}
}
