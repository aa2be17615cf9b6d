package poller

import (
	"context"
	"errors"
	"fmt"

	"github.com/contactsync/contactsync/shared/firstsync"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/store"
)

// errReconciling ends a poll that started a full reconcile: the job lists
// both sides and takes over until it is done.
var errReconciling = errors.New("poller: full reconcile started")

// startReconcile hands the connection to a full reconcile (the first
// sync's job, run on a live connection): the one path that lists both
// sides completely, so an expired sync token, a lost link table and the
// first sync share one implementation.
func (p *Poller) startReconcile(ctx context.Context, conn *store.Connection, why string) error {
	if firstsync.Running(conn) {
		return errReconciling
	}
	logging.FromContext(ctx).Info("poller: starting a full reconcile", "why", why)
	if _, err := firstsync.Start(ctx, p.store, p.pub, p.firstSyncTopic, conn.ID, store.FirstSyncReconcile, p.now()); err != nil {
		return fmt.Errorf("poller: start reconcile: %w", err)
	}
	return errReconciling
}

// kick looks after a connection whose first sync or reconcile runs.
func (p *Poller) kick(ctx context.Context, conn *store.Connection) error {
	if err := firstsync.Kick(ctx, p.store, p.pub, p.firstSyncTopic, p.changesTopic, conn, p.now(), p.stall); err != nil {
		return fmt.Errorf("poller: %w", err)
	}
	return nil
}
