package firstsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/syncplan"
)

// Token costs of the Pipedrive calls a job makes (facts §5, v2).
const (
	costList   = 10
	costWrite  = 5
	costSearch = 20
)

// listing is both sides as listed.
type listing struct {
	persons      []PersonRecord
	contacts     []ContactRecord
	outsideGroup int
	syncToken    string
	orgByName    map[string]int64 // lowercased name → id
	hidden       contact.Fields
	shown        string // store.FirstSync.ContactSyncShown
	tokens       int    // Pipedrive tokens spent
	rate         pipedrive.RateLimit
}

// list lists both sides completely: every person the user owns (500 a
// page, organizations resolved from one listing of them), and every
// contact of the user (1,000 a page, the frozen parameters, kept when in
// the group); the sync token of that listing is kept for the end.
func (r *Runner) list(ctx context.Context, conn *store.Connection, cl *account.Clients, pacer *Pacer) (*listing, error) {
	l := &listing{orgByName: map[string]int64{}}
	orgName := map[int64]string{}
	for o, err := range cl.Pipedrive.Organizations(ctx) {
		if err != nil {
			return nil, fmt.Errorf("firstsync: list organizations: %w", err)
		}
		if !o.IsDeleted {
			orgName[o.ID] = o.Name
			if _, dup := l.orgByName[strings.ToLower(o.Name)]; !dup {
				l.orgByName[strings.ToLower(strings.TrimSpace(o.Name))] = o.ID
			}
		}
		if len(orgName)%500 == 1 {
			l.tokens += costList
		}
	}
	l.tokens += costList
	shown := false
	pages := 0
	opts := pipedrive.ListPersonsOptions{OwnerID: conn.PipedriveUserID, Limit: 500}
	for p, err := range cl.Pipedrive.Persons(ctx, opts) {
		if err != nil {
			return nil, fmt.Errorf("firstsync: list persons: %w", err)
		}
		if len(l.persons)%500 == 0 {
			pages++
		}
		if p.IsDeleted || p.OwnerID != conn.PipedriveUserID {
			continue
		}
		per := p
		org := ""
		if per.OrgID != nil {
			org = orgName[*per.OrgID]
		}
		if per.HasContactSyncFields {
			shown = true
		}
		l.persons = append(l.persons, PersonRecord{ID: strconv64(per.ID), Person: &per, Org: org, Contact: r.cfg.Mapper.FromPipedrive(&per, org)})
	}
	l.tokens += costList * max(pages, 1)
	switch {
	case len(l.persons) == 0:
		// unknown: the first create tells
	case shown:
		l.shown = "shown"
	default:
		l.shown = "hidden"
		l.hidden = contact.IM | contact.Address | contact.JobTitle
	}
	l.rate = cl.Pipedrive.RateLimitSeen()

	g := cl.Google.Unpaced()
	if _, err := g.GetGroup(ctx, conn.GoogleGroup, 0); errors.Is(err, google.ErrNotFound) {
		return nil, errGroupGone
	} else if err != nil {
		return nil, fmt.Errorf("firstsync: read the group: %w", err)
	}
	pageToken := ""
	for {
		if err := r.paceGoogle(ctx, pacer, 1, 0); err != nil {
			return nil, err
		}
		pg, err := g.ListPage(ctx, "", pageToken)
		if err != nil {
			return nil, fmt.Errorf("firstsync: list Google contacts: %w", err)
		}
		for _, p := range pg.People {
			if p == nil || p.ResourceName == "" || p.Metadata != nil && p.Metadata.Deleted {
				continue
			}
			if !syncplan.InGroup(p, conn.GoogleGroup) {
				l.outsideGroup++
				continue
			}
			l.contacts = append(l.contacts, ContactRecord{ID: p.ResourceName, Person: p, Contact: r.cfg.Mapper.FromGoogle(p)})
		}
		if pg.NextPageToken == "" {
			l.syncToken = g.StoreSyncToken(pg.NextSyncToken)
			break
		}
		pageToken = pg.NextPageToken
	}
	return l, nil
}

func strconv64(n int64) string { return fmt.Sprint(n) }

// paceGoogle waits until the pacer lets a call of that cost through, and
// records it.
func (r *Runner) paceGoogle(ctx context.Context, p *Pacer, reads, writes int) error {
	if d := p.Wait(r.now(), reads, writes); d > 0 {
		if err := r.cfg.Sleep(ctx, d); err != nil {
			return err
		}
	}
	p.Spend(r.now(), reads, writes)
	return nil
}

// plan is the plan step: list, decide, store the chunks (or, for a
// preview, only the counts), start the chains.
func (r *Runner) plan(ctx context.Context, conn *store.Connection, cl *account.Clients) error {
	log := logging.FromContext(ctx)
	job := conn.FirstSync
	pacer := &Pacer{Reads: r.cfg.GoogleQuota.CriticalReadsPerMinute, Writes: r.cfg.GoogleQuota.CriticalWritesPerMinute, Log: job.GooglePace}
	listedAt := r.now()
	l, err := r.list(ctx, conn, cl, pacer)
	if err != nil {
		return err
	}
	in := Input{Persons: l.persons, Contacts: l.contacts, Policy: syncplan.DeletePolicy(conn.DeletePolicy), Hidden: l.hidden, Now: r.now(), ListedAt: listedAt}
	{
		links, err := r.cfg.Store.AllLinks(ctx, conn.ID)
		if err != nil {
			return err
		}
		for _, lk := range links {
			rec := LinkRecord{ID: lk.ID, PID: lk.PipedriveID, GID: lk.GoogleID, Parked: lk.Parked, Review: lk.Review, DerivedName: lk.DerivedName}
			if len(lk.Base) > 0 {
				var b contact.Contact
				if json.Unmarshal(lk.Base, &b) == nil {
					rec.Base = &b
				}
			}
			in.Links = append(in.Links, rec)
		}
	}
	plan, err := MakePlan(in)
	if err != nil {
		return err
	}
	empty, emptyLinks, err := r.guardEmptySides(ctx, conn, &plan, in, l)
	if err != nil {
		return err
	}
	orgs := r.orgsToCreate(plan, l)
	limits := limitsFrom(l.rate, conn.PipedriveAuth == account.PipedriveOAuth, r.cfg.GoogleQuota, r.cfg.DailyBase, r.cfg.DailyShare)
	preview := r.preview(plan, l, orgs, limits)

	if job.Mode == store.FirstSyncPreview {
		_, err := r.cfg.Store.UpdateConnection(ctx, conn.ID, func(c *store.Connection) error {
			if c.FirstSync == nil || c.FirstSync.Job != job.Job {
				return nil
			}
			c.FirstSync.Phase, c.FirstSync.Preview, c.FirstSync.UpdatedAt = store.PhasePreview, preview, r.now()
			c.FirstSync.FinishedAt = r.now()
			return nil
		})
		log.Info("firstsync: preview ready", "create_in_google", plan.Counts.CreateInGoogle,
			"create_in_pipedrive", plan.Counts.CreateInPipedrive, "matched", plan.Counts.Matched, "ambiguous", plan.Counts.Ambiguous)
		return err
	}

	// Organizations first, once per distinct name, so every chunk knows
	// the id to link its persons to.
	spent := l.tokens
	for _, name := range orgs {
		o, err := cl.Pipedrive.CreateOrganization(ctx, name, conn.PipedriveUserID)
		if err != nil {
			return fmt.Errorf("firstsync: create organization: %w", err)
		}
		l.orgByName[strings.ToLower(name)] = o.ID
		spent += costWrite
	}
	setOrgIDs(plan, l.orgByName)
	if err := r.holdReviews(ctx, conn, plan, l); err != nil {
		return err
	}
	chunks, err := r.chunks(job.Job, plan)
	if err != nil {
		return err
	}
	if err := r.cfg.Store.PutChunks(ctx, conn.ID, chunks); err != nil {
		return err
	}
	gChunks, pChunks := 0, 0
	for _, c := range chunks {
		switch c.Chain {
		case queue.ChainGoogle:
			gChunks++
		case queue.ChainPipedrive:
			pChunks++
		}
	}
	now := r.now()
	_, err = r.cfg.Store.UpdateConnection(ctx, conn.ID, func(c *store.Connection) error {
		fs := c.FirstSync
		if fs == nil || fs.Job != job.Job || fs.Phase != store.PhaseListing {
			return nil
		}
		fs.Phase, fs.UpdatedAt, fs.Preview = store.PhaseWriting, now, preview
		fs.SyncToken, fs.ListedAt, fs.GooglePace = l.syncToken, listedAt, pacer.Log
		fs.GoogleChunks, fs.PipedriveChunks, fs.GoogleNext, fs.PipedriveNext = gChunks, pChunks, 0, 0
		fs.GoogleTotal = plan.Counts.CreateInGoogle + plan.Counts.UpdateInGoogle
		fs.PipedriveTotal = plan.Counts.CreateInPipedrive + plan.Counts.UpdateInPipedrive
		fs.LinksTotal = len(plan.Pairs) + len(plan.GoogleCreates) + len(plan.PipedriveCreates)
		fs.PipedrivePlan, fs.PipedriveBurst, fs.PipedriveDaily, fs.PipedriveAllowance = limits.Plan, limits.Burst, limits.Daily, limits.Allowance
		fs.ContactSyncShown = l.shown
		fs.EmptySide, fs.EmptyLinks = empty, emptyLinks
		fs.WritingAt = now
		charge(fs, spent, now)
		r.rate(fs, now)
		return nil
	})
	if err != nil {
		return err
	}
	if err := r.hook(ctx, StepPlanned); err != nil {
		return err
	}
	log.Info("firstsync: planned", "google_chunks", gChunks, "pipedrive_chunks", pChunks,
		"create_in_google", plan.Counts.CreateInGoogle, "create_in_pipedrive", plan.Counts.CreateInPipedrive,
		"pairs", len(plan.Pairs), "ambiguous", plan.Counts.Ambiguous)
	return r.startChains(ctx, conn.ID, job.Job, gChunks, pChunks)
}

// startChains publishes the first step of each chain, or finishes a job
// with nothing to write.
func (r *Runner) startChains(ctx context.Context, connID, job string, gChunks, pChunks int) error {
	var steps []queue.FirstSyncStep
	if gChunks > 0 {
		steps = append(steps, queue.FirstSyncStep{ConnectionID: connID, Job: job, Chain: queue.ChainGoogle})
	}
	if pChunks > 0 {
		steps = append(steps, queue.FirstSyncStep{ConnectionID: connID, Job: job, Chain: queue.ChainPipedrive})
	}
	if len(steps) == 0 {
		return r.finish(ctx, connID, job)
	}
	return r.cfg.Publisher.PublishFirstSync(ctx, r.cfg.Topic, steps...)
}

// orgsToCreate are the distinct organization names the job's Pipedrive
// writes need that the company does not have yet.
func (r *Runner) orgsToCreate(p Plan, l *listing) []string {
	seen := map[string]bool{}
	var out []string
	for _, it := range append(append([]Item{}, p.PipedriveCreates...), p.Pairs...) {
		a, ok := it.Action(syncplan.Pipedrive)
		if !ok || a.Fields&contact.Org == 0 {
			continue
		}
		name := strings.TrimSpace(a.Contact.Org)
		k := strings.ToLower(name)
		if name == "" || seen[k] {
			continue
		}
		seen[k] = true
		if _, ok := l.orgByName[k]; !ok {
			out = append(out, name)
		}
	}
	return out
}

// setOrgIDs gives each Pipedrive write the id of its organization.
func setOrgIDs(p Plan, byName map[string]int64) {
	for _, l := range [][]Item{p.PipedriveCreates, p.Pairs} {
		for i := range l {
			if a, ok := l[i].Action(syncplan.Pipedrive); ok && a.Fields&contact.Org != 0 {
				l[i].OrgID = byName[strings.ToLower(strings.TrimSpace(a.Contact.Org))]
			}
		}
	}
}

// holdReviews holds the records of ambiguous groups for the user's review:
// a held change with the candidates, and a review link so that their live
// changes are held too instead of creating a twin the user did not choose.
func (r *Runner) holdReviews(ctx context.Context, conn *store.Connection, p Plan, l *listing) error {
	now := r.now()
	var links []store.LinkWrite
	for _, rv := range p.Reviews {
		reason := fmt.Sprintf("it matches several records of the other side by %s", rv.By)
		names := l.names()
		for _, pid := range rv.Persons {
			links = append(links, store.LinkWrite{Link: &store.Link{ID: store.LinkIDForPipedrive(pid), PipedriveID: pid, Review: "ambiguous", ReviewCandidates: rv.Contacts}})
			if err := r.cfg.Store.Hold(ctx, conn.ID, store.HeldChange{Side: "pipedrive", ObjectID: pid, ChangeKind: "upsert",
				Kind: store.HeldReview, Code: "ambiguous", Reason: reason, Candidates: rv.Contacts, Name: names["p"+pid], FirstAt: now, LastAt: now}); err != nil {
				return err
			}
		}
		for _, gid := range rv.Contacts {
			links = append(links, store.LinkWrite{Link: &store.Link{ID: store.LinkIDForGoogle(gid), GoogleID: gid, Review: "ambiguous", ReviewCandidates: rv.Persons}})
			if err := r.cfg.Store.Hold(ctx, conn.ID, store.HeldChange{Side: "google", ObjectID: gid, ChangeKind: "upsert",
				Kind: store.HeldReview, Code: "ambiguous", Reason: reason, Candidates: rv.Persons, Name: names["g"+gid], FirstAt: now, LastAt: now}); err != nil {
				return err
			}
		}
	}
	if len(links) == 0 {
		return nil
	}
	return r.cfg.Store.PutLinks(ctx, conn.ID, links)
}

// chunks cuts the plan: Google's chain takes the pairs (their Google
// writes in batches, their Pipedrive writes one by one: both sides of a
// pair in one chain) and then the Google creates in batches; Pipedrive's
// chain the Pipedrive creates. The records the listing missed go in a
// chunk of their own, checked by the applier at the end.
func (r *Runner) chunks(job string, p Plan) ([]store.FirstSyncChunk, error) {
	var out []store.FirstSyncChunk
	add := func(chain string, items []Item, size int) error {
		for start := 0; start < len(items); start += size {
			b, err := encodeItems(items[start:min(start+size, len(items))])
			if err != nil {
				return err
			}
			n := 0
			for _, c := range out {
				if c.Chain == chain {
					n++
				}
			}
			out = append(out, store.FirstSyncChunk{Job: job, Chain: chain, Index: n, Items: b})
		}
		return nil
	}
	if err := add(queue.ChainGoogle, p.Pairs, r.cfg.GoogleChunk); err != nil {
		return nil, err
	}
	if err := add(queue.ChainGoogle, p.GoogleCreates, r.cfg.GoogleChunk); err != nil {
		return nil, err
	}
	if err := add(queue.ChainPipedrive, p.PipedriveCreates, r.cfg.PipedriveChunk); err != nil {
		return nil, err
	}
	if len(p.Missing) > 0 {
		b, err := json.Marshal(p.Missing)
		if err != nil {
			return nil, err
		}
		out = append(out, store.FirstSyncChunk{Job: job, Chain: chainMissing, Items: b})
	}
	return out, nil
}

// chainMissing holds the records to check at the end (not a chain).
const chainMissing = "missing"

// errGroupGone: the chosen group no longer exists.
var errGroupGone = errors.New("the chosen Google contact group no longer exists; choose a group on the settings page")

// guardEmptySides is the empty-side guard of a full listing: a side that
// lists nobody while more links than the brake's minimum exist is far more
// likely a wrong group or a lost permission than a user who deleted
// everything. The linked records it no longer shows are held as braked
// deletes for the user (not checked by the applier), and the connection
// pauses when the job ends. It returns the side ("" none).
func (r *Runner) guardEmptySides(ctx context.Context, conn *store.Connection, p *Plan, in Input, l *listing) (string, int, error) {
	var linksP, linksG int
	for _, lk := range in.Links {
		if lk.Review != "" || lk.Parked != "" {
			continue
		}
		if lk.PID != "" {
			linksP++
		}
		if lk.GID != "" {
			linksG++
		}
	}
	side, links := syncplan.Side(""), 0
	switch {
	case syncplan.CheckEmptySide(syncplan.Google, linksG, len(l.contacts)) != nil:
		side, links = syncplan.Google, linksG
	case syncplan.CheckEmptySide(syncplan.Pipedrive, linksP, len(l.persons)) != nil:
		side, links = syncplan.Pipedrive, linksP
	default:
		return "", 0, nil
	}
	now := r.now()
	kept := p.Missing[:0]
	for _, m := range p.Missing {
		if m.Side != side {
			kept = append(kept, m)
			continue
		}
		kind := "delete"
		if side == syncplan.Pipedrive {
			kind = "upsert" // the applier reads the person to see what happened
		}
		if err := r.cfg.Store.Hold(ctx, conn.ID, store.HeldChange{Side: string(side), ObjectID: m.ID, ChangeKind: kind,
			Kind: store.HeldBrake, Code: "empty_side", Reason: "the other side suddenly showed no contacts at all",
			FirstAt: now, LastAt: now}); err != nil {
			return "", 0, err
		}
	}
	p.Missing = kept
	p.Counts.Missing = len(kept)
	logging.FromContext(ctx).Warn("firstsync: empty-side guard: the side lists nobody while links exist", "side", string(side))
	return string(side), links, nil
}

// names are the listed records' names by "p"+person id and "g"+resource
// name (shown to the owner in the preview and the held list only).
func (l *listing) names() map[string]string {
	out := make(map[string]string, len(l.persons)+len(l.contacts))
	for _, pr := range l.persons {
		out["p"+pr.ID] = pr.Contact.DisplayName()
	}
	for _, cr := range l.contacts {
		out["g"+cr.ID] = cr.Contact.DisplayName()
	}
	return out
}
