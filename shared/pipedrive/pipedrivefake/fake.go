// Package pipedrivefake is an in-memory Pipedrive: OAuth, the v1/v2 REST
// endpoints contactsync uses, webhook delivery with Pipedrive's retries and
// bans, token-based rate limits and fault injection. It is an http.Handler
// serving everything under one base URL at the real paths, used in-process
// by tests (httptest) and over HTTP by the local stack.
//
// Behaviour follows shared/facts-pipedrive.md; where the facts are
// unconfirmed, the choice made is documented at the code and can usually be
// switched by an Option.
package pipedrivefake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Server is the fake. Create it with New; it is safe for concurrent use.
type Server struct {
	mu  sync.Mutex
	mux *http.ServeMux

	clock          Clock
	log            *slog.Logger
	baseURL        string
	deletedVisible bool
	refuseCS       bool
	phoneNormalize bool
	typeDrift      bool
	hang           time.Duration
	deliveryTO     time.Duration
	oauthClients   map[string]string // client id → secret; empty: any client

	nextID      int64
	companies   map[int64]*company
	users       map[int64]*user
	apiTokens   map[string]int64 // token → user id
	codes       map[string]*authCode
	access      map[string]*accessToken
	refresh     map[string]*refreshToken
	defaultUser int64
	persons     map[int64]*person
	orgs        map[int64]*org
	hooks       map[int64]*hook

	rl      RateLimits
	rlState map[string]*burstState

	faults []*faultRule
	calls  map[string]int
	writes map[string]int
	// companyWrites counts successful API writes per company.
	companyWrites map[int64]int
	log2          []Call

	dl *deliverer
}

// Option configures New.
type Option func(*Server)

// WithClock sets the clock (default: real time). Use a *VirtualClock in tests.
func WithClock(c Clock) Option { return func(s *Server) { s.clock = c } }

// WithLogger sets the fake's logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithBaseURL sets the URL returned as api_domain. Default: derived from
// each request's Host.
func WithBaseURL(u string) Option { return func(s *Server) { s.baseURL = strings.TrimRight(u, "/") } }

// WithDeletedPersonsVisible makes GET /api/v2/persons/{id} return a deleted
// person with is_deleted:true instead of 404 (Pipedrive's behaviour is
// unconfirmed; the default is 404). Lists never include deleted persons.
func WithDeletedPersonsVisible(on bool) Option { return func(s *Server) { s.deletedVisible = on } }

// WithContactSyncFieldsRefused sets whether an API write of a contact-sync
// field (im, postal_address, notes, birthday, job_title) to a company
// without contact sync is refused with a 400 (default: refused). What the
// real API does is undocumented ("only created when contact sync is set
// up", PHP SDK 17.5.0 changelog), so contactsync must never send them
// there; switched off, the fake ignores them instead, so the sandbox can
// show both.
func WithContactSyncFieldsRefused(on bool) Option { return func(s *Server) { s.refuseCS = on } }

// WithPhoneSearchNormalized makes phone search compare digits only
// (unconfirmed for the real API; default: substring of the stored text).
func WithPhoneSearchNormalized(on bool) Option { return func(s *Server) { s.phoneNormalize = on } }

// WithWebhookTypeDrift makes v2 webhook meta carry ids as numbers and the
// timestamp as unix seconds, the other form the docs show.
func WithWebhookTypeDrift(on bool) Option { return func(s *Server) { s.typeDrift = on } }

// WithRateLimits sets the rate-limit model (default: DefaultRateLimits(), on).
func WithRateLimits(rl RateLimits) Option { return func(s *Server) { s.rl = rl } }

// WithOAuthClient registers an OAuth client. With none registered, any
// client id with a non-empty secret is accepted.
func WithOAuthClient(id, secret string) Option {
	return func(s *Server) { s.oauthClients[id] = secret }
}

// WithHang sets how long a "timeout" fault holds the request (real time;
// default 15 s, or until the client gives up).
func WithHang(d time.Duration) Option { return func(s *Server) { s.hang = d } }

// WithDeliveryTimeout sets the webhook delivery timeout (real time,
// default 10 s as Pipedrive's).
func WithDeliveryTimeout(d time.Duration) Option { return func(s *Server) { s.deliveryTO = d } }

// New returns an empty fake: create a company and users with the helpers.
func New(opts ...Option) *Server {
	s := &Server{
		clock: realClock{}, log: slog.New(slog.DiscardHandler), hang: 15 * time.Second,
		deliveryTO: 10 * time.Second, oauthClients: map[string]string{},
		companies: map[int64]*company{}, users: map[int64]*user{}, apiTokens: map[string]int64{},
		codes: map[string]*authCode{}, access: map[string]*accessToken{}, refresh: map[string]*refreshToken{},
		persons: map[int64]*person{}, orgs: map[int64]*org{}, hooks: map[int64]*hook{}, refuseCS: true,
		rl: DefaultRateLimits(), rlState: map[string]*burstState{},
		calls: map[string]int{}, writes: map[string]int{}, companyWrites: map[int64]int{},
	}
	for _, o := range opts {
		o(s)
	}
	s.dl = newDeliverer(s)
	s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops webhook delivery. Pending deliveries are dropped.
func (s *Server) Close() { s.dl.close() }

// SetBaseURL sets the api_domain (e.g. after httptest.NewServer).
func (s *Server) SetBaseURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.baseURL = strings.TrimRight(u, "/")
}

func (s *Server) now() time.Time { return s.clock.Now().UTC() }

func (s *Server) newID() int64 {
	s.nextID++
	return s.nextID
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func uuid() string {
	h := randHex(16)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

// apiTime is v2's time format: RFC 3339 in UTC, whole seconds.
func apiTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// v1Time is v1's "2006-01-02 15:04:05" (UTC).
func v1Time(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func ok(w http.ResponseWriter, status int, data any, additional any) {
	writeJSON(w, status, map[string]any{"success": true, "data": data, "additional_data": additional})
}

// apiError writes Pipedrive's error envelope.
func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{
		"success": false, "error": msg, "error_info": "Please check developers.pipedrive.com",
		"data": nil, "additional_data": nil,
	})
}

// v1FieldErrors writes the v1 webhook endpoints' error shape.
func v1FieldErrors(w http.ResponseWriter, status int, field, msg string) {
	writeJSON(w, status, map[string]any{"status": "error", "success": false,
		"errors": map[string][]string{field: {msg}}})
}
