// Package connect is a connection's lifecycle, usable with or without a
// browser: connect the Pipedrive account (OAuth or API token) and the Google
// account (a refresh token from the OAuth flow), choose or create the Google
// contact group, go live (register the Pipedrive webhooks), pause, resume and
// disconnect. The settings page drives it from the browser; the local
// stack's demo connection calls it directly; the poller's safety net calls
// EnsureWebhooks.
//
// A typical sequence:
//
//	c, _ := svc.ConnectPipedriveToken(ctx, owner, "", apiToken) // creates the connection
//	c, _ = svc.ConnectGoogle(ctx, owner, c.ID, refreshToken)
//	c, _ = svc.CreateGroup(ctx, c.ID, connect.RecommendedGroup)  // or ChooseGroup
//	c, _ = svc.GoLive(ctx, c.ID)
//
// Errors meant for the user are *Error values (plain words, matched with
// errors.Is against the Err* kinds); Message turns any error into text fit
// for the page.
package connect

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/firstsync"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

// RecommendedGroup is the name suggested for a new dedicated contact group.
const RecommendedGroup = "Pipedrive"

// DefaultPipedriveAPIURL is where API-token calls go when no other base is
// configured (an API token works against it for every company).
const DefaultPipedriveAPIURL = "https://api.pipedrive.com"

// Kinds of errors the user can act on; match them with errors.Is.
var (
	// ErrInvalidCredentials: a token or grant was refused (wrong API token,
	// revoked or expired grant, missing refresh token).
	ErrInvalidCredentials = errors.New("connect: credentials refused")
	// ErrAccountMismatch: the connection already has a different account
	// on that side.
	ErrAccountMismatch = errors.New("connect: a different account is connected")
	// ErrAlreadyConnected: the Pipedrive user already has another connection.
	ErrAlreadyConnected = errors.New("connect: Pipedrive user already connected")
	// ErrNotReady: the step needs something not done yet (an account, a group).
	ErrNotReady = errors.New("connect: connection not ready")
	// ErrNotAllowed: the action does not fit the connection's state.
	ErrNotAllowed = errors.New("connect: not allowed in this state")
	// ErrBadGroup: not one of the user's own contact groups, or taken.
	ErrBadGroup = errors.New("connect: unsuitable contact group")
	// ErrWebhookLimit: Pipedrive's limit of 40 webhooks per user is reached.
	ErrWebhookLimit = errors.New("connect: Pipedrive webhook limit reached")
	// ErrInvalidPolicy: an unknown delete policy.
	ErrInvalidPolicy = errors.New("connect: unknown delete policy")
	// ErrNotFound: no such connection.
	ErrNotFound = errors.New("connect: connection not found")
)

// Error is an error with a message in plain words for the user.
type Error struct {
	Kind error  // one of the Err* kinds
	Msg  string // plain words, no personal data
	Err  error  // the cause, if any (for logs)
	// Key names Msg's text for translation (see messages.go); Args are
	// the values its text takes.
	Key  string
	Args []any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

// Unwrap exposes the kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

func userErr(kind error, cause error, format string, args ...any) error {
	e := &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: cause}
	var withArgs bool
	if e.Key, withArgs = keyOf(format, e.Msg); withArgs {
		e.Args = args
	}
	return e
}

// Message returns err in plain words for the settings page: the message of
// an *Error, or a generic sentence that asks to retry (the details go to the
// logs, not to the page).
func Message(err error) string {
	var ue *Error
	if errors.As(err, &ue) {
		return ue.Msg
	}
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, ErrNotFound):
		return msgNotFound
	case errors.Is(err, pipedrive.ErrDailyBudget):
		return msgDailyBudget
	case errors.Is(err, google.ErrRateLimited), errors.Is(err, pipedrive.ErrRateLimited):
		return msgRateLimited
	}
	return msgUnavailable
}

// The texts Message falls back to.
const (
	msgNotFound    = "This connection does not exist (any more)."
	msgRateLimited = "Google or Pipedrive asked us to slow down. Please try again in a minute."
	msgUnavailable = "Something went wrong while talking to Google, Pipedrive or our database. Nothing was lost; please try again in a moment."
	msgDailyBudget = "Your Pipedrive company has used up its daily API budget (shared by every app and user). " +
		"Syncing with Pipedrive resumes after Pipedrive's daily reset; nothing is lost meanwhile."
)

// Config is what the service needs besides the store and the accounts.
type Config struct {
	// IntakeURL is the webhook target registered with Pipedrive.
	IntakeURL string
	// PipedriveAPIURL is the API base for API-token connections; ""
	// means DefaultPipedriveAPIURL. OAuth connections use the token's
	// api_domain instead.
	PipedriveAPIURL string
	// GoogleBaseURL is "" for Google, or the sandbox fake's base URL.
	GoogleBaseURL string
	// Extra client options (tests).
	GoogleOptions    []google.Option
	PipedriveOptions []pipedrive.Option
	// HTTPClient is used to revoke Google tokens; nil means a client with
	// a 30 s timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// FirstSync publishes the first step of a first sync or preview at
	// once (else a first sync starts at the next poll, and a preview
	// cannot run); FirstSyncTopic is its topic (default
	// queue.FirstSyncTopic).
	FirstSync      firstsync.Publisher
	FirstSyncTopic string
}

// Service runs connections' lifecycles.
type Service struct {
	store *store.Store
	accts *account.Accounts
	cfg   Config
}

// New refuses incomplete wiring.
func New(s *store.Store, a *account.Accounts, cfg Config) (*Service, error) {
	if s == nil || a == nil {
		return nil, errors.New("connect.New: store and accounts are required")
	}
	if cfg.IntakeURL == "" {
		return nil, errors.New("connect.New: IntakeURL is required")
	}
	if cfg.PipedriveAPIURL == "" {
		cfg.PipedriveAPIURL = DefaultPipedriveAPIURL
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FirstSyncTopic == "" {
		cfg.FirstSyncTopic = queue.FirstSyncTopic
	}
	return &Service{store: s, accts: a, cfg: cfg}, nil
}

// GoogleEmailScope lets people/me name the Google account's primary
// e-mail address, so the settings page can say which account is connected:
// with the contacts scope alone, people/me returns only public profile data
// (Google's People API: "the authenticated user's private profile
// information" needs "one of the profile scopes"). It is a non-sensitive
// scope and adds no access to contacts.
const GoogleEmailScope = "https://www.googleapis.com/auth/userinfo.email"

// GoogleOAuth returns the Google OAuth config for redirectURL: the contacts
// scope and GoogleEmailScope. The caller adds offline access, consent and
// PKCE to the URL.
func (s *Service) GoogleOAuth(redirectURL string) *oauth2.Config {
	c := s.accts.GoogleOAuth(redirectURL)
	c.Scopes = append(c.Scopes, GoogleEmailScope)
	return c
}

// PipedriveOAuth returns the Pipedrive OAuth app config for redirectURL.
func (s *Service) PipedriveOAuth(redirectURL string) *oauth2.Config {
	return s.accts.PipedriveOAuth(redirectURL)
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Get returns one connection, or an error matching ErrNotFound.
func (s *Service) Get(ctx context.Context, connID string) (*store.Connection, error) {
	c, err := s.store.GetConnection(ctx, connID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("connect: %w: %w", ErrNotFound, err)
	}
	return c, err
}

// Create stores a new, empty connection (state setup) owned by owner.
func (s *Service) Create(ctx context.Context, owner string) (*store.Connection, error) {
	c := &store.Connection{Status: store.StatusSetup, OwnerHash: owner}
	if _, err := s.store.CreateConnection(ctx, c); err != nil {
		return nil, fmt.Errorf("connect.Create: %w", err)
	}
	return c, nil
}

// update wraps store.UpdateConnection, mapping a missing connection.
func (s *Service) update(ctx context.Context, connID string, fn func(*store.Connection) error) (*store.Connection, error) {
	c, err := s.store.UpdateConnection(ctx, connID, fn)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("connect: %w: %w", ErrNotFound, err)
	}
	return c, err
}

// ready says what is missing before the connection can go live ("" = nothing).
func ready(c *store.Connection) string {
	switch {
	case c.PipedriveUserID == 0:
		return "Connect your Pipedrive account first."
	case c.GoogleAccount == "":
		return "Connect your Google account first."
	case c.GoogleGroup == "":
		return "Choose the Google contact group to sync first."
	}
	return ""
}

// setLive sets c syncing again and due for polling now: back to its
// first sync or reconcile if one is unfinished (the poller sends its next
// step), else live, with the changes held while it was not syncing due
// too (the poller publishes them again).
func (s *Service) setLive(c *store.Connection) {
	now := s.now()
	c.StatusReason, c.PauseReason = "", ""
	c.PollDueAt = now
	if firstsync.Running(c) {
		c.Status = store.StatusFirstSync
		c.FirstSync.UpdatedAt = time.Time{} // the poller's Kick sends the next steps
		return
	}
	c.Status = store.StatusLive
	c.MarkHeldDue(now)
}

// newSecret returns 32 random bytes, base64url.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("connect: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SetDeletePolicy sets what a delete on one side does to the twin:
// "propagate" (default), "unlink" or "ignore".
func (s *Service) SetDeletePolicy(ctx context.Context, connID, policy string) (*store.Connection, error) {
	switch policy {
	case "propagate", "unlink", "ignore":
	default:
		return nil, userErr(ErrInvalidPolicy, nil, "Choose one of the offered delete policies.")
	}
	return s.update(ctx, connID, func(c *store.Connection) error {
		c.DeletePolicy = policy
		return nil
	})
}

// GoLive starts the sync: it registers the Pipedrive webhooks (or reuses
// ours already there), then sets the connection live and due for polling
// now. It fails with ErrNotReady until both accounts and a group are set,
// and with ErrWebhookLimit when Pipedrive's 40 webhooks per user are used up.
// Calling it on a live connection only re-checks the webhooks.
func (s *Service) GoLive(ctx context.Context, connID string) (*store.Connection, error) {
	c, err := s.Get(ctx, connID)
	if err != nil {
		return nil, err
	}
	if msg := ready(c); msg != "" {
		return nil, userErr(ErrNotReady, nil, "%s", msg)
	}
	if c.Status == store.StatusNeedsReauth {
		return nil, userErr(ErrNotAllowed, nil, "An account needs to be connected again before the sync can start.")
	}
	ids, _, err := s.ensureWebhooks(ctx, c)
	if err != nil {
		return nil, err
	}
	return s.start(ctx, connID, ids)
}

// start sets a connection syncing with webhooks ids: live (or back to an
// unfinished first sync), or, if its first sync never ran to its end, a
// new first sync, whose first step is sent at once when a publisher is
// configured.
func (s *Service) start(ctx context.Context, connID string, ids []int64) (*store.Connection, error) {
	job := ""
	c, err := s.update(ctx, connID, func(c *store.Connection) error {
		c.WebhookIDs = ids
		failed := c.FirstSync != nil && c.FirstSync.Mode != store.FirstSyncPreview && c.FirstSync.Phase == store.PhaseFailed
		if firstsync.Running(c) || c.Status != store.StatusSetup && !failed {
			s.setLive(c) // synced before (or back to its unfinished first sync)
			return nil
		}
		// The first sync brings both existing address books together;
		// live changes wait for it.
		job = firstsync.Begin(c, store.FirstSyncRun, s.now())
		if s.cfg.FirstSync == nil {
			c.FirstSync.UpdatedAt = time.Time{} // the next poll sends its first step
		}
		return nil
	})
	if err != nil || job == "" || s.cfg.FirstSync == nil {
		return c, err
	}
	if err := firstsync.Send(ctx, s.store, s.cfg.FirstSync, s.cfg.FirstSyncTopic, c, job); err != nil {
		// not lost: the next poll sends the step (Kick)
		logging.FromContext(ctx).Warn("connect: first sync's first step not sent; the poller sends it", "err", err)
		return c, nil
	}
	return s.Get(ctx, connID) // as it is now (a small first sync may be done)
}

// Preview runs the first sync's listing and matching without writing
// anything: the counts, samples and time estimate appear on the
// connection (FirstSync.Preview) when ready. Only before the first sync
// starts, with both accounts and a group chosen.
func (s *Service) Preview(ctx context.Context, connID string) (*store.Connection, error) {
	if s.cfg.FirstSync == nil {
		return nil, errors.New("connect.Preview: no first-sync publisher configured")
	}
	c, err := s.Get(ctx, connID)
	if err != nil {
		return nil, err
	}
	if msg := ready(c); msg != "" {
		return nil, userErr(ErrNotReady, nil, "%s", msg)
	}
	if c.Status != store.StatusSetup || firstsync.Running(c) {
		return nil, userErr(ErrNotAllowed, nil, "A preview is shown before the first sync starts; the sync has already started.")
	}
	return firstsync.Start(ctx, s.store, s.cfg.FirstSync, s.cfg.FirstSyncTopic, connID, store.FirstSyncPreview, s.now())
}

// Pause stops the sync: the poller skips the connection (PollDueAt is
// cleared). The webhooks stay registered so that resuming needs no new
// ones; changes made meanwhile are caught up by the poll and the
// Pipedrive safety net after Resume.
func (s *Service) Pause(ctx context.Context, connID string) (*store.Connection, error) {
	return s.update(ctx, connID, func(c *store.Connection) error {
		switch c.Status {
		case store.StatusLive, store.StatusFirstSync, store.StatusError, store.StatusPaused:
		default:
			return userErr(ErrNotAllowed, nil, "Only a running sync can be paused.")
		}
		c.Status = store.StatusPaused
		c.StatusReason, c.PauseReason = "Paused by you.", store.PauseUser
		c.PollDueAt = time.Time{}
		return nil
	})
}

// Resume restarts a paused (or failed) connection: it makes sure our
// webhooks are registered, then sets it live and due now; the changes held
// meanwhile are applied. Deletes held by the mass-delete brake stay held
// until the user confirms or restores them (ConfirmDeletes,
// RestoreDeletes); further deletes are held too until then. A connection
// that needs re-authorization must be reconnected instead (ConnectGoogle or
// a Pipedrive connect resumes it).
func (s *Service) Resume(ctx context.Context, connID string) (*store.Connection, error) {
	c, err := s.Get(ctx, connID)
	if err != nil {
		return nil, err
	}
	switch c.Status {
	case store.StatusPaused, store.StatusError, store.StatusLive:
	case store.StatusNeedsReauth:
		return nil, userErr(ErrNotAllowed, nil, "Connect the account again to resume the sync.")
	default:
		return nil, userErr(ErrNotAllowed, nil, "Save the connection first to start the sync.")
	}
	if msg := ready(c); msg != "" {
		return nil, userErr(ErrNotReady, nil, "%s", msg)
	}
	ids, _, err := s.ensureWebhooks(ctx, c)
	if err != nil {
		return nil, err
	}
	return s.start(ctx, connID, ids)
}

// resumeAfterReauth is applied when the account of one side (google, else
// Pipedrive) was connected again: it clears only that side's re-auth
// mark, and the connection syncs again once no account needs it.
func (s *Service) resumeAfterReauth(c *store.Connection, google bool) {
	if google {
		c.ReauthGoogle = false
	} else {
		c.ReauthPipedrive = false
	}
	if c.Status != store.StatusNeedsReauth || c.ReauthGoogle || c.ReauthPipedrive {
		return
	}
	if ready(c) == "" && len(c.WebhookIDs) > 0 {
		s.setLive(c)
		return
	}
	c.Status, c.StatusReason = store.StatusSetup, ""
}

// Disconnect ends a connection: it stops the sync at once, deletes the
// Pipedrive webhooks we registered, revokes the Google token, and deletes
// every stored token, link and history entry of the connection. It never
// deletes a contact on either side.
//
// Credentials that no longer work (revoked, expired) do not stop it: there
// is nothing left to clean up with them. Any other failure of the remote
// steps returns an error and keeps the data (the connection stays paused),
// so the user can try again without leaving webhooks or a grant behind.
func (s *Service) Disconnect(ctx context.Context, connID string) error {
	log := logging.FromContext(ctx)
	c, err := s.update(ctx, connID, func(c *store.Connection) error {
		if c.Status != store.StatusSetup && c.Status != store.StatusNeedsReauth {
			c.Status = store.StatusPaused
			c.StatusReason = "Disconnecting."
		}
		c.PollDueAt = time.Time{}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.deleteWebhooks(ctx, c); err != nil {
		return userErr(errUnavailable, err, "Could not remove our webhooks from Pipedrive; nothing was deleted. Please try again in a moment.")
	}
	if err := s.revokeGoogle(ctx, c); err != nil {
		return userErr(errUnavailable, err, "Could not revoke our access to Google; nothing was deleted. Please try again in a moment.")
	}
	if err := s.store.DeleteConnection(ctx, connID); err != nil {
		return fmt.Errorf("connect.Disconnect: %w", err)
	}
	s.accts.Forget(connID)
	log.Info("connection disconnected", "connection", connID)
	return nil
}

// errUnavailable is the kind of a transient failure told in plain words.
var errUnavailable = errors.New("connect: service unavailable")

func (s *Service) revokeGoogle(ctx context.Context, c *store.Connection) error {
	rt, err := s.accts.Secret(ctx, c.ID, store.SecretGoogle)
	if errors.Is(err, account.ErrNotConnected) {
		return nil
	}
	if err != nil {
		return err
	}
	return google.Revoke(ctx, s.cfg.HTTPClient, s.cfg.GoogleBaseURL, rt)
}

// gone reports errors that mean the credentials no longer work.
func gone(err error) bool {
	return errors.Is(err, account.ErrNotConnected) || errors.Is(err, pipedrive.ErrUnauthorized) ||
		errors.Is(err, pipedrive.ErrInvalidGrant) || errors.Is(err, pipedrive.ErrPaymentReq) ||
		errors.Is(err, google.ErrRevoked) || isInvalidGrant(err)
}

func isInvalidGrant(err error) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == "invalid_grant"
}

// trimURL drops a trailing slash so URLs compare equal.
func trimURL(u string) string { return strings.TrimRight(u, "/") }
