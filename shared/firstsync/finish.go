package firstsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/syncplan"
)

// progress stores what a chunk did on the connection (one transaction a
// chunk): the chain's next chunk or its wait, the counts, the rate and the
// time left. finished says both chains are through.
func (r *Runner) progress(ctx context.Context, connID, job, chain string, index int, out outcome) (finished bool, err error) {
	now := r.now()
	_, err = r.cfg.Store.UpdateConnection(ctx, connID, func(c *store.Connection) error {
		fs := c.FirstSync
		if fs == nil || fs.Job != job || fs.Phase == store.PhaseDone {
			return errStale
		}
		switch chain {
		case queue.ChainGoogle:
			if out.done && fs.GoogleNext == index {
				fs.GoogleNext++
			}
			fs.GoogleWaitUntil = out.waitUntil
		default:
			if out.done && fs.PipedriveNext == index {
				fs.PipedriveNext++
			}
			fs.PipedriveWaitUntil = out.waitUntil
		}
		fs.GoogleDone += out.googleWritten
		fs.PipedriveDone += out.pipedriveWritten
		fs.LinksDone += out.linked
		if out.shown != "" {
			fs.ContactSyncShown = out.shown
		}
		setPhase(fs, now, out.reason)
		r.rate(fs, now)
		fs.UpdatedAt = now
		finished = fs.GoogleNext >= fs.GoogleChunks && fs.PipedriveNext >= fs.PipedriveChunks
		return nil
	})
	if errors.Is(err, errStale) {
		return false, nil
	}
	return finished, err
}

// setPhase is writing, or waiting until the earliest chain resumes.
func setPhase(fs *store.FirstSync, now time.Time, reason string) {
	var resume time.Time
	for _, w := range []time.Time{fs.GoogleWaitUntil, fs.PipedriveWaitUntil} {
		if w.After(now) && (resume.IsZero() || w.Before(resume)) {
			resume = w
		}
	}
	if resume.IsZero() {
		fs.Phase, fs.ResumeAt, fs.Reason = store.PhaseWriting, time.Time{}, ""
		return
	}
	fs.Phase, fs.ResumeAt = store.PhaseWaiting, resume
	if reason != "" {
		fs.Reason = reason
	}
}

// rate is records written a minute since the writing began, and the time
// the rest needs at the quotas (the preview's estimate for what is left).
func (r *Runner) rate(fs *store.FirstSync, now time.Time) {
	done := fs.GoogleDone + fs.PipedriveDone
	if el := now.Sub(fs.WritingAt); el > 0 && done > 0 {
		fs.Rate = float64(done) / el.Minutes()
	}
	l := limitsOf(fs, r.cfg.GoogleQuota)
	pdLeft := max(fs.PipedriveTotal-fs.PipedriveDone, 0)
	gLeft := max(fs.GoogleChunks-fs.GoogleNext, 0)
	from := now
	if fs.ResumeAt.After(now) {
		from = fs.ResumeAt
	}
	fs.ETA = from.Add(Estimate(l, from, gLeft, pdLeft, pdLeft*costWrite, spendDay(fs, from), pipedrive.DailyBudgetMargin))
}

// finish ends a job: Finish, and the chunks deleted.
func (r *Runner) finish(ctx context.Context, connID, job string) error {
	return Finish(ctx, r.cfg.Store, r.cfg.Publisher, r.cfg.ChangesTopic, connID, job, r.now())
}

// Finish ends a job whose chains are through (the runner, or the poller
// when a crash came between the last chunk and the end): the records the
// listing missed are published for the applier to check, then the
// connection takes the listing's sync token (nothing changed in Google
// meanwhile is missed), its Pipedrive checkpoint becomes the listing's
// start, it goes live and the changes held meanwhile become due.
func Finish(ctx context.Context, st *store.Store, pub Publisher, changesTopic, connID, job string, now time.Time) error {
	conn, err := st.GetConnection(ctx, connID)
	if err != nil {
		return fmt.Errorf("firstsync: finish: %w", err)
	}
	if conn.FirstSync == nil || conn.FirstSync.Job != job || conn.FirstSync.Phase == store.PhaseDone {
		return nil
	}
	// First the checks (held as deferred while the job runs, then due
	// with the rest): published before the job is marked done, so a
	// crash between the two repeats them instead of losing them.
	mc, err := st.GetChunk(ctx, connID, chainMissing, 0)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if mc != nil && mc.Job == job {
		var missing []Missing
		if err := json.Unmarshal(mc.Items, &missing); err != nil {
			return fmt.Errorf("firstsync: finish: %w", err)
		}
		var cs []queue.Change
		for _, m := range missing {
			cs = append(cs, queue.Change{ConnectionID: connID, Side: m.Side, ObjectID: m.ID, Kind: queue.Upsert,
				Source: queue.FromReconcile, OccurredAt: now})
		}
		if len(cs) > 0 {
			if err := pub.PublishChanges(ctx, changesTopic, cs...); err != nil {
				return fmt.Errorf("firstsync: finish: %w", err)
			}
		}
	}
	_, err = st.UpdateConnection(ctx, connID, func(c *store.Connection) error {
		fs := c.FirstSync
		if fs == nil || fs.Job != job || fs.Phase == store.PhaseDone {
			return errStale
		}
		fs.Phase, fs.FinishedAt, fs.UpdatedAt, fs.ResumeAt, fs.Reason = store.PhaseDone, now, now, time.Time{}, ""
		fs.ETA = time.Time{}
		if fs.SyncToken != "" {
			c.GoogleSyncToken, fs.SyncToken = fs.SyncToken, ""
		}
		if !fs.ListedAt.IsZero() {
			c.PipedriveCheckpoint = fs.ListedAt
		}
		c.LastSafetyNetAt, c.LastReconcileAt = now, now
		c.MarkHeldDue(now)
		switch {
		case c.Status != store.StatusFirstSync:
		case fs.EmptySide != "":
			reason := "Paused: Google's contact group listed no contacts while contacts are linked, so nothing was deleted in Pipedrive. " +
				"If the group was emptied on purpose, confirm the deletes on the settings page; otherwise restore them."
			c.PauseReason = store.PauseEmptyGoogle
			if fs.EmptySide == string(syncplan.Pipedrive) {
				reason = "Paused: you own no Pipedrive persons any more while contacts are linked, so nothing was deleted in Google. " +
					"If that is intended, confirm the deletes on the settings page; otherwise restore them."
				c.PauseReason = store.PauseEmptyPipedrive
			}
			c.Status, c.StatusReason, c.PollDueAt = store.StatusPaused, reason, time.Time{}
			if c.BrakeTrippedAt.IsZero() {
				c.BrakeTrippedAt = now
			}
			c.AddErrorKey(now, c.PauseReason, reason, fs.EmptyLinks)
		default:
			c.Status, c.StatusReason, c.PollDueAt = store.StatusLive, "", now
		}
		return nil
	})
	if errors.Is(err, errStale) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("firstsync: finish: %w", err)
	}
	logging.FromContext(ctx).Info("firstsync: done")
	return st.DeleteChunks(ctx, connID)
}

// fail stops a job that cannot go on (its reason in plain words); the
// connection goes to error, and the user starts it again from the page.
func (r *Runner) fail(ctx context.Context, connID, job string, cause error) error {
	msg := "The first sync stopped: " + cause.Error() + ". Start it again from this page."
	_, err := r.cfg.Store.UpdateConnection(ctx, connID, func(c *store.Connection) error {
		fs := c.FirstSync
		if fs == nil || fs.Job != job {
			return errStale
		}
		fs.Phase, fs.Reason, fs.UpdatedAt = store.PhaseFailed, msg, r.now()
		if fs.Mode != store.FirstSyncPreview {
			c.Status, c.StatusReason = store.StatusError, msg
		}
		c.AddErrorKey(r.now(), "firstsync_failed", msg)
		return nil
	})
	if errors.Is(err, errStale) {
		return nil
	}
	return err
}

// reauth records that an account must be connected again: the job stays
// where it is and the poller starts it again once the account is back.
func (r *Runner) reauth(ctx context.Context, connID string, googleSide bool) error {
	msg := "Pipedrive access was revoked or has expired; connect Pipedrive again and the first sync continues where it stopped."
	if googleSide {
		msg = "Google access was revoked or has expired; connect Google again and the first sync continues where it stopped."
	}
	_, err := r.cfg.Store.UpdateConnection(ctx, connID, func(c *store.Connection) error {
		if c.Status != store.StatusNeedsReauth {
			key := "reauth_pipedrive"
			if googleSide {
				key = "reauth_google"
			}
			c.AddErrorKey(r.now(), key, msg)
		}
		c.Status, c.StatusReason, c.PollDueAt = store.StatusNeedsReauth, msg, time.Time{}
		if googleSide {
			c.ReauthGoogle = true
		} else {
			c.ReauthPipedrive = true
		}
		return nil
	})
	return err
}

// settle turns a step's error into what Pub/Sub should do: a revoked or
// missing grant stops the job until the user connects again (the message
// is acknowledged); anything else is retried.
func (r *Runner) settle(ctx context.Context, connID string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, account.ErrNoGoogle) || google.Revoked(err) || google.Unauthorized(err):
		return r.reauth(ctx, connID, true)
	case errors.Is(err, account.ErrNoPipedrive) || pipedrive.Revoked(err) || pipedrive.Unauthorized(err):
		return r.reauth(ctx, connID, false)
	case errors.Is(err, errGroupGone):
		msg := "Paused: the chosen Google contact group no longer exists, so nothing was synced. Choose a group on the settings page."
		_, uerr := r.cfg.Store.UpdateConnection(ctx, connID, func(c *store.Connection) error {
			c.Status, c.StatusReason, c.PauseReason, c.PollDueAt = store.StatusPaused, msg, store.PauseGroupGone, time.Time{}
			c.AddErrorKey(r.now(), store.PauseGroupGone, msg)
			return nil
		})
		return uerr
	}
	return err
}

// answered names an API's refusal in plain words without its content.
func answered(err error) string {
	var ae *pipedrive.APIError
	if errors.As(err, &ae) {
		return fmt.Sprintf("Pipedrive answered HTTP %d", ae.StatusCode)
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return fmt.Sprintf("Google answered HTTP %d", ge.Code)
	}
	return "refused"
}

// Stall is how long a running job may go without progress before the
// poller sends its next step again (a lost message, or an instance that
// died holding a chunk's lease, which ends first).
const Stall = 15 * time.Minute

// Kick is the poller's look at a connection's running job: a chain whose
// wait is over, or a step without progress for stall (0: Stall), is sent
// again (a duplicate is harmless: chunks are leased and done once); a job
// whose chains are through but was not finished is finished.
func Kick(ctx context.Context, st *store.Store, pub Publisher, topic, changesTopic string, conn *store.Connection, now time.Time, stall time.Duration) error {
	if stall <= 0 {
		stall = Stall
	}
	fs := conn.FirstSync
	if fs == nil {
		return nil
	}
	if conn.Status != store.StatusFirstSync && fs.Mode != store.FirstSyncPreview {
		return nil // paused or needs re-auth: it waits
	}
	stalled := now.Sub(fs.UpdatedAt) >= stall
	var steps []queue.FirstSyncStep
	switch fs.Phase {
	case store.PhaseListing:
		if stalled {
			steps = append(steps, queue.FirstSyncStep{ConnectionID: conn.ID, Job: fs.Job, Chain: queue.ChainPlan})
		}
	case store.PhaseWriting, store.PhaseWaiting:
		if fs.GoogleNext >= fs.GoogleChunks && fs.PipedriveNext >= fs.PipedriveChunks {
			return Finish(ctx, st, pub, changesTopic, conn.ID, fs.Job, now)
		}
		for _, chain := range []string{queue.ChainGoogle, queue.ChainPipedrive} {
			next, total, wait := chainState(fs, chain)
			if next >= total {
				continue
			}
			if !wait.IsZero() && !now.Before(wait) || wait.IsZero() && stalled {
				steps = append(steps, queue.FirstSyncStep{ConnectionID: conn.ID, Job: fs.Job, Chain: chain, Chunk: next})
			}
		}
	}
	if len(steps) == 0 {
		return nil
	}
	_, err := st.UpdateConnection(ctx, conn.ID, func(c *store.Connection) error {
		f := c.FirstSync
		if f == nil || f.Job != fs.Job {
			return errStale
		}
		for _, s := range steps {
			switch s.Chain {
			case queue.ChainGoogle:
				f.GoogleWaitUntil = time.Time{}
			case queue.ChainPipedrive:
				f.PipedriveWaitUntil = time.Time{}
			}
		}
		if f.Phase != store.PhaseListing {
			// (a job still listing stays so: its plan step, sent again,
			// would take it for planned with no chunks and end it)
			setPhase(f, now, "")
		}
		f.UpdatedAt = now
		return nil
	})
	if errors.Is(err, errStale) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("firstsync: kick: %w", err)
	}
	logging.FromContext(ctx).Info("firstsync: steps sent again", "connection", conn.ID, "steps", len(steps), "stalled", stalled)
	return pub.PublishFirstSync(ctx, topic, steps...)
}

// Running reports whether conn has a first sync or reconcile under way.
func Running(conn *store.Connection) bool {
	fs := conn.FirstSync
	return fs != nil && fs.Mode != store.FirstSyncPreview &&
		(fs.Phase == store.PhaseListing || fs.Phase == store.PhaseWriting || fs.Phase == store.PhaseWaiting)
}
