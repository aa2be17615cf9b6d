package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
)

// Queries of the poller: the fan-out's paged due list, and cheap link
// lookups (projections: only the ids and versions are transferred).

// DueConnection is a connection whose poll is due (ids only: the fan-out
// never needs the rest of the document).
type DueConnection struct {
	ID        string
	PollDueAt time.Time
}

// DueCursor continues a DuePage listing after its last connection.
type DueCursor struct{ last *firestore.DocumentSnapshot }

// DuePage returns up to limit connections due at now, in due order, after
// cursor (nil: from the start), and the cursor of the next page (nil after
// the last page). Paging by cursor, not by re-querying, lets the caller
// fetch the next page while it still publishes the previous one.
func (s *Store) DuePage(ctx context.Context, now time.Time, limit int, after *DueCursor) ([]DueConnection, *DueCursor, error) {
	q := s.fs.Collection(colConnections).Where("poll_due_at", "<=", now).
		OrderBy("poll_due_at", firestore.Asc).Select("poll_due_at").Limit(limit)
	if after != nil && after.last != nil {
		q = q.StartAfter(after.last)
	}
	snaps, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, nil, fmt.Errorf("store.DuePage: %w", err)
	}
	out := make([]DueConnection, 0, len(snaps))
	for _, snap := range snaps {
		var d struct {
			PollDueAt time.Time `firestore:"poll_due_at"`
		}
		if err := snap.DataTo(&d); err != nil {
			return nil, nil, fmt.Errorf("store.DuePage: decode %s: %w", snap.Ref.ID, err)
		}
		out = append(out, DueConnection{ID: snap.Ref.ID, PollDueAt: d.PollDueAt})
	}
	if len(snaps) < limit {
		return out, nil, nil
	}
	return out, &DueCursor{last: snaps[len(snaps)-1]}, nil
}

// LinkRef is the part of a link the poller needs to decide whether a
// change is worth a message: its ids and last-synced versions.
type LinkRef struct {
	ID               string `firestore:"-"`
	PipedriveID      string `firestore:"pipedrive_id,omitempty"`
	GoogleID         string `firestore:"google_id,omitempty"`
	PipedriveVersion string `firestore:"pipedrive_version,omitempty"`
	GoogleVersion    string `firestore:"google_version,omitempty"`
	Pending          string `firestore:"pending,omitempty"`
	Parked           string `firestore:"parked,omitempty"`
	// UpdatedAt is when the link was last written (our clock).
	UpdatedAt time.Time `firestore:"updated_at"`
}

var linkRefFields = []string{"pipedrive_id", "google_id", "pipedrive_version", "google_version", "pending", "parked", "updated_at"}

// maxIn is Firestore's limit on the values of one "in" filter.
const maxIn = 30

// LinkRefsByGoogle returns the links of the given Google resource names,
// keyed by resource name; names without a link are absent. It reads only
// the links that exist (plus one read per query of up to 30 names).
func (s *Store) LinkRefsByGoogle(ctx context.Context, connID string, resourceNames []string) (map[string]LinkRef, error) {
	return s.linkRefsBy(ctx, connID, "google_id", resourceNames, func(l LinkRef) string { return l.GoogleID })
}

// LinkRefsByPipedrive is LinkRefsByGoogle for Pipedrive person ids.
func (s *Store) LinkRefsByPipedrive(ctx context.Context, connID string, personIDs []string) (map[string]LinkRef, error) {
	return s.linkRefsBy(ctx, connID, "pipedrive_id", personIDs, func(l LinkRef) string { return l.PipedriveID })
}

func (s *Store) linkRefsBy(ctx context.Context, connID, field string, values []string, key func(LinkRef) string) (map[string]LinkRef, error) {
	out := map[string]LinkRef{}
	uniq := make([]string, 0, len(values))
	seen := map[string]bool{}
	for _, v := range values {
		if v != "" && !seen[v] {
			seen[v] = true
			uniq = append(uniq, v)
		}
	}
	for start := 0; start < len(uniq); start += maxIn {
		chunk := uniq[start:min(start+maxIn, len(uniq))]
		q := s.links(connID).Where(field, "in", chunk).Select(linkRefFields...)
		refs, err := collectLinkRefs(q.Documents(ctx))
		if err != nil {
			return nil, fmt.Errorf("store: link refs by %s: %w", field, err)
		}
		for _, r := range refs {
			out[key(r)] = r
		}
	}
	return out, nil
}

// GoogleLinkRefs returns every link of the connection that has a Google
// contact (for the reconcile after a full listing).
func (s *Store) GoogleLinkRefs(ctx context.Context, connID string) ([]LinkRef, error) {
	refs, err := collectLinkRefs(s.links(connID).Where("google_id", ">", "").Select(linkRefFields...).Documents(ctx))
	if err != nil {
		return nil, fmt.Errorf("store.GoogleLinkRefs: %w", err)
	}
	return refs, nil
}

// PipedriveLinkRefs returns every link of the connection that has a
// Pipedrive person (for the reconciliation with the persons the user owns).
func (s *Store) PipedriveLinkRefs(ctx context.Context, connID string) ([]LinkRef, error) {
	refs, err := collectLinkRefs(s.links(connID).Where("pipedrive_id", ">", "").Select(linkRefFields...).Documents(ctx))
	if err != nil {
		return nil, fmt.Errorf("store.PipedriveLinkRefs: %w", err)
	}
	return refs, nil
}

func collectLinkRefs(it *firestore.DocumentIterator) ([]LinkRef, error) {
	defer it.Stop()
	var out []LinkRef
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var r LinkRef
		if err := snap.DataTo(&r); err != nil {
			return nil, fmt.Errorf("decode link %s: %w", snap.Ref.ID, err)
		}
		r.ID = snap.Ref.ID
		out = append(out, r)
	}
}

// RekeyGoogleLink moves a link from a contact's old resource name to its
// new one (Google re-keys a contact when profile-linking fields change and
// reports the old name in metadata.previousResourceNames). It changes only
// google_id, and only if the link still holds oldName; otherwise it does
// nothing and reports false.
func (s *Store) RekeyGoogleLink(ctx context.Context, connID, linkID, oldName, newName string) (bool, error) {
	ref := s.links(connID).Doc(linkID)
	moved := false
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		moved = false
		snap, err := tx.Get(ref)
		if notFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		cur, err := snap.DataAt("google_id")
		if err != nil || cur != oldName {
			return nil // no google_id, or another name: not ours to move
		}
		moved = true
		return tx.Update(ref, []firestore.Update{{Path: "google_id", Value: newName}, {Path: "updated_at", Value: time.Now().UTC()}})
	})
	if err != nil {
		return false, fmt.Errorf("store.RekeyGoogleLink: %w", err)
	}
	return moved, nil
}
