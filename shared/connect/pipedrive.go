package connect

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/oauth2"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/store"
)

// pipedriveCred is a validated Pipedrive credential.
type pipedriveCred struct {
	auth   string // account.PipedriveOAuth or account.PipedriveAPIToken
	secret string // refresh token or API token
	domain string // API base
	me     *pipedrive.User
}

// ConnectPipedriveToken connects a Pipedrive account by its personal API
// token (single-user installs). See connectPipedrive for owner and connID.
func (s *Service) ConnectPipedriveToken(ctx context.Context, owner, connID, apiToken string) (*store.Connection, error) {
	if apiToken == "" {
		return nil, userErr(ErrInvalidCredentials, nil, "Paste your Pipedrive API token (Settings > Personal preferences > API).")
	}
	opts := append([]pipedrive.Option{pipedrive.WithAPIToken(apiToken)}, s.cfg.PipedriveOptions...)
	pd, err := pipedrive.New(ctx, s.cfg.PipedriveAPIURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect.ConnectPipedriveToken: %w", err)
	}
	me, err := pd.Me(ctx)
	if errors.Is(err, pipedrive.ErrUnauthorized) || errors.Is(err, pipedrive.ErrForbidden) {
		return nil, userErr(ErrInvalidCredentials, err, "Pipedrive did not accept this API token. Copy it again from Pipedrive (Settings > Personal preferences > API).")
	}
	if err != nil {
		return nil, fmt.Errorf("connect.ConnectPipedriveToken: users/me: %w", err)
	}
	return s.connectPipedrive(ctx, owner, connID, pipedriveCred{auth: account.PipedriveAPIToken, secret: apiToken, domain: pd.BaseURL(), me: me})
}

// CompletePipedriveOAuth connects a Pipedrive account from the token of
// the OAuth code exchange (its refresh token is kept, sealed; its
// api_domain is where the API calls go). See connectPipedrive for owner
// and connID.
func (s *Service) CompletePipedriveOAuth(ctx context.Context, owner, connID string, tok *oauth2.Token) (*store.Connection, error) {
	if tok == nil || tok.RefreshToken == "" {
		return nil, userErr(ErrInvalidCredentials, nil, "Pipedrive did not return a refresh token; please connect again.")
	}
	domain := pipedrive.APIDomain(tok)
	if domain == "" {
		return nil, userErr(ErrInvalidCredentials, nil, "Pipedrive's answer did not name your company's API domain; please connect again.")
	}
	// Background context: the token source may refresh after this call.
	ts := s.accts.PipedriveOAuth("").TokenSource(context.Background(), tok)
	opts := append([]pipedrive.Option{pipedrive.WithTokenSource(ts)}, s.cfg.PipedriveOptions...)
	pd, err := pipedrive.New(ctx, domain, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect.CompletePipedriveOAuth: %w", err)
	}
	me, err := pd.Me(ctx)
	if errors.Is(err, pipedrive.ErrUnauthorized) || errors.Is(err, pipedrive.ErrInvalidGrant) || errors.Is(err, pipedrive.ErrForbidden) {
		return nil, userErr(ErrInvalidCredentials, err, "Pipedrive refused the authorization; please connect again.")
	}
	if err != nil {
		return nil, fmt.Errorf("connect.CompletePipedriveOAuth: users/me: %w", err)
	}
	return s.connectPipedrive(ctx, owner, connID, pipedriveCred{auth: account.PipedriveOAuth, secret: tok.RefreshToken, domain: domain, me: me})
}

// connectPipedrive stores a validated credential.
//
// With connID set, it goes to that connection, which must be owned by
// owner; a connection that already has another Pipedrive user refuses it
// (ErrAccountMismatch), and so does a user that has another connection
// (ErrAlreadyConnected).
//
// With connID "", the user's existing connection is taken over by owner
// (whoever holds the user's credentials owns the user's connection: this is
// how a user who lost the browser session gets their connection back), or
// a new connection owned by owner is created.
//
// A connection waiting for re-authorization resumes.
func (s *Service) connectPipedrive(ctx context.Context, owner, connID string, cr pipedriveCred) (*store.Connection, error) {
	if cr.me.ID == 0 {
		return nil, userErr(ErrInvalidCredentials, nil, "Pipedrive did not say which user this is; please try again.")
	}
	existing, err := s.store.ConnectionByPipedriveUser(ctx, cr.me.CompanyID, cr.me.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("connect: find connection: %w", err)
	}
	switch {
	case connID == "" && existing != nil:
		connID = existing.ID
	case connID == "":
		c, err := s.Create(ctx, owner)
		if err != nil {
			return nil, err
		}
		connID = c.ID
	case existing != nil && existing.ID != connID:
		return nil, userErr(ErrAlreadyConnected, nil, "This Pipedrive user is already connected in another connection. Use that one, or disconnect it first.")
	}
	// The secret goes first: a connection that names a user always has
	// the user's credentials. A failure below leaves at worst a secret on
	// a connection that is not live yet.
	if err := s.checkOwner(ctx, connID, owner, existing); err != nil {
		return nil, err
	}
	if err := s.accts.Put(ctx, connID, store.SecretPipedrive, cr.secret); err != nil {
		return nil, fmt.Errorf("connect: store Pipedrive credentials: %w", err)
	}
	return s.update(ctx, connID, func(c *store.Connection) error {
		if c.PipedriveUserID != 0 && (c.PipedriveUserID != cr.me.ID || c.PipedriveCompanyID != cr.me.CompanyID) {
			return userErr(ErrAccountMismatch, nil, "This connection belongs to another Pipedrive user. Sign in to Pipedrive as that user, or disconnect this connection first.")
		}
		event := store.EventPipedriveConnected
		if existing != nil && existing.ID == c.ID && c.OwnerHash != owner {
			// Taken over by whoever holds the user's credentials.
			event = store.EventTakenOver
			if c.OwnerHash == "" {
				event = store.EventSignedIn
			}
			c.OwnerHash = owner
		}
		c.AddEvent(s.now(), event)
		c.PipedriveUserID, c.PipedriveCompanyID = cr.me.ID, cr.me.CompanyID
		c.PipedriveUserName, c.PipedriveUserEmail, c.PipedriveCompanyName = cr.me.Name, cr.me.Email, cr.me.CompanyName
		c.PipedriveAPIDomain, c.PipedriveAuth = cr.domain, cr.auth
		s.resumeAfterReauth(c, false)
		return nil
	})
}

// checkOwner refuses a connection owned by someone else, unless it is the
// user's own connection being taken over.
func (s *Service) checkOwner(ctx context.Context, connID, owner string, existing *store.Connection) error {
	if existing != nil && existing.ID == connID {
		return nil
	}
	c, err := s.Get(ctx, connID)
	if err != nil {
		return err
	}
	if c.OwnerHash != owner {
		return fmt.Errorf("connect: connection %s: %w", connID, ErrNotFound)
	}
	if c.PipedriveUserID != 0 {
		return userErr(ErrAccountMismatch, nil, "This connection belongs to another Pipedrive user. Sign in to Pipedrive as that user, or disconnect this connection first.")
	}
	return nil
}

// pipedriveClient opens the connection's Pipedrive client from its sealed
// credentials.
func (s *Service) pipedriveClient(ctx context.Context, c *store.Connection) (*pipedrive.Client, error) {
	secret, err := s.accts.Secret(ctx, c.ID, store.SecretPipedrive)
	if err != nil {
		return nil, err
	}
	opts := append([]pipedrive.Option{}, s.cfg.PipedriveOptions...)
	switch c.PipedriveAuth {
	case account.PipedriveAPIToken:
		opts = append(opts, pipedrive.WithAPIToken(secret))
	case account.PipedriveOAuth:
		ts := s.accts.PipedriveOAuth("").TokenSource(context.Background(), &oauth2.Token{RefreshToken: secret})
		opts = append(opts, pipedrive.WithTokenSource(ts))
	default:
		return nil, fmt.Errorf("%w: unknown Pipedrive auth %q", account.ErrNotConnected, c.PipedriveAuth)
	}
	return pipedrive.New(ctx, c.PipedriveAPIDomain, opts...)
}
