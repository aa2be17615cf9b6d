// Package applier applies change messages delivered by Pub/Sub: for one
// contact it re-reads the record from its side and its twin through the
// link, lets the pure planner (shared/syncplan) decide, writes the other
// side, and commits the link. It returns an error only for transient
// failures, so Pub/Sub retries those and acknowledges everything else; a
// change that can never be applied is recorded on its connection in plain
// words, never silently dropped.
//
// Per change, step by step:
//
//  1. Decode the message (malformed: recorded on the connection, acked).
//  2. Load the connection (1 document read). Absent: acked (a disconnect
//     deleted it). Not live: acked, and the connection is marked so the
//     poller lists that side again when it resumes (see deferChange).
//  3. Load the link by the change's side (1 query, 1 read).
//  4. Re-read the record and its twin from the services (never trust the
//     payload: a "delete" whose record exists is an upsert, an "upsert"
//     whose record is gone is a delete, an older change after a newer one
//     reads the newest state and plans nothing).
//  5. Without a link, match: a Google contact carrying our clientData
//     marker is our own create; otherwise Pipedrive's search endpoints by
//     e-mail, phone, then name + organization. Ambiguous: held for review.
//     A new Pipedrive person first looks for an unfinished Pipedrive create
//     of ours it is the outcome of (1 query).
//  6. syncplan.Decide, then execute: creates write a Pending intent on the
//     link first; Google writes carry the etag (stale: re-read and decide
//     again, bounded); Pipedrive writes send only the fields that differ.
//  7. Commit the link (optimistic: a concurrent change makes it re-read and
//     decide again, bounded) with the new base, versions, hashes and one
//     bounded history entry. An echo (nothing changed) writes nothing.
//
// Firestore: at most 3 document reads and 2 writes per change; see
// BenchmarkApply for the measured figures.
package applier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/syncplan"
)

// Opener opens a connection's API clients (account.Accounts).
type Opener interface {
	Open(ctx context.Context, conn *store.Connection) (*account.Clients, error)
	Forget(connID string)
}

var _ Opener = (*account.Accounts)(nil)

// Step names a point between the writes of one apply, for Config.Hook.
type Step string

// Steps.
const (
	// StepIntentStored: the Pending intent is on the link, the remote
	// create not yet sent.
	StepIntentStored Step = "intent-stored"
	// StepRemoteWritten: a remote write succeeded, the link is not yet
	// committed.
	StepRemoteWritten Step = "remote-written"
)

// Config wires an Applier.
type Config struct {
	Store    *store.Store
	Accounts Opener
	// Mapper maps between the services and the normalized contact. It must
	// be the one the first sync uses (the base is stored normalized).
	Mapper contact.Mapper
	// Now is the clock (default time.Now, UTC).
	Now func() time.Time
	// Attempts bounds how often one change is re-read and decided again
	// after a stale etag or a link changed concurrently (default 4).
	Attempts int
	// PendingGrace is how old a Pending create intent must be before
	// another delivery takes it for abandoned (a crash) and looks for the
	// create's outcome; younger, the delivery is retried later (default
	// 2 minutes, longer than any one apply).
	PendingGrace time.Duration
	// Hook, if set, runs at each Step; an error from it stops the apply
	// right there, as a crash would (tests kill the applier between steps).
	Hook func(ctx context.Context, s Step) error
}

// Applier applies changes.
type Applier struct {
	store    *store.Store
	accounts Opener
	mapper   contact.Mapper
	now      func() time.Time
	attempts int
	grace    time.Duration
	hook     func(ctx context.Context, s Step) error
}

// New refuses incomplete wiring.
func New(cfg Config) (*Applier, error) {
	if cfg.Store == nil || cfg.Accounts == nil {
		return nil, errors.New("applier.New: store and accounts are required")
	}
	if cfg.Attempts < 0 || cfg.PendingGrace < 0 {
		return nil, errors.New("applier.New: negative attempts or grace")
	}
	a := &Applier{store: cfg.Store, accounts: cfg.Accounts, mapper: cfg.Mapper, now: cfg.Now,
		attempts: cfg.Attempts, grace: cfg.PendingGrace, hook: cfg.Hook}
	if a.now == nil {
		a.now = func() time.Time { return time.Now().UTC() }
	}
	if a.attempts == 0 {
		a.attempts = 4
	}
	if a.grace == 0 {
		a.grace = 2 * time.Minute
	}
	return a, nil
}

// Handle applies one delivery. The delivery's message id is only logged:
// the re-read makes a duplicate delivery a no-op (see the package doc), so
// no Firestore document is spent on deduplication.
func (a *Applier) Handle(ctx context.Context, d queue.Delivery) error {
	ch, err := queue.DecodeChange(d.Data)
	if err != nil {
		a.recordError(ctx, ch.ConnectionID, "A change message could not be read and was skipped.")
		logging.FromContext(ctx).Error("applier: bad message acknowledged", "message_id", d.MessageID, "err", err)
		return nil
	}
	ctx = logging.With(ctx, "connection", ch.ConnectionID, "side", string(ch.Side), "object", ch.ObjectID, "message_id", d.MessageID)
	return a.Apply(ctx, ch)
}

// Apply applies one change; the error is non-nil only when a retry may
// succeed.
func (a *Applier) Apply(ctx context.Context, ch queue.Change) error {
	if err := ch.Validate(); err != nil {
		a.recordError(ctx, ch.ConnectionID, "A change message could not be read and was skipped.")
		return nil
	}
	log := logging.FromContext(ctx)
	conn, err := a.store.GetConnection(ctx, ch.ConnectionID)
	if errors.Is(err, store.ErrNotFound) {
		log.Info("applier: connection gone; change dropped")
		return nil
	}
	if err != nil {
		return fmt.Errorf("applier: load connection: %w", err)
	}
	switch {
	case !conn.Status.Syncing():
		return a.deferChange(ctx, conn, ch)
	case conn.GoogleGroup == "" || conn.PipedriveUserID == 0:
		log.Warn("applier: connection has no group or Pipedrive user yet; change deferred")
		return a.deferChange(ctx, conn, ch)
	}
	cl, err := a.accounts.Open(ctx, conn)
	if errors.Is(err, account.ErrNotConnected) {
		return a.needsReauth(ctx, conn, ch, "An account of this connection has no stored credentials; connect it again to resume syncing.")
	}
	if err != nil {
		return a.finish(ctx, conn, ch, fmt.Errorf("applier: open accounts: %w", err))
	}
	reopened := false
	own := map[string]bool{} // Pending intents this call wrote
	for attempt := 1; ; attempt++ {
		err = a.applyOnce(ctx, conn, cl, ch, own)
		if revoked(err) && !reopened {
			// The cached clients may hold credentials replaced since (the
			// user reconnected through another instance): open afresh once
			// before calling the grant revoked.
			reopened = true
			a.accounts.Forget(conn.ID)
			if cl, err = a.accounts.Open(ctx, conn); err != nil {
				break
			}
			continue
		}
		if !errors.Is(err, errRedecide) || attempt >= a.attempts {
			break
		}
		log.Debug("applier: deciding again", "attempt", attempt, "why", err)
	}
	if errors.Is(err, account.ErrNotConnected) {
		return a.needsReauth(ctx, conn, ch, "An account of this connection has no stored credentials; connect it again to resume syncing.")
	}
	return a.finish(ctx, conn, ch, err)
}

func revoked(err error) bool {
	return errors.Is(err, google.ErrRevoked) || errors.Is(err, pipedrive.ErrInvalidGrant) || errors.Is(err, pipedrive.ErrUnauthorized)
}

// Internal outcomes.
var (
	// errRedecide: something changed under us (stale etag, a record gone
	// between read and write, the link changed): read again and decide
	// again.
	errRedecide = errors.New("applier: changed concurrently; decide again")
	// errInFlight: another delivery's create of this contact may still be
	// running; retry later (transient).
	errInFlight = errors.New("applier: a create of this contact is in flight")
	// errUnsure: a create's outcome is unknown and no trace of it was found
	// yet; the Pending intent stays and a retry looks again (transient).
	errUnsure = errors.New("applier: outcome of a create unknown")
)

// finish maps the outcome to the Pub/Sub answer.
func (a *Applier) finish(ctx context.Context, conn *store.Connection, ch queue.Change, err error) error {
	log := logging.FromContext(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, google.ErrRevoked):
		a.accounts.Forget(conn.ID)
		return a.needsReauth(ctx, conn, ch, "Google access was revoked or has expired; connect Google again to resume syncing.")
	case errors.Is(err, pipedrive.ErrInvalidGrant), errors.Is(err, pipedrive.ErrUnauthorized):
		a.accounts.Forget(conn.ID)
		return a.needsReauth(ctx, conn, ch, "Pipedrive access was revoked or has expired; connect Pipedrive again to resume syncing.")
	case errors.Is(err, errRedecide):
		log.Warn("applier: still changing after every attempt; retrying later", "err", err)
		return fmt.Errorf("applier: gave up after %d attempts: %w", a.attempts, err)
	}
	if why, ok := permanent(err); ok {
		log.Error("applier: permanent failure; change skipped", "err", err)
		a.recordError(ctx, conn.ID, fmt.Sprintf("A change to %s could not be applied and was skipped: %s.", describe(ch), why))
		return nil
	}
	log.Warn("applier: transient failure; Pub/Sub will retry", "err", err)
	return err
}

// permanent reports whether err can never succeed on retry, and why in
// plain words (no personal data: status codes only).
func permanent(err error) (string, bool) {
	var pe *pipedrive.APIError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(err, pipedrive.ErrRateLimited), errors.Is(err, pipedrive.ErrUnavailable):
			return "", false
		case errors.Is(err, pipedrive.ErrPaymentReq):
			return "the Pipedrive company account is not open (HTTP 402)", true
		}
		if pe.StatusCode >= 400 && pe.StatusCode < 500 {
			return fmt.Sprintf("Pipedrive refused the request (HTTP %d)", pe.StatusCode), true
		}
		return "", false
	}
	if errors.Is(err, google.ErrRateLimited) || errors.Is(err, google.ErrUncertain) || errors.Is(err, google.ErrNotFound) {
		return "", false
	}
	if errors.Is(err, google.ErrTooMany) {
		return "the Google request was too large", true
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code >= 400 && ge.Code < 500 && ge.Code != http.StatusTooManyRequests && ge.Code != http.StatusRequestTimeout {
		return fmt.Sprintf("Google refused the request (HTTP %d)", ge.Code), true
	}
	if errors.Is(err, syncplan.ErrInvalidInput) {
		return "the connection's settings are invalid (delete policy)", true
	}
	if errors.Is(err, queue.ErrBadMessage) {
		return "the change message is malformed", true
	}
	return "", false
}

// describe names the changed record by id, for the status page.
func describe(ch queue.Change) string {
	if ch.Side == queue.Pipedrive {
		return "Pipedrive person " + ch.ObjectID
	}
	return "Google contact " + ch.ObjectID
}

// deferChange handles a change for a connection that is not syncing
// (paused, needs re-auth, in setup, in error). Retrying would only burn
// Pub/Sub attempts until the message is dead-lettered, so the change is
// acknowledged, and the connection is marked so that nothing is lost
// when it resumes: for a Pipedrive change, the safety-net checkpoint is
// moved back to before the change, so the poller's next updated_since
// listing returns the person again; for a Google change, the sync token is
// cleared, so the next poll lists the group in full and reconciles it
// against the links (SPEC section 4, "sync token expired"). The mark costs
// one write the first time only: later changes find it already set.
func (a *Applier) deferChange(ctx context.Context, conn *store.Connection, ch queue.Change) error {
	log := logging.FromContext(ctx)
	if !needsRelist(conn, ch) {
		log.Info("applier: connection not syncing; change deferred to the next listing", "status", string(conn.Status))
		return nil
	}
	_, err := a.store.UpdateConnection(ctx, conn.ID, func(c *store.Connection) error {
		markRelist(c, ch)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("applier: mark connection for re-listing: %w", err)
	}
	log.Info("applier: connection not syncing; marked for re-listing", "status", string(conn.Status))
	return nil
}

func needsRelist(c *store.Connection, ch queue.Change) bool {
	if ch.Side == queue.Google {
		return c.GoogleSyncToken != ""
	}
	at := relistFrom(ch)
	return !c.PipedriveCheckpoint.IsZero() && c.PipedriveCheckpoint.After(at)
}

func markRelist(c *store.Connection, ch queue.Change) {
	if !needsRelist(c, ch) {
		return
	}
	if ch.Side == queue.Google {
		c.GoogleSyncToken = ""
		return
	}
	c.PipedriveCheckpoint = relistFrom(ch)
}

// relistFrom is when the poller's listing must start to see ch again
// (updated_since has second precision: a second of overlap).
func relistFrom(ch queue.Change) time.Time {
	if ch.OccurredAt.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return ch.OccurredAt.Add(-time.Second).Truncate(time.Second).UTC()
}

// needsReauth sets the connection to needs_reauth with msg, marks it for
// re-listing (this change is acknowledged, not lost), and acknowledges.
func (a *Applier) needsReauth(ctx context.Context, conn *store.Connection, ch queue.Change, msg string) error {
	_, err := a.store.UpdateConnection(ctx, conn.ID, func(c *store.Connection) error {
		c.Status, c.StatusReason = store.StatusNeedsReauth, msg
		c.AddError(a.now(), msg)
		markRelist(c, ch)
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("applier: record needs_reauth: %w", err)
	}
	logging.FromContext(ctx).Warn("applier: connection needs re-authorization; change deferred")
	return nil
}

// recordError notes msg on the connection for the status page.
func (a *Applier) recordError(ctx context.Context, connID, msg string) {
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
