// Package applier applies the change messages Pub/Sub delivers, one
// contact at a time, in vdirsyncer's three phases:
//
//   - gather (gather.go, twins.go, merges.go): read the connection, the
//     link, the changed record, and what the rules ask for next (the twin,
//     the merge partners, the outcome of an abandoned create, the brake
//     window). I/O only: no decision is taken here.
//   - decide: every rule is a pure table in shared/syncplan — Gate (is the
//     connection syncing), Unchanged (the echo rule), PlanMerge (Pipedrive
//     merges), Unpark (owner changes), CheckIntent (a create in flight),
//     ByMarker and BySearch (twin identification), Decide (the three-way
//     merge, edit beats delete, delete policies, restores), Brake.Allow
//     (the mass-delete brake) and Recover (what a failure means).
//   - execute (execute.go): one switch over the decided writes, then the
//     link commit.
//
// No change is dropped: a change that cannot be applied now is retried
// (Pub/Sub redelivers it while the failure is transient) or held in the
// store with its reason (store.HeldChange), and the poller publishes held
// changes again when they are due: when the connection syncs again, after
// a transient failure's pause, or after the user's Retry, Confirm or
// Restore.
//
// One connection's changes arrive one at a time (the ordering key is the
// connection), so no two mutations for one Google user run at once; an
// instance that takes over a connection's Google calls from another starts
// with an empty rate-limit bucket (see run.google), so the per-user quota
// holds across instances.
//
// Firestore per applied change: the connection and the link (2 reads), a
// third read only for a new record (pending creates, a twin's link) or a
// delete (the link count of the brake); the link commit (1 write), a
// second write for a create's intent or a delete's brake window. See
// BenchmarkApply.
package applier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/syncplan"
)

// Opener opens a connection's API clients (account.Accounts).
type Opener interface {
	Open(ctx context.Context, conn *store.Connection) (*account.Clients, error)
	Forget(connID string)
}

var _ Opener = (*account.Accounts)(nil)

// Step names a point between the writes of one apply, for Config.Hook.
type Step string

// Steps.
const (
	// StepIntentStored: the Pending intent is on the link, the remote
	// create not yet sent.
	StepIntentStored Step = "intent-stored"
	// StepPlanStored: an update plan is on the link (syncplan.Planned),
	// no remote update sent yet.
	StepPlanStored Step = "plan-stored"
	// StepRemoteWritten: a remote write succeeded, the link is not yet
	// committed.
	StepRemoteWritten Step = "remote-written"
)

// Config wires an Applier.
type Config struct {
	Store    *store.Store
	Accounts Opener
	// Mapper maps between the services and the normalized contact. It must
	// be the one the first sync uses (the base is stored normalized).
	Mapper contact.Mapper
	// Now is the clock (default time.Now, UTC).
	Now func() time.Time
	// PendingGrace is how old a Pending create intent must be before
	// another delivery takes it for abandoned (default
	// syncplan.DefaultIntentGrace).
	PendingGrace time.Duration
	// Brake is the mass-delete brake (zero: syncplan.DefaultBrake).
	Brake syncplan.Brake
	// Instance names this function instance for the Google pacing
	// handover (default: random).
	Instance string
	// Hook, if set, runs at each Step; an error from it stops the apply
	// right there, as a crash would (tests kill the applier between steps).
	Hook func(ctx context.Context, s Step) error
}

// Applier applies changes.
type Applier struct {
	store    *store.Store
	accounts Opener
	mapper   contact.Mapper
	now      func() time.Time
	grace    time.Duration
	brake    syncplan.Brake
	instance string
	hook     func(ctx context.Context, s Step) error
}

// New refuses incomplete wiring.
func New(cfg Config) (*Applier, error) {
	if cfg.Store == nil || cfg.Accounts == nil {
		return nil, errors.New("applier.New: store and accounts are required")
	}
	if cfg.PendingGrace < 0 {
		return nil, errors.New("applier.New: negative grace")
	}
	a := &Applier{store: cfg.Store, accounts: cfg.Accounts, mapper: cfg.Mapper, now: cfg.Now,
		grace: cfg.PendingGrace, brake: cfg.Brake, instance: cfg.Instance, hook: cfg.Hook}
	if a.now == nil {
		a.now = func() time.Time { return time.Now().UTC() }
	}
	if a.grace == 0 {
		a.grace = syncplan.DefaultIntentGrace
	}
	if a.brake == (syncplan.Brake{}) {
		a.brake = syncplan.DefaultBrake
	}
	if a.instance == "" {
		a.instance = store.NewID()
	}
	return a, nil
}

// Handle applies one delivery. The delivery's message id is only logged:
// the re-read makes a duplicate delivery a no-op, so no Firestore document
// is spent on deduplication.
func (a *Applier) Handle(ctx context.Context, d queue.Delivery) error {
	ch, err := queue.DecodeChange(d.Data)
	if err != nil {
		a.recordError(ctx, ch.ConnectionID, "unreadable_change", "A change message could not be read and was dropped (a bug or a forged message).")
		logging.FromContext(ctx).Error("applier: bad message acknowledged", "message_id", logging.Bound(d.MessageID), "err", logging.BoundErr(err))
		return nil
	}
	// Whoever can push a message chose these: logged bounded.
	ctx = logging.With(ctx, "connection", logging.Bound(ch.ConnectionID), "side", logging.Bound(string(ch.Side)),
		"object", logging.Bound(ch.ObjectID), "message_id", logging.Bound(d.MessageID))
	return a.Apply(ctx, ch)
}

// run is one delivery of one change.
type run struct {
	conn *store.Connection
	cl   *account.Clients
	ch   queue.Change
	// own are the Pending intents this delivery wrote (a decide-again
	// round finds them and must not take them for another delivery's).
	own map[string]bool
	// handedOver: this instance holds the user's Google pacing.
	handedOver bool
	// wroteG and wroteP are what this delivery's own writes left on each
	// side, so that a decide-again round weighs the user's last change
	// there, not ours (see ownWrite).
	wroteG, wroteP *ownWrite
}

// ownWrite is a record as one of our writes left it: its hash and update
// time, and the side's update time before our first write of the delivery.
// Decided again after that write (errRedecide), a conflict is won by the
// later user change: our write bumped the side's update time, and without
// this a Google contact we had just given a new phone number would beat a
// family name the user typed in Pipedrive a moment later with its stale
// family name.
type ownWrite struct {
	hash    string
	updated time.Time
	before  time.Time
}

// mark records a write of ours that left a record with hash and updated;
// before is the side's update time the write found.
func mark(w **ownWrite, hash string, updated, before time.Time) {
	if *w != nil {
		before = (*w).before // the first write of the delivery found the user's
	}
	*w = &ownWrite{hash: hash, updated: updated, before: before}
}

// userTime is st's update time with our own write of this delivery taken
// out: the time before it, while the record is still as we left it.
func userTime(w *ownWrite, st syncplan.SideState) time.Time {
	if w != nil && st.State == syncplan.Present && st.Updated.Equal(w.updated) && st.Contact.Hash() == w.hash {
		return w.before
	}
	return st.Updated
}

// Apply applies one change; the error is non-nil only when a retry may
// succeed (Pub/Sub then redelivers with backoff).
func (a *Applier) Apply(ctx context.Context, ch queue.Change) error {
	log := logging.FromContext(ctx)
	if err := ch.Validate(); err != nil {
		a.recordError(ctx, ch.ConnectionID, "unreadable_change", "A change message could not be read and was dropped (a bug or a forged message).")
		log.Error("applier: invalid change acknowledged", "err", logging.BoundErr(err))
		return nil
	}
	conn, err := a.store.GetConnection(ctx, ch.ConnectionID)
	if errors.Is(err, store.ErrNotFound) {
		log.Info("applier: connection gone (disconnected); change dropped")
		return nil
	}
	if err != nil {
		return fmt.Errorf("applier: load connection: %w", err)
	}
	a.webhookArrived(ctx, conn, ch)
	if ok, h := syncplan.Gate(gateFacts(conn)); !ok {
		return a.hold(ctx, conn, ch, h, "")
	}
	r := &run{conn: conn, ch: ch, own: map[string]bool{}}
	reopened := false
	for round := 1; ; round++ {
		err = a.open(ctx, r)
		if err == nil {
			err = a.once(ctx, r)
		}
		if err == nil {
			return nil
		}
		rec, h := syncplan.Recover(failureOf(err), round, 0, reopened)
		if rec == syncplan.RetryLater {
			n, cerr := a.store.CountFailure(ctx, conn.ID, string(ch.Side), ch.ObjectID, a.now())
			if cerr != nil {
				return errors.Join(err, cerr)
			}
			rec, h = syncplan.Recover(failureOf(err), round, n, reopened)
		}
		switch rec {
		case syncplan.Redecide:
			log.Debug("applier: deciding again", "round", round, "why", err)
			continue
		case syncplan.Reopen:
			// Credentials may have been replaced since the clients were
			// built, or only the access token was revoked: open afresh.
			reopened = true
			a.accounts.Forget(conn.ID)
			r.cl = nil
			continue
		case syncplan.RetryLater:
			log.Warn("applier: transient failure; Pub/Sub will retry", "err", err)
			return err
		case syncplan.NeedsReauth:
			a.accounts.Forget(conn.ID)
			return a.needsReauth(ctx, conn, ch, h, err)
		}
		log.Warn("applier: change held", "code", h.Code, "err", err)
		return a.hold(ctx, conn, ch, h, errorName(err))
	}
}

// open gets the connection's clients (cached while its credentials are
// unchanged).
func (a *Applier) open(ctx context.Context, r *run) error {
	if r.cl != nil {
		return nil
	}
	cl, err := a.accounts.Open(ctx, r.conn)
	if errors.Is(err, account.ErrNotConnected) {
		return fmt.Errorf("%w: %w", errNoCredentials, err)
	}
	if err != nil {
		return fmt.Errorf("applier: open accounts: %w", err)
	}
	r.cl, r.handedOver = cl, false
	return nil
}

// google returns the user's Google client, taking over the user's pacing
// first when another instance made the last Google calls: this client's
// buckets are emptied (google.Client.Drain) and the connection names this
// instance (one field write, made only on a handover). The first instance
// ever to call Google for a connection keeps its full bucket.
func (a *Applier) google(ctx context.Context, r *run) (*google.Client, error) {
	if !r.handedOver {
		if r.conn.GoogleHolder != a.instance {
			if r.conn.GoogleHolder != "" {
				r.cl.Google.Drain()
			}
			if err := a.store.SetGoogleHolder(ctx, r.conn.ID, a.instance); err != nil {
				return nil, err
			}
			r.conn.GoogleHolder = a.instance
		}
		r.handedOver = true
	}
	return r.cl.Google, nil
}

func gateFacts(c *store.Connection) syncplan.Conn {
	return syncplan.Conn{Status: string(c.Status), HasGroup: c.GoogleGroup != "", HasUser: c.PipedriveUserID != 0,
		ReauthGoogle: c.ReauthGoogle, ReauthPipedrive: c.ReauthPipedrive}
}

// Internal failures, classified by failureOf.
var (
	// errRedecide: something changed under us (stale etag, a record gone
	// between read and write, the link changed): read and decide again.
	errRedecide = errors.New("applier: changed concurrently; decide again")
	// errInFlight: another delivery's create of this contact may still be
	// running; retry later.
	errInFlight = errors.New("applier: a create of this contact is in flight")
	// errUnsure: a create's outcome is unknown and no trace of it was found
	// yet; the Pending intent stays and a retry looks again.
	errUnsure = errors.New("applier: outcome of a create unknown")
	// errNoCredentials: an account of the connection has no stored
	// credentials.
	errNoCredentials = errors.New("applier: credentials missing")
)

// failureOf classifies an apply's error for the failure table; the API
// clients classify their own errors.
func failureOf(err error) syncplan.Failure {
	switch {
	case errors.Is(err, errRedecide), errors.Is(err, store.ErrConflict):
		return syncplan.FailConflict
	case errors.Is(err, errInFlight), errors.Is(err, errUnsure):
		return syncplan.FailTransient
	case errors.Is(err, account.ErrNoPipedrive):
		return syncplan.FailRevokedPipedrive
	case errors.Is(err, errNoCredentials):
		return syncplan.FailRevokedGoogle
	case errors.Is(err, queue.ErrBadMessage), errors.Is(err, syncplan.ErrInvalidInput):
		return syncplan.FailPermanent
	case google.IsClientError(err):
		switch {
		case google.Revoked(err):
			return syncplan.FailRevokedGoogle
		case google.Unauthorized(err):
			return syncplan.FailUnauthorized
		case google.Conflict(err):
			return syncplan.FailConflict
		case google.Transient(err):
			return syncplan.FailTransient
		}
		return syncplan.FailPermanent // a 4xx
	}
	var ae *pipedrive.APIError
	switch {
	case pipedrive.Revoked(err):
		return syncplan.FailRevokedPipedrive
	case pipedrive.Unauthorized(err):
		return syncplan.FailUnauthorized
	case pipedrive.DailyBudget(err):
		return syncplan.FailDailyBudget
	case errors.As(err, &ae) && !pipedrive.Transient(err):
		return syncplan.FailPermanent // a 4xx
	}
	// 429s, 5xx, transport errors and timeouts of either service,
	// Firestore, anything unforeseen: worth a retry.
	return syncplan.FailTransient
}

// errorName describes an API refusal by its status code only: the error
// texts of both services can echo the record's personal data.
func errorName(err error) string {
	var ae *pipedrive.APIError
	if errors.As(err, &ae) {
		return fmt.Sprintf("Pipedrive answered HTTP %d", ae.StatusCode)
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return fmt.Sprintf("Google answered HTTP %d", ge.Code)
	}
	return ""
}

// hold keeps ch as held with h (one transaction on the held document) and
// acknowledges it.
func (a *Applier) hold(ctx context.Context, conn *store.Connection, ch queue.Change, h syncplan.Hold, detail string) error {
	return a.holdWith(ctx, conn, ch, h, detail, "")
}

func (a *Applier) holdWith(ctx context.Context, conn *store.Connection, ch queue.Change, h syncplan.Hold, detail, name string) error {
	now := a.now()
	hc := store.HeldChange{
		Side: string(ch.Side), ObjectID: ch.ObjectID, ChangeKind: string(ch.Kind),
		MergedToID: ch.MergedToID, MergedFromID: ch.MergedFromID,
		Kind: string(h.Kind), Code: h.Code, Reason: h.Reason, Name: name, FirstAt: now, LastAt: now,
		Candidates: h.Candidates,
	}
	switch h.Code {
	case "transient":
		hc.RetryAt = now.Add(syncplan.HeldRetry)
	case "daily_budget":
		// The company's time zone is not known here: UTC midnight, and
		// once that has passed since the change was first held (a held
		// change comes back with that time), hourly, so a reset at
		// another zone's midnight costs an hour, not a day.
		var since time.Time
		if ch.Source == queue.FromHeld {
			since = ch.OccurredAt
		}
		hc.RetryAt = pipedrive.DailyBudgetRetryAt(now, since, time.UTC)
	}
	if detail != "" {
		hc.Reason += " (" + detail + ")"
	}
	if err := a.store.Hold(ctx, conn.ID, hc); err != nil {
		return fmt.Errorf("applier: hold change: %w", err)
	}
	if h.Kind == syncplan.HoldFailed {
		if err := a.store.ClearFailures(ctx, conn.ID, string(ch.Side), ch.ObjectID); err != nil {
			logging.FromContext(ctx).Warn("applier: could not clear the failure count", "err", err)
		}
	}
	logging.FromContext(ctx).Info("applier: change held", "kind", string(h.Kind), "code", h.Code)
	return nil
}

// needsReauth marks which account must be connected again and holds the
// change as deferred (applied once it is).
func (a *Applier) needsReauth(ctx context.Context, conn *store.Connection, ch queue.Change, h syncplan.Hold, cause error) error {
	google := h.Code == "reauth_google"
	msg := "Pipedrive access was revoked or has expired; connect Pipedrive again to resume syncing. Changes made meanwhile are kept and applied then."
	if google {
		msg = "Google access was revoked or has expired; connect Google again to resume syncing. Changes made meanwhile are kept and applied then."
	}
	_, err := a.store.UpdateConnection(ctx, conn.ID, func(c *store.Connection) error {
		if c.Status != store.StatusNeedsReauth {
			c.AddErrorKey(a.now(), h.Code, msg)
		}
		c.Status, c.StatusReason, c.PollDueAt = store.StatusNeedsReauth, msg, time.Time{}
		if google {
			c.ReauthGoogle = true
		} else {
			c.ReauthPipedrive = true
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("applier: record needs_reauth: %w", err)
	}
	logging.FromContext(ctx).Warn("applier: connection needs re-authorization; change held", "err", errorName(cause))
	return a.hold(ctx, conn, ch, h, "")
}

// recordError notes msg (with its key for translation) on the connection
// for the status page.
func (a *Applier) recordError(ctx context.Context, connID, key, msg string) {
	if connID == "" {
		return
	}
	_, err := a.store.UpdateConnection(ctx, connID, func(c *store.Connection) error {
		c.AddErrorKey(a.now(), key, msg)
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		logging.FromContext(ctx).Error("applier: could not record error on connection", "err", err)
	}
}

func (a *Applier) step(ctx context.Context, s Step) error {
	if a.hook == nil {
		return nil
	}
	return a.hook(ctx, s)
}

// once gathers, decides and executes one change once. An error is a
// failure for the failure table (Apply).
func (a *Applier) once(ctx context.Context, r *run) error {
	log := logging.FromContext(ctx)
	p, err := a.gatherChanged(ctx, r)
	if err != nil {
		return err
	}
	// A Pipedrive merge: the merge's steps, then the survivor is applied
	// as an upsert in this same delivery, so both sides converge at once.
	sid, err := a.merge(ctx, r, p)
	if err != nil {
		return err
	}
	if sid != "" {
		r.ch.ObjectID, r.ch.Kind, r.ch.MergedToID, r.ch.MergedFromID = sid, queue.Upsert, "", ""
		if p, err = a.gatherChanged(ctx, r); err != nil {
			return err
		}
	}
	if p.link != nil && p.link.Review != "" {
		// held for review by the first sync until the user answers
		if held, h := syncplan.UnderReview(p.link.Review, string(r.ch.Decision), p.link.ReviewCandidates); held {
			return a.holdWith(ctx, r.conn, r.ch, h, "", a.nameOf(r, p))
		}
		if err := a.dropReview(ctx, r, p.link, false); err != nil {
			return err
		}
		p.link, p.stored, p.base = nil, false, nil
	}
	if syncplan.Unchanged(a.seen(r, p)) {
		log.Debug("applier: unchanged since the last sync (echo or duplicate); nothing to do")
		return a.settle(ctx, r, p)
	}
	if p.link != nil && p.link.Parked != "" {
		if done, err := a.unpark(ctx, r, p); done || err != nil {
			return err
		}
	}
	if p.link != nil && p.link.Pending != "" {
		if err := a.resolveIntent(ctx, r, p); err != nil {
			return err
		}
	}
	if p.link == nil {
		done, err := a.twin(ctx, r, p)
		var held *errHeld
		if errors.As(err, &held) {
			return a.holdWith(ctx, r.conn, r.ch, held.h, "", a.nameOf(r, p))
		}
		if done || err != nil {
			return err
		}
	}
	if err := a.readTwin(ctx, r, p); err != nil {
		return err
	}
	pd, g := a.sides(r, p)
	// Only for deciding: link hashes stay those of the record as read.
	// A name the sync chose for Pipedrive (the contact has none) is no name.
	if p.link != nil {
		pd.Contact = contact.UnderiveName(pd.Contact, p.link.DerivedName)
	}
	// We write a name whole and Pipedrive splits it its own way, and a
	// Google type goes to Pipedrive as its nearest label: the same whole
	// name and the label a type maps to are no change (compared against
	// the base, else the twin).
	if p.planned != nil && p.base != nil {
		pd.Contact = contact.AlignPipedrive(pd.Contact, p.planned.Base)
	} else if p.base != nil {
		pd.Contact = contact.AlignPipedrive(pd.Contact, *p.base)
	} else if g.State == syncplan.Present {
		pd.Contact = contact.AlignPipedrive(pd.Contact, g.Contact)
	}
	var hidden contact.Fields // what this Pipedrive company does not show; unknown without a person
	if p.person != nil {
		hidden = pd.Contact.Unknown & (contact.IM | contact.Address | contact.JobTitle)
	}
	plan, err := syncplan.Decide(syncplan.Input{
		Base: p.base, Pipedrive: pd, Google: g, Policy: syncplan.DeletePolicy(r.conn.DeletePolicy),
		Now: a.now(), PipedriveHidden: hidden, Restore: r.ch.Decision == queue.Restore,
		Planned: p.planned,
	})
	if err != nil {
		return err
	}
	if len(plan.Conflicts) > 0 {
		// the times a true conflict was decided by (SPEC 4), without values
		fields := make([]string, 0, len(plan.Conflicts))
		for _, c := range plan.Conflicts {
			fields = append(fields, c.Field)
		}
		logging.FromContext(ctx).Info("applier: conflict decided by modification times", "fields", fields,
			"pipedrive_updated", pd.Updated, "google_updated", g.Updated, "winner", string(plan.Conflicts[0].Winner),
			"resumed_plan", p.planned != nil)
	}
	if ok, err := a.brakeAllows(ctx, r, p, plan); !ok || err != nil {
		return err
	}
	if err := a.execute(ctx, r, p, plan); err != nil {
		return err
	}
	return a.commit(ctx, r, p, plan)
}

// settle records on the link the Pipedrive version a safety-net change
// found unchanged (syncplan.Settle), so the safety net stops sending it.
// A link written meanwhile by another delivery is left to it.
func (a *Applier) settle(ctx context.Context, r *run, p *pair) error {
	if r.ch.Source != queue.FromSafetyNet || r.ch.Side != queue.Pipedrive || p.person == nil || !p.stored ||
		!syncplan.Settle(p.link.PipedriveVersion, p.person.UpdateTime, p.link.UpdatedAt, time.Now()) {
		return nil
	}
	p.link.PipedriveVersion = syncplan.PipedriveVersion(p.person.UpdateTime)
	if err := a.save(ctx, r, p); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return nil
}

// brakeAllows runs the mass-delete brake (syncplan.Brake.Allow) on a plan
// that deletes or removes from the group. Allowed, the window is stored
// before the writes (a crash after them must not forget them); held, the
// change is held for the user's decision. The brake holds deletes only:
// edits and creates go on syncing while the user decides.
func (a *Applier) brakeAllows(ctx context.Context, r *run, p *pair, plan syncplan.Plan) (bool, error) {
	n := plan.Deletes()
	if n == 0 {
		return true, nil
	}
	links, err := a.store.CountLinks(ctx, r.conn.ID)
	if err != nil {
		return false, err
	}
	now := a.now()
	tripped := !r.conn.BrakeTrippedAt.IsZero()
	ok, window := a.brake.Allow(r.conn.DeleteWindow, now, int(links), n, tripped, r.ch.Decision == queue.ConfirmDelete)
	if ok {
		// (a confirmed delete is counted, not added to the window)
		if err := a.store.SetDeleteWindow(ctx, r.conn.ID, window, n); err != nil {
			return false, err
		}
		r.conn.DeleteWindow = window
		return true, nil
	}
	if !tripped {
		linked := int(links) + len(window)
		limit, minutes := a.brake.Limit(linked), int(a.brakeWindow()/time.Minute)
		msg := fmt.Sprintf("The safety brake holds deletes: more than %d of %d linked contacts were deleted or removed within %s. "+
			"The deletes beyond the limit, and any further ones, are held: confirm them or restore the records on the settings page. Edits go on syncing.",
			limit, linked, a.brakeWindow())
		_, err := a.store.UpdateConnection(ctx, r.conn.ID, func(c *store.Connection) error {
			if c.BrakeTrippedAt.IsZero() {
				c.BrakeTrippedAt = now
				c.AddErrorKey(now, "brake", msg, limit, linked, minutes)
			}
			return nil
		})
		if err != nil {
			return false, fmt.Errorf("applier: trip the brake: %w", err)
		}
		logging.FromContext(ctx).Warn("applier: mass-delete brake tripped", "links", links, "window", len(window))
	}
	h := syncplan.Hold{Kind: syncplan.HoldBrake, Code: "brake", Reason: plan.History.Summary}
	return false, a.holdNamed(ctx, r, h, p)
}

func (a *Applier) brakeWindow() time.Duration {
	if a.brake.Window > 0 {
		return a.brake.Window
	}
	return syncplan.DefaultBrake.Window
}

// holdNamed holds r's change with the record's display name (from the base
// when the record is gone), for the page.
func (a *Applier) holdNamed(ctx context.Context, r *run, h syncplan.Hold, p *pair) error {
	name := ""
	if p.base != nil {
		name = p.base.DisplayName()
	}
	return a.holdWith(ctx, r.conn, r.ch, h, "", name)
}

// dropReview removes a review link once the user answered; the record is
// then twinned as the answer says. A twin the user chose loses its own
// held review too: the answer settled it.
func (a *Applier) dropReview(ctx context.Context, r *run, l *store.Link, chosen bool) error {
	if err := a.store.DeleteLink(ctx, r.conn.ID, l); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("applier: drop review link: %w", err)
	}
	if !chosen {
		return nil
	}
	key := store.HeldKey("google", l.GoogleID)
	if l.PipedriveID != "" {
		key = store.HeldKey("pipedrive", l.PipedriveID)
	}
	if err := a.store.DeleteHeld(ctx, r.conn.ID, key); err != nil {
		return fmt.Errorf("applier: settle the chosen twin's review: %w", err)
	}
	return nil
}

// webhookArrived records, for the settings page, when the connection's
// webhooks last brought a change: at most once per store.WebhookEvery (a
// burst costs one write a minute). Recorded here rather than by the
// intake, which is public and may only read the store. A failed write
// changes nothing for the change.
func (a *Applier) webhookArrived(ctx context.Context, conn *store.Connection, ch queue.Change) {
	if ch.Source != queue.FromWebhook || ch.OccurredAt.Sub(conn.LastWebhookAt) < store.WebhookEvery {
		return
	}
	if err := a.store.SetLastWebhook(ctx, conn.ID, ch.OccurredAt); err != nil {
		logging.FromContext(ctx).Warn("applier: could not record the webhook's arrival", "err", err)
	}
}

// nameOf is the changed record's name, for the user's list of held
// changes (stored with it, shown to the owner only, never logged).
func (a *Applier) nameOf(r *run, p *pair) string {
	if r.ch.Side == queue.Pipedrive {
		if p.person != nil {
			return p.person.Name
		}
		return ""
	}
	if p.gp != nil {
		return a.mapper.FromGoogle(p.gp).DisplayName()
	}
	return ""
}
