package store

import (
	"context"
	"fmt"
)

// The queries of the connect flow and the settings page. Each filters on one
// field with equality, so Firestore needs no composite index.

// ConnectionsByOwner returns the connections owned by ownerHash (the
// settings page shows only these). An empty ownerHash matches nothing.
func (s *Store) ConnectionsByOwner(ctx context.Context, ownerHash string) ([]*Connection, error) {
	if ownerHash == "" {
		return nil, nil
	}
	q := s.fs.Collection(colConnections).Where("owner_hash", "==", ownerHash)
	cs, err := s.collect(q.Documents(ctx))
	if err != nil {
		return nil, fmt.Errorf("store.ConnectionsByOwner: %w", err)
	}
	return cs, nil
}

// ConnectionByPipedriveUser returns the connection of one Pipedrive user in
// one company, or ErrNotFound. A Pipedrive user has at most one connection
// (the connect flow keeps it so); if several exist the oldest is returned.
func (s *Store) ConnectionByPipedriveUser(ctx context.Context, companyID, userID int64) (*Connection, error) {
	if userID == 0 {
		return nil, fmt.Errorf("store.ConnectionByPipedriveUser: %w", ErrNotFound)
	}
	q := s.fs.Collection(colConnections).Where("pipedrive_user_id", "==", userID)
	cs, err := s.collect(q.Documents(ctx))
	if err != nil {
		return nil, fmt.Errorf("store.ConnectionByPipedriveUser: %w", err)
	}
	var out *Connection
	for _, c := range cs {
		if c.PipedriveCompanyID == companyID && (out == nil || c.CreatedAt.Before(out.CreatedAt)) {
			out = c
		}
	}
	if out == nil {
		return nil, fmt.Errorf("store.ConnectionByPipedriveUser: %w", ErrNotFound)
	}
	return out, nil
}

// ConnectionsByGoogleGroup returns the connections syncing the contact
// group resourceName (of any Google account: group ids are per account, so
// callers compare GoogleAccount too).
func (s *Store) ConnectionsByGoogleGroup(ctx context.Context, resourceName string) ([]*Connection, error) {
	if resourceName == "" {
		return nil, nil
	}
	q := s.fs.Collection(colConnections).Where("google_group", "==", resourceName)
	cs, err := s.collect(q.Documents(ctx))
	if err != nil {
		return nil, fmt.Errorf("store.ConnectionsByGoogleGroup: %w", err)
	}
	return cs, nil
}
