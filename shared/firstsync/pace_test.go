package firstsync

import (
	"testing"
	"time"
)

// Whatever the order and size of calls, no 60 s window ever holds more
// than the quota, and a full minute's worth goes through in the first
// minute (the quota, not a fraction of it, is the pace).
func TestPacerKeepsEveryWindowWithinQuota(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	p := &Pacer{Reads: 60, Writes: 30}
	now := t0
	var calls []time.Time
	var costs []int
	for i := range 200 {
		r, w := 6, 6 // a batch
		if i%3 == 0 {
			r, w = 1, 0 // a read
		}
		now = now.Add(p.Wait(now, r, w))
		p.Spend(now, r, w)
		calls, costs = append(calls, now), append(costs, w)
	}
	for i := range calls {
		sum := 0
		for j := i; j < len(calls) && calls[j].Before(calls[i].Add(time.Minute)); j++ {
			sum += costs[j]
		}
		if sum > 30 {
			t.Fatalf("%d writes in the minute from call %d", sum, i)
		}
	}
	// 30 writes a minute = 5 batches: the first 5 batches go at once
	q := &Pacer{Reads: 60, Writes: 30}
	for i := range 5 {
		if d := q.Wait(t0, 6, 6); d != 0 {
			t.Fatalf("batch %d waited %v within the quota", i, d)
		}
		q.Spend(t0, 6, 6)
	}
	if d := q.Wait(t0, 6, 6); d < 59*time.Second || d > 61*time.Second {
		t.Fatalf("the 6th batch waits %v, want about a minute", d)
	}
}
