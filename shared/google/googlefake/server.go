package googlefake

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DemoUser is the sandbox account that exists from the start and signs in
// when the authorization request carries no login_hint.
const DemoUser = "demo@example.com"

// Method ids, as in the discovery document, name the People API methods in
// Stats.Calls and Fault.Method. The OAuth endpoints have ids of their own.
const (
	MethodConnectionsList     = "people.people.connections.list"
	MethodGet                 = "people.people.get"
	MethodGetBatchGet         = "people.people.getBatchGet"
	MethodCreateContact       = "people.people.createContact"
	MethodUpdateContact       = "people.people.updateContact"
	MethodDeleteContact       = "people.people.deleteContact"
	MethodBatchCreateContacts = "people.people.batchCreateContacts"
	MethodBatchUpdateContacts = "people.people.batchUpdateContacts"
	MethodBatchDeleteContacts = "people.people.batchDeleteContacts"
	MethodGroupsList          = "people.contactGroups.list"
	MethodGroupsGet           = "people.contactGroups.get"
	MethodGroupsBatchGet      = "people.contactGroups.batchGet"
	MethodGroupsCreate        = "people.contactGroups.create"
	MethodGroupsUpdate        = "people.contactGroups.update"
	MethodGroupsDelete        = "people.contactGroups.delete"
	MethodGroupsMembersModify = "people.contactGroups.members.modify"
	MethodOAuthAuthorize      = "oauth2.authorize"
	MethodOAuthToken          = "oauth2.token"
	MethodOAuthRevoke         = "oauth2.revoke"
)

// Server is the fake. It is an http.Handler; all its state is guarded by one
// mutex, so it is safe for concurrent use.
type Server struct {
	clock Clock
	cfg   config
	log   *slog.Logger

	mu        sync.Mutex
	users     map[string]*user // by e-mail
	codes     map[string]*authCode
	grants    map[string]*grant // by refresh token
	access    map[string]*accessToken
	consented map[string]bool // user + "\x00" + client id
	pages     map[string]*pageSession
	faults    []*Fault
	nextID    uint64
}

type config struct {
	quota        Quota
	syncTokenTTL time.Duration
	ttlFromIssue bool
	propagation  time.Duration
	accessTTL    time.Duration
	refreshTTL   time.Duration
	legacyErrors bool
	phoneRegion  string
}

// Option configures a Server.
type Option func(*Server)

// WithClock sets the time source (default RealClock).
func WithClock(c Clock) Option { return func(s *Server) { s.clock = c } }

// WithQuota sets the per-user quotas (default DefaultQuota; Quota{} = off).
func WithQuota(q Quota) Option { return func(s *Server) { s.cfg.quota = q } }

// WithoutQuota switches quotas off.
func WithoutQuota() Option { return WithQuota(Quota{}) }

// WithPropagationDelay makes writes show up in connections.list sync
// listings only after d, while people.get sees them at once, as Google warns.
func WithPropagationDelay(d time.Duration) Option {
	return func(s *Server) { s.cfg.propagation = d }
}

// WithSyncTokenTTL sets how long sync tokens live (default 7 days).
func WithSyncTokenTTL(d time.Duration) Option { return func(s *Server) { s.cfg.syncTokenTTL = d } }

// WithSyncTokenTTLFromIssue counts the sync token lifetime from each token's
// issue instead of from the full sync that started the chain. The reference
// says "Sync tokens expire 7 days after the full sync", which is the default.
func WithSyncTokenTTLFromIssue() Option { return func(s *Server) { s.cfg.ttlFromIssue = true } }

// WithAccessTokenTTL sets the access token lifetime (default 1 hour).
func WithAccessTokenTTL(d time.Duration) Option { return func(s *Server) { s.cfg.accessTTL = d } }

// WithRefreshTokenTTL makes refresh tokens expire after d; 7 days mimics an
// OAuth app in "Testing" status. The default 0 means they never expire.
func WithRefreshTokenTTL(d time.Duration) Option { return func(s *Server) { s.cfg.refreshTTL = d } }

// WithoutLegacyErrors drops the legacy errors[] array from error bodies, so
// the body is a pure google.rpc.Status (both shapes occur in the wild).
func WithoutLegacyErrors() Option { return func(s *Server) { s.cfg.legacyErrors = false } }

// WithPhoneRegion sets the region used to compute phoneNumbers.canonicalForm
// of numbers written without a country code (default "US").
func WithPhoneRegion(region string) Option { return func(s *Server) { s.cfg.phoneRegion = region } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// New returns a fake with the demo user already present.
func New(opts ...Option) *Server {
	s := &Server{
		clock: RealClock{},
		cfg: config{
			quota:        DefaultQuota,
			syncTokenTTL: 7 * 24 * time.Hour,
			accessTTL:    time.Hour,
			legacyErrors: true,
			phoneRegion:  "US",
		},
		log:       slog.Default(),
		users:     map[string]*user{},
		codes:     map[string]*authCode{},
		grants:    map[string]*grant{},
		access:    map[string]*accessToken{},
		consented: map[string]bool{},
		pages:     map[string]*pageSession{},
		nextID:    7_100_000_000_000_000_000, // realistic-looking 19-digit ids
	}
	for _, o := range opts {
		o(s)
	}
	s.mu.Lock()
	s.userLocked(DemoUser)
	s.mu.Unlock()
	return s
}

// Quota returns the per-user quotas the server enforces.
func (s *Server) Quota() Quota { return s.cfg.quota }

// Clock returns the server's time source.
func (s *Server) Clock() Clock { return s.clock }

// Stats counts the API traffic of one user (or of all users).
type Stats struct {
	// Calls counts every People API request per method id, whatever its
	// outcome (faults, 429s and 4xx included).
	Calls map[string]int
	// Writes counts requests to mutating methods, whatever their outcome.
	Writes int
	// ContactWrites counts contacts actually created, updated or deleted by
	// API calls (a batch of 200 counts 200). UI-side helper edits are not
	// counted.
	ContactWrites int
	// RateLimited counts requests refused with 429 by the quota.
	RateLimited int
	// OverlappingWrites counts mutating requests that arrived while another
	// one of the same user was still in flight: Google asks for sequential
	// mutations per user.
	OverlappingWrites int
	// Spent is the quota the answered calls spent (whether or not quotas
	// are enforced); a call refused with 429 spends none.
	Spent QuotaSpent
}

func (st *Stats) add(o *Stats) {
	if st.Calls == nil {
		st.Calls = map[string]int{}
	}
	for k, v := range o.Calls {
		st.Calls[k] += v
	}
	st.Writes += o.Writes
	st.ContactWrites += o.ContactWrites
	st.RateLimited += o.RateLimited
	st.OverlappingWrites += o.OverlappingWrites
	st.Spent.add(o.Spent)
}

// TotalCalls sums Calls.
func (st Stats) TotalCalls() int {
	n := 0
	for _, v := range st.Calls {
		n += v
	}
	return n
}

// Stats returns a copy of the traffic counters of user email ("" = all users).
func (s *Server) Stats(email string) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out Stats
	for e, u := range s.users {
		if email == "" || e == email {
			out.add(&u.stats)
		}
	}
	if out.Calls == nil {
		out.Calls = map[string]int{}
	}
	return out
}

// ResetStats zeroes every user's traffic counters.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		u.stats = Stats{Calls: map[string]int{}}
	}
}

// FaultKind is what an injected fault does.
type FaultKind int

const (
	// Fault429 answers 429 RESOURCE_EXHAUSTED like an exceeded quota.
	Fault429 FaultKind = iota + 1
	// Fault500 answers 500 INTERNAL.
	Fault500
	// Fault503 answers 503 UNAVAILABLE.
	Fault503
	// FaultTimeout hangs until the request's context ends, or until Delay
	// has passed on the server clock, then answers 504 DEADLINE_EXCEEDED.
	// The request is not executed.
	FaultTimeout
	// FaultDropResponse executes the request (a write is committed) and then
	// closes the connection without an answer.
	FaultDropResponse
)

// Fault fails the next Times matching requests.
type Fault struct {
	Kind FaultKind
	// Method restricts the fault to one method id (Method* constants). ""
	// matches every People API call but no OAuth endpoint.
	Method string
	// User restricts the fault to one user's calls ("" = any user). OAuth
	// endpoints have no user.
	User string
	// Times is how many requests fail (default 1).
	Times int
	// Delay bounds FaultTimeout's hang (0 = until the request ends).
	Delay time.Duration
}

// InjectFault queues f; faults are consumed in the order they were queued.
func (s *Server) InjectFault(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
}

// ClearFaults drops every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// PendingFaults returns how many injected failures are still to come.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.faults {
		n += f.Times
	}
	return n
}

// takeFaultLocked consumes one matching fault.
func (s *Server) takeFaultLocked(method, email string) *Fault {
	for i, f := range s.faults {
		if f.Method == "" && strings.HasPrefix(method, "oauth2.") {
			continue
		}
		if (f.Method != "" && f.Method != method) || (f.User != "" && f.User != email) {
			continue
		}
		f.Times--
		out := *f
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return &out
	}
	return nil
}

// route maps a request to a method id and the resource name in its path.
func route(method, path string) (id, name string) {
	switch path {
	case "/o/oauth2/v2/auth", "/o/oauth2/auth":
		return MethodOAuthAuthorize, ""
	case "/token", "/o/oauth2/token":
		return MethodOAuthToken, ""
	case "/revoke", "/o/oauth2/revoke":
		return MethodOAuthRevoke, ""
	}
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return "", ""
	}
	type key struct{ m, p string }
	switch (key{method, rest}) {
	case key{"GET", "people:batchGet"}:
		return MethodGetBatchGet, ""
	case key{"POST", "people:createContact"}:
		return MethodCreateContact, ""
	case key{"POST", "people:batchCreateContacts"}:
		return MethodBatchCreateContacts, ""
	case key{"POST", "people:batchUpdateContacts"}:
		return MethodBatchUpdateContacts, ""
	case key{"POST", "people:batchDeleteContacts"}:
		return MethodBatchDeleteContacts, ""
	case key{"GET", "contactGroups"}:
		return MethodGroupsList, ""
	case key{"POST", "contactGroups"}:
		return MethodGroupsCreate, ""
	case key{"GET", "contactGroups:batchGet"}:
		return MethodGroupsBatchGet, ""
	}
	if p, ok := strings.CutPrefix(rest, "people/"); ok && p != "" {
		switch {
		case method == "GET" && strings.HasSuffix(p, "/connections"):
			return MethodConnectionsList, "people/" + strings.TrimSuffix(p, "/connections")
		case method == "PATCH" && strings.HasSuffix(p, ":updateContact"):
			return MethodUpdateContact, "people/" + strings.TrimSuffix(p, ":updateContact")
		case method == "DELETE" && strings.HasSuffix(p, ":deleteContact"):
			return MethodDeleteContact, "people/" + strings.TrimSuffix(p, ":deleteContact")
		case method == "GET" && !strings.ContainsAny(p, "/:"):
			return MethodGet, "people/" + p
		}
		return "", ""
	}
	if p, ok := strings.CutPrefix(rest, "contactGroups/"); ok && p != "" {
		if g, ok := strings.CutSuffix(p, "/members:modify"); ok && method == "POST" {
			return MethodGroupsMembersModify, "contactGroups/" + g
		}
		if strings.ContainsAny(p, "/:") {
			return "", ""
		}
		switch method {
		case "GET":
			return MethodGroupsGet, "contactGroups/" + p
		case "PUT":
			return MethodGroupsUpdate, "contactGroups/" + p
		case "DELETE":
			return MethodGroupsDelete, "contactGroups/" + p
		}
	}
	return "", ""
}

// MethodOf returns the method id the fake serves r with ("" if none).
func MethodOf(r *http.Request) string {
	id, _ := route(r.Method, r.URL.Path)
	return id
}

func isWrite(method string) bool {
	switch method {
	case MethodCreateContact, MethodUpdateContact, MethodDeleteContact,
		MethodBatchCreateContacts, MethodBatchUpdateContacts, MethodBatchDeleteContacts,
		MethodGroupsCreate, MethodGroupsUpdate, MethodGroupsDelete, MethodGroupsMembersModify:
		return true
	}
	return false
}

// fixedCost is the quota a call spends before any per-contact charge
// (facts §4; a batchGet spending one critical read is [inf]).
func fixedCost(method string) cost {
	var c cost
	switch method {
	case MethodConnectionsList, MethodGet, MethodGetBatchGet:
		c[bCriticalRead] = 1
	case MethodCreateContact, MethodUpdateContact:
		c[bCriticalRead], c[bCriticalWrite] = 1, 1
	case MethodBatchCreateContacts, MethodBatchUpdateContacts:
		c[bCriticalRead], c[bCriticalWrite] = 6, 6
	case MethodDeleteContact, MethodGroupsCreate, MethodGroupsUpdate, MethodGroupsDelete, MethodGroupsMembersModify:
		c[bWrite] = 1
	case MethodBatchDeleteContacts:
		c[bWrite] = 10
	case MethodGroupsList, MethodGroupsGet, MethodGroupsBatchGet:
		c[bGroupRead] = 1
	}
	return c
}

type handlerFunc func(s *Server, u *user, r *http.Request, name string) (any, *apiError)

var handlers = map[string]handlerFunc{
	MethodConnectionsList:     (*Server).listConnections,
	MethodGet:                 (*Server).getPerson,
	MethodGetBatchGet:         (*Server).batchGetPeople,
	MethodCreateContact:       (*Server).createContact,
	MethodUpdateContact:       (*Server).updateContact,
	MethodDeleteContact:       (*Server).deleteContact,
	MethodBatchCreateContacts: (*Server).batchCreate,
	MethodBatchUpdateContacts: (*Server).batchUpdate,
	MethodBatchDeleteContacts: (*Server).batchDelete,
	MethodGroupsList:          (*Server).listGroups,
	MethodGroupsGet:           (*Server).getGroup,
	MethodGroupsBatchGet:      (*Server).batchGetGroups,
	MethodGroupsCreate:        (*Server).createGroup,
	MethodGroupsUpdate:        (*Server).updateGroup,
	MethodGroupsDelete:        (*Server).deleteGroup,
	MethodGroupsMembersModify: (*Server).modifyMembers,
}

// ServeHTTP serves the OAuth endpoints and the People API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, name := route(r.Method, r.URL.Path)
	switch id {
	case "":
		writeError(w, &apiError{code: 404, status: "NOT_FOUND", reason: "notFound",
			message: "The requested URL " + r.URL.Path + " was not found on this server."}, false)
		return
	case MethodOAuthAuthorize:
		s.authorize(w, r)
		return
	case MethodOAuthToken, MethodOAuthRevoke:
		s.mu.Lock()
		f := s.takeFaultLocked(id, "")
		s.mu.Unlock()
		if f != nil && s.applyFault(w, r, f, func(w http.ResponseWriter) { s.oauthEndpoint(id, w, r) }) {
			return
		}
		s.oauthEndpoint(id, w, r)
		return
	}

	s.mu.Lock()
	u, scope, aerr := s.authenticateLocked(r)
	if aerr != nil {
		s.mu.Unlock()
		writeError(w, aerr, s.cfg.legacyErrors)
		return
	}
	u.stats.Calls[id]++
	write := isWrite(id)
	if write {
		u.stats.Writes++
		if u.inflight.Add(1) > 1 {
			u.stats.OverlappingWrites++
		}
		defer u.inflight.Add(-1)
	}
	f := s.takeFaultLocked(id, u.email)
	s.mu.Unlock()

	serve := func(w http.ResponseWriter) {
		if write && scope != scopeContacts {
			writeError(w, errInsufficientScope(), s.cfg.legacyErrors)
			return
		}
		s.mu.Lock()
		c := fixedCost(id)
		if id == MethodConnectionsList && r.URL.Query().Get("syncToken") == "" && r.URL.Query().Get("pageToken") == "" {
			c[bFullSync] = 1
		}
		aerr := checkQuery(id, r.URL.Query())
		if aerr == nil {
			aerr = s.charge(u, c)
		}
		var body any
		if aerr == nil {
			body, aerr = handlers[id](s, u, r, name)
		}
		s.mu.Unlock()
		if aerr != nil {
			writeError(w, aerr, s.cfg.legacyErrors)
			return
		}
		writeJSON(w, http.StatusOK, body)
	}
	if f != nil && s.applyFault(w, r, f, serve) {
		return
	}
	serve(w)
}

// applyFault acts out f and reports whether the request is finished.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f *Fault, serve func(http.ResponseWriter)) bool {
	s.log.DebugContext(r.Context(), "googlefake: injecting fault", "method", MethodOf(r), "kind", int(f.Kind))
	switch f.Kind {
	case Fault429:
		e := errQuota(bCriticalRead)
		writeError(w, e, s.cfg.legacyErrors)
	case Fault500:
		writeError(w, &apiError{code: 500, status: "INTERNAL", reason: "backendError", message: "Internal error encountered."}, s.cfg.legacyErrors)
	case Fault503:
		writeError(w, &apiError{code: 503, status: "UNAVAILABLE", reason: "backendError", message: "The service is currently unavailable."}, s.cfg.legacyErrors)
	case FaultTimeout:
		var after <-chan time.Time
		if f.Delay > 0 {
			after = s.clock.After(f.Delay)
		}
		select {
		case <-r.Context().Done():
			return true
		case <-after:
		}
		writeError(w, &apiError{code: 504, status: "DEADLINE_EXCEEDED", reason: "backendError", message: "Deadline expired before operation could complete."}, s.cfg.legacyErrors)
	case FaultDropResponse:
		serve(discardWriter{h: http.Header{}})
		// Aborting the handler is net/http's documented way to close the
		// connection without a response; the client sees a transport error.
		panic(http.ErrAbortHandler)
	default:
		return false
	}
	return true
}

type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// user is one sandbox Google account.
type user struct {
	id       string // profile id
	email    string
	contacts map[string]*contact // by id ("c…")
	groups   map[string]*group   // by id ("myContacts", hex)
	seq      uint64              // contact change log position
	groupSeq uint64              // group change log position
	// syncGen invalidates every sync token of an older generation
	// (ExpireSyncTokens).
	syncGen  uint64
	quota    [numBuckets]window
	stats    Stats
	inflight atomic.Int32
}

func (s *Server) userLocked(email string) *user {
	if u, ok := s.users[email]; ok {
		return u
	}
	now := s.clock.Now()
	u := &user{
		id:       s.newNumericID(),
		email:    email,
		contacts: map[string]*contact{},
		groups:   map[string]*group{},
		stats:    Stats{Calls: map[string]int{}},
	}
	for _, g := range []struct{ id, formatted string }{{"myContacts", "My Contacts"}, {"starred", "Starred"}} {
		u.groupSeq++
		u.groups[g.id] = &group{id: g.id, name: g.id, formattedName: g.formatted, system: true,
			members: map[string]bool{}, etag: newEtag("#"), updated: now, seq: u.groupSeq}
	}
	s.users[email] = u
	return u
}

func (s *Server) newNumericID() string {
	s.nextID += 7919 // sparse, like real ids
	return itoa(s.nextID)
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
