// Package functions holds what the four Cloud Functions adapters share: the
// construction of their clients from configuration. Each adapter lives in
// its own subpackage and registers one function name in init().
package functions

import (
	"context"
	"fmt"

	"cloud.google.com/go/pubsub/v2"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/config"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/seal"
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

// Accounts opens the sealer named by c (Cloud KMS or the local key) and the
// accounts service that unseals a connection's credentials into clients.
func Accounts(ctx context.Context, s *store.Store, c config.Crypto, g config.Google, p config.Pipedrive) (*account.Accounts, error) {
	sealer, err := seal.FromConfig(ctx, c.KMSKey, c.LocalKey)
	if err != nil {
		return nil, err
	}
	return account.New(s, sealer, account.Config{
		GoogleClientID: g.ClientID, GoogleClientSecret: g.ClientSecret, GoogleBaseURL: g.BaseURL,
		PipedriveClientID: p.ClientID, PipedriveClientSecret: p.ClientSecret, PipedriveOAuthURL: p.OAuthURL,
	})
}
