package firstsync

import (
	"slices"
	"time"

	"github.com/contactsync/contactsync/shared/store"
)

// Pacer keeps a job's Google calls within the user's per-minute quotas
// over any 60 seconds: a log of the calls of the last minute, carried in
// the job's state from chunk to chunk (whatever instance runs the next
// one). A sliding log, not a token bucket: batches of 200 contacts cost 6
// critical writes each, and a bucket with room for one would run at
// (quota − 6) a minute, 20 % below what Google allows.
type Pacer struct {
	Reads, Writes int // per minute
	Log           []store.PaceEntry
}

const paceWindow = time.Minute

// Wait is how long a call spending reads and writes must wait at now.
func (p *Pacer) Wait(now time.Time, reads, writes int) time.Duration {
	p.prune(now)
	r, w := 0, 0
	for _, e := range p.Log {
		r, w = r+e.Reads, w+e.Writes
	}
	fits := func(r, w int) bool {
		return (p.Reads <= 0 || r+reads <= p.Reads) && (p.Writes <= 0 || w+writes <= p.Writes)
	}
	if fits(r, w) {
		return 0
	}
	for _, e := range p.Log { // oldest first: each frees its spend when it leaves the window
		r, w = r-e.Reads, w-e.Writes
		if fits(r, w) {
			return e.At.Add(paceWindow).Sub(now) + time.Millisecond
		}
	}
	return paceWindow
}

// Spend records a call made at at.
func (p *Pacer) Spend(at time.Time, reads, writes int) {
	p.Log = append(p.Log, store.PaceEntry{At: at, Reads: reads, Writes: writes})
	slices.SortFunc(p.Log, func(a, b store.PaceEntry) int { return a.At.Compare(b.At) })
}

func (p *Pacer) prune(now time.Time) {
	p.Log = slices.DeleteFunc(p.Log, func(e store.PaceEntry) bool { return !now.Before(e.At.Add(paceWindow)) })
}
