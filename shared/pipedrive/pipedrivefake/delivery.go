package pipedrivefake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Pipedrive's documented delivery policy.
var retryDelays = []time.Duration{3 * time.Second, 30 * time.Second, 150 * time.Second}

const (
	banThreshold = 10
	banDuration  = 30 * time.Minute
	deleteAfter  = 3 * 24 * time.Hour
)

type job struct {
	hookID   int64
	version  string
	payload  map[string]any
	attempt  int // 1..4
	action   string
	personID int64
	metaID   string
}

// Delivery is one webhook delivery attempt, for assertions.
type Delivery struct {
	WebhookID int64
	MetaID    string // v2 meta.id (v1: empty-ish, the v1 meta has no delivery id)
	Action    string // create, change, delete
	PersonID  int64
	Attempt   int // 1..4
	Status    int // HTTP status, 0 on transport error or timeout
	Err       string
	// Lost is set when the webhook was banned and the event dropped.
	Lost bool
	// Deleted is set on the attempt after which the webhook was deleted.
	Deleted bool
	At      time.Time
	Body    []byte
}

type deliverer struct {
	s      *Server
	hc     *http.Client
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []*job
	held   []*job
	hold   bool
	dup    int
	lose   int
	busy   int
	closed bool
	log    []Delivery
	start  sync.Once
}

func newDeliverer(s *Server) *deliverer {
	d := &deliverer{s: s, hc: &http.Client{Timeout: s.deliveryTO}}
	d.cond = sync.NewCond(&d.mu)
	return d
}

func (d *deliverer) enqueue(j *job) {
	d.start.Do(func() { go d.run() })
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	n := 1
	if j.attempt == 1 && d.lose > 0 {
		d.lose-- // lost, as during a ban (the events of a ban are not delivered)
		return
	}
	if j.attempt == 1 && d.dup > 0 {
		d.dup--
		n = 2 // an injected duplicate, same meta.id
	}
	for range n {
		if d.hold {
			d.held = append(d.held, j)
		} else {
			d.queue = append(d.queue, j)
		}
	}
	d.cond.Broadcast()
}

func (d *deliverer) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.queue = nil
	d.cond.Broadcast()
}

func (d *deliverer) run() {
	for {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.closed {
			d.cond.Wait()
		}
		if d.closed {
			d.mu.Unlock()
			return
		}
		j := d.queue[0]
		d.queue = d.queue[1:]
		d.busy++
		d.mu.Unlock()
		d.attempt(j)
		d.mu.Lock()
		d.busy--
		d.cond.Broadcast()
		d.mu.Unlock()
	}
}

// attempt delivers j once and applies the retry, ban and deletion rules.
func (d *deliverer) attempt(j *job) {
	s := d.s
	s.mu.Lock()
	h := s.hooks[j.hookID]
	if h == nil {
		s.mu.Unlock()
		return
	}
	now := s.now()
	rec := Delivery{WebhookID: h.id, MetaID: j.metaID, Action: j.action, PersonID: j.personID, Attempt: j.attempt, At: now}
	if now.Before(h.bannedUntil) {
		s.mu.Unlock()
		rec.Lost = true
		d.record(rec)
		return
	}
	url, user, pass := h.url, h.authUser, h.authPassword
	s.mu.Unlock()

	body := render(j)
	rec.Body = body
	status, err := d.post(url, user, pass, body)
	rec.Status = status
	if err != nil {
		rec.Err = err.Error()
	}
	success := err == nil && status/100 == 2

	s.mu.Lock()
	h = s.hooks[j.hookID]
	if h == nil {
		s.mu.Unlock()
		d.record(rec)
		return
	}
	now = s.now()
	h.lastDelivery, h.lastStatus = now, status
	retry := false
	if success {
		h.lastSuccess = now
	} else {
		if j.attempt == 1 {
			h.banCount++
			if h.banCount >= banThreshold {
				h.bannedUntil, h.banCount = now.Add(banDuration), 0
			}
		}
		if now.Sub(h.lastSuccess) >= deleteAfter {
			delete(s.hooks, h.id)
			rec.Deleted = true
		} else {
			retry = j.attempt <= len(retryDelays)
		}
	}
	s.mu.Unlock()
	d.record(rec)
	if retry {
		next := *j
		next.attempt++
		s.clock.AfterFunc(retryDelays[j.attempt-1], func() { d.enqueue(&next) })
	}
}

func (d *deliverer) record(r Delivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.log = append(d.log, r)
}

// render sets the attempt counters (v2 meta.attempt 1-4, v1 retry 0-3).
func render(j *job) []byte {
	p := make(map[string]any, len(j.payload))
	for k, v := range j.payload {
		p[k] = v
	}
	if j.version == "1.0" {
		p["retry"] = j.attempt - 1
	} else if m, ok := p["meta"].(map[string]any); ok {
		mc := make(map[string]any, len(m))
		for k, v := range m {
			mc[k] = v
		}
		mc["attempt"] = j.attempt
		p["meta"] = mc
	}
	b, _ := json.Marshal(p)
	return b
}

func (d *deliverer) post(url, user, pass string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Pipedrive Webhooks")
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("deliver: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// WaitDeliveries blocks until no delivery is queued or in flight. Retries
// scheduled on the clock and held deliveries do not count.
func (s *Server) WaitDeliveries(ctx context.Context) error {
	d := s.dl
	stop := context.AfterFunc(ctx, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.cond.Broadcast()
	})
	defer stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	for (len(d.queue) > 0 || d.busy > 0) && !d.closed {
		if err := ctx.Err(); err != nil {
			return err
		}
		d.cond.Wait()
	}
	return nil
}

// Deliveries returns every delivery attempt so far, in order.
func (s *Server) Deliveries() []Delivery {
	s.dl.mu.Lock()
	defer s.dl.mu.Unlock()
	return slices.Clone(s.dl.log)
}

// DuplicateNext delivers each of the next n new events twice (same meta.id),
// as Pipedrive may after a timeout.
func (s *Server) DuplicateNext(n int) {
	s.dl.mu.Lock()
	defer s.dl.mu.Unlock()
	s.dl.dup += n
}

// LoseNext drops each of the next n new events without delivering them, as
// Pipedrive does during a webhook's ban (facts: "events are lost").
func (s *Server) LoseNext(n int) {
	s.dl.mu.Lock()
	defer s.dl.mu.Unlock()
	s.dl.lose += n
}

// HoldDeliveries parks new deliveries until ReleaseDeliveries.
func (s *Server) HoldDeliveries() {
	s.dl.mu.Lock()
	defer s.dl.mu.Unlock()
	s.dl.hold = true
}

// ReleaseDeliveries sends the parked deliveries, in reverse order if asked
// (to simulate reordering), and stops holding.
func (s *Server) ReleaseDeliveries(reverse bool) {
	d := s.dl
	d.mu.Lock()
	defer d.mu.Unlock()
	held := d.held
	d.held, d.hold = nil, false
	if reverse {
		slices.Reverse(held)
	}
	d.queue = append(d.queue, held...)
	d.cond.Broadcast()
}

// HeldDelivery is a parked delivery, rendered as Pipedrive would send it:
// POST Body to URL with HTTP Basic User and Password.
type HeldDelivery struct {
	URL, User, Password string
	Action              string
	PersonID            int64
	Body                []byte
}

// TakeHeldDeliveries removes the parked deliveries of personID's events
// (every person's if 0) and returns them in order, for a test that sends
// them itself at its own rate and concurrency (a load test), which the
// fake's one-at-a-time deliverer cannot. Deliveries of deleted webhooks
// are dropped.
func (s *Server) TakeHeldDeliveries(personID int64) []HeldDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dl
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []HeldDelivery
	kept := d.held[:0]
	for _, j := range d.held {
		if personID != 0 && j.personID != personID {
			kept = append(kept, j)
			continue
		}
		if h := s.hooks[j.hookID]; h != nil {
			out = append(out, HeldDelivery{URL: h.url, User: h.authUser, Password: h.authPassword,
				Action: j.action, PersonID: j.personID, Body: render(j)})
		}
	}
	clear(d.held[len(kept):])
	d.held = kept
	return out
}
