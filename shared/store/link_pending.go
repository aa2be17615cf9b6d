package store

import (
	"context"
	"fmt"
	"slices"
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
	links, err := queryLinks(ctx, "PendingLinks", q)
	return slices.DeleteFunc(links, func(l *Link) bool { return !strings.HasPrefix(l.Pending, prefix) }), err
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
