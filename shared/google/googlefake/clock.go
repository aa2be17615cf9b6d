package googlefake

import (
	"sort"
	"sync"
	"time"
)

// Clock is the time source of the fake: quota windows, token lifetimes, sync
// token expiry and propagation delays all read it, so a test or benchmark can
// run hours of API traffic in virtual time. The google client accepts any
// value with the same two methods.
type Clock interface {
	Now() time.Time
	// After is time.After on this clock.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now.
func (RealClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// ManualClock is a Clock that moves only when told to. Timers created by
// After fire when Advance or Set moves the clock past their deadline. In
// auto-advance mode, After(d) moves the clock forward by d itself and fires at
// once, which turns every sleep into virtual time (handy for single-worker
// benchmarks; with concurrent sleepers virtual time runs faster than the sum
// of their waits would suggest).
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	auto    bool
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewManualClock returns a clock stopped at start.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start}
}

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// SetAutoAdvance switches auto-advance mode on or off.
func (c *ManualClock) SetAutoAdvance(on bool) {
	c.mu.Lock()
	c.auto = on
	c.mu.Unlock()
}

// After returns a channel that receives the clock's time once it reaches
// Now()+d.
func (c *ManualClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	auto := c.auto
	at := c.now.Add(d)
	if d <= 0 {
		ch <- c.now
		c.mu.Unlock()
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: at, ch: ch})
	c.mu.Unlock()
	if auto {
		c.advanceTo(at)
	}
	return ch
}

// Advance moves the clock forward by d and fires due timers.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	at := c.now.Add(d)
	c.mu.Unlock()
	c.advanceTo(at)
}

// Set moves the clock to t (never backwards) and fires due timers.
func (c *ManualClock) Set(t time.Time) { c.advanceTo(t) }

func (c *ManualClock) advanceTo(t time.Time) {
	c.mu.Lock()
	if t.After(c.now) {
		c.now = t
	}
	now := c.now
	sort.Slice(c.waiters, func(i, j int) bool { return c.waiters[i].at.Before(c.waiters[j].at) })
	keep := c.waiters[:0]
	var due []waiter
	for _, w := range c.waiters {
		if !w.at.After(now) {
			due = append(due, w)
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
	c.mu.Unlock()
	for _, w := range due {
		w.ch <- now
	}
}
