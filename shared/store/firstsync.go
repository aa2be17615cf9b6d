package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
)

// The first sync (and the full reconcile, which is the same job): its
// state and progress live on the connection document (the settings page
// reads them with the connection; they are written once per chunk), and
// its planned work in chunk documents:
//
//	connections/{id}/firstsync_chunks/{chain}-{index}   FirstSyncChunk

const colChunks = "firstsync_chunks"

// First-sync modes and phases.
const (
	FirstSyncPreview   = "preview"   // list and match, write nothing
	FirstSyncRun       = "run"       // the first sync of a new connection
	FirstSyncReconcile = "reconcile" // a full reconcile of a live connection

	PhaseListing = "listing"   // listing both sides and planning
	PhaseWriting = "writing"   // the chains run
	PhaseWaiting = "waiting"   // paused until ResumeAt (Pipedrive's daily budget)
	PhaseDone    = "done"      // finished
	PhasePreview = "previewed" // a preview's counts are ready
	PhaseFailed  = "failed"    // stopped by an error it cannot get past (Reason)
)

// FirstSync is a connection's first sync.
type FirstSync struct {
	Job   string `firestore:"job"`
	Mode  string `firestore:"mode"`
	Phase string `firestore:"phase"`
	// Reason says in plain words why the job waits or failed.
	Reason     string    `firestore:"reason,omitempty"`
	StartedAt  time.Time `firestore:"started_at"`
	UpdatedAt  time.Time `firestore:"updated_at"`
	FinishedAt time.Time `firestore:"finished_at,omitempty"`
	ResumeAt   time.Time `firestore:"resume_at,omitempty"`

	// Progress: writes planned and made on each side (contacts created or
	// updated), and the chains' chunks.
	GoogleTotal     int `firestore:"google_total,omitempty"`
	GoogleDone      int `firestore:"google_done,omitempty"`
	PipedriveTotal  int `firestore:"pipedrive_total,omitempty"`
	PipedriveDone   int `firestore:"pipedrive_done,omitempty"`
	LinksTotal      int `firestore:"links_total,omitempty"`
	LinksDone       int `firestore:"links_done,omitempty"`
	GoogleChunks    int `firestore:"google_chunks,omitempty"`
	GoogleNext      int `firestore:"google_next,omitempty"`
	PipedriveChunks int `firestore:"pipedrive_chunks,omitempty"`
	PipedriveNext   int `firestore:"pipedrive_next,omitempty"`
	// Rate is contacts written a minute over the writing phase so far; ETA
	// when both chains should be done at that rate and the plan's limits.
	Rate float64   `firestore:"rate,omitempty"`
	ETA  time.Time `firestore:"eta,omitempty"`

	// SyncToken is the Google listing's token: the connection's token
	// once the job is done, so nothing changed meanwhile is missed.
	// ListedAt is when the listing began: the Pipedrive checkpoint then.
	SyncToken string    `firestore:"sync_token,omitempty"`
	ListedAt  time.Time `firestore:"listed_at,omitempty"`

	// GooglePace is the Google quota spent over the last minute (the
	// pacer's log), carried from chunk to chunk across instances.
	GooglePace []PaceEntry `firestore:"google_pace,omitempty"`
	// PipedriveSpent counts the tokens the job spent on Pipedrive on
	// SpentDay (UTC): the job stops at its share of the daily budget.
	PipedriveSpent int       `firestore:"pipedrive_spent,omitempty"`
	SpentDay       time.Time `firestore:"spent_day,omitempty"`
	// The quotas the job keeps to, read when it was planned: Pipedrive's
	// plan (from its burst limit), requests per 2 s, the daily budget and
	// the job's daily allowance of it.
	PipedrivePlan      string `firestore:"pipedrive_plan,omitempty"`
	PipedriveBurst     int    `firestore:"pipedrive_burst,omitempty"`
	PipedriveDaily     int    `firestore:"pipedrive_daily,omitempty"`
	PipedriveAllowance int    `firestore:"pipedrive_allowance,omitempty"`
	// ContactSyncShown: whether the company shows the contact-sync fields
	// ("" unknown: no person listed; the first create tells).
	ContactSyncShown string `firestore:"contact_sync_shown,omitempty"`
	// GoogleWaitUntil and PipedriveWaitUntil: a chain waits (Pipedrive's
	// daily allowance is spent, or an error it retries later) until then;
	// the poller starts it again.
	GoogleWaitUntil    time.Time `firestore:"google_wait_until,omitempty"`
	PipedriveWaitUntil time.Time `firestore:"pipedrive_wait_until,omitempty"`
	// EmptySide is the side the job's listing showed empty while links
	// existed (the empty-side guard): the job pauses the connection at
	// its end instead of setting it live.
	EmptySide  string `firestore:"empty_side,omitempty"`
	EmptyLinks int    `firestore:"empty_links,omitempty"`
	// WritingAt is when the writing began (the rate is measured from it).
	WritingAt time.Time `firestore:"writing_at,omitempty"`

	Preview *Preview `firestore:"preview,omitempty"`
}

// PaceEntry is one Google call's quota spend.
type PaceEntry struct {
	At     time.Time `firestore:"at"`
	Reads  int       `firestore:"r"`
	Writes int       `firestore:"w"`
}

// Preview is what a first sync would do (and the counts of the one that
// runs): records to create on each side, to match, to merge, the ambiguous
// ones, what is skipped, and the time the quotas impose.
type Preview struct {
	PipedriveListed   int                `firestore:"pipedrive_listed"`
	GoogleListed      int                `firestore:"google_listed"`
	OutsideGroup      int                `firestore:"outside_group"`
	CreateInGoogle    int                `firestore:"create_in_google"`
	CreateInPipedrive int                `firestore:"create_in_pipedrive"`
	Matched           int                `firestore:"matched"`
	MatchedBy         map[string]int     `firestore:"matched_by,omitempty"`
	AlreadyLinked     int                `firestore:"already_linked"`
	UpdateInGoogle    int                `firestore:"update_in_google"`
	UpdateInPipedrive int                `firestore:"update_in_pipedrive"`
	Conflicts         int                `firestore:"conflicts"`
	ConflictSample    []PreviewConflict  `firestore:"conflict_sample,omitempty"`
	Ambiguous         int                `firestore:"ambiguous"`
	AmbiguousSample   []PreviewAmbiguous `firestore:"ambiguous_sample,omitempty"`
	// Missing are linked records the listing did not show (deleted,
	// removed from the group, given to another owner): each is checked
	// by the applier after the job.
	Missing         int     `firestore:"missing"`
	OrgsToCreate    int     `firestore:"orgs_to_create"`
	PipedriveTokens int     `firestore:"pipedrive_tokens"`
	GoogleBatches   int     `firestore:"google_batches"`
	EstimateSeconds float64 `firestore:"estimate_seconds"`
	EstimateDays    int     `firestore:"estimate_days"`
	PipedrivePlan   string  `firestore:"pipedrive_plan,omitempty"`
}

// PreviewConflict is one field both records of a matched pair fill
// differently (names of records, not ids: shown to the owner only).
type PreviewConflict struct {
	Name      string `firestore:"name"`
	Field     string `firestore:"field"`
	Pipedrive string `firestore:"pipedrive"`
	Google    string `firestore:"google"`
	Winner    string `firestore:"winner"`
}

// PreviewAmbiguous is one group of records that match without pairing.
type PreviewAmbiguous struct {
	By        string   `firestore:"by"`
	Pipedrive []string `firestore:"pipedrive"` // names
	Google    []string `firestore:"google"`
}

// FirstSyncChunk is one chunk of planned work of a chain.
type FirstSyncChunk struct {
	ID    string `firestore:"-"`
	Job   string `firestore:"job"`
	Chain string `firestore:"chain"`
	Index int    `firestore:"index"`
	// Items is the chunk's work, JSON (the first-sync package's items).
	Items []byte `firestore:"items"`
	Done  bool   `firestore:"done"`
	// Lease: the instance running the chunk and until when; a duplicate
	// delivery leaves a fresh lease alone.
	Lease      string    `firestore:"lease,omitempty"`
	LeaseUntil time.Time `firestore:"lease_until,omitempty"`
	// InFlight: a write of the chunk was sent whose outcome is not yet in
	// the links (a crash then makes the next run look for it first).
	InFlight  bool      `firestore:"in_flight,omitempty"`
	StartedAt time.Time `firestore:"started_at,omitempty"`
	// Next is the first item not yet done (a chunk of one-by-one writes
	// resumes there); InFlightAt when the write of item Next was sent.
	Next       int       `firestore:"next,omitempty"`
	InFlightAt time.Time `firestore:"in_flight_at,omitempty"`
}

// ChunkID is the document id of a chain's chunk.
func ChunkID(chain string, index int) string { return fmt.Sprintf("%s-%05d", chain, index) }

func (s *Store) chunks(connID string) *firestore.CollectionRef {
	return s.conn(connID).Collection(colChunks)
}

// PutChunks stores a job's chunks (replacing any of the same ids).
func (s *Store) PutChunks(ctx context.Context, connID string, cs []FirstSyncChunk) error {
	bw := s.fs.BulkWriter(ctx)
	jobs := make([]*firestore.BulkWriterJob, 0, len(cs))
	for _, c := range cs {
		j, err := bw.Set(s.chunks(connID).Doc(ChunkID(c.Chain, c.Index)), c)
		if err != nil {
			return fmt.Errorf("store.PutChunks: %w", err)
		}
		jobs = append(jobs, j)
	}
	bw.End()
	for _, j := range jobs {
		if _, err := j.Results(); err != nil {
			return fmt.Errorf("store.PutChunks: %w", err)
		}
	}
	return nil
}

// ErrLeased means another instance runs the chunk (its lease is fresh).
var ErrLeased = errors.New("store: chunk leased by another instance")

// ClaimChunk leases a chunk to instance until until, and returns it. A
// chunk that is done is returned as it is (the caller moves on); one whose
// lease is held by another instance and fresh gives ErrLeased.
func (s *Store) ClaimChunk(ctx context.Context, connID, chain string, index int, instance string, now, until time.Time) (*FirstSyncChunk, error) {
	ref := s.chunks(connID).Doc(ChunkID(chain, index))
	var out *FirstSyncChunk
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if notFound(err) {
			return fmt.Errorf("chunk %s-%d: %w", chain, index, ErrNotFound)
		}
		if err != nil {
			return err
		}
		var c FirstSyncChunk
		if err := snap.DataTo(&c); err != nil {
			return err
		}
		c.ID = snap.Ref.ID
		out = &c
		if c.Done {
			return nil
		}
		if c.Lease != "" && c.Lease != instance && now.Before(c.LeaseUntil) {
			return ErrLeased
		}
		c.Lease, c.LeaseUntil = instance, until
		if c.StartedAt.IsZero() {
			c.StartedAt = now
		}
		return tx.Set(ref, c)
	})
	if err != nil {
		return nil, fmt.Errorf("store.ClaimChunk: %w", err)
	}
	return out, nil
}

// GetChunk reads one chunk.
func (s *Store) GetChunk(ctx context.Context, connID, chain string, index int) (*FirstSyncChunk, error) {
	snap, err := s.chunks(connID).Doc(ChunkID(chain, index)).Get(ctx)
	if notFound(err) {
		return nil, fmt.Errorf("chunk %s-%d: %w", chain, index, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store.GetChunk: %w", err)
	}
	var c FirstSyncChunk
	if err := snap.DataTo(&c); err != nil {
		return nil, fmt.Errorf("store.GetChunk: %w", err)
	}
	c.ID = snap.Ref.ID
	return &c, nil
}

// MarkChunk stores a chunk's in-flight mark or its completion (done also
// releases the lease).
func (s *Store) MarkChunk(ctx context.Context, connID string, c *FirstSyncChunk) error {
	ups := []firestore.Update{{Path: "in_flight", Value: c.InFlight}, {Path: "done", Value: c.Done},
		{Path: "next", Value: c.Next}, {Path: "in_flight_at", Value: c.InFlightAt}}
	if c.Done {
		ups = append(ups, firestore.Update{Path: "lease", Value: ""})
	}
	if _, err := s.chunks(connID).Doc(c.ID).Update(ctx, ups); err != nil {
		return fmt.Errorf("store.MarkChunk: %w", err)
	}
	return nil
}

// DeleteChunks removes a connection's chunks (a job finished or replaced).
func (s *Store) DeleteChunks(ctx context.Context, connID string) error {
	it := s.chunks(connID).Select().Documents(ctx)
	defer it.Stop()
	bw := s.fs.BulkWriter(ctx)
	var jobs []*firestore.BulkWriterJob
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return fmt.Errorf("store.DeleteChunks: %w", err)
		}
		j, err := bw.Delete(snap.Ref)
		if err != nil {
			return fmt.Errorf("store.DeleteChunks: %w", err)
		}
		jobs = append(jobs, j)
	}
	bw.End()
	for _, j := range jobs {
		if _, err := j.Results(); err != nil && !notFound(err) {
			return fmt.Errorf("store.DeleteChunks: %w", err)
		}
	}
	return nil
}

// LinkWrite is one link a first sync stores: a new one (replacing any
// of its id), or an existing one updated field by field so its history
// and counters are kept (Entry appended, Updates and Conflicts added).
type LinkWrite struct {
	Link     *Link
	Existing bool
	Entry    *HistoryEntry
}

// PutLinks stores many links at once (a first-sync chunk's).
func (s *Store) PutLinks(ctx context.Context, connID string, ws []LinkWrite) error {
	bw := s.fs.BulkWriter(ctx)
	jobs := make([]*firestore.BulkWriterJob, 0, len(ws))
	now := time.Now().UTC()
	for _, w := range ws {
		l := w.Link
		if l.ID == "" {
			return errors.New("store.PutLinks: empty link id")
		}
		l.UpdatedAt = now
		ref := s.links(connID).Doc(l.ID)
		var j *firestore.BulkWriterJob
		var err error
		if w.Existing {
			ups := []firestore.Update{
				{Path: "pipedrive_id", Value: l.PipedriveID}, {Path: "google_id", Value: l.GoogleID},
				{Path: "base", Value: l.Base}, {Path: "pending", Value: firestore.Delete}, {Path: "intent_base", Value: firestore.Delete},
				{Path: "pipedrive_version", Value: l.PipedriveVersion}, {Path: "google_version", Value: l.GoogleVersion},
				{Path: "pipedrive_hash", Value: l.PipedriveHash}, {Path: "google_hash", Value: l.GoogleHash},
				{Path: "search_keys", Value: l.SearchKeys}, {Path: "updated_at", Value: now},
				{Path: "derived_name", Value: l.DerivedName}, {Path: "unsynced_addresses", Value: l.UnsyncedAddresses},
			}
			if l.Updates > 0 {
				ups = append(ups, firestore.Update{Path: "updates", Value: firestore.Increment(l.Updates)})
			}
			if l.Conflicts > 0 {
				ups = append(ups, firestore.Update{Path: "conflicts", Value: firestore.Increment(l.Conflicts)})
			}
			if w.Entry != nil {
				ups = append(ups, firestore.Update{Path: "history", Value: firestore.ArrayUnion(*w.Entry)})
			}
			j, err = bw.Update(ref, ups)
		} else {
			if w.Entry != nil {
				l.AddHistory(*w.Entry)
			}
			j, err = bw.Set(ref, l)
		}
		if err != nil {
			return fmt.Errorf("store.PutLinks: %w", err)
		}
		jobs = append(jobs, j)
	}
	bw.End()
	for _, j := range jobs {
		if _, err := j.Results(); err != nil {
			return fmt.Errorf("store.PutLinks: %w", err)
		}
	}
	return nil
}

// AllLinks returns every link of a connection (the full reconcile reads
// them once).
func (s *Store) AllLinks(ctx context.Context, connID string) ([]*Link, error) {
	it := s.links(connID).Documents(ctx)
	defer it.Stop()
	var out []*Link
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("store.AllLinks: %w", err)
		}
		l, err := decodeLink(snap)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
}
