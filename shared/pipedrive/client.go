package pipedrive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/contactsync/contactsync/shared/logging"
)

// ErrInvalidGrant means the OAuth refresh token was refused: the user must
// reconnect. It wraps the *oauth2.RetrieveError.
var ErrInvalidGrant = errors.New("pipedrive: oauth grant invalid, re-authorization needed")

// maxBody bounds what we read from one response.
const maxBody = 32 << 20

// Client calls the Pipedrive API. It is safe for concurrent use.
type Client struct {
	// contactSync is what the last person read showed of the company's
	// contact-sync fields: 0 unknown, 1 shown, 2 absent.
	contactSync atomic.Int32
	base        *url.URL
	hc          *http.Client
	apiToken    string
	maxRetries  int
	maxWait     time.Duration
	sleep       func(context.Context, time.Duration) error
	now         func() time.Time
	log         *slog.Logger

	rlMu sync.Mutex
	// seen is the rate-limit headers of the last answer; pauseUntil is
	// when the burst window has room again after an answer said none is
	// left (requests wait for it instead of drawing a 429).
	seen       RateLimit
	pauseUntil time.Time
}

type config struct {
	hc         *http.Client
	apiToken   string
	ts         oauth2.TokenSource
	maxRetries int
	maxWait    time.Duration
	sleep      func(context.Context, time.Duration) error
	now        func() time.Time
	log        *slog.Logger
}

// Option configures New.
type Option func(*config)

// WithAPIToken authenticates with a personal API token (x-api-token header).
func WithAPIToken(token string) Option { return func(c *config) { c.apiToken = token } }

// WithTokenSource authenticates with OAuth; the source refreshes tokens
// (wrap it in oauth2.ReuseTokenSource or use oauth2.Config.TokenSource).
func WithTokenSource(ts oauth2.TokenSource) Option { return func(c *config) { c.ts = ts } }

// WithHTTPClient sets the underlying HTTP client (its Transport is wrapped
// for OAuth). Default: a client with a 30 s timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.hc = hc } }

// WithRetry bounds retries: at most maxRetries extra attempts per call, and
// no single wait longer than maxWait. A 429 of the daily budget is not
// retried: it is returned at once as ErrDailyBudget. Default 5 and 1 minute.
func WithRetry(maxRetries int, maxWait time.Duration) Option {
	return func(c *config) { c.maxRetries, c.maxWait = maxRetries, maxWait }
}

// WithSleep replaces the wait between retries (tests use a virtual clock).
func WithSleep(sleep func(context.Context, time.Duration) error) Option {
	return func(c *config) { c.sleep = sleep }
}

// WithClock sets the time source of the burst pacing (tests use a virtual
// clock, with WithSleep).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithLogger sets the logger for retry notices. Default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// New returns a client for the API at baseURL (e.g. https://company.pipedrive.com
// or the fake's URL). Exactly one of WithAPIToken or WithTokenSource is
// required. With OAuth and an empty baseURL, the token's api_domain is used;
// ctx is accepted for symmetry with the other clients' constructors; the
// first token fetch (for api_domain) goes through the TokenSource, which
// carries its own context.
func New(ctx context.Context, baseURL string, opts ...Option) (*Client, error) {
	cfg := config{maxRetries: 5, maxWait: time.Minute, sleep: sleepCtx, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if (cfg.apiToken == "") == (cfg.ts == nil) {
		return nil, errors.New("pipedrive.New: exactly one of WithAPIToken or WithTokenSource is required")
	}
	if cfg.maxRetries < 0 || cfg.maxWait < 0 {
		return nil, errors.New("pipedrive.New: negative retry bound")
	}
	if cfg.hc == nil {
		cfg.hc = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	if cfg.ts != nil {
		if baseURL == "" {
			tok, err := cfg.ts.Token()
			if err != nil {
				return nil, fmt.Errorf("pipedrive.New: %w", wrapOAuth(err))
			}
			baseURL = APIDomain(tok)
		}
		base := cfg.hc.Transport
		hc := *cfg.hc
		hc.Transport = &oauth2.Transport{Source: cfg.ts, Base: base}
		cfg.hc = &hc
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	// u.Hostname(), not u.Host: "http://:" has the host ":" and no name. An
	// empty port ("http://h:") is refused too: net/http drops it, so the calls
	// would not go where the URL says.
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || strings.HasSuffix(u.Host, ":") {
		return nil, fmt.Errorf("pipedrive.New: bad base URL %q", baseURL)
	}
	return &Client{base: u, hc: cfg.hc, apiToken: cfg.apiToken, maxRetries: cfg.maxRetries,
		maxWait: cfg.maxWait, sleep: cfg.sleep, now: cfg.now, log: cfg.log,
		seen: RateLimit{DailyLeft: -1}}, nil // nothing seen yet
}

// ContactSyncShown says whether the company shows the contact-sync fields
// (im, postal_address, notes, birthday, job_title; PV2: "only included if
// contact sync is enabled for the company"), as the last person this
// client read or wrote showed it; known is false before any.
func (c *Client) ContactSyncShown() (shown, known bool) {
	switch c.contactSync.Load() {
	case 1:
		return true, true
	case 2:
		return false, true
	}
	return false, false
}

func (c *Client) observe(p *Person) {
	if p == nil || p.ID == 0 {
		return
	}
	v := int32(2)
	if p.HasContactSyncFields {
		v = 1
	}
	c.contactSync.Store(v)
}

// BaseURL is the API base the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// OAuthEndpoint is Pipedrive's OAuth endpoint under base
// (https://oauth.pipedrive.com in production, the fake's URL in tests).
// Client credentials go in the Basic header as Pipedrive recommends.
func OAuthEndpoint(base string) oauth2.Endpoint {
	base = strings.TrimRight(base, "/")
	return oauth2.Endpoint{AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token",
		AuthStyle: oauth2.AuthStyleInHeader}
}

// APIDomain returns the api_domain of a Pipedrive token response, or "".
func APIDomain(tok *oauth2.Token) string {
	if tok == nil {
		return ""
	}
	s, _ := tok.Extra("api_domain").(string)
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func wrapOAuth(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.Response != nil && re.Response.StatusCode == http.StatusBadRequest) {
		return fmt.Errorf("%w: %w", ErrInvalidGrant, err)
	}
	return err
}

// envelope is Pipedrive's response wrapper.
type envelope struct {
	Success        bool            `json:"success"`
	Data           json.RawMessage `json:"data"`
	Error          string          `json:"error"`
	ErrorInfo      string          `json:"error_info"`
	Code           any             `json:"code"`
	Errors         json.RawMessage `json:"errors"`
	AdditionalData struct {
		NextCursor *string `json:"next_cursor"`
	} `json:"additional_data"`
}

func idempotent(method string) bool {
	return method == http.MethodGet || method == http.MethodDelete
}

// do sends one API call and decodes data into out (if non-nil). It returns
// the envelope's next cursor. 429s are retried for every method (the request
// was refused before doing anything); 5xx and transport errors only for
// idempotent methods, because a POST or PATCH may have been applied.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) (string, error) {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return "", fmt.Errorf("pipedrive: encode %s %s: %w", method, path, err)
		}
		body = b
	}
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = q.Encode()
	for attempt := 0; ; attempt++ {
		if err := c.pace(ctx); err != nil {
			return "", fmt.Errorf("pipedrive: %s %s: %w", method, path, err)
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
		if err != nil {
			return "", fmt.Errorf("pipedrive: %s %s: %w", method, path, err)
		}
		req.Header.Set("Accept", "application/json")
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.apiToken != "" {
			req.Header.Set("x-api-token", c.apiToken)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			err = wrapOAuth(err)
			if ctx.Err() != nil || errors.Is(err, ErrInvalidGrant) || !idempotent(method) || attempt >= c.maxRetries {
				// url.Error carries the URL: tokens go in headers, but a
				// search's query holds an e-mail address or a phone number.
				// A refused token refresh quotes the OAuth server's words.
				return "", fmt.Errorf("pipedrive: %s %s: %w", method, path, logging.RedactTokenError(logging.RedactURLQuery(err)))
			}
			if _, err := c.wait(ctx, method, path, attempt, 0, "transport error"); err != nil {
				return "", err
			}
			continue
		}
		raw, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		rl := parseRateLimit(resp.Header)
		c.observeRate(rl, !strings.HasSuffix(path, "/search"))
		if resp.StatusCode/100 == 2 {
			if rerr != nil {
				return "", fmt.Errorf("pipedrive: %s %s: read body: %w", method, path, rerr)
			}
			var env envelope
			if err := json.Unmarshal(raw, &env); err != nil {
				return "", fmt.Errorf("pipedrive: %s %s: decode: %w", method, path, err)
			}
			if out != nil && len(env.Data) > 0 {
				if err := json.Unmarshal(env.Data, out); err != nil {
					return "", fmt.Errorf("pipedrive: %s %s: decode data: %w", method, path, err)
				}
			}
			next := ""
			if env.AdditionalData.NextCursor != nil {
				next = *env.AdditionalData.NextCursor
			}
			return next, nil
		}
		apiErr := newAPIError(resp, method, path, raw, rl)
		hint := time.Duration(0)
		if resp.StatusCode == http.StatusTooManyRequests {
			if dailyBudgetSpent(rl, path) {
				apiErr.kind = ErrDailyBudget // waiting seconds cannot help
				return "", apiErr
			}
			hint = rl.Reset
			if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && time.Duration(ra)*time.Second > hint {
				hint = time.Duration(ra) * time.Second
			}
		}
		retry := attempt < c.maxRetries &&
			(resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 && idempotent(method))
		if !retry {
			return "", apiErr
		}
		if _, err := c.wait(ctx, method, path, attempt, hint, strconv.Itoa(resp.StatusCode)); err != nil {
			return "", err
		}
	}
}

// RateLimitSeen is what the rate-limit headers of the last answer said
// (the burst limit reveals the plan and token type; x-daily-requests-left,
// on API-token writes, what is left of the company's daily budget).
func (c *Client) RateLimitSeen() RateLimit {
	c.rlMu.Lock()
	defer c.rlMu.Unlock()
	return c.seen
}

// observeRate keeps the headers of an answer, and when they say the burst
// window has no room left, the time it has again (x-ratelimit-reset,
// documented for the 2-second window: PRL). Search has its own limit.
func (c *Client) observeRate(rl RateLimit, general bool) {
	if rl.Limit == 0 {
		return // no headers (the limits are off, or not Pipedrive)
	}
	c.rlMu.Lock()
	defer c.rlMu.Unlock()
	c.seen = rl
	if general && rl.Remaining == 0 && rl.Reset > 0 && rl.Reset <= 5*burstWindow {
		c.pauseUntil = c.now().Add(rl.Reset)
	}
}

// pace waits until the burst window has room again, when the last answer
// said it had none: requests are paced to the plan's burst limit instead
// of drawing 429s.
func (c *Client) pace(ctx context.Context) error {
	c.rlMu.Lock()
	d := c.pauseUntil.Sub(c.now())
	c.rlMu.Unlock()
	if d <= 0 {
		return nil
	}
	return c.sleep(ctx, d)
}

// burstWindow is the rolling window of Pipedrive's burst limit (PRL).
const burstWindow = 2 * time.Second

// dailyBudgetSpent tells a daily-budget 429 from a burst one by what is
// documented (a 429 without such evidence is treated as the burst: waiting
// for nothing until midnight costs far more than a few refused retries): x-daily-requests-left (API-token writes) at or below zero;
// x-ratelimit-remaining above zero on a non-search call (the burst window
// still had room, so something else refused the request; search has its
// own, smaller burst limit the headers may not describe); or an
// x-ratelimit-reset far beyond the 2-second window (the header is
// documented for that window only, so a larger value is not a burst reset;
// it is not used as a resume time either).
func dailyBudgetSpent(rl RateLimit, path string) bool {
	search := strings.HasSuffix(path, "/search")
	return rl.DailyLeft == 0 || rl.Remaining > 0 && !search || rl.Reset > 5*burstWindow
}

// wait sleeps before retry number attempt+1: the server's hint if any, else
// exponential backoff (0.5 s doubling) with full jitter, capped at maxWait.
func (c *Client) wait(ctx context.Context, method, path string, attempt int, hint time.Duration, why string) (time.Duration, error) {
	d := hint
	if d <= 0 {
		d = min(500*time.Millisecond<<attempt, c.maxWait)
		d = d/2 + rand.N(d/2+1)
	} else {
		d += rand.N(d/10 + 1) // spread clients that got the same reset
	}
	d = min(d, c.maxWait)
	c.log.DebugContext(ctx, "pipedrive retry", "method", method, "path", path, "attempt", attempt+1, "wait", d, "why", why)
	if err := c.sleep(ctx, d); err != nil {
		return d, fmt.Errorf("pipedrive: %s %s: %w", method, path, err)
	}
	return d, nil
}

func parseRateLimit(h http.Header) RateLimit {
	rl := RateLimit{DailyLeft: -1}
	rl.Limit, _ = strconv.Atoi(h.Get("x-ratelimit-limit"))
	rl.Remaining, _ = strconv.Atoi(h.Get("x-ratelimit-remaining"))
	if s, err := strconv.ParseFloat(h.Get("x-ratelimit-reset"), 64); err == nil && s > 0 && s < 1e9 {
		rl.Reset = time.Duration(s * float64(time.Second))
	}
	if v, err := strconv.Atoi(h.Get("x-daily-requests-left")); err == nil {
		rl.DailyLeft = max(v, 0) // -1 stays "absent"
	}
	return rl
}

func newAPIError(resp *http.Response, method, path string, raw []byte, rl RateLimit) *APIError {
	e := &APIError{StatusCode: resp.StatusCode, Method: method, Path: path, RateLimit: rl,
		kind: kindFor(resp.StatusCode, method, path)}
	var env envelope
	if json.Unmarshal(raw, &env) == nil {
		e.JSON = true
		e.Message, e.Info = env.Error, env.ErrorInfo
		if env.Code != nil {
			e.Code = fmt.Sprint(env.Code)
		}
		if len(env.Errors) > 0 {
			_ = json.Unmarshal(env.Errors, &e.Fields)
		}
	}
	return e
}
