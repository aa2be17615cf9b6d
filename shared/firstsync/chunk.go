package firstsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/syncplan"
)

// MarkerKey is the clientData key of the Pipedrive person id on the Google
// contacts the sync creates (the applier's marker too): a create whose
// answer was lost is found by it.
const MarkerKey = "contactsync.pipedrive_id"

// myContacts is Google's system group every created contact joins too (as
// the Contacts UI does), so leaving our group never empties its groups.
const myContacts = "contactGroups/myContacts"

// Token costs of a pair's Pipedrive write: a fresh read, then the PATCH.
const costPairWrite = 1 + costWrite

// outcome is what a chunk did.
type outcome struct {
	links            []store.LinkWrite
	linked           int // links written
	googleWritten    int // contacts created or updated in Google
	pipedriveWritten int // persons created or updated in Pipedrive
	done             bool
	// waitUntil: the chain stops until then (Pipedrive's daily allowance
	// is spent); reason says so in plain words.
	waitUntil time.Time
	reason    string
	shown     string // the contact-sync fields' visibility, once learnt
}

// chunk runs the next chunk of a chain.
func (r *Runner) chunk(ctx context.Context, conn *store.Connection, cl *account.Clients, s queue.FirstSyncStep) error {
	fs := conn.FirstSync
	if fs.Phase != store.PhaseWriting && fs.Phase != store.PhaseWaiting {
		return nil
	}
	next, total, waitUntil := chainState(fs, s.Chain)
	if s.Chunk == next-1 {
		// The step came again after its chunk was done: a crash may have
		// come before the next step was sent. Sending it again is safe (a
		// duplicate finds its chunk leased or done).
		return r.resume(ctx, conn, s.Chain)
	}
	if s.Chunk != next || next >= total {
		return nil // a stale duplicate
	}
	if r.now().Before(waitUntil) {
		return nil // the poller starts the chain again then
	}
	now := r.now()
	c, err := r.cfg.Store.ClaimChunk(ctx, conn.ID, s.Chain, s.Chunk, r.cfg.Instance, now, now.Add(r.cfg.Lease))
	if errors.Is(err, store.ErrLeased) {
		return nil // another instance runs it; its lease ends if it dies
	}
	if err != nil {
		return err
	}
	var out outcome
	if c.Done {
		out.done = true
	} else {
		items, err := decodeItems(c.Items)
		if err != nil {
			return r.fail(ctx, conn.ID, fs.Job, fmt.Errorf("chunk %s: %w", c.ID, err))
		}
		switch {
		case s.Chain == queue.ChainPipedrive:
			out, err = r.pipedriveCreates(ctx, conn, cl, c, items)
		case len(items) > 0 && items[0].PID != "" && items[0].GID != "":
			out, err = r.pairs(ctx, conn, cl, c, items)
		default:
			out, err = r.googleCreates(ctx, conn, cl, c, items)
		}
		if err != nil {
			return err
		}
	}
	if out.done {
		c.Done, c.InFlight = true, false
		if err := r.cfg.Store.MarkChunk(ctx, conn.ID, c); err != nil {
			return err
		}
	}
	finished, err := r.progress(ctx, conn.ID, fs.Job, s.Chain, s.Chunk, out)
	if err != nil {
		return err
	}
	if !out.done {
		logging.FromContext(ctx).Info("firstsync: chain waits", "until", out.waitUntil, "why", out.reason)
		return nil
	}
	if err := r.hook(ctx, StepChunkDone); err != nil {
		return err
	}
	if finished {
		return r.finish(ctx, conn.ID, fs.Job)
	}
	if s.Chunk+1 < total {
		return r.cfg.Publisher.PublishFirstSync(ctx, r.cfg.Topic, queue.FirstSyncStep{ConnectionID: conn.ID, Job: fs.Job, Chain: s.Chain, Chunk: s.Chunk + 1})
	}
	return nil
}

// chainState is a chain's next chunk, its number of chunks, and until when
// it waits.
func chainState(fs *store.FirstSync, chain string) (next, total int, wait time.Time) {
	if chain == queue.ChainGoogle {
		return fs.GoogleNext, fs.GoogleChunks, fs.GoogleWaitUntil
	}
	return fs.PipedriveNext, fs.PipedriveChunks, fs.PipedriveWaitUntil
}

func limitsOf(fs *store.FirstSync, q google.Quota) Limits {
	return Limits{Plan: fs.PipedrivePlan, Burst: fs.PipedriveBurst, Daily: fs.PipedriveDaily, Allowance: fs.PipedriveAllowance,
		GoogleWrites: q.CriticalWritesPerMinute, GoogleReads: q.CriticalReadsPerMinute}
}

// reserveTokens takes today's allowance for up to writes Pipedrive writes
// of cost each (all of them when all is set) and returns how many it got;
// 0 means the chain waits until the next reset, which wait says.
func (r *Runner) reserveTokens(ctx context.Context, conn *store.Connection, writes, cost int, all bool) (n int, wait time.Time, err error) {
	if writes == 0 {
		return 0, time.Time{}, nil
	}
	now := r.now()
	_, err = r.cfg.Store.UpdateConnection(ctx, conn.ID, func(c *store.Connection) error {
		fs := c.FirstSync
		if fs == nil || fs.Job != conn.FirstSync.Job {
			return errStale
		}
		l := limitsOf(fs, r.cfg.GoogleQuota)
		want := writes
		if all && (l.Allowance-spendDay(fs, now))/cost < writes {
			want = 0
		}
		n = reserve(fs, l, want, cost, now)
		if n == 0 {
			return errNoChange
		}
		return nil
	})
	if errors.Is(err, errNoChange) {
		err = nil
	}
	if n == 0 && err == nil {
		wait = nextReset(now).Add(pipedrive.DailyBudgetMargin)
	}
	return n, wait, err
}

var (
	errStale    = errors.New("firstsync: job replaced")
	errNoChange = errors.New("firstsync: nothing to store")
)

// dailyWait is the outcome of a chain stopped by Pipedrive's daily budget.
func dailyWait(out outcome, until time.Time, why string) outcome {
	out.waitUntil = until
	out.reason = why
	return out
}

const (
	reasonAllowance = "the first sync has used its share of Pipedrive's daily request budget (the rest keeps the live sync running); it continues after Pipedrive's daily reset"
	reasonBudget    = "Pipedrive's daily request budget of the company is spent; the first sync continues after Pipedrive's daily reset"
)

// budgetLeft says whether the company's budget, as an API token's answers
// tell it, still leaves the reserve for the live sync.
func budgetLeft(cl *account.Clients, l Limits) bool {
	rl := cl.Pipedrive.RateLimitSeen()
	return rl.DailyLeft < 0 || rl.DailyLeft > l.Daily-l.Allowance
}

// pairs runs a chunk of pairs: Pipedrive's writes one by one, then
// Google's in one batch, then the links. Each record is read fresh before
// it is written: one changed since the listing is not overwritten (the
// pair is linked without a base, and the applier merges it when that
// change arrives); one already carrying the write (a retried chunk) is
// not written again.
func (r *Runner) pairs(ctx context.Context, conn *store.Connection, cl *account.Clients, c *store.FirstSyncChunk, items []Item) (outcome, error) {
	var out outcome
	type state struct {
		person  *pipedrive.Person
		orgName string
		gp      *people.Person
		nobase  bool // a side changed meanwhile
		gone    bool // a side is gone
	}
	st := make([]state, len(items))
	var pdWrites int
	for _, it := range items {
		if it.Writes(syncplan.Pipedrive) {
			pdWrites++
		}
	}
	if _, wait, err := r.reserveTokens(ctx, conn, pdWrites, costPairWrite, true); err != nil {
		return out, err
	} else if !wait.IsZero() {
		return dailyWait(out, wait, reasonAllowance), nil
	}
	for i, it := range items {
		a, ok := it.Action(syncplan.Pipedrive)
		if !ok {
			continue
		}
		per, err := cl.Pipedrive.GetPerson(ctx, mustInt(it.PID))
		if pipedrive.Gone(err) {
			st[i].gone = true
			continue
		}
		if pipedrive.DailyBudget(err) {
			return dailyWait(out, pipedrive.DailyBudgetRetryAt(r.now(), r.now(), time.UTC), reasonBudget), nil
		}
		if err != nil {
			return out, fmt.Errorf("firstsync: read Pipedrive person: %w", err)
		}
		org := it.Org
		if per.OrgID == nil && it.POrgID != 0 || per.OrgID != nil && *per.OrgID != it.POrgID {
			st[i].nobase = true // its organization changed meanwhile
			continue
		}
		now := syncplan.PipedriveSide(r.cfg.Mapper, per, org, conn.PipedriveUserID)
		pw := r.cfg.Mapper.PipedriveWriteFor(a.Contact, per, org)
		empty := isEmptyInput(pw.Input) && !pw.Org.Set
		switch {
		case now.State != syncplan.Present:
			st[i].gone = true
			continue
		case empty:
			st[i].person, st[i].orgName = per, org // written already (a retried chunk)
			continue
		case now.Contact.Hash() != it.PHash:
			st[i].nobase = true
			continue
		}
		in := pw.Input
		if pw.Org.Set {
			in.SetOrg = true
			if strings.TrimSpace(pw.Org.Name) != "" {
				id := it.OrgID
				in.OrgID = &id
			}
			org = pw.Org.Name
		}
		written, err := cl.Pipedrive.UpdatePerson(ctx, per.ID, in)
		if errors.Is(err, pipedrive.ErrBadRequest) && in.PostalAddress != nil {
			in.PostalAddress = nil // the address alone must not cost the other fields
			written, err = cl.Pipedrive.UpdatePerson(ctx, per.ID, in)
		}
		switch {
		case pipedrive.Gone(err):
			st[i].gone = true
			continue
		case pipedrive.DailyBudget(err):
			return dailyWait(out, pipedrive.DailyBudgetRetryAt(r.now(), r.now(), time.UTC), reasonBudget), nil
		case err != nil:
			return out, fmt.Errorf("firstsync: update Pipedrive person: %w", err)
		}
		st[i].person, st[i].orgName = written, org
		out.pipedriveWritten++
	}

	// Google: the contacts to write, read fresh in one batch.
	var rns []string
	for i, it := range items {
		if it.Writes(syncplan.Google) && !st[i].nobase && !st[i].gone {
			rns = append(rns, it.GID)
		}
	}
	g := cl.Google.Unpaced()
	if len(rns) > 0 {
		pacer := r.pacer(conn)
		if err := r.paceGoogle(ctx, pacer, 1, 0); err != nil {
			return out, err
		}
		fresh, err := g.BatchGet(ctx, rns)
		if err != nil {
			return out, fmt.Errorf("firstsync: read Google contacts: %w", err)
		}
		batch := map[string]*people.Person{}
		var mask []string
		for i, it := range items {
			if !it.Writes(syncplan.Google) || st[i].nobase || st[i].gone {
				continue
			}
			a, _ := it.Action(syncplan.Google)
			gp := fresh[it.GID]
			side := syncplan.GoogleSide(r.cfg.Mapper, gp, conn.GoogleGroup)
			if side.State != syncplan.Present {
				st[i].gone = true
				continue
			}
			p, m := r.cfg.Mapper.ApplyToGoogle(a.Contact, gp)
			switch {
			case m == "":
				st[i].gp = gp // written already
				continue
			case side.Contact.Hash() != it.GHash:
				st[i].nobase = true
				continue
			}
			batch[it.GID] = p
			mask = unionMask(mask, m)
		}
		if len(batch) > 0 {
			if err := r.paceGoogle(ctx, pacer, batchWrites, batchWrites); err != nil {
				return out, err
			}
			if err := r.savePace(ctx, conn, pacer); err != nil {
				return out, err
			}
			got, err := g.BatchUpdate(ctx, batch, mask)
			if errors.Is(err, google.ErrStaleEtag) || errors.Is(err, google.ErrNotFound) {
				// changed or deleted between the read and the write: the
				// next delivery reads again
				return out, fmt.Errorf("firstsync: a contact changed during the batch: %w", err)
			}
			if err != nil {
				return out, fmt.Errorf("firstsync: update Google contacts: %w", err)
			}
			for i, it := range items {
				if p, ok := got[it.GID]; ok {
					st[i].gp = p
					out.googleWritten++
				}
			}
			if err := r.hook(ctx, StepGoogleWritten); err != nil {
				return out, err
			}
		}
	}

	for i, it := range items {
		l := &store.Link{ID: it.LinkID, PipedriveID: it.PID, GoogleID: it.GID,
			PipedriveVersion: syncplan.PipedriveVersion(it.PVersion), PipedriveHash: it.PHash,
			GoogleVersion: it.GEtag, GoogleHash: it.GHash, Conflicts: int64(it.Conflicts),
			DerivedName: it.Derived, UnsyncedAddresses: int64(it.GUnsynced)}
		if s := st[i]; s.person != nil {
			pd := syncplan.PipedriveSide(r.cfg.Mapper, s.person, s.orgName, conn.PipedriveUserID).Contact
			l.PipedriveVersion, l.PipedriveHash = syncplan.PipedriveVersion(s.person.UpdateTime), pd.Hash()
			l.DerivedName = contact.DerivedName(it.Base, pd)
		}
		if s := st[i]; s.gp != nil {
			l.GoogleVersion = s.gp.Etag
			l.GoogleHash = syncplan.GoogleSide(r.cfg.Mapper, s.gp, conn.GoogleGroup).Contact.Hash()
			l.UnsyncedAddresses = int64(contact.UnsyncedGoogleAddresses(s.gp))
		}
		if len(it.Actions) > 0 {
			l.Updates = 1
		}
		detail := it.Summary
		if it.Matched != "" {
			detail = "matched by " + it.Matched + "; " + detail
		}
		if st[i].nobase {
			// no base: the applier merges both as they are now when the
			// change that made them differ arrives
			l.PipedriveHash, l.GoogleHash = "", ""
			detail += "; a side changed during the first sync, so the sync merges it when that change arrives"
		} else {
			b, err := json.Marshal(it.Base)
			if err != nil {
				return out, fmt.Errorf("firstsync: encode base: %w", err)
			}
			l.Base = b
			l.SearchKeys = r.cfg.Mapper.SearchKeys(it.Base)
		}
		out.links = append(out.links, store.LinkWrite{Link: l, Existing: it.Existing,
			Entry: r.entry(it, detail, writtenSides(it, st[i].person != nil, st[i].gp != nil && it.Writes(syncplan.Google)))})
	}
	if err := r.cfg.Store.PutLinks(ctx, conn.ID, out.links); err != nil {
		return out, err
	}
	out.linked, out.done = len(out.links), true
	return out, nil
}

// writtenSides lists the writes an item made, for its history entry.
func writtenSides(it Item, pd, g bool) []string {
	var out []string
	if pd && it.Writes(syncplan.Pipedrive) {
		out = append(out, "update pipedrive")
	}
	if g {
		out = append(out, "update google")
	}
	return out
}

// entry is an item's history entry (field names and actions, no data).
func (r *Runner) entry(it Item, detail string, actions []string) *store.HistoryEntry {
	action := strings.Join(actions, ", ")
	if action == "" {
		action = "link"
	}
	return &store.HistoryEntry{At: r.now(), Side: "both", Action: action, Fields: it.Fields,
		Detail: detail + " (first sync)", Conflict: it.Conflicts > 0}
}

func isEmptyInput(in pipedrive.PersonInput) bool {
	b, _ := json.Marshal(in)
	return string(b) == "{}"
}

// unionMask adds a mask's fields to the batch's: batchUpdateContacts takes
// one update mask for all; each person carries its current value of every
// field of it (ApplyToGoogle starts from the contact as read), so a field
// one contact does not change is written unchanged.
func unionMask(mask []string, m string) []string {
	for _, f := range strings.Split(m, ",") {
		if f != "" && !containsString(mask, f) {
			mask = append(mask, f)
		}
	}
	return mask
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// pacer loads the job's Google pacing log.
func (r *Runner) pacer(conn *store.Connection) *Pacer {
	p := &Pacer{Reads: r.cfg.GoogleQuota.CriticalReadsPerMinute, Writes: r.cfg.GoogleQuota.CriticalWritesPerMinute}
	if conn.FirstSync != nil {
		p.Log = conn.FirstSync.GooglePace
	}
	conn.FirstSync.GooglePace = p.Log
	return p
}

// savePace stores the pacing log before a write is sent: a crash right
// after it leaves the next instance knowing the write may have spent
// quota.
func (r *Runner) savePace(ctx context.Context, conn *store.Connection, p *Pacer) error {
	_, err := r.cfg.Store.UpdateConnection(ctx, conn.ID, func(c *store.Connection) error {
		if c.FirstSync == nil || c.FirstSync.Job != conn.FirstSync.Job {
			return errStale
		}
		c.FirstSync.GooglePace = p.Log
		c.GoogleHolder = r.cfg.Instance
		return nil
	})
	return err
}

// googleCreates creates a chunk of contacts in one batch, each in the
// group and My Contacts and carrying the marker of its person. A retried
// chunk whose batch may have been applied looks for the markers first.
func (r *Runner) googleCreates(ctx context.Context, conn *store.Connection, cl *account.Clients, c *store.FirstSyncChunk, items []Item) (outcome, error) {
	var out outcome
	g := cl.Google.Unpaced()
	pacer := r.pacer(conn)
	created := map[string]*people.Person{} // by person id
	recovered := map[string]bool{}
	if c.InFlight {
		found, err := r.findMarked(ctx, g, pacer, conn.GoogleGroup)
		if err != nil {
			return out, err
		}
		for _, it := range items {
			if gp := found[it.PID]; gp != nil {
				created[it.PID], recovered[it.PID] = gp, true
			}
		}
	}
	var todo []Item
	var batch []*people.Person
	for _, it := range items {
		if created[it.PID] != nil {
			continue
		}
		a, ok := it.Action(syncplan.Google)
		if !ok {
			continue
		}
		gp, _ := r.cfg.Mapper.ApplyToGoogle(a.Contact, nil)
		gp.Memberships = nil
		for _, grp := range groupsOf(conn.GoogleGroup) {
			gp.Memberships = append(gp.Memberships, &people.Membership{
				ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: grp}})
		}
		gp.ClientData = []*people.ClientData{{Key: MarkerKey, Value: it.PID}}
		todo, batch = append(todo, it), append(batch, gp)
	}
	if len(batch) > 0 {
		if err := r.paceGoogle(ctx, pacer, batchWrites, batchWrites); err != nil {
			return out, err
		}
		if err := r.savePace(ctx, conn, pacer); err != nil {
			return out, err
		}
		c.InFlight = true
		if err := r.cfg.Store.MarkChunk(ctx, conn.ID, c); err != nil {
			return out, err
		}
		got, err := g.BatchCreate(ctx, batch)
		if google.Refused(err) && len(batch) > 1 {
			// one contact Google refuses must not cost the others: each
			// alone, and the refused ones held for the user
			logging.FromContext(ctx).Warn("firstsync: Google refused the batch; creating one by one", "err", err)
			got, err = r.createEach(ctx, conn, g, pacer, todo, batch)
		}
		if err != nil {
			return out, fmt.Errorf("firstsync: create Google contacts: %w", err)
		}
		for i, gp := range got {
			if gp != nil {
				created[todo[i].PID] = gp
				out.googleWritten++
			}
		}
		if err := r.hook(ctx, StepGoogleWritten); err != nil {
			return out, err
		}
	}
	for _, it := range items {
		gp := created[it.PID]
		if gp == nil {
			continue // refused and held
		}
		b, err := json.Marshal(it.Base)
		if err != nil {
			return out, fmt.Errorf("firstsync: encode base: %w", err)
		}
		l := &store.Link{ID: it.LinkID, PipedriveID: it.PID, GoogleID: gp.ResourceName, Base: b,
			PipedriveVersion: syncplan.PipedriveVersion(it.PVersion), PipedriveHash: it.PHash,
			GoogleVersion: gp.Etag, GoogleHash: syncplan.GoogleSide(r.cfg.Mapper, gp, conn.GoogleGroup).Contact.Hash(),
			CreatedOn: string(syncplan.Google), SearchKeys: r.cfg.Mapper.SearchKeys(it.Base)}
		if recovered[it.PID] {
			// found after a crash: the user may have edited it since our
			// create, so its state is not taken for ours (an echo)
			l.GoogleVersion, l.GoogleHash = "", ""
		}
		out.links = append(out.links, store.LinkWrite{Link: l, Existing: it.Existing, Entry: r.entry(it, it.Summary, []string{"create google"})})
	}
	if err := r.cfg.Store.PutLinks(ctx, conn.ID, out.links); err != nil {
		return out, err
	}
	out.linked, out.done = len(out.links), true
	return out, nil
}

func groupsOf(group string) []string {
	if group == myContacts {
		return []string{myContacts}
	}
	return []string{myContacts, group}
}

// createEach creates the contacts of a refused batch one by one; one
// Google refuses is held as a failed change of its person (the user
// retries it from the page), the others are created.
func (r *Runner) createEach(ctx context.Context, conn *store.Connection, g *google.Client, pacer *Pacer, todo []Item, batch []*people.Person) ([]*people.Person, error) {
	out := make([]*people.Person, len(batch))
	for i, gp := range batch {
		if err := r.paceGoogle(ctx, pacer, 1, 1); err != nil {
			return nil, err
		}
		p, err := g.Create(ctx, gp)
		if google.Refused(err) {
			now := r.now()
			if herr := r.cfg.Store.Hold(ctx, conn.ID, store.HeldChange{Side: "pipedrive", ObjectID: todo[i].PID, ChangeKind: "upsert",
				Kind: store.HeldFailed, Code: "google_refused", Reason: "Google refused the contact (" + answered(err) + "); the other contacts were created",
				FirstAt: now, LastAt: now}); herr != nil {
				return nil, herr
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, r.savePace(ctx, conn, pacer)
}

// findMarked reads the group's members and returns those carrying our
// marker, by person id: what a batch whose answer was lost created.
func (r *Runner) findMarked(ctx context.Context, g *google.Client, pacer *Pacer, group string) (map[string]*people.Person, error) {
	out := map[string]*people.Person{}
	if err := r.paceGoogle(ctx, pacer, 0, 0); err != nil {
		return nil, err
	}
	grp, err := g.GetGroup(ctx, group, 0)
	if errors.Is(err, google.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("firstsync: read group: %w", err)
	}
	if grp.MemberCount == 0 {
		return out, nil
	}
	if grp, err = g.GetGroup(ctx, group, int(grp.MemberCount)); err != nil {
		return nil, fmt.Errorf("firstsync: read group members: %w", err)
	}
	names := grp.MemberResourceNames
	for start := 0; start < len(names); start += google.MaxBatchGet {
		if err := r.paceGoogle(ctx, pacer, 1, 0); err != nil {
			return nil, err
		}
		got, err := g.BatchGet(ctx, names[start:min(start+google.MaxBatchGet, len(names))])
		if err != nil {
			return nil, fmt.Errorf("firstsync: read group members: %w", err)
		}
		for _, gp := range got {
			if gp == nil || gp.Metadata != nil && gp.Metadata.Deleted {
				continue
			}
			for _, cd := range gp.ClientData {
				if cd != nil && cd.Key == MarkerKey {
					out[cd.Value] = gp
				}
			}
		}
	}
	return out, nil
}

// pipedriveCreates creates a chunk's persons one by one, from item Next,
// as today's allowance permits. Before each create the chunk records the
// item and the time; a retried chunk finds that create's person (listing
// the user's persons added since) instead of making a second.
func (r *Runner) pipedriveCreates(ctx context.Context, conn *store.Connection, cl *account.Clients, c *store.FirstSyncChunk, items []Item) (outcome, error) {
	var out outcome
	fs := conn.FirstSync
	n, wait, err := r.reserveTokens(ctx, conn, len(items)-c.Next, costWrite, false)
	if err != nil {
		return out, err
	}
	if n == 0 {
		return dailyWait(out, wait, reasonAllowance), nil
	}
	l := limitsOf(fs, r.cfg.GoogleQuota)
	shown := fs.ContactSyncShown
	for i := c.Next; i < c.Next+n && i < len(items); {
		it := items[i]
		var per *pipedrive.Person
		recovered := false
		if !c.InFlightAt.IsZero() {
			found, err := r.recoverCreate(ctx, conn, cl, c, it)
			if err != nil {
				return out, err
			}
			per, recovered = found, found != nil
		}
		a, ok := it.Action(syncplan.Pipedrive)
		if per == nil && ok {
			in, later := r.createInput(conn, it, a.Contact, shown)
			c.InFlightAt = r.now()
			if err := r.cfg.Store.MarkChunk(ctx, conn.ID, c); err != nil {
				return out, err
			}
			created, err := cl.Pipedrive.CreatePerson(ctx, in)
			switch {
			case pipedrive.DailyBudget(err):
				c.InFlightAt = time.Time{}
				if err := r.cfg.Store.MarkChunk(ctx, conn.ID, c); err != nil {
					return out, err
				}
				return dailyWait(out, pipedrive.DailyBudgetRetryAt(r.now(), r.now(), time.UTC), reasonBudget), nil
			case err != nil && permanentPipedrive(err):
				now := r.now()
				if herr := r.cfg.Store.Hold(ctx, conn.ID, store.HeldChange{Side: "google", ObjectID: it.GID, ChangeKind: "upsert",
					Kind: store.HeldFailed, Code: "pipedrive_refused", Reason: "Pipedrive refused the person (" + answered(err) + "); the others were created",
					FirstAt: now, LastAt: now}); herr != nil {
					return out, herr
				}
			case err != nil:
				return out, fmt.Errorf("firstsync: create Pipedrive person: %w", err)
			default:
				per = created
				out.pipedriveWritten++
				if shown == "" {
					shown = "hidden"
					if per.HasContactSyncFields {
						shown = "shown"
					}
					out.shown = shown
				}
				if later != (pipedrive.PersonInput{}) && shown == "shown" {
					if p2, err := cl.Pipedrive.UpdatePerson(ctx, per.ID, later); err == nil {
						per = p2
					} else {
						logging.FromContext(ctx).Warn("firstsync: contact-sync fields of a new person not written; the next change writes them", "err", err)
					}
				}
			}
			if err := r.hook(ctx, StepPipedriveCreated); err != nil {
				return out, err
			}
		}
		if per != nil {
			lw, err := r.createdLink(conn, it, per)
			if err != nil {
				return out, err
			}
			if recovered {
				// found after a crash: the user may have edited it since
				// our create, so its state is not taken for ours (an echo)
				lw.Link.PipedriveVersion, lw.Link.PipedriveHash = "", ""
			}
			if err := r.cfg.Store.PutLinks(ctx, conn.ID, []store.LinkWrite{lw}); err != nil {
				return out, err
			}
			out.linked++
		}
		i++
		c.Next, c.InFlightAt = i, time.Time{}
		if !budgetLeft(cl, l) && i < len(items) {
			if err := r.cfg.Store.MarkChunk(ctx, conn.ID, c); err != nil {
				return out, err
			}
			return dailyWait(out, nextReset(r.now()).Add(pipedrive.DailyBudgetMargin), reasonBudget), nil
		}
	}
	if c.Next < len(items) {
		if err := r.cfg.Store.MarkChunk(ctx, conn.ID, c); err != nil {
			return out, err
		}
		return dailyWait(out, nextReset(r.now()).Add(pipedrive.DailyBudgetMargin), reasonAllowance), nil
	}
	out.done = true
	return out, nil
}

// createInput is the body of a person's create, and the contact-sync
// fields to write after it when the company's showing them is unknown.
func (r *Runner) createInput(conn *store.Connection, it Item, c contact.Contact, shown string) (in, later pipedrive.PersonInput) {
	pw := r.cfg.Mapper.PipedriveWriteFor(c, nil, "")
	in = pw.Input
	switch shown {
	case "":
		later.IM, later.PostalAddress, later.JobTitle = in.IM, in.PostalAddress, in.JobTitle
		fallthrough
	case "hidden":
		in.IM, in.PostalAddress, in.JobTitle = nil, nil, nil
	}
	owner := conn.PipedriveUserID
	in.OwnerID = &owner
	if pw.Org.Set && strings.TrimSpace(pw.Org.Name) != "" && it.OrgID != 0 {
		id := it.OrgID
		in.OrgID, in.SetOrg = &id, true
	}
	return in, later
}

// permanentPipedrive: Pipedrive refused the request itself (not the
// rate, the token or a passing fault).
func permanentPipedrive(err error) bool {
	var pe *pipedrive.APIError
	return errors.As(err, &pe) && pe.StatusCode >= 400 && pe.StatusCode < 500 &&
		pe.StatusCode != 401 && pe.StatusCode != 429 && !pipedrive.Transient(err)
}

// recoverCreate finds the person a create of item it made before the
// chunk was interrupted: its link if it got one, else a person added
// since the create was sent (whoever owns it now), not linked, sharing a
// key with the contact (the oldest such).
func (r *Runner) recoverCreate(ctx context.Context, conn *store.Connection, cl *account.Clients, c *store.FirstSyncChunk, it Item) (*pipedrive.Person, error) {
	if l, err := r.cfg.Store.GetLink(ctx, conn.ID, it.LinkID); err == nil && l.PipedriveID != "" {
		return cl.Pipedrive.GetPerson(ctx, mustInt(l.PipedriveID))
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	a, ok := it.Action(syncplan.Pipedrive)
	if !ok {
		return nil, nil
	}
	per, err := cl.Pipedrive.AddedSince(ctx, c.InFlightAt, func(per *pipedrive.Person) (bool, error) {
		if !syncplan.SharesKey(r.cfg.Mapper.FromPipedrive(per, ""), a.Contact) {
			return false, nil
		}
		_, err := r.cfg.Store.LinkByPipedrive(ctx, conn.ID, fmt.Sprint(per.ID))
		if errors.Is(err, store.ErrNotFound) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		return nil, fmt.Errorf("firstsync: %w", err)
	}
	return per, nil
}

// createdLink is the link of a person created for a Google contact.
func (r *Runner) createdLink(conn *store.Connection, it Item, per *pipedrive.Person) (store.LinkWrite, error) {
	b, err := json.Marshal(it.Base)
	if err != nil {
		return store.LinkWrite{}, fmt.Errorf("firstsync: encode base: %w", err)
	}
	org := ""
	if a, ok := it.Action(syncplan.Pipedrive); ok && per.OrgID != nil {
		org = a.Contact.Org
	}
	pd := syncplan.PipedriveSide(r.cfg.Mapper, per, org, conn.PipedriveUserID).Contact
	l := &store.Link{ID: it.LinkID, PipedriveID: fmt.Sprint(per.ID), GoogleID: it.GID, Base: b,
		PipedriveVersion: syncplan.PipedriveVersion(per.UpdateTime), PipedriveHash: pd.Hash(),
		GoogleVersion: it.GEtag, GoogleHash: it.GHash, UnsyncedAddresses: int64(it.GUnsynced),
		// a contact without a name got one in Pipedrive (it requires one):
		// the link says it is derived, so it never reaches Google
		DerivedName: contact.DerivedName(it.Base, pd),
		CreatedOn:   string(syncplan.Pipedrive), SearchKeys: r.cfg.Mapper.SearchKeys(it.Base)}
	return store.LinkWrite{Link: l, Existing: it.Existing, Entry: r.entry(it, it.Summary, []string{"create pipedrive"})}, nil
}

// resume sends a chain's next step, or ends the job when both chains are
// through: what a step redelivered after a crash must make sure of.
func (r *Runner) resume(ctx context.Context, conn *store.Connection, chain string) error {
	fs := conn.FirstSync
	if fs.GoogleNext >= fs.GoogleChunks && fs.PipedriveNext >= fs.PipedriveChunks {
		return r.finish(ctx, conn.ID, fs.Job)
	}
	var steps []queue.FirstSyncStep
	for _, c := range []string{queue.ChainGoogle, queue.ChainPipedrive} {
		if chain != "" && c != chain {
			continue
		}
		next, total, wait := chainState(fs, c)
		if next < total && !r.now().Before(wait) {
			steps = append(steps, queue.FirstSyncStep{ConnectionID: conn.ID, Job: fs.Job, Chain: c, Chunk: next})
		}
	}
	if len(steps) == 0 {
		return nil
	}
	return r.cfg.Publisher.PublishFirstSync(ctx, r.cfg.Topic, steps...)
}
