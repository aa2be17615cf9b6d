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

// MaxHistory bounds the history kept per link.
const MaxHistory = 50

// HistoryEntry is one line of a contact's history: what changed on which
// side, what was written, or why something was skipped. No personal data in
// clear: field names and actions only.
type HistoryEntry struct {
	At       time.Time `firestore:"at"`
	Side     string    `firestore:"side"`             // side that changed: pipedrive, google
	Action   string    `firestore:"action"`           // e.g. "update google", "skip: echo"
	Fields   []string  `firestore:"fields,omitempty"` // synced fields involved
	Detail   string    `firestore:"detail,omitempty"` // plain words
	Conflict bool      `firestore:"conflict,omitempty"`
}

// Link pairs one Pipedrive person with one Google contact.
type Link struct {
	ID          string `firestore:"-"`
	PipedriveID string `firestore:"pipedrive_id,omitempty"`
	GoogleID    string `firestore:"google_id,omitempty"`
	// Base is the last-synced normalized record (JSON of contact.Contact),
	// the common ancestor for the three-way merge.
	Base             []byte `firestore:"base,omitempty"`
	PipedriveVersion string `firestore:"pipedrive_version,omitempty"` // update_time
	GoogleVersion    string `firestore:"google_version,omitempty"`    // etag
	PipedriveHash    string `firestore:"pipedrive_hash,omitempty"`
	GoogleHash       string `firestore:"google_hash,omitempty"`
	// Pending records a write started but not yet confirmed (e.g. a Google
	// create), so a retry after a crash finds it instead of duplicating it.
	Pending string `firestore:"pending,omitempty"`
	// IntentBase is, with Pending, the record the create writes (JSON of
	// contact.Contact): the base of the pair if the create is found again
	// after its answer was lost. Neither record's state when found is:
	// the user may have edited either meanwhile.
	IntentBase []byte `firestore:"intent_base,omitempty"`
	// Planned is the update plan being written (JSON of syncplan.Planned),
	// stored before the first remote update and cleared by the commit: a
	// retry after a stop in between tells that run's writes from the
	// user's edits by it.
	Planned []byte `firestore:"planned,omitempty"`
	// LostCreateAt and LostCreateLookedAt are syncplan.LostCreate: a
	// Pipedrive create of this pair whose outcome was not found, so the
	// person was created again (zero if none).
	LostCreateAt       time.Time `firestore:"lost_create_at,omitempty"`
	LostCreateLookedAt time.Time `firestore:"lost_create_looked_at,omitempty"`
	// Parked is the Google twin of a person whose Pipedrive owner changed
	// away: the contact left the group (it stays in the user's contacts)
	// and GoogleID is empty (the base is kept). If the person comes back to the user, this
	// contact rejoins the group instead of a second one being created.
	Parked string `firestore:"parked,omitempty"`
	// Review marks a record held for review (its twin is ambiguous): the
	// link names only that record, and the applier holds its changes until
	// the user answers (the held change carries the candidates).
	Review string `firestore:"review,omitempty"`
	// ReviewCandidates are the ids on the other side it could be twinned with.
	ReviewCandidates []string `firestore:"review_candidates,omitempty"`
	// Counters of what the sync did to this pair, summed over the links by
	// LinkTotals for the status page (no write of their own: they ride on
	// the link commit). CreatedOn is the side the sync created the pair's
	// record on ("" when both existed and were matched).
	Updates   int64  `firestore:"updates,omitempty"`
	Conflicts int64  `firestore:"conflicts,omitempty"`
	CreatedOn string `firestore:"created_on,omitempty"`
	// SearchKeys are the base's search keys (contact.Mapper.SearchKeys):
	// the settings page finds a contact's history by name, e-mail or phone
	// with one array-contains-any query.
	SearchKeys []string `firestore:"search_keys,omitempty"`
	// DerivedName is the Pipedrive person's whole name when the sync chose
	// it (the contact has no name and Pipedrive requires one, see
	// contact.FallbackName): Pipedrive's name equal to it reads as no name
	// and never reaches Google. "" when the name is the user's.
	DerivedName string `firestore:"derived_name,omitempty"`
	// UnsyncedAddresses counts the Google contact's addresses beyond the one
	// that syncs (contact.UnsyncedGoogleAddresses), so the history says so
	// once when there are more, and they are never dropped silently.
	UnsyncedAddresses int64          `firestore:"unsynced_addresses,omitempty"`
	History           []HistoryEntry `firestore:"history,omitempty"`
	UpdatedAt         time.Time      `firestore:"updated_at"`

	// readAt is the document's update time when it was read; UpdateLink
	// writes only if it is unchanged (optimistic concurrency).
	readAt time.Time
}

// AddHistory appends h, keeping the newest MaxHistory entries.
func (l *Link) AddHistory(h HistoryEntry) {
	l.History = append(l.History, h)
	if n := len(l.History); n > MaxHistory {
		l.History = l.History[n-MaxHistory:]
	}
}

// LinkIDForPipedrive and LinkIDForGoogle give deterministic link ids, so two
// concurrent creators of the same link collide instead of duplicating it.
func LinkIDForPipedrive(personID string) string { return "p-" + personID }

// LinkIDForGoogle: see LinkIDForPipedrive. Resource names contain '/'.
func LinkIDForGoogle(resourceName string) string {
	return "g-" + strings.ReplaceAll(resourceName, "/", "_")
}

func (s *Store) links(connID string) *firestore.CollectionRef {
	return s.conn(connID).Collection(colLinks)
}

// LinkByPipedrive finds the link of a Pipedrive person, or ErrNotFound.
func (s *Store) LinkByPipedrive(ctx context.Context, connID, personID string) (*Link, error) {
	return s.findLink(ctx, connID, "pipedrive_id", personID)
}

// LinkByGoogle finds the link of a Google contact, or ErrNotFound.
func (s *Store) LinkByGoogle(ctx context.Context, connID, resourceName string) (*Link, error) {
	return s.findLink(ctx, connID, "google_id", resourceName)
}

func (s *Store) findLink(ctx context.Context, connID, field, value string) (*Link, error) {
	it := s.links(connID).Where(field, "==", value).Limit(1).Documents(ctx)
	defer it.Stop()
	snap, err := it.Next()
	if errors.Is(err, iterator.Done) {
		return nil, fmt.Errorf("store: link by %s: %w", field, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: link by %s: %w", field, err)
	}
	return decodeLink(snap)
}

// GetLink reads a link by id.
func (s *Store) GetLink(ctx context.Context, connID, linkID string) (*Link, error) {
	snap, err := s.links(connID).Doc(linkID).Get(ctx)
	if notFound(err) {
		return nil, fmt.Errorf("store.GetLink: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store.GetLink: %w", err)
	}
	return decodeLink(snap)
}

func decodeLink(snap *firestore.DocumentSnapshot) (*Link, error) {
	var l Link
	if err := snap.DataTo(&l); err != nil {
		return nil, fmt.Errorf("store: decode link %s: %w", snap.Ref.ID, err)
	}
	l.ID, l.readAt = snap.Ref.ID, snap.UpdateTime
	return &l, nil
}

// CreateLink stores a new link under l.ID; ErrConflict if it already exists.
func (s *Store) CreateLink(ctx context.Context, connID string, l *Link) error {
	if l.ID == "" {
		return errors.New("store.CreateLink: empty link id")
	}
	l.UpdatedAt = time.Now().UTC()
	res, err := s.links(connID).Doc(l.ID).Create(ctx, l)
	if alreadyExists(err) {
		return fmt.Errorf("store.CreateLink %s: %w", l.ID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store.CreateLink: %w", err)
	}
	l.readAt = res.UpdateTime
	return nil
}

// UpdateLink writes l only if the stored document has not changed since l
// was read; otherwise ErrConflict. One write, no extra read.
func (s *Store) UpdateLink(ctx context.Context, connID string, l *Link) error {
	if l.readAt.IsZero() {
		return errors.New("store.UpdateLink: link was not read from the store")
	}
	l.UpdatedAt = time.Now().UTC()
	ref := s.links(connID).Doc(l.ID)
	res, err := ref.Update(ctx, []firestore.Update{
		{Path: "pipedrive_id", Value: l.PipedriveID},
		{Path: "google_id", Value: l.GoogleID},
		{Path: "base", Value: l.Base},
		{Path: "pipedrive_version", Value: l.PipedriveVersion},
		{Path: "google_version", Value: l.GoogleVersion},
		{Path: "pipedrive_hash", Value: l.PipedriveHash},
		{Path: "google_hash", Value: l.GoogleHash},
		{Path: "pending", Value: l.Pending},
		{Path: "intent_base", Value: l.IntentBase},
		{Path: "planned", Value: l.Planned},
		{Path: "lost_create_at", Value: l.LostCreateAt},
		{Path: "lost_create_looked_at", Value: l.LostCreateLookedAt},
		{Path: "parked", Value: l.Parked},
		{Path: "review", Value: l.Review},
		{Path: "review_candidates", Value: l.ReviewCandidates},
		{Path: "updates", Value: l.Updates},
		{Path: "conflicts", Value: l.Conflicts},
		{Path: "created_on", Value: l.CreatedOn},
		{Path: "search_keys", Value: l.SearchKeys},
		{Path: "derived_name", Value: l.DerivedName},
		{Path: "unsynced_addresses", Value: l.UnsyncedAddresses},
		{Path: "history", Value: l.History},
		{Path: "updated_at", Value: l.UpdatedAt},
	}, firestore.LastUpdateTime(l.readAt))
	switch code := status.Code(err); {
	case err == nil:
		l.readAt = res.UpdateTime
		return nil
	case code == codes.FailedPrecondition || code == codes.NotFound:
		return fmt.Errorf("store.UpdateLink %s: %w", l.ID, ErrConflict)
	default:
		return fmt.Errorf("store.UpdateLink: %w", err)
	}
}

// DeleteLink forgets a pair (only if unchanged since read).
func (s *Store) DeleteLink(ctx context.Context, connID string, l *Link) error {
	// The link's counters move to the connection in the same transaction,
	// so the totals the status page shows never shrink when a pair goes.
	var folds []firestore.Update
	fold := func(key string, n int64) {
		if n != 0 {
			folds = append(folds, firestore.Update{FieldPath: firestore.FieldPath{"counts", key}, Value: firestore.Increment(n)})
		}
	}
	fold(CountGoneUpdates, l.Updates)
	fold(CountGoneConflicts, l.Conflicts)
	switch l.CreatedOn {
	case "google":
		fold(CountGoneCreatedGoogle, 1)
	case "pipedrive":
		fold(CountGoneCreatedPipedrive, 1)
	}
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if err := tx.Delete(s.links(connID).Doc(l.ID), firestore.LastUpdateTime(l.readAt)); err != nil {
			return err
		}
		if len(folds) == 0 {
			return nil
		}
		return tx.Update(s.conn(connID), folds)
	}, firestore.MaxAttempts(1))
	switch code := status.Code(err); {
	case err == nil:
		return nil
	case code == codes.FailedPrecondition || code == codes.NotFound:
		return fmt.Errorf("store.DeleteLink %s: %w", l.ID, ErrConflict)
	default:
		return fmt.Errorf("store.DeleteLink: %w", err)
	}
}

// CountLinks counts a connection's links with an aggregation query (one
// read per 1000 entries, not one per link).
func (s *Store) CountLinks(ctx context.Context, connID string) (int64, error) {
	n, err := count(ctx, s.links(connID).Query)
	if err != nil {
		return 0, fmt.Errorf("store.CountLinks: %w", err)
	}
	return n, nil
}

// SearchLinks returns up to limit links whose search keys contain one of
// keys (at most 30 are used: Firestore's limit of array-contains-any).
func (s *Store) SearchLinks(ctx context.Context, connID string, keys []string, limit int) ([]*Link, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	if len(keys) > maxIn {
		keys = keys[:maxIn]
	}
	return queryLinks(ctx, "SearchLinks", s.links(connID).Where("search_keys", "array-contains-any", keys).Limit(limit))
}

// LinksWithLostCreate returns the links (at most 50) whose lost Pipedrive
// create was looked for at or after since (syncplan.LostCreate).
func (s *Store) LinksWithLostCreate(ctx context.Context, connID string, since time.Time) ([]*Link, error) {
	return queryLinks(ctx, "LinksWithLostCreate", s.links(connID).Where("lost_create_looked_at", ">=", since).Limit(50))
}

// queryLinks runs q for the method what and decodes the links it finds.
func queryLinks(ctx context.Context, what string, q firestore.Query) ([]*Link, error) {
	snaps, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("store.%s: %w", what, err)
	}
	out := make([]*Link, 0, len(snaps))
	for _, snap := range snaps {
		l, err := decodeLink(snap)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// Totals are a connection's counters summed over its links.
type Totals struct {
	Linked, Updates, Conflicts, CreatedInGoogle, CreatedInPipedrive int64
}

// Counters of deleted links, kept on the connection (Counts) so the totals
// include pairs that are gone.
const (
	CountGoneUpdates          = "gone_updates"
	CountGoneConflicts        = "gone_conflicts"
	CountGoneCreatedGoogle    = "gone_created_google"
	CountGoneCreatedPipedrive = "gone_created_pipedrive"
)

// LinkTotals sums the links' counters with aggregation queries (one read
// per 1000 index entries each, not one per link).
func (s *Store) LinkTotals(ctx context.Context, connID string) (Totals, error) {
	var t Totals
	var err error
	if t.Linked, err = count(ctx, s.links(connID).Query); err != nil {
		return t, fmt.Errorf("store.LinkTotals: %w", err)
	}
	// One aggregation per field: a query that sums several fields counts
	// only the documents that have all of them (as the emulator does).
	for field, dst := range map[string]*int64{"updates": &t.Updates, "conflicts": &t.Conflicts} {
		res, err := s.links(connID).NewAggregationQuery().WithSum(field, "s").Get(ctx)
		if err != nil {
			return t, fmt.Errorf("store.LinkTotals: %w", err)
		}
		*dst = intOf(res["s"])
	}
	for side, dst := range map[string]*int64{"google": &t.CreatedInGoogle, "pipedrive": &t.CreatedInPipedrive} {
		if *dst, err = count(ctx, s.links(connID).Where("created_on", "==", side)); err != nil {
			return t, fmt.Errorf("store.LinkTotals: %w", err)
		}
	}
	return t, nil
}

// WithGone adds the counters of deleted links (Connection.Counts).
func (t Totals) WithGone(counts map[string]int64) Totals {
	t.Updates += counts[CountGoneUpdates]
	t.Conflicts += counts[CountGoneConflicts]
	t.CreatedInGoogle += counts[CountGoneCreatedGoogle]
	t.CreatedInPipedrive += counts[CountGoneCreatedPipedrive]
	return t
}

// intOf reads an aggregation result (an int64, a float64 for sums over no
// document, or a protobuf value).
func intOf(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case interface{ GetIntegerValue() int64 }:
		return n.GetIntegerValue()
	}
	return 0
}

// count runs a count aggregation.
func count(ctx context.Context, q firestore.Query) (int64, error) {
	res, err := q.NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		return 0, err
	}
	v, ok := res["n"]
	if !ok {
		return 0, errors.New("no count in result")
	}
	return intOf(v), nil
}
