package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
)

// Secret names under a connection.
const (
	SecretGoogle    = "google"    // Google refresh token
	SecretPipedrive = "pipedrive" // Pipedrive refresh token or API token
	SecretWebhook   = "webhook"   // webhook Basic password (for re-registration)
)

type secretDoc struct {
	Sealed    []byte    `firestore:"sealed"`
	UpdatedAt time.Time `firestore:"updated_at"`
}

// PutSecret stores an already sealed (encrypted) value and bumps the
// connection's credentials version in the same transaction, so every
// instance that cached clients built from the old value sees, on its next
// read of the connection, that they are stale. The store never sees a
// token in clear: sealing is the caller's job (package seal).
func (s *Store) PutSecret(ctx context.Context, connID, name string, sealed []byte) error {
	ref := s.conn(connID)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if err := tx.Set(ref.Collection(colSecrets).Doc(name), secretDoc{Sealed: sealed, UpdatedAt: time.Now().UTC()}); err != nil {
			return err
		}
		return tx.Update(ref, []firestore.Update{{Path: "credentials_version", Value: firestore.Increment(1)}})
	})
	if notFound(err) {
		return fmt.Errorf("store.PutSecret %s: connection %s: %w", name, connID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store.PutSecret %s: %w", name, err)
	}
	return nil
}

// GetSecret returns the sealed value, or ErrNotFound.
func (s *Store) GetSecret(ctx context.Context, connID, name string) ([]byte, error) {
	snap, err := s.conn(connID).Collection(colSecrets).Doc(name).Get(ctx)
	if notFound(err) {
		return nil, fmt.Errorf("store.GetSecret %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store.GetSecret %s: %w", name, err)
	}
	var d secretDoc
	if err := snap.DataTo(&d); err != nil {
		return nil, fmt.Errorf("store.GetSecret %s: %w", name, err)
	}
	return d.Sealed, nil
}

// DeleteSecret removes a secret; a missing one is not an error.
func (s *Store) DeleteSecret(ctx context.Context, connID, name string) error {
	if _, err := s.conn(connID).Collection(colSecrets).Doc(name).Delete(ctx); err != nil && !notFound(err) {
		return fmt.Errorf("store.DeleteSecret %s: %w", name, err)
	}
	return nil
}
