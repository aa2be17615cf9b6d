package pipedrivefake

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// authCtx is who is calling.
type authCtx struct {
	user     *user
	company  *company
	tokenKey string // rate-limit key: the token itself
	oauth    bool
}

type apiHandler func(w http.ResponseWriter, r *http.Request, a *authCtx)

// Call is one request the fake answered.
type Call struct {
	Route  string // the pattern, e.g. "PATCH /api/v2/persons/{id}"
	Path   string
	Status int
	UserID int64
	At     time.Time
}

func (s *Server) routes() {
	m := http.NewServeMux()
	s.mux = m
	raw := func(pattern string, h http.HandlerFunc) { m.Handle(pattern, s.wrap(pattern, h)) }
	api := func(pattern string, h apiHandler) {
		m.Handle(pattern, s.wrap(pattern, s.authed(pattern, h)))
		// v1 is served under both base paths real clients use: /v1/… (the
		// api.pipedrive.com form of Pipedrive's API-token examples) and
		// /api/v1/… (OAuth's {api_domain}/api/v1/…); v2 only under
		// /api/v2/ (PMG: "Only /api/v2/... prefix is supported").
		// Counted and charged under the /api/v1/ route.
		if method, path, ok := strings.Cut(pattern, " /api/v1/"); ok {
			m.Handle(method+" /v1/"+path, s.wrap(pattern, s.authed(pattern, h)))
		}
	}

	raw("GET /oauth/authorize", s.handleAuthorize)
	raw("POST /oauth/token", s.handleToken)

	api("GET /api/v1/users/me", s.handleMe)
	api("GET /api/v1/webhooks", s.handleListWebhooks)
	api("POST /api/v1/webhooks", s.handleCreateWebhook)
	api("DELETE /api/v1/webhooks/{id}", s.handleDeleteWebhook)
	api("PUT /api/v1/persons/{id}/merge", s.handleMerge)
	// v1 person CRUD is out of support since 2026-08-01: answer 410 so a
	// stray v1 call shows up in tests.
	for _, p := range []string{"GET /api/v1/persons", "POST /api/v1/persons", "GET /api/v1/persons/{id}",
		"PUT /api/v1/persons/{id}", "DELETE /api/v1/persons/{id}", "GET /api/v1/persons/search"} {
		api(p, func(w http.ResponseWriter, _ *http.Request, _ *authCtx) {
			apiError(w, http.StatusGone, "This endpoint is deprecated and out of support; use API v2")
		})
	}

	api("GET /api/v2/persons", s.handleListPersons)
	api("POST /api/v2/persons", s.handleCreatePerson)
	api("GET /api/v2/persons/search", s.handleSearchPersons)
	api("GET /api/v2/persons/{id}", s.handleGetPerson)
	api("PATCH /api/v2/persons/{id}", s.handlePatchPerson)
	api("DELETE /api/v2/persons/{id}", s.handleDeletePerson)
	api("GET /api/v2/organizations", s.handleListOrgs)
	api("GET /api/v2/organizations/search", s.handleSearchOrgs)
	api("POST /api/v2/organizations", s.handleCreateOrg)
	api("GET /api/v2/organizations/{id}", s.handleGetOrg)

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "Unknown method .")
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// wrap counts the call and applies injected faults.
func (s *Server) wrap(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := s.takeFault(r.Method, r.URL.Path)
		sw := &statusWriter{ResponseWriter: w}
		var once sync.Once
		record := func() {
			once.Do(func() {
				s.mu.Lock()
				s.calls[route]++
				s.log2 = append(s.log2, Call{Route: route, Path: r.URL.Path, Status: sw.status, At: s.now()})
				if r.Method != http.MethodGet && sw.status/100 == 2 && strings.HasPrefix(route, r.Method+" /api/") {
					s.writes[route]++
				}
				s.mu.Unlock()
			})
		}
		defer record()
		if f == nil {
			next.ServeHTTP(sw, r)
			return
		}
		switch f.Kind {
		case Fault429:
			sw.Header().Set("x-ratelimit-limit", "1")
			sw.Header().Set("x-ratelimit-remaining", "0")
			sw.Header().Set("x-ratelimit-reset", "1")
			apiError(sw, http.StatusTooManyRequests, "Request over limit")
		case FaultDailyBudget:
			sw.Header().Set("x-ratelimit-limit", "80")
			sw.Header().Set("x-ratelimit-remaining", "79")
			apiError(sw, http.StatusTooManyRequests, "Request over limit")
		case Fault500:
			apiError(sw, http.StatusInternalServerError, "Internal server error")
		case Fault503:
			apiError(sw, http.StatusServiceUnavailable, "Service temporarily unavailable")
		case Fault403Cloudflare:
			sw.Header().Set("Content-Type", "text/html; charset=UTF-8")
			sw.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(sw, "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body>Sorry, you have been blocked</body></html>")
		case Fault400:
			apiError(sw, http.StatusBadRequest, "Validation failed")
		case Fault404:
			apiError(sw, http.StatusNotFound, "Not found")
		case FaultTimeout:
			t := time.NewTimer(s.hang)
			defer t.Stop()
			select {
			case <-r.Context().Done():
			case <-t.C:
			}
			apiError(sw, http.StatusGatewayTimeout, "Gateway timeout")
		case FaultDropResponse:
			// Commit the write, then drop the connection before answering.
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			sw.status = rec.Code // the write happened: count it
			record()             // before the client can see the dropped answer
			dropConnection(w)
		}
	})
}

// dropConnection closes the connection without an answer: the client sees
// EOF. Without a hijackable connection (in-process), it aborts the handler,
// which net/http turns into a reset.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// authed authenticates (x-api-token, ?api_token, Bearer), then applies the
// rate limits and writes the x-ratelimit-* headers.
func (s *Server) authed(route string, h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := s.authenticate(r)
		if a == nil {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"success": false,
				"error": "unauthorized access", "errorCode": 401,
				"error_info": "Please check developers.pipedrive.com", "data": nil, "additional_data": nil})
			return
		}
		if !s.rateLimit(w, r, route, a) {
			return
		}
		if r.Method == http.MethodGet {
			h(w, r, a)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r, a)
		if sw.status/100 == 2 {
			s.mu.Lock()
			s.companyWrites[a.company.id]++
			s.mu.Unlock()
		}
	})
}

func (s *Server) authenticate(r *http.Request) *authCtx {
	tok := r.Header.Get("x-api-token")
	if tok == "" {
		tok = r.URL.Query().Get("api_token")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok != "" {
		if uid, ok := s.apiTokens[tok]; ok {
			u := s.users[uid]
			return &authCtx{user: u, company: s.companies[u.companyID], tokenKey: "t:" + tok}
		}
		return nil
	}
	bearer, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found {
		return nil
	}
	at, ok := s.access[bearer]
	if !ok || !s.now().Before(at.expires) {
		return nil
	}
	u := s.users[at.userID]
	return &authCtx{user: u, company: s.companies[u.companyID], tokenKey: "o:" + bearer, oauth: true}
}

// readBody reads a small request body.
func readBody(r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(http.MaxBytesReader(nil, r.Body, 1<<20))
	return b.Bytes(), err
}
