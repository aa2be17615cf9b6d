package pipedrivefake

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Plan is a Pipedrive subscription plan; it sets the burst limits and the
// daily budget multiplier.
type Plan string

// Plans.
const (
	Lite     Plan = "lite"
	Growth   Plan = "growth"
	Premium  Plan = "premium"
	Ultimate Plan = "ultimate"
)

// RateLimits is the token-based rate-limit model (facts §5). Changing the
// numbers lets benchmarks simulate any plan.
type RateLimits struct {
	Enabled bool
	// Window is the rolling burst window (2 s).
	Window time.Duration
	// BurstAPIToken / BurstOAuth are requests per Window per token, by plan.
	BurstAPIToken map[Plan]int
	BurstOAuth    map[Plan]int
	// SearchBurst is the separate search limit per Window on every plan.
	SearchBurst int
	// DailyBase × Multiplier[plan] × seats is the company's daily token budget.
	DailyBase  int
	Multiplier map[Plan]int
	// Costs is the token cost per route ("GET /api/v2/persons"); routes not
	// listed cost 1.
	Costs map[string]int
	// CloudflareAfter, if > 0, answers API-token clients with a 403 HTML
	// page after that many consecutive 429s (Pipedrive's Cloudflare block).
	CloudflareAfter int
}

// DefaultRateLimits returns Pipedrive's documented numbers, enabled.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		Enabled:       true,
		Window:        2 * time.Second,
		BurstAPIToken: map[Plan]int{Lite: 20, Growth: 40, Premium: 100, Ultimate: 120},
		BurstOAuth:    map[Plan]int{Lite: 80, Growth: 160, Premium: 400, Ultimate: 480},
		SearchBurst:   10,
		DailyBase:     30000,
		Multiplier:    map[Plan]int{Lite: 1, Growth: 2, Premium: 5, Ultimate: 7},
		Costs: map[string]int{
			"GET /api/v2/persons":              10,
			"GET /api/v2/persons/{id}":         1,
			"POST /api/v2/persons":             5,
			"PATCH /api/v2/persons/{id}":       5,
			"DELETE /api/v2/persons/{id}":      3,
			"GET /api/v2/persons/search":       20,
			"GET /api/v2/organizations/search": 20,
			"GET /api/v2/organizations":        10,
			"POST /api/v2/organizations":       5,
			"GET /api/v2/organizations/{id}":   1,
			"GET /api/v1/users/me":             2,
			"GET /api/v1/webhooks":             10,
			"POST /api/v1/webhooks":            10,
			"DELETE /api/v1/webhooks/{id}":     6,
			"PUT /api/v1/persons/{id}/merge":   40,
			"GET /api/v1/persons":              20,
			"GET /api/v1/persons/{id}":         2,
			"POST /api/v1/persons":             10,
			"PUT /api/v1/persons/{id}":         10,
			"DELETE /api/v1/persons/{id}":      6,
			"GET /api/v1/persons/search":       40,
		},
	}
}

// SetRateLimits replaces the rate-limit model at run time (e.g. switch off).
func (s *Server) SetRateLimits(rl RateLimits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rl = rl
}

type burstState struct {
	reqs    []time.Time // general requests in the window
	search  []time.Time // search requests in the window
	over429 int         // consecutive 429s (for CloudflareAfter)
}

// DailyUsage returns the tokens the company spent today (fake clock, UTC day).
func (s *Server) DailyUsage(companyID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.companies[companyID]
	if c == nil {
		return 0
	}
	s.rollDay(c)
	return c.dailyUsed
}

func (s *Server) rollDay(c *company) {
	day := s.now().Truncate(24 * time.Hour)
	if !c.day.Equal(day) {
		c.day, c.dailyUsed = day, 0
	}
}

func secondsCeil(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(max(d, 0).Seconds())))
}

// rateLimit charges the request and writes the headers; false means a 429
// (or Cloudflare 403) was written.
func (s *Server) rateLimit(w http.ResponseWriter, r *http.Request, route string, a *authCtx) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rl := s.rl
	if !rl.Enabled {
		return true
	}
	now := s.now()
	st := s.rlState[a.tokenKey]
	if st == nil {
		st = &burstState{}
		s.rlState[a.tokenKey] = st
	}
	plan := a.company.plan
	limit := rl.BurstAPIToken[plan]
	if a.oauth {
		limit = rl.BurstOAuth[plan]
	}
	window := &st.reqs
	if strings.HasSuffix(route, "/search") {
		limit, window = rl.SearchBurst, &st.search
	}
	cut := now.Add(-rl.Window)
	kept := (*window)[:0]
	for _, t := range *window {
		if t.After(cut) {
			kept = append(kept, t)
		}
	}
	*window = kept
	h := w.Header()
	reset := rl.Window
	if len(kept) > 0 {
		reset = kept[0].Add(rl.Window).Sub(now)
	}
	c := a.company
	s.rollDay(c)
	budget := rl.DailyBase * max(rl.Multiplier[plan], 1) * max(c.seats, 1)
	cost, ok := rl.Costs[route]
	if !ok {
		cost = 1
	}
	write := r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch
	deny := func(setHeaders func()) bool {
		st.over429++
		if rl.CloudflareAfter > 0 && !a.oauth && st.over429 > rl.CloudflareAfter {
			h.Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte("<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body>Sorry, you have been blocked</body></html>"))
			return false
		}
		setHeaders()
		// The full 429 body is unconfirmed; the message is the documented one.
		apiError(w, http.StatusTooManyRequests, "Request over limit")
		return false
	}
	if limit > 0 && len(kept) >= limit {
		return deny(func() {
			h.Set("x-ratelimit-limit", strconv.Itoa(limit))
			h.Set("x-ratelimit-remaining", "0")
			h.Set("x-ratelimit-reset", secondsCeil(reset))
		})
	}
	if c.dailyUsed+cost > budget {
		// The daily-budget 429's headers are undocumented (PRL documents
		// x-ratelimit-* for the 2-second window only): the burst headers
		// tell the truth about that window, which still has room, and no
		// x-ratelimit-reset is made up for the daily reset. API-token
		// writes carry the documented x-daily-requests-left.
		return deny(func() {
			h.Set("x-ratelimit-limit", strconv.Itoa(limit))
			h.Set("x-ratelimit-remaining", strconv.Itoa(max(limit-len(kept), 0)))
			if !a.oauth && write {
				h.Set("x-daily-requests-left", "0")
			}
		})
	}
	st.over429 = 0
	*window = append(*window, now)
	c.dailyUsed += cost
	h.Set("x-ratelimit-limit", strconv.Itoa(limit))
	h.Set("x-ratelimit-remaining", strconv.Itoa(max(limit-len(*window), 0)))
	h.Set("x-ratelimit-reset", secondsCeil(reset))
	if !a.oauth && write {
		h.Set("x-daily-requests-left", strconv.Itoa(budget-c.dailyUsed))
	}
	return true
}
