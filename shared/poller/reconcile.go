package poller

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/syncplan"
)

// Lost deletes and owner changes (SPEC section 4): Pipedrive's lists never
// return deleted persons, and the owner filter hides a person given to
// someone else, so a lost delete or owner-change webhook would never be
// noticed by the updated_since safety net. The reconciliation lists the
// ids the user owns (500 a page, 10 tokens) and compares them with the
// linked persons: each linked person that is not owned any more gets a
// change, and the applier re-reads it by id (deleted, or owned by
// someone else) and decides.

// ReconcilePerPage is how much the reconciliation's cadence stretches per
// page of owned persons: it runs every SafetyNetInterval, but at least
// this long times the pages, so its cost stays near 2,900 tokens a day
// (10 tokens a page) whatever the size of the book, and a company on a
// small plan keeps its daily budget for the sync itself.
const ReconcilePerPage = 5 * time.Minute

// reconcileDue says whether the reconciliation is due for conn with links
// linked contacts.
func (p *Poller) reconcileDue(conn *store.Connection, links int64) bool {
	pages := (links + safetyNetPage - 1) / safetyNetPage
	every := max(p.safetyNet, time.Duration(pages)*p.perPage)
	return p.now().Sub(conn.LastReconcileAt) >= every
}

// reconcilePipedrive runs the reconciliation (see above).
func (p *Poller) reconcilePipedrive(ctx context.Context, conn *store.Connection, pd *pipedrive.Client) error {
	log := logging.FromContext(ctx)
	if conn.PipedriveUserID == 0 {
		return nil
	}
	refs, err := p.store.PipedriveLinkRefs(ctx, conn.ID)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	if !p.reconcileDue(conn, int64(len(refs))) {
		return nil
	}
	owned := map[string]bool{}
	opts := pipedrive.ListPersonsOptions{OwnerID: conn.PipedriveUserID, Limit: safetyNetPage}
	for per, err := range pd.Persons(ctx, opts) {
		if err != nil {
			return fmt.Errorf("reconcile: list Pipedrive persons: %w", err)
		}
		if !per.IsDeleted && per.OwnerID == conn.PipedriveUserID {
			owned[strconv.FormatInt(per.ID, 10)] = true
		}
	}
	var missing []string
	linked := 0
	for _, r := range refs {
		if r.Parked != "" {
			continue // owned by someone else on purpose: nothing to find
		}
		linked++
		if !owned[r.PipedriveID] {
			missing = append(missing, r.PipedriveID)
		}
	}
	now := p.now()
	if syncplan.LinksLost(len(refs), len(owned)) {
		return p.startReconcile(ctx, conn, "most persons the user owns have no link")
	}
	if syncplan.CheckEmptySide(syncplan.Pipedrive, linked, len(owned)) != nil {
		reason := fmt.Sprintf("Paused: you own no Pipedrive persons any more while %d are linked, so nothing was deleted in Google. "+
			"If that is intended, confirm the deletes on the settings page; otherwise restore them.", linked)
		return p.holdEmptySide(ctx, conn.ID, queue.Pipedrive, missing, queue.Upsert, store.PauseEmptyPipedrive, reason, linked)
	}
	if len(missing) > 0 {
		cs := make([]queue.Change, len(missing))
		for i, id := range missing {
			cs[i] = queue.Change{ConnectionID: conn.ID, Side: queue.Pipedrive, ObjectID: id, Kind: queue.Upsert,
				Source: queue.FromReconcile, OccurredAt: now}
		}
		if err := p.pub.PublishChanges(ctx, p.changesTopic, cs...); err != nil {
			return fmt.Errorf("reconcile: publish: %w", err)
		}
	}
	log.Info("poller: Pipedrive reconciled", "owned", len(owned), "linked", linked, "missing", len(missing))
	return p.update(ctx, conn.ID, func(c *store.Connection) { c.LastReconcileAt = now })
}

// maxRepublish bounds the held changes one poll publishes again.
const maxRepublish = 500

// republishHeld publishes again the held changes that are due (a transient
// failure's pause is over, or the user released them: resume, reconnect,
// Retry, Confirm, Restore), with the user's decision, and removes them from
// the held list once Pub/Sub stored them: the applier holds a change again
// if it still cannot be applied.
func (p *Poller) republishHeld(ctx context.Context, conn *store.Connection) error {
	now := p.now()
	if conn.HeldDueAt.IsZero() || conn.HeldDueAt.After(now) {
		return nil
	}
	due, err := p.store.DueHeld(ctx, conn.ID, now, maxRepublish)
	if err != nil {
		return err
	}
	if len(due) > 0 {
		cs := make([]queue.Change, 0, len(due))
		for _, h := range due {
			ch := queue.Change{ConnectionID: conn.ID, Side: queue.Side(h.Side), ObjectID: h.ObjectID, Kind: queue.Kind(h.ChangeKind),
				MergedToID: h.MergedToID, MergedFromID: h.MergedFromID, Decision: queue.Decision(h.Decision), Twin: h.Twin,
				Source: queue.FromHeld, OccurredAt: h.FirstAt}
			if ch.OccurredAt.IsZero() {
				ch.OccurredAt = now
			}
			if ch.Validate() != nil {
				ch.Kind, ch.Decision = queue.Upsert, "" // a record is always worth a re-read
			}
			cs = append(cs, ch)
		}
		if err := p.pub.PublishChanges(ctx, p.changesTopic, cs...); err != nil {
			return fmt.Errorf("republish held changes: %w", err)
		}
		if err := p.store.ForgetPublished(ctx, conn.ID, due); err != nil {
			return err
		}
		logging.FromContext(ctx).Info("poller: held changes published again", "count", len(due))
	}
	next := time.Time{}
	if len(due) == maxRepublish {
		next = now // more are due: the next poll goes on
	} else if next, err = p.store.NextHeldDue(ctx, conn.ID, now); err != nil {
		return err
	}
	return p.update(ctx, conn.ID, func(c *store.Connection) {
		// Not if moved forward meanwhile, nor if a change was held since
		// conn was read: the listing above may have missed it, and it is
		// due (HeldDueAt stays, so the next poll looks again).
		if !c.HeldDueAt.After(now) && c.HeldSeq == conn.HeldSeq {
			c.HeldDueAt = next
		}
	})
}

// DeadLetterSource is a dead-letter hold subscription (*queue.DeadLetters).
type DeadLetterSource interface {
	Drain(ctx context.Context, max int, fn func(queue.Delivery) error) (int, error)
}

var _ DeadLetterSource = (*queue.DeadLetters)(nil)

// DrainDeadLetters moves the changes Pub/Sub gave up on (the last resort,
// when even holding them failed) into their connection's held list, where
// the user sees them and from where they are retried later. It runs with
// every scheduler tick and returns how many it moved.
func (p *Poller) DrainDeadLetters(ctx context.Context) (int, error) {
	if p.deadLetters == nil {
		return 0, nil
	}
	log := logging.FromContext(ctx)
	now := p.now()
	n, err := p.deadLetters.Drain(ctx, maxRepublish, func(d queue.Delivery) error {
		ch, err := queue.DecodeChange(d.Data)
		if err != nil {
			// Not a change of ours: nothing to hold it under; the message id
			// is logged so it can be found in the subscription's history.
			log.Error("poller: unreadable dead letter dropped", "message_id", logging.Bound(d.MessageID), "err", logging.BoundErr(err))
			return nil
		}
		err = p.store.Hold(ctx, ch.ConnectionID, store.HeldChange{
			Side: string(ch.Side), ObjectID: ch.ObjectID, ChangeKind: string(ch.Kind),
			MergedToID: ch.MergedToID, MergedFromID: ch.MergedFromID, Decision: string(ch.Decision),
			Kind: store.HeldFailed, Code: "dead_letter",
			Reason:  "its delivery failed too often (our service was unavailable); it is tried again automatically",
			FirstAt: now, LastAt: now, RetryAt: now.Add(syncplan.HeldRetry),
		})
		if errors.Is(err, store.ErrNotFound) {
			log.Info("poller: dead letter of a disconnected connection dropped", "message_id", logging.Bound(d.MessageID))
			return nil
		}
		return err
	})
	if n > 0 {
		log.Warn("poller: dead letters moved to the held list", "count", n)
	}
	return n, err
}
