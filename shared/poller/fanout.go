package poller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

// Fan-out tuning: due connections are read pageSize at a time (ids only),
// and up to pagesInFlight pages are published and re-scheduled at once
// while the next page is read. Pub/Sub batches each page's messages (100
// per request) and the due times are written with a BulkWriter.
const (
	pageSize      = 500
	pagesInFlight = 4
)

// FanOut publishes a poll request for every connection due now and moves
// each one's due time half an interval ahead. It returns how many it queued.
//
// Half, not a whole interval: scheduler ticks come about one interval apart
// with jitter either way, so a due time of exactly now+interval would miss
// a tick that arrives a moment early and poll only every second tick. Half
// an interval lets every tick poll each connection once, while a duplicate
// or retried tick within half an interval still polls nothing twice.
// A page whose publish fails stays due, so the next tick retries it; the
// other pages are queued regardless.
func (p *Poller) FanOut(ctx context.Context) (int, error) {
	now := p.now()
	next := now.Add(p.interval / 2)
	var (
		queued atomic.Int64
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		slots  = make(chan struct{}, pagesInFlight)
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	var cursor *store.DueCursor
	for {
		due, nextCursor, err := p.store.DuePage(ctx, now, pageSize, cursor)
		if err != nil {
			fail(err)
			break
		}
		if len(due) > 0 {
			slots <- struct{}{}
			wg.Add(1)
			go func(due []store.DueConnection) {
				defer func() { <-slots; wg.Done() }()
				if err := p.queuePage(ctx, due, next); err != nil {
					fail(err)
					return
				}
				queued.Add(int64(len(due)))
			}(due)
		}
		if nextCursor == nil {
			break
		}
		cursor = nextCursor
	}
	wg.Wait()
	n := int(queued.Load())
	if len(errs) > 0 {
		return n, fmt.Errorf("poller.FanOut: %w", errors.Join(errs...))
	}
	if n > 0 {
		logging.FromContext(ctx).Info("poller: fan-out", "queued", n)
	}
	return n, nil
}

// queuePage publishes one page of poll requests, then moves their due
// times. Only after the publish: a crash in between polls twice, never
// zero times.
func (p *Poller) queuePage(ctx context.Context, due []store.DueConnection, next time.Time) error {
	reqs := make([]queue.PollRequest, len(due))
	ids := make([]string, len(due))
	for i, c := range due {
		reqs[i] = queue.PollRequest{ConnectionID: c.ID, DueAt: c.PollDueAt}
		ids[i] = c.ID
	}
	if err := p.pub.PublishPolls(ctx, p.pollsTopic, reqs...); err != nil {
		return err
	}
	return p.store.SetPollDue(ctx, ids, next)
}
