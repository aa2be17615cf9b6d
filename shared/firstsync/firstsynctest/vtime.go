package firstsynctest

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Sched is virtual time for a simulation of concurrent workers: time moves
// only when every worker waits on it, and then straight to the earliest
// wake-up. A worker is anything that will act without being woken by the
// clock: a goroutine running a step, a message published but not yet
// handled (Enter and Exit count them). Sleeps, After channels and
// AfterFunc callbacks are woken one at a time in time order.
//
// It serves as the clock of the runner (Now, Sleep), the Google client and
// fake (Now, After), the Pipedrive client (Now, Sleep) and the Pipedrive
// fake (Now, AfterFunc), so quota windows, backoffs, burst pauses and the
// wait for Pipedrive's daily reset all pass in virtual time while the real
// store, queue and HTTP run at full speed.
type Sched struct {
	mu     sync.Mutex
	now    time.Time
	busy   int
	seq    int
	timers timerHeap
}

type timer struct {
	at   time.Time
	seq  int
	fire func() // called with the lock held; must not block
}

type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(*timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// NewSched starts virtual time at start with one worker: the caller.
func NewSched(start time.Time) *Sched { return &Sched{now: start, busy: 1} }

// Now is the virtual time.
func (s *Sched) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Enter counts one more worker (a goroutine that starts, a message that
// was published).
func (s *Sched) Enter() {
	s.mu.Lock()
	s.busy++
	s.mu.Unlock()
}

// Exit counts a worker out; when none is left, time moves on.
func (s *Sched) Exit() {
	s.mu.Lock()
	s.busy--
	s.advance()
	s.mu.Unlock()
}

// advance wakes the earliest timer while nobody works (lock held).
func (s *Sched) advance() {
	for s.busy <= 0 && len(s.timers) > 0 {
		t := heap.Pop(&s.timers).(*timer)
		if t.at.After(s.now) {
			s.now = t.at
		}
		s.busy++ // the woken one works
		t.fire()
	}
}

// schedule adds a timer at now+d whose waker is fire, and counts the
// caller out while it waits.
func (s *Sched) schedule(d time.Duration, fire func(), waiting bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	heap.Push(&s.timers, &timer{at: s.now.Add(max(d, 0)), seq: s.seq, fire: fire})
	if waiting {
		s.busy--
	}
	s.advance()
}

// Sleep waits d of virtual time.
func (s *Sched) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	ch := make(chan struct{})
	s.schedule(d, func() { close(ch) }, true)
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err() // the end of a simulation: its count no longer matters
	}
}

// After is time.After in virtual time; the caller is taken to wait on it.
func (s *Sched) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	s.schedule(d, func() { ch <- s.now }, true)
	return ch
}

// AfterFunc runs f in its own goroutine after d (a worker while it runs).
// The stop function is a no-op: f runs.
func (s *Sched) AfterFunc(d time.Duration, f func()) func() bool {
	s.schedule(d, func() {
		go func() {
			defer s.Exit()
			f()
		}()
	}, false)
	return func() bool { return false }
}
