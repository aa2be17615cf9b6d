// Package store keeps contactsync's state in Firestore: connections, their
// sealed tokens and webhook credentials, the links between Pipedrive persons
// and Google contacts (with the last-synced base and bounded history), the
// changes held instead of applied, and OAuth states. All queries live here.
//
// Layout:
//
//	connections/{id}                     Connection
//	connections/{id}/secrets/{name}      sealed token or credential
//	connections/{id}/links/{linkID}      Link (history embedded, bounded)
//	connections/{id}/held/{key}          HeldChange (see held.go)
//	connections/{id}/attempts/{key}      failed deliveries (TTL expire_at)
//	connections/{id}/firstsync_chunks/{} FirstSyncChunk (see firstsync.go)
//	oauth_states/{state}                 OAuthState (TTL expire_at)
package store

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors; check them with errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means the document changed since it was read (optimistic
	// version check failed): re-read and decide again.
	ErrConflict = errors.New("store: version conflict")
	// ErrStateExpired, ErrStateUsed and ErrStateForeign are the reasons an
	// OAuth state is refused.
	ErrStateExpired = errors.New("store: oauth state expired")
	ErrStateUsed    = errors.New("store: oauth state unknown or already used")
	ErrStateForeign = errors.New("store: oauth state belongs to another browser session")
)

const (
	colConnections = "connections"
	colSecrets     = "secrets"
	colLinks       = "links"
	colStates      = "oauth_states"
)

// Store is the Firestore-backed state.
type Store struct {
	fs *firestore.Client
}

// New opens the store on project's database (databaseID "" = "(default)").
// With FIRESTORE_EMULATOR_HOST set the client talks to the emulator.
func New(ctx context.Context, project, databaseID string) (*Store, error) {
	if project == "" {
		return nil, errors.New("store.New: empty project id")
	}
	if databaseID == "" {
		databaseID = firestore.DefaultDatabaseID
	}
	c, err := firestore.NewClientWithDatabase(ctx, project, databaseID)
	if err != nil {
		return nil, fmt.Errorf("store.New: %w", err)
	}
	return &Store{fs: c}, nil
}

// Close releases the client.
func (s *Store) Close() error { return s.fs.Close() }

// Client exposes the Firestore client for tests.
func (s *Store) Client() *firestore.Client { return s.fs }

func (s *Store) conn(id string) *firestore.DocumentRef {
	return s.fs.Collection(colConnections).Doc(id)
}

func notFound(err error) bool { return status.Code(err) == codes.NotFound }

func alreadyExists(err error) bool { return status.Code(err) == codes.AlreadyExists }
