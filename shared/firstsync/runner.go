// Package firstsync brings both existing address books together when a
// connection starts (and re-runs as the full reconcile when the Google sync
// token expired or links were lost): it lists both sides completely,
// matches and decides with the sync core (match, syncplan), and writes in
// bulk at the pace the quotas allow — Google in batches of 200, sent one
// after another for the user and paced to its per-minute quotas; Pipedrive
// paced to the plan's burst window and stopping at a share of the
// company's daily budget until the next day.
//
// The work runs as a job of steps delivered on the first-sync topic: a
// plan step (list, match, decide, store the chunks), then two chains of
// chunks that run side by side, Google's and Pipedrive's, each step
// publishing the next. A chunk is leased to one instance; every write is
// recorded in the links in the step that makes it, and a write whose
// answer was lost is found again (our clientData marker on Google
// contacts, a listing of the persons just added on Pipedrive) instead of
// being repeated. Progress is on the connection document, written once a
// chunk. A preview is the same plan without writes.
//
// While a job runs, the applier holds the connection's live changes as
// deferred and the poller leaves Google alone; when it ends, the
// connection's sync token is the one of the job's listing (nothing changed
// meanwhile is missed), and the held changes are applied.
package firstsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

// Opener opens a connection's API clients (*account.Accounts).
type Opener interface {
	Open(ctx context.Context, conn *store.Connection) (*account.Clients, error)
}

// Publisher publishes the job's steps and, at its end, the changes the
// applier checks (*queue.Publisher).
type Publisher interface {
	PublishFirstSync(ctx context.Context, topic string, steps ...queue.FirstSyncStep) error
	PublishChanges(ctx context.Context, topic string, cs ...queue.Change) error
}

var (
	_ Opener    = (*account.Accounts)(nil)
	_ Publisher = (*queue.Publisher)(nil)
)

// Step names a point of a job, for Config.Hook (tests kill the job there).
type Step string

// Steps.
const (
	// StepPlanned: the chunks are stored, the chains not yet started.
	StepPlanned Step = "planned"
	// StepGoogleWritten: a Google batch was answered, its links not yet written.
	StepGoogleWritten Step = "google-written"
	// StepPipedriveCreated: a person was created, its link not yet written.
	StepPipedriveCreated Step = "pipedrive-created"
	// StepChunkDone: a chunk is done, the next step not yet published.
	StepChunkDone Step = "chunk-done"
)

// Config wires a Runner.
type Config struct {
	Store     *store.Store
	Accounts  Opener
	Publisher Publisher
	// Topic is the first-sync topic; ChangesTopic the applier's.
	Topic, ChangesTopic string
	Mapper              contact.Mapper
	// Now and Sleep are the clock (benchmarks run in virtual time).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Instance names this instance in chunk leases (default: random).
	Instance string
	// GoogleQuota is what the pacer keeps to (default google.DefaultQuota).
	GoogleQuota google.Quota
	// DailyBase is the daily Pipedrive budget of one seat on a plan of
	// multiplier 1 (default the documented 30,000; a company with bought
	// top-ups has more).
	DailyBase int
	// DailyShare is the share of the company's daily Pipedrive budget a
	// job spends in one day (default 0.8): the rest keeps the live sync of
	// this and other users running.
	DailyShare float64
	// Lease is how long a chunk is leased to the instance running it
	// (default 10 minutes, above the function's timeout).
	Lease time.Duration
	// PipedriveChunk and GoogleChunk bound the items of a chunk (default
	// 100 and google.MaxBatchCreate).
	PipedriveChunk, GoogleChunk int
	Hook                        func(ctx context.Context, s Step) error
}

// Runner runs first-sync jobs.
type Runner struct {
	cfg Config
	// running holds the chains of connections that run a step in this
	// instance. A chunk's lease tells instances apart, not deliveries:
	// Pub/Sub may hand a step to the same instance again while it still
	// runs, and two runs of one chunk side by side create its records twice.
	running busySet
}

// errBusy: the step's chain runs a step in this instance already; Pub/Sub
// delivers it again later (by then the chunk is done, or it failed and
// this delivery does it). Waiting instead would hold a push request for as
// long as the running step paces itself to the quotas, and redeliveries
// would pile up behind it.
var errBusy = errors.New("firstsync: the chain runs a step in this instance already; retried later")

// busySet is a set of keys taken by running work.
type busySet struct {
	mu sync.Mutex
	m  map[string]bool
}

// take takes key and returns its release, or false when it is taken.
func (b *busySet) take(key string) (release func(), ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m[key] {
		return nil, false
	}
	if b.m == nil {
		b.m = map[string]bool{}
	}
	b.m[key] = true
	return func() {
		b.mu.Lock()
		delete(b.m, key)
		b.mu.Unlock()
	}, true
}

// New refuses incomplete wiring.
func New(cfg Config) (*Runner, error) {
	switch {
	case cfg.Store == nil || cfg.Accounts == nil || cfg.Publisher == nil:
		return nil, errors.New("firstsync.New: store, accounts and publisher are required")
	case cfg.Topic == "" || cfg.ChangesTopic == "":
		return nil, errors.New("firstsync.New: the first-sync and changes topics are required")
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	if cfg.Sleep == nil {
		cfg.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	if cfg.Instance == "" {
		cfg.Instance = store.NewID()
	}
	if cfg.GoogleQuota == (google.Quota{}) {
		cfg.GoogleQuota = google.DefaultQuota
	}
	if cfg.DailyShare <= 0 || cfg.DailyShare > 1 {
		cfg.DailyShare = 0.8
	}
	if cfg.DailyBase <= 0 {
		cfg.DailyBase = dailyBase
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 10 * time.Minute
	}
	if cfg.PipedriveChunk <= 0 {
		cfg.PipedriveChunk = 100
	}
	if cfg.GoogleChunk <= 0 || cfg.GoogleChunk > google.MaxBatchCreate {
		cfg.GoogleChunk = google.MaxBatchCreate
	}
	return &Runner{cfg: cfg}, nil
}

func (r *Runner) now() time.Time { return r.cfg.Now() }

func (r *Runner) hook(ctx context.Context, s Step) error {
	if r.cfg.Hook == nil {
		return nil
	}
	return r.cfg.Hook(ctx, s)
}

// Begin sets c up for a new job of mode: a preview, the first sync or a
// full reconcile (a running job is replaced: its steps are dropped as
// stale). The first sync and the reconcile set the connection to
// first_sync, so live changes wait for it, and due for a poll, whose look
// at the job (Kick) sends its first step if nobody did. It returns the
// job's id.
func Begin(c *store.Connection, mode string, now time.Time) string {
	job := store.NewID()
	c.FirstSync = &store.FirstSync{Job: job, Mode: mode, Phase: store.PhaseListing, StartedAt: now, UpdatedAt: now}
	if mode != store.FirstSyncPreview {
		c.Status, c.StatusReason, c.PauseReason = store.StatusFirstSync, "", ""
		c.PollDueAt = now
	}
	return job
}

// Start begins a job (Begin) and sends its first step.
func Start(ctx context.Context, st *store.Store, pub Publisher, topic, connID, mode string, now time.Time) (*store.Connection, error) {
	var job string
	c, err := st.UpdateConnection(ctx, connID, func(c *store.Connection) error {
		job = Begin(c, mode, now)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("firstsync.Start: %w", err)
	}
	return c, Send(ctx, st, pub, topic, c, job)
}

// Send clears a new job's leftovers and publishes its first step.
func Send(ctx context.Context, st *store.Store, pub Publisher, topic string, c *store.Connection, job string) error {
	if err := st.DeleteChunks(ctx, c.ID); err != nil {
		return err
	}
	if err := pub.PublishFirstSync(ctx, topic, queue.FirstSyncStep{ConnectionID: c.ID, Job: job, Chain: queue.ChainPlan}); err != nil {
		return fmt.Errorf("firstsync: send: %w", err)
	}
	return nil
}

// Synced reports whether the connection's first sync ran to its end (a
// reconcile since counts too).
func Synced(c *store.Connection) bool {
	fs := c.FirstSync
	return fs != nil && fs.Mode != store.FirstSyncPreview && fs.Phase == store.PhaseDone
}

// Handle runs one step. It returns an error only when a retry may
// succeed (Pub/Sub redelivers); a stale step (of a replaced job, or of a
// connection that is gone) is dropped.
func (r *Runner) Handle(ctx context.Context, s queue.FirstSyncStep) error {
	ctx = logging.With(ctx, "connection", s.ConnectionID, "job", s.Job, "chain", s.Chain, "chunk", s.Chunk)
	log := logging.FromContext(ctx)
	release, ok := r.running.take(s.ConnectionID + "/" + s.Chain)
	if !ok {
		log.Info("firstsync: step already running here; delivered again later")
		return errBusy
	}
	defer release()
	conn, err := r.cfg.Store.GetConnection(ctx, s.ConnectionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("firstsync: load connection: %w", err)
	}
	job := conn.FirstSync
	if job == nil || job.Job != s.Job {
		log.Info("firstsync: step of a replaced job dropped")
		return nil
	}
	switch job.Phase {
	case store.PhaseDone, store.PhasePreview, store.PhaseFailed:
		return nil
	}
	if job.Mode != store.FirstSyncPreview && conn.Status != store.StatusFirstSync {
		// paused, or an account must be connected again: the poller sends
		// the step again when the connection is back (see Kick)
		log.Info("firstsync: step left for later", "status", string(conn.Status))
		return nil
	}
	cl, err := r.cfg.Accounts.Open(ctx, conn)
	if err != nil {
		return r.settle(ctx, conn.ID, fmt.Errorf("firstsync: open accounts: %w", err))
	}
	switch s.Chain {
	case queue.ChainPlan:
		if job.Phase != store.PhaseListing {
			// planned already: a duplicate, or the plan step again after a
			// crash before its chains were sent
			err = r.resume(ctx, conn, "")
			break
		}
		err = r.plan(ctx, conn, cl)
	default:
		err = r.chunk(ctx, conn, cl, s)
	}
	if err = r.settle(ctx, conn.ID, err); err != nil {
		log.Warn("firstsync: step failed; retried", "err", err)
	}
	return err
}

// encodeItems and decodeItems carry a chunk's items.
func encodeItems(items []Item) ([]byte, error) { return json.Marshal(items) }

func decodeItems(b []byte) ([]Item, error) {
	var items []Item
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, fmt.Errorf("firstsync: decode chunk: %w", err)
	}
	return items, nil
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
