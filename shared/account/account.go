// Package account opens a connection's two accounts: it unseals the stored
// Google and Pipedrive credentials and returns ready API clients, cached per
// connection so each function instance keeps one rate limiter and one write
// queue per Google user. It also seals and stores new credentials, so the
// connect flow and the sync paths agree on one format.
package account

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/oauth2"

	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/seal"
	"github.com/contactsync/contactsync/shared/store"
)

// How the Pipedrive side is authenticated (store.Connection.PipedriveAuth).
const (
	PipedriveOAuth    = "oauth"
	PipedriveAPIToken = "api_token"
)

// ErrNotConnected means an account of the connection has no stored
// credentials; ErrNoGoogle or ErrNoPipedrive (matched with errors.Is too)
// says which.
var (
	ErrNotConnected = errors.New("account: not connected")
	ErrNoGoogle     = errors.New("account: no Google credentials")
	ErrNoPipedrive  = errors.New("account: no Pipedrive credentials")
)

// Config is what opening clients needs besides the stored secrets.
type Config struct {
	GoogleClientID, GoogleClientSecret string
	GoogleBaseURL                      string // "" = real Google
	PipedriveClientID                  string
	PipedriveClientSecret              string
	PipedriveOAuthURL                  string
	// Extra options for tests (fake clocks, quotas).
	GoogleOptions    []google.Option
	PipedriveOptions []pipedrive.Option
}

// Clients are a connection's API clients.
type Clients struct {
	Google    *google.Client
	Pipedrive *pipedrive.Client
}

// Accounts opens and caches clients.
type Accounts struct {
	store  *store.Store
	sealer seal.Sealer
	cfg    Config

	mu    sync.Mutex
	cache map[string]cached // by connection id
}

// cached is a connection's clients and the credentials version they were
// built from.
type cached struct {
	clients *Clients
	version int64
}

// New refuses incomplete wiring.
func New(s *store.Store, sealer seal.Sealer, cfg Config) (*Accounts, error) {
	if s == nil || sealer == nil || cfg.GoogleClientID == "" {
		return nil, errors.New("account.New: store, sealer and a Google client id are required")
	}
	return &Accounts{store: s, sealer: sealer, cfg: cfg, cache: map[string]cached{}}, nil
}

// GoogleOAuth returns the Google OAuth config for redirectURL.
func (a *Accounts) GoogleOAuth(redirectURL string) *oauth2.Config {
	c := google.OAuthConfig(a.cfg.GoogleClientID, a.cfg.GoogleClientSecret, redirectURL, a.cfg.GoogleBaseURL)
	c.Scopes = []string{google.Scope}
	return c
}

// PipedriveOAuth returns the Pipedrive OAuth config for redirectURL.
func (a *Accounts) PipedriveOAuth(redirectURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: a.cfg.PipedriveClientID, ClientSecret: a.cfg.PipedriveClientSecret,
		Endpoint: pipedrive.OAuthEndpoint(a.cfg.PipedriveOAuthURL), RedirectURL: redirectURL,
	}
}

// Open returns the clients of conn, from cache when they were built from
// the credentials conn names (its CredentialsVersion, bumped by every Put
// in any instance); otherwise it opens them afresh from the stored secrets.
// The caller read conn anyway, so the check costs no read.
func (a *Accounts) Open(ctx context.Context, conn *store.Connection) (*Clients, error) {
	a.mu.Lock()
	c, ok := a.cache[conn.ID]
	a.mu.Unlock()
	if ok && c.version == conn.CredentialsVersion {
		return c.clients, nil
	}
	g, err := a.openGoogle(ctx, conn)
	if err != nil {
		return nil, err
	}
	p, err := a.openPipedrive(ctx, conn)
	if err != nil {
		return nil, err
	}
	nc := cached{clients: &Clients{Google: g, Pipedrive: p}, version: conn.CredentialsVersion}
	a.mu.Lock()
	if old, ok := a.cache[conn.ID]; ok && old.version == nc.version {
		nc = old // another request won the race; keep one limiter per user
	} else {
		a.cache[conn.ID] = nc
	}
	a.mu.Unlock()
	return nc.clients, nil
}

// Forget drops cached clients (after a revoked grant or a reconnect).
func (a *Accounts) Forget(connID string) {
	a.mu.Lock()
	delete(a.cache, connID)
	a.mu.Unlock()
}

// Secret returns a stored secret in clear (webhook re-registration needs
// the Basic password, disconnect the refresh token to revoke).
func (a *Accounts) Secret(ctx context.Context, connID, name string) (string, error) {
	sealed, err := a.store.GetSecret(ctx, connID, name)
	if errors.Is(err, store.ErrNotFound) {
		side := ErrNoGoogle
		if name == store.SecretPipedrive {
			side = ErrNoPipedrive
		}
		return "", fmt.Errorf("%w: %w (%s)", ErrNotConnected, side, name)
	}
	if err != nil {
		return "", err
	}
	pt, err := a.sealer.Open(ctx, sealed, seal.AAD(connID, name))
	if err != nil {
		return "", fmt.Errorf("account: open %s credentials: %w", name, err)
	}
	return string(pt), nil
}

// Put seals value and stores it as the connection's secret name.
func (a *Accounts) Put(ctx context.Context, connID, name, value string) error {
	if value == "" {
		return fmt.Errorf("account.Put %s: empty value", name) // never overwrite a token with nothing
	}
	sealed, err := a.sealer.Seal(ctx, []byte(value), seal.AAD(connID, name))
	if err != nil {
		return err
	}
	a.Forget(connID)
	return a.store.PutSecret(ctx, connID, name, sealed)
}

func (a *Accounts) openGoogle(ctx context.Context, conn *store.Connection) (*google.Client, error) {
	rt, err := a.Secret(ctx, conn.ID, store.SecretGoogle)
	if err != nil {
		return nil, err
	}
	// Background context: the token source outlives this request.
	ts := a.GoogleOAuth("").TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt})
	return google.New(ctx, ts, a.cfg.GoogleBaseURL, a.cfg.GoogleOptions...)
}

func (a *Accounts) openPipedrive(ctx context.Context, conn *store.Connection) (*pipedrive.Client, error) {
	secret, err := a.Secret(ctx, conn.ID, store.SecretPipedrive)
	if err != nil {
		return nil, err
	}
	opts := append([]pipedrive.Option{}, a.cfg.PipedriveOptions...)
	switch conn.PipedriveAuth {
	case PipedriveAPIToken:
		opts = append(opts, pipedrive.WithAPIToken(secret))
	case PipedriveOAuth:
		ts := a.PipedriveOAuth("").TokenSource(context.Background(), &oauth2.Token{RefreshToken: secret})
		opts = append(opts, pipedrive.WithTokenSource(ts))
	default:
		return nil, fmt.Errorf("%w: unknown Pipedrive auth %q", ErrNotConnected, conn.PipedriveAuth)
	}
	return pipedrive.New(ctx, conn.PipedriveAPIDomain, opts...)
}
