// Package google is contactsync's client for the Google People API: a thin
// layer over the official google.golang.org/api/people/v1 client that adds
// what the generated code lacks: retries with exponential backoff and jitter
// on 429 and 5xx, a per-user rate limiter at the quota, one-at-a-time
// mutations per user as Google asks, and typed errors (expired sync token,
// stale etag, revoked grant, not found).
//
// A Client serves one Google user: the one whose token source it was built
// with. The base URL switches between Google and the fake in
// shared/google/googlefake.
package google

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"
	"google.golang.org/api/option"
	people "google.golang.org/api/people/v1"
)

// Real Google endpoints, used when the base URL is empty.
const (
	AuthURL   = "https://accounts.google.com/o/oauth2/v2/auth"
	TokenURL  = "https://oauth2.googleapis.com/token"
	RevokeURL = "https://oauth2.googleapis.com/revoke"
)

// Scope is the only scope that allows contact writes.
const Scope = people.ContactsScope

// PersonFields is the read mask of every person read: the synced fields plus
// memberships, metadata (etags, update time, deletions) and clientData.
const PersonFields = "names,organizations,phoneNumbers,emailAddresses,imClients,addresses,memberships,metadata,clientData"

// SourceContact restricts reads to the CONTACT source, so profile data is
// never taken for contact data.
const SourceContact = "READ_SOURCE_TYPE_CONTACT"

// Batch limits of the People API.
const (
	MaxBatchGet      = 200
	MaxBatchCreate   = 200
	MaxBatchUpdate   = 200
	MaxBatchDelete   = 500
	MaxMembersModify = 1000
)

// OAuthConfig returns the OAuth 2.0 configuration for the contacts scope.
// baseURL "" means Google's real endpoints; otherwise the endpoints are
// baseURL + the real paths (the fake).
func OAuthConfig(clientID, secret, redirectURL, baseURL string) *oauth2.Config {
	ep := oauth2.Endpoint{AuthURL: AuthURL, TokenURL: TokenURL, AuthStyle: oauth2.AuthStyleInParams}
	if baseURL != "" {
		b := strings.TrimSuffix(baseURL, "/")
		ep.AuthURL, ep.TokenURL = b+"/o/oauth2/v2/auth", b+"/token"
	}
	return &oauth2.Config{
		ClientID: clientID, ClientSecret: secret, RedirectURL: redirectURL,
		Endpoint: ep, Scopes: []string{Scope},
	}
}

// Revoke revokes a refresh or access token (disconnect). A token Google no
// longer knows counts as revoked. hc nil means http.DefaultClient.
func Revoke(ctx context.Context, hc *http.Client, baseURL, token string) error {
	u := RevokeURL
	if baseURL != "" {
		u = strings.TrimSuffix(baseURL, "/") + "/revoke"
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return fmt.Errorf("google: revoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("google: revoke: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusBadRequest {
		return nil // 400 invalid_token: already revoked or expired
	}
	return fmt.Errorf("google: revoke: HTTP %d", resp.StatusCode)
}

// Clock is the client's time source for rate limiting and backoff; the
// fake's RealClock and ManualClock fit.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Quota is the per-user rate the client keeps to, per minute. A zero field
// means no limit on that bucket.
type Quota struct {
	CriticalReadsPerMinute  int
	CriticalWritesPerMinute int
	WritesPerMinute         int
	GroupReadsPerMinute     int
}

// DefaultQuota holds Google's observed per-user defaults (facts §4).
var DefaultQuota = Quota{CriticalReadsPerMinute: 60, CriticalWritesPerMinute: 30, WritesPerMinute: 30, GroupReadsPerMinute: 90}

// Retry bounds the retries of one operation.
type Retry struct {
	MaxAttempts int           // total attempts, first included
	Initial     time.Duration // first backoff
	Max         time.Duration // backoff cap, also for Retry-After
}

// DefaultRetry backs off from 2 s to 60 s over 7 attempts; even with the
// least jitter the waits add up to more than a minute, so a per-minute
// quota window has reset before the client gives up.
var DefaultRetry = Retry{MaxAttempts: 7, Initial: 2 * time.Second, Max: time.Minute}

type options struct {
	hc       *http.Client
	clock    Clock
	quota    Quota
	retry    Retry
	log      *slog.Logger
	pageSize int64
}

// Option configures a Client.
type Option func(*options)

// WithHTTPClient sets the HTTP client under the OAuth transport.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.hc = hc } }

// WithClock sets the time source of rate limiting and backoff.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithQuota sets the rates the limiter keeps to (Quota{} = no limiter).
func WithQuota(q Quota) Option { return func(o *options) { o.quota = q } }

// WithRetry sets the retry policy.
func WithRetry(r Retry) Option { return func(o *options) { o.retry = r } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithPageSize sets the connections.list page size (1..1000, default 1000).
// It is part of the frozen sync parameters: keep it fixed per connection.
func WithPageSize(n int) Option { return func(o *options) { o.pageSize = int64(n) } }

// Client talks to the People API as one user.
type Client struct {
	svc      *people.Service
	clock    Clock
	retry    Retry
	log      *slog.Logger
	pageSize int64
	limit    [numBuckets]*rate.Limiter
	writes   chan struct{} // one mutation at a time
}

// New returns a client for the user behind ts. baseURL "" means Google.
func New(ctx context.Context, ts oauth2.TokenSource, baseURL string, opts ...Option) (*Client, error) {
	if ts == nil {
		return nil, errors.New("google: New: nil token source")
	}
	o := options{hc: http.DefaultClient, clock: realClock{}, quota: DefaultQuota, retry: DefaultRetry, log: slog.Default(), pageSize: 1000}
	for _, f := range opts {
		f(&o)
	}
	if o.pageSize < 1 || o.pageSize > 1000 {
		return nil, fmt.Errorf("google: New: page size %d outside 1..1000", o.pageSize)
	}
	if o.retry.MaxAttempts < 1 {
		o.retry.MaxAttempts = 1
	}
	base := o.hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc := &http.Client{Transport: &oauth2.Transport{Source: ts, Base: base}, Timeout: o.hc.Timeout}
	svcOpts := []option.ClientOption{option.WithHTTPClient(hc)}
	if baseURL != "" {
		svcOpts = append(svcOpts, option.WithEndpoint(strings.TrimSuffix(baseURL, "/")+"/"))
	}
	svc, err := people.NewService(ctx, svcOpts...)
	if err != nil {
		return nil, fmt.Errorf("google: New: %w", err)
	}
	c := &Client{svc: svc, clock: o.clock, retry: o.retry, log: o.log, pageSize: o.pageSize, writes: make(chan struct{}, 1)}
	for b, perMin := range [numBuckets]int{o.quota.CriticalReadsPerMinute, o.quota.CriticalWritesPerMinute, o.quota.WritesPerMinute, o.quota.GroupReadsPerMinute} {
		if perMin <= 0 {
			continue
		}
		// A bucket of burst b refilled at (perMin-b) a minute lets at most
		// perMin calls into any 60 s window, whatever the window's
		// alignment, so it never trips Google's quota. It starts full: a
		// fresh instance (a cold start) writes at once instead of waiting
		// a refill interval.
		burst := min(perMin, maxCost[b])
		refill := max(perMin-burst, 1)
		c.limit[b] = rate.NewLimiter(rate.Limit(float64(refill)/60), burst)
	}
	return c, nil
}

// Service returns the underlying official client, for calls this package
// does not wrap. Calls made through it bypass retries and rate limiting.
func (c *Client) Service() *people.Service { return c.svc }

// Unpaced returns a client for the same user that does not wait for its
// rate limiter: for a caller that paces the user's calls itself (the first
// sync, whose pacing log travels with its job from instance to instance).
// It shares c's one-mutation-at-a-time queue, retries and clock.
func (c *Client) Unpaced() *Client {
	u := *c
	u.limit = [numBuckets]*rate.Limiter{}
	return &u
}

// Clock is the client's time source.
func (c *Client) Clock() Clock { return c.clock }
