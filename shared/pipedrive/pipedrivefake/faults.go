package pipedrivefake

import "strings"

// FaultKind is what an injected fault does.
type FaultKind int

// Fault kinds.
const (
	Fault429 FaultKind = iota + 1 // answer 429 with rate-limit headers (reset 1 s)
	Fault500                      // answer 500
	Fault503                      // answer 503 (maintenance)
	// FaultTimeout holds the request until the client gives up (or WithHang
	// elapses, then 504).
	FaultTimeout
	// FaultDropResponse performs the request (a write is committed, webhooks
	// fire) and then closes the connection without answering. Served
	// in-process (no hijackable connection) it panics with
	// http.ErrAbortHandler, which net/http servers turn into a reset; use it
	// over a real (httptest) server.
	FaultDropResponse
	// Fault403Cloudflare answers 403 with an HTML page, as Pipedrive's
	// Cloudflare front does to API-token clients that ignore 429s (facts §5).
	Fault403Cloudflare
	// Fault400 answers 400 with Pipedrive's error envelope (a refused body).
	Fault400
	// FaultDailyBudget answers 429 as a spent daily budget does here (the
	// rate limiter's shape: the burst window's headers with room left, no
	// reset time; the daily 429's real headers are undocumented).
	FaultDailyBudget
	// Fault404 answers 404 with Pipedrive's error envelope, as for a record
	// it does not find, whether or not the record exists.
	Fault404
)

// Fault selects requests to fail. Empty Method or Path match any; Path
// matches as a prefix of the URL path (e.g. "/api/v2/persons").
type Fault struct {
	Kind   FaultKind
	Method string
	Path   string
}

type faultRule struct {
	Fault
	left int
}

// FailNext makes the next n requests matching f fail as f.Kind. Rules are
// consumed in the order they were added.
func (s *Server) FailNext(n int, f Fault) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultRule{Fault: f, left: n})
}

// ClearFaults removes every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) takeFault(method, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range s.faults {
		if (r.Method == "" || strings.EqualFold(r.Method, method)) && strings.HasPrefix(path, r.Path) {
			r.left--
			if r.left <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			f := r.Fault
			return &f
		}
	}
	return nil
}
