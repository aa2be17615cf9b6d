// Package poller drives polling: every scheduler tick it fans out one poll
// message per due connection (so one slow account delays no other), and for
// each poll message it polls that one connection: the Google side with its
// sync token (Google has no push for contacts) and, on a slower cadence, the
// Pipedrive side with updated_since as a safety net for lost webhooks.
//
// The poller only notices changes and publishes them as change messages;
// the applier re-reads every record before acting, so a message is a hint.
// State is advanced (sync token, Pipedrive checkpoint) only after every
// message it covers was stored by Pub/Sub: a crash in between polls again,
// it never loses a change.
//
// Pausing: the empty-side guard and the mass-delete brake pause the
// connection (status paused, poll_due_at cleared, a plain-words reason). To
// resume, the settings page sets the status back to live and poll_due_at to
// now; for the brake it first records the user's confirmation with
// store.ConfirmDeletes, which lets the next poll make up to that many
// deletes once.
package poller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/firstsync"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

// Publisher is what the poller publishes through (*queue.Publisher).
type Publisher interface {
	PublishChanges(ctx context.Context, topic string, cs ...queue.Change) error
	PublishPolls(ctx context.Context, topic string, rs ...queue.PollRequest) error
	PublishFirstSync(ctx context.Context, topic string, steps ...queue.FirstSyncStep) error
}

// Accounts opens a connection's API clients (*account.Accounts).
type Accounts interface {
	Open(ctx context.Context, conn *store.Connection) (*account.Clients, error)
	Forget(connID string)
}

// Webhooks re-registers a connection's Pipedrive webhooks when Pipedrive
// deleted them or they went missing, and reports how many it created
// (*connect.Service implements it).
type Webhooks interface {
	EnsureWebhooks(ctx context.Context, conn *store.Connection) (created int, err error)
}

var (
	_ Publisher = (*queue.Publisher)(nil)
	_ Accounts  = (*account.Accounts)(nil)
)

// Config wires a Poller. Store, Publisher, PollsTopic and PollInterval are
// needed by the fan-out; PollOne needs the rest too.
type Config struct {
	Store     *store.Store
	Publisher Publisher
	Accounts  Accounts
	// Webhooks is optional: without it the safety net lists Pipedrive but
	// does not re-register webhooks.
	Webhooks     Webhooks
	PollsTopic   string
	ChangesTopic string
	// FirstSyncTopic carries the steps of first syncs and reconciles
	// (default queue.FirstSyncTopic).
	FirstSyncTopic string
	// PollInterval is the scheduler's period: a polled connection is due
	// again after it.
	PollInterval time.Duration
	// SafetyNetInterval is how often a connection's Pipedrive persons are
	// listed with updated_since (SPEC section 4: default 10 minutes).
	SafetyNetInterval time.Duration
	// ReconcilePerPage stretches the reconciliation's cadence per page of
	// owned persons (default ReconcilePerPage; tests shorten it).
	ReconcilePerPage time.Duration
	// FirstSyncStall is how long a running first sync may go without
	// progress before its next step is sent again (default
	// firstsync.Stall; tests shorten it).
	FirstSyncStall time.Duration
	// DeadLetters is the changes topic's dead-letter hold subscription
	// (optional: without it dead letters stay in the subscription).
	DeadLetters DeadLetterSource
	// Now is the clock (nil: time.Now in UTC).
	Now func() time.Time
}

// Poller fans out and runs polls.
type Poller struct {
	store          *store.Store
	pub            Publisher
	accounts       Accounts
	webhooks       Webhooks
	pollsTopic     string
	changesTopic   string
	firstSyncTopic string
	interval       time.Duration
	safetyNet      time.Duration
	perPage        time.Duration
	stall          time.Duration
	deadLetters    DeadLetterSource
	now            func() time.Time
}

// New refuses incomplete wiring.
func New(cfg Config) (*Poller, error) {
	switch {
	case cfg.Store == nil || cfg.Publisher == nil || cfg.Accounts == nil:
		return nil, errors.New("poller.New: store, publisher and accounts are required")
	case cfg.PollsTopic == "" || cfg.ChangesTopic == "":
		return nil, errors.New("poller.New: the polls and changes topics are required")
	case cfg.PollInterval <= 0 || cfg.SafetyNetInterval <= 0:
		return nil, errors.New("poller.New: poll and safety-net intervals must be positive")
	}
	p := &Poller{
		store: cfg.Store, pub: cfg.Publisher, accounts: cfg.Accounts, webhooks: cfg.Webhooks,
		pollsTopic: cfg.PollsTopic, changesTopic: cfg.ChangesTopic, firstSyncTopic: cfg.FirstSyncTopic,
		interval: cfg.PollInterval, safetyNet: cfg.SafetyNetInterval, perPage: cfg.ReconcilePerPage, deadLetters: cfg.DeadLetters, now: cfg.Now,
	}
	if p.now == nil {
		p.now = func() time.Time { return time.Now().UTC() }
	}
	if p.perPage <= 0 {
		p.perPage = ReconcilePerPage
	}
	if p.stall = cfg.FirstSyncStall; p.stall <= 0 {
		p.stall = firstsync.Stall
	}
	if p.firstSyncTopic == "" {
		p.firstSyncTopic = queue.FirstSyncTopic
	}
	return p, nil
}

// PollOne polls one connection: Google with its sync token, then, when it
// is due, the Pipedrive safety net. It returns an error only for transient
// failures (Pub/Sub then redelivers the poll message); a revoked grant, a
// brake or a vanished connection is recorded and acknowledged.
func (p *Poller) PollOne(ctx context.Context, req queue.PollRequest) error {
	ctx = logging.With(ctx, "connection", req.ConnectionID)
	log := logging.FromContext(ctx)
	conn, err := p.store.GetConnection(ctx, req.ConnectionID)
	if errors.Is(err, store.ErrNotFound) {
		log.Warn("poller: connection gone; poll dropped")
		return nil
	}
	if err != nil {
		return fmt.Errorf("poller.PollOne: %w", err)
	}
	if conn.Status == store.StatusFirstSync {
		// the job lists and writes both sides itself; the poller only
		// restarts a chain that waited or stalled
		return p.kick(ctx, conn)
	}
	if !conn.Status.Syncing() {
		// Paused, needs re-auth, ...: stop the fan-out from picking it. A
		// fan-out racing a pause may have set a due time again; this heals it.
		log.Info("poller: connection not live; not polled", "status", conn.Status)
		if !conn.PollDueAt.IsZero() {
			return p.update(ctx, conn.ID, func(c *store.Connection) {
				if !c.Status.Syncing() {
					c.PollDueAt = time.Time{}
				}
			})
		}
		return nil
	}
	if conn.GoogleGroup == "" {
		log.Warn("poller: no Google group chosen; not polled")
		return nil
	}
	clients, err := p.accounts.Open(ctx, conn)
	if errors.Is(err, account.ErrNotConnected) {
		return p.needsReauth(ctx, conn.ID, !errors.Is(err, account.ErrNoPipedrive),
			"An account's stored authorization is missing; connect it again on the settings page.")
	}
	if err != nil {
		return fmt.Errorf("poller.PollOne: open accounts: %w", err)
	}

	hErr := p.republishHeld(ctx, conn)
	gErr := p.pollGoogle(ctx, conn, clients.Google)
	if errors.Is(gErr, errReconciling) {
		return hErr
	}
	if stop, err := p.settle(ctx, conn, gErr); stop {
		return err
	}
	var sErr, rErr error
	if p.safetyNetDue(conn) {
		sErr = p.runSafetyNet(ctx, conn, clients.Pipedrive)
		if stop, err := p.settle(ctx, conn, sErr); stop {
			return err
		}
		rErr = p.reconcilePipedrive(ctx, conn, clients.Pipedrive)
		if errors.Is(rErr, errReconciling) {
			return errors.Join(hErr, sErr)
		}
		if stop, err := p.settle(ctx, conn, rErr); stop {
			return err
		}
	}
	if err := errors.Join(hErr, gErr, sErr, rErr); err != nil {
		return fmt.Errorf("poller.PollOne: %w", err)
	}
	log.Info("poller: polled")
	return nil
}

// pauseError asks PollOne to pause the connection with a plain-words reason.
type pauseError struct{ why, reason string }

func (e *pauseError) Error() string { return "poller: paused: " + e.reason }

// settle turns a terminal outcome (revoked grant, pause) into the
// connection's state. stop says the poll must end here, with err.
func (p *Poller) settle(ctx context.Context, conn *store.Connection, err error) (stop bool, _ error) {
	var pe *pauseError
	switch {
	case err == nil:
		return false, nil
	case google.Revoked(err):
		return true, p.needsReauth(ctx, conn.ID, true, "Google access was revoked or has expired; reconnect Google on the settings page. Syncing is stopped until then; changes made meanwhile are kept.")
	case pipedrive.Revoked(err) || pipedrive.Unauthorized(err) && conn.PipedriveAuth == account.PipedriveAPIToken:
		// an API token that is refused was regenerated or removed: only
		// the user can give us a new one
		return true, p.needsReauth(ctx, conn.ID, false, "Pipedrive access was revoked or has expired; reconnect Pipedrive on the settings page. Syncing is stopped until then; changes made meanwhile are kept.")
	case errors.As(err, &pe):
		return true, p.pause(ctx, conn.ID, pe.why, pe.reason)
	case google.Unauthorized(err), pipedrive.Unauthorized(err):
		// The access token was refused: drop the cached clients, so the
		// retry refreshes it and learns whether the grant itself is gone.
		p.accounts.Forget(conn.ID)
	}
	return false, nil
}

// needsReauth stops polling until the user reconnects the account (Google
// when google, else Pipedrive).
func (p *Poller) needsReauth(ctx context.Context, connID string, google bool, reason string) error {
	logging.FromContext(ctx).Warn("poller: authorization lost; connection needs re-auth", "google", google)
	p.accounts.Forget(connID)
	now := p.now()
	return p.update(ctx, connID, func(c *store.Connection) {
		c.Status, c.StatusReason, c.PollDueAt = store.StatusNeedsReauth, reason, time.Time{}
		key := "reauth_pipedrive"
		if google {
			c.ReauthGoogle, key = true, "reauth_google"
		} else {
			c.ReauthPipedrive = true
		}
		c.AddErrorKey(now, key, reason)
	})
}

// pause stops polling until the user resumes.
func (p *Poller) pause(ctx context.Context, connID, why, reason string) error {
	logging.FromContext(ctx).Warn("poller: connection paused by a safety check", "why", why)
	now := p.now()
	return p.update(ctx, connID, func(c *store.Connection) {
		c.Status, c.StatusReason, c.PauseReason, c.PollDueAt = store.StatusPaused, reason, why, time.Time{}
		c.AddErrorKey(now, why, reason)
	})
}

// update changes the connection in a transaction; a connection deleted
// meanwhile (disconnect) is not an error.
func (p *Poller) update(ctx context.Context, connID string, fn func(*store.Connection)) error {
	_, err := p.store.UpdateConnection(ctx, connID, func(c *store.Connection) error { fn(c); return nil })
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("poller: save connection: %w", err)
	}
	return nil
}
