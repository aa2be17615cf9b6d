// Package functions holds what the four Cloud Functions adapters share: the
// construction of their clients from configuration. Each adapter lives in
// its own subpackage and registers one function name in init().
package functions

import (
	"context"
	"fmt"

	"cloud.google.com/go/pubsub/v2"

	"github.com/contactsync/contactsync/shared/config"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

// Store opens the Firestore store of p.
func Store(ctx context.Context, p config.Project) (*store.Store, error) {
	return store.New(ctx, p.ProjectID, p.DatabaseID)
}

// Publisher opens a publisher on p's Pub/Sub.
func Publisher(ctx context.Context, p config.Project) (*queue.Publisher, error) {
	c, err := pubsub.NewClient(ctx, p.ProjectID)
	if err != nil {
		return nil, fmt.Errorf("pubsub client: %w", err)
	}
	return queue.NewPublisher(c), nil
}
