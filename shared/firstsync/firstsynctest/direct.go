// Package firstsynctest runs first syncs in tests without Pub/Sub: Direct
// is a publisher that hands each step straight to a runner, one after
// another in the caller's goroutine, so a test's GoLive returns with the
// first sync done.
package firstsynctest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/contactsync/contactsync/shared/firstsync"
	"github.com/contactsync/contactsync/shared/queue"
)

// ChangesPublisher takes the changes a first sync publishes at its end.
type ChangesPublisher interface {
	PublishChanges(ctx context.Context, topic string, cs ...queue.Change) error
}

// Direct runs published first-sync steps at once. Set Runner before use
// (the runner is built with the Direct as its publisher).
type Direct struct {
	Runner *firstsync.Runner
	// Changes receives the changes (nil: they are kept in Published).
	Changes ChangesPublisher

	mu        sync.Mutex
	pending   []queue.FirstSyncStep
	running   bool
	Published []queue.Change
	Steps     int
	// Failed is the step whose handling failed last (Pub/Sub would
	// deliver it again: Redeliver does).
	Failed *queue.FirstSyncStep
	lose   int
}

// Redeliver hands the failed step to the runner again, as Pub/Sub does
// after a failed delivery, and runs what follows.
func (d *Direct) Redeliver(ctx context.Context) error {
	d.mu.Lock()
	s := d.Failed
	d.Failed = nil
	d.mu.Unlock()
	if s == nil {
		return nil
	}
	return d.PublishFirstSync(ctx, "", *s)
}

var _ firstsync.Publisher = (*Direct)(nil)

// PublishFirstSync runs the steps (and the steps they publish) before it
// returns, unless a step is running already in this call chain: then they
// are queued and run by it. A step that fails is kept for Redeliver and
// the others go on, as with Pub/Sub; the first failure is returned.
func (d *Direct) PublishFirstSync(ctx context.Context, _ string, steps ...queue.FirstSyncStep) error {
	d.mu.Lock()
	for _, s := range steps {
		if d.lose > 0 {
			d.lose--
			continue
		}
		d.pending = append(d.pending, s)
	}
	if d.running {
		d.mu.Unlock()
		return nil
	}
	d.running = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.running = false
		d.mu.Unlock()
	}()
	if d.Runner == nil {
		return errors.New("firstsynctest: Direct without a runner")
	}
	var first error
	for {
		d.mu.Lock()
		if len(d.pending) == 0 {
			d.mu.Unlock()
			return first
		}
		s := d.pending[0]
		d.pending = d.pending[1:]
		d.Steps++
		d.mu.Unlock()
		if err := d.Runner.Handle(ctx, s); err != nil {
			d.mu.Lock()
			d.Failed = &s
			d.mu.Unlock()
			if first == nil {
				first = fmt.Errorf("firstsynctest: step %s/%d: %w", s.Chain, s.Chunk, err)
			}
		}
	}
}

// PublishChanges hands the changes on, or keeps them.
func (d *Direct) PublishChanges(ctx context.Context, topic string, cs ...queue.Change) error {
	if d.Changes != nil {
		return d.Changes.PublishChanges(ctx, topic, cs...)
	}
	d.mu.Lock()
	d.Published = append(d.Published, cs...)
	d.mu.Unlock()
	return nil
}

// LoseNext loses the next n steps published (a message lost on its way,
// or a crash before it was published).
func (d *Direct) LoseNext(n int) {
	d.mu.Lock()
	d.lose += n
	d.mu.Unlock()
}
