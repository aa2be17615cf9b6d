// Package poller drives polling: every scheduler tick it fans out one poll
// message per due connection (so one slow account delays no other), and for
// each poll message it polls that one connection.
package poller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

// pageSize is how many due connections are read and published at once.
const pageSize = 500

// Poller fans out and runs polls.
type Poller struct {
	store      *store.Store
	pub        *queue.Publisher
	pollsTopic string
	interval   time.Duration
	now        func() time.Time
}

// New refuses incomplete wiring. interval is the poll cadence (the
// scheduler's period).
func New(s *store.Store, pub *queue.Publisher, pollsTopic string, interval time.Duration) (*Poller, error) {
	if s == nil || pub == nil || pollsTopic == "" || interval <= 0 {
		return nil, errors.New("poller.New: store, publisher, topic and a positive interval are required")
	}
	return &Poller{store: s, pub: pub, pollsTopic: pollsTopic, interval: interval, now: func() time.Time { return time.Now().UTC() }}, nil
}

// FanOut publishes a poll request for every connection due now and moves
// each one's due time one interval ahead. It returns how many it queued.
func (p *Poller) FanOut(ctx context.Context) (int, error) {
	now := p.now()
	total := 0
	for {
		due, err := p.store.DueConnections(ctx, now, pageSize)
		if err != nil {
			return total, fmt.Errorf("poller.FanOut: %w", err)
		}
		if len(due) == 0 {
			return total, nil
		}
		reqs := make([]queue.PollRequest, len(due))
		ids := make([]string, len(due))
		for i, c := range due {
			reqs[i] = queue.PollRequest{ConnectionID: c.ID, DueAt: c.PollDueAt}
			ids[i] = c.ID
		}
		if err := p.pub.PublishPolls(ctx, p.pollsTopic, reqs...); err != nil {
			return total, fmt.Errorf("poller.FanOut: %w", err)
		}
		// Only after the publish: a crash in between polls twice, never zero times.
		if err := p.store.SetPollDue(ctx, ids, now.Add(p.interval)); err != nil {
			return total, fmt.Errorf("poller.FanOut: %w", err)
		}
		total += len(due)
		if len(due) < pageSize {
			return total, nil
		}
	}
}

// PollOne polls one connection.
func (p *Poller) PollOne(ctx context.Context, req queue.PollRequest) error {
	ctx = logging.With(ctx, "connection", req.ConnectionID)
	_, err := p.store.UpdateConnection(ctx, req.ConnectionID, func(c *store.Connection) error {
		c.LastPollAt = p.now()
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		logging.FromContext(ctx).Warn("poller: connection gone; poll dropped")
		return nil
	}
	if err != nil {
		return fmt.Errorf("poller.PollOne: %w", err)
	}
	logging.FromContext(ctx).Info("poller: polled")
	return nil
}
