package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
)

// Status is a connection's state as the settings page shows it.
type Status string

// Connection states (SPEC section 1.7).
const (
	StatusSetup       Status = "setup"        // accounts being connected
	StatusFirstSync   Status = "first_sync"   // first sync running
	StatusLive        Status = "live"         // syncing
	StatusPaused      Status = "paused"       // paused by the user or a safety brake
	StatusNeedsReauth Status = "needs_reauth" // a grant was revoked
	StatusError       Status = "error"        // a permanent failure
)

// Syncing reports whether a connection in status s is synced: its changes
// are applied and it is polled.
func (s Status) Syncing() bool { return s == StatusLive || s == StatusFirstSync }

// Why a connection is paused (Connection.PauseReason).
const (
	PauseUser           = "user"            // the user paused it
	PauseBrake          = "brake"           // the mass-delete brake held deletes
	PauseEmptyGoogle    = "empty_google"    // the group suddenly lists nobody
	PauseEmptyPipedrive = "empty_pipedrive" // the user suddenly owns no person
	PauseGroupGone      = "group_gone"      // the chosen group no longer exists
)

// ErrorEntry is one recent error in plain words, for the status page.
// Key names the message for translation (the settings page shows it in the
// user's language, with Args as its values: counts and durations, never
// personal data); Message is the English text, shown when the page does
// not know the key (and for entries written before keys existed).
type ErrorEntry struct {
	At      time.Time `firestore:"at"`
	Message string    `firestore:"message"`
	Key     string    `firestore:"key,omitempty"`
	Args    []string  `firestore:"args,omitempty"`
}

// maxErrors bounds the errors kept on a connection.
const maxErrors = 20

// Connection is one Pipedrive user ↔ one Google account and contact group.
type Connection struct {
	ID           string `firestore:"-"`
	Status       Status `firestore:"status"`
	StatusReason string `firestore:"status_reason,omitempty"`
	// OwnerHash identifies the browser session that owns the connection.
	OwnerHash string `firestore:"owner_hash,omitempty"`

	PipedriveUserID    int64  `firestore:"pipedrive_user_id,omitempty"`
	PipedriveCompanyID int64  `firestore:"pipedrive_company_id,omitempty"`
	PipedriveAPIDomain string `firestore:"pipedrive_api_domain,omitempty"`
	PipedriveAuth      string `firestore:"pipedrive_auth,omitempty"` // "oauth" or "api_token"
	// WebhookSecretHash is SHA-256 of the webhook's Basic password; the
	// Basic user name is the connection id.
	WebhookSecretHash []byte  `firestore:"webhook_secret_hash,omitempty"`
	WebhookIDs        []int64 `firestore:"webhook_ids,omitempty"`
	// CredentialsVersion is bumped with every stored credential (PutSecret):
	// clients cached by an instance for an older version are stale.
	CredentialsVersion int64 `firestore:"credentials_version,omitempty"`
	// ReauthGoogle and ReauthPipedrive say which account must be connected
	// again while the status is needs_reauth; connecting one never clears
	// the other.
	ReauthGoogle    bool `firestore:"reauth_google,omitempty"`
	ReauthPipedrive bool `firestore:"reauth_pipedrive,omitempty"`
	// PauseReason says who paused the connection: PauseUser, PauseBrake, …
	PauseReason string `firestore:"pause_reason,omitempty"`
	// DeleteWindow holds the times of the destructive writes (deletes,
	// group removals) of the mass-delete brake's sliding window.
	DeleteWindow []time.Time `firestore:"delete_window,omitempty"`
	// BrakeTrippedAt is set while deletes held by the brake await the
	// user's Confirm or Restore; every further delete is held meanwhile.
	BrakeTrippedAt time.Time `firestore:"brake_tripped_at,omitempty"`
	// GoogleHolder is the function instance that last made Google calls for
	// this connection's user; another instance taking over starts with an
	// empty rate-limit bucket (see applier).
	GoogleHolder string `firestore:"google_holder,omitempty"`

	// AccountNames says who is connected, in words (personal data: shown
	// to the owner, never logged).
	AccountNames

	GoogleAccount   string `firestore:"google_account,omitempty"`
	GoogleGroup     string `firestore:"google_group,omitempty"`
	GoogleSyncToken string `firestore:"google_sync_token,omitempty"`

	DeletePolicy string `firestore:"delete_policy,omitempty"`
	// PollDueAt is when the poller should next look at this connection; a
	// connection that must not be polled has it unset.
	PollDueAt           time.Time `firestore:"poll_due_at,omitempty"`
	LastPollAt          time.Time `firestore:"last_poll_at,omitempty"`
	PipedriveCheckpoint time.Time `firestore:"pipedrive_checkpoint,omitempty"`
	// LastSafetyNetAt is when the poller last listed the user's Pipedrive
	// persons with updated_since to catch changes whose webhook was lost.
	LastSafetyNetAt time.Time `firestore:"last_safety_net_at,omitempty"`
	// HeldDueAt is the earliest time a held change is due to be published
	// again (zero: none is); the poller looks at held changes only then.
	HeldDueAt time.Time `firestore:"held_due_at,omitempty"`
	// HeldSeq counts the times held changes were made due (MarkHeldDue,
	// and the store's Hold, ReleaseHeld, DecideHeld): the poller, having
	// published what it found due, moves HeldDueAt on only if none was made
	// due meanwhile, which its listing may have missed.
	HeldSeq int64 `firestore:"held_seq,omitempty"`
	// LastReconcileAt is when the poller last compared the linked Pipedrive
	// persons with the ones the user owns (lost deletes and owner changes).
	LastReconcileAt time.Time `firestore:"last_reconcile_at,omitempty"`
	// LastWebhookAt is when the intake last accepted a webhook of this
	// connection, to the minute (see SetLastWebhook).
	LastWebhookAt time.Time `firestore:"last_webhook_at,omitempty"`

	// FirstSync is the connection's first sync or full reconcile (nil:
	// none ever ran).
	FirstSync *FirstSync `firestore:"first_sync,omitempty"`

	Counts     map[string]int64 `firestore:"counts,omitempty"`
	LastErrors []ErrorEntry     `firestore:"last_errors,omitempty"`
	CreatedAt  time.Time        `firestore:"created_at"`
	UpdatedAt  time.Time        `firestore:"updated_at"`

	// Events is the connection's own history (connected, taken over by
	// another browser, signed out), newest last, bounded by MaxEvents.
	Events []ConnectionEvent `firestore:"events,omitempty"`
}

// AddError records msg (plain words, no personal data) keeping the newest few.
func (c *Connection) AddError(at time.Time, msg string) { c.AddErrorKey(at, "", msg) }

// AddErrorKey records msg with key, the name the settings page translates
// it by, and args, the values its text takes (counts, durations: no
// personal data), keeping the newest few.
func (c *Connection) AddErrorKey(at time.Time, key, msg string, args ...any) {
	e := ErrorEntry{At: at, Message: msg, Key: key}
	for _, a := range args {
		e.Args = append(e.Args, fmt.Sprint(a))
	}
	c.LastErrors = append(c.LastErrors, e)
	if n := len(c.LastErrors); n > maxErrors {
		c.LastErrors = c.LastErrors[n-maxErrors:]
	}
}

// WebhookEvery is how often at most the intake records that a
// connection's webhooks arrive (LastWebhookAt).
const WebhookEvery = time.Minute

// SetLastWebhook records that a webhook of the connection arrived at at:
// one field, no read (the intake read the connection already and calls
// this only when the stored time is WebhookEvery old). A connection
// deleted meanwhile is not an error.
func (s *Store) SetLastWebhook(ctx context.Context, connID string, at time.Time) error {
	_, err := s.conn(connID).Update(ctx, []firestore.Update{{Path: "last_webhook_at", Value: at}})
	if err != nil && !notFound(err) {
		return fmt.Errorf("store.SetLastWebhook: %w", err)
	}
	return nil
}

// NewID returns a random identifier suitable for a document id.
func NewID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// CreateConnection stores c under a new id (or c.ID if set) and returns the id.
func (s *Store) CreateConnection(ctx context.Context, c *Connection) (string, error) {
	if c.ID == "" {
		c.ID = NewID()
	}
	now := time.Now().UTC()
	c.CreatedAt, c.UpdatedAt = now, now
	if _, err := s.conn(c.ID).Create(ctx, c); err != nil {
		return "", fmt.Errorf("store.CreateConnection: %w", err)
	}
	return c.ID, nil
}

// GetConnection reads one connection. An id that cannot name one (see
// ValidID) is ErrNotFound, like a missing one.
func (s *Store) GetConnection(ctx context.Context, id string) (*Connection, error) {
	if !ValidID(id) {
		// Not one of ours: no document could have this id (and one with
		// "/" would name another document).
		return nil, fmt.Errorf("store.GetConnection: malformed id: %w", ErrNotFound)
	}
	snap, err := s.conn(id).Get(ctx)
	if notFound(err) {
		return nil, fmt.Errorf("store.GetConnection %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store.GetConnection: %w", err)
	}
	return decodeConnection(snap)
}

func decodeConnection(snap *firestore.DocumentSnapshot) (*Connection, error) {
	var c Connection
	if err := snap.DataTo(&c); err != nil {
		return nil, fmt.Errorf("store: decode connection %s: %w", snap.Ref.ID, err)
	}
	c.ID = snap.Ref.ID
	return &c, nil
}

// UpdateConnection reads the connection, lets fn change it, and writes it
// back in one transaction. fn may run more than once.
func (s *Store) UpdateConnection(ctx context.Context, id string, fn func(*Connection) error) (*Connection, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("store.UpdateConnection: malformed id: %w", ErrNotFound)
	}
	var out *Connection
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(s.conn(id))
		if notFound(err) {
			return fmt.Errorf("connection %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		c, err := decodeConnection(snap)
		if err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
		c.UpdatedAt = time.Now().UTC()
		out = c
		return tx.Set(s.conn(id), c)
	})
	if err != nil {
		return nil, fmt.Errorf("store.UpdateConnection: %w", err)
	}
	return out, nil
}

// ListConnections returns every connection (for tests; the settings page
// lists a browser's own with ConnectionsByOwner).
func (s *Store) ListConnections(ctx context.Context) ([]*Connection, error) {
	return s.collect(s.fs.Collection(colConnections).Documents(ctx))
}

func (s *Store) collect(it *firestore.DocumentIterator) ([]*Connection, error) {
	defer it.Stop()
	var out []*Connection
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("store: list connections: %w", err)
		}
		c, err := decodeConnection(snap)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

// DeleteConnection removes the connection with its secrets, links (with
// their history), held changes and failure counts. It deletes nothing on either side of the sync.
func (s *Store) DeleteConnection(ctx context.Context, id string) error {
	ref := s.conn(id)
	bw := s.fs.BulkWriter(ctx)
	var jobs []*firestore.BulkWriterJob
	del := func(r *firestore.DocumentRef) error {
		j, err := bw.Delete(r)
		jobs = append(jobs, j)
		return err
	}
	for _, col := range []string{colSecrets, colLinks, colHeld, colAttempts, colChunks} {
		refs, err := ref.Collection(col).DocumentRefs(ctx).GetAll()
		if err != nil {
			return fmt.Errorf("store.DeleteConnection: list %s: %w", col, err)
		}
		for _, r := range refs {
			if err := del(r); err != nil {
				return fmt.Errorf("store.DeleteConnection: %w", err)
			}
		}
	}
	if err := del(ref); err != nil {
		return fmt.Errorf("store.DeleteConnection: %w", err)
	}
	bw.End()
	for _, j := range jobs {
		if _, err := j.Results(); err != nil && !notFound(err) {
			return fmt.Errorf("store.DeleteConnection: %w", err)
		}
	}
	return nil
}

// SetPollDue sets poll_due_at of many connections at once (the poll fan-out
// touches every due connection each minute, so no transaction per document).
func (s *Store) SetPollDue(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	bw := s.fs.BulkWriter(ctx)
	jobs := make([]*firestore.BulkWriterJob, 0, len(ids))
	for _, id := range ids {
		j, err := bw.Update(s.conn(id), []firestore.Update{{Path: "poll_due_at", Value: at}})
		if err != nil {
			return fmt.Errorf("store.SetPollDue: %w", err)
		}
		jobs = append(jobs, j)
	}
	bw.End()
	for _, j := range jobs {
		if _, err := j.Results(); err != nil && !notFound(err) {
			return fmt.Errorf("store.SetPollDue: %w", err)
		}
	}
	return nil
}

// MarkHeldDue makes c's held changes due at at, for the poller to publish
// (inside UpdateConnection).
func (c *Connection) MarkHeldDue(at time.Time) {
	c.HeldDueAt = at
	c.HeldSeq++
}
