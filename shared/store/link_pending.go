package store

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/firestore"
)

// PendingLinks returns the connection's links whose Pending intent starts
// with prefix (e.g. "create:pipedrive:"), at most limit of them. It is one
// range query on one field (no composite index); with nothing pending it
// costs one document read.
func (s *Store) PendingLinks(ctx context.Context, connID, prefix string, limit int) ([]*Link, error) {
	if prefix == "" {
		return nil, fmt.Errorf("store.PendingLinks: empty prefix")
	}
	// every string with the prefix sorts in [prefix, prefix+"\uf8ff")
	q := s.links(connID).Where("pending", ">=", prefix).Where("pending", "<", prefix+"\uf8ff").Limit(limit)
	snaps, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("store.PendingLinks: %w", err)
	}
	out := make([]*Link, 0, len(snaps))
	for _, snap := range snaps {
		l, err := decodeLink(snap)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(l.Pending, prefix) {
			out = append(out, l)
		}
	}
	return out, nil
}

// NewFromClient wraps an open Firestore client (tests instrument the
// client's gRPC connection to count document reads and writes). The caller
// keeps ownership: Close closes the client.
func NewFromClient(c *firestore.Client) (*Store, error) {
	if c == nil {
		return nil, fmt.Errorf("store.NewFromClient: nil client")
	}
	return &Store{fs: c}, nil
}
