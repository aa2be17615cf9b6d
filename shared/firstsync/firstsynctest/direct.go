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
}

var _ firstsync.Publisher = (*Direct)(nil)

// PublishFirstSync runs the steps (and the steps they publish) before it
// returns, unless a step is running already in this call chain: then they
// are queued and run by it.
func (d *Direct) PublishFirstSync(ctx context.Context, _ string, steps ...queue.FirstSyncStep) error {
	d.mu.Lock()
	d.pending = append(d.pending, steps...)
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
	for {
		d.mu.Lock()
		if len(d.pending) == 0 {
			d.mu.Unlock()
			return nil
		}
		s := d.pending[0]
		d.pending = d.pending[1:]
		d.Steps++
		d.mu.Unlock()
		if err := d.Runner.Handle(ctx, s); err != nil {
			d.mu.Lock()
			d.pending = nil
			d.mu.Unlock()
			return fmt.Errorf("firstsynctest: step %s/%d: %w", s.Chain, s.Chunk, err)
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
