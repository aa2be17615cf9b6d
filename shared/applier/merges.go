package applier

// Pipedrive merges: gathering the facts syncplan.PlanMerge needs and
// running its steps. The table and its reasons are in syncplan/pdmerge.go.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/syncplan"
)

// mergeAction is the history action of a merge entry.
const mergeAction = "merge"

// merging is one merge as found in the store and the services.
type merging struct {
	lid, sid string      // loser and survivor person ids
	ll, sl   *store.Link // their links; sl may be nil
	survivor *pipedrive.Person
	lg, sg   *people.Person // their Google twins, nil unless present in the group
}

// merge handles a change carrying a merge hint. It returns the survivor's
// id when the merge was made (the survivor is then applied as an upsert),
// "" when the change takes the normal path.
func (a *Applier) merge(ctx context.Context, r *run, p *pair) (survivor string, _ error) {
	if r.ch.Side != queue.Pipedrive || r.ch.MergedToID == "" && r.ch.MergedFromID == "" {
		return "", nil
	}
	m, err := a.gatherMerge(ctx, r, p)
	if err != nil || m == nil {
		return "", err
	}
	plan := syncplan.PlanMerge(a.mergeFacts(r, m))
	if plan.Normal {
		logging.FromContext(ctx).Info("applier: merge survivor is gone; the loser is applied as a delete")
		return "", nil
	}
	ctx = logging.With(ctx, "merged_from", m.lid, "merged_to", m.sid)
	for _, op := range plan.Ops {
		if err := a.mergeStep(ctx, r, m, plan, op); err != nil {
			return "", err
		}
	}
	logging.FromContext(ctx).Info("applier: merge applied", "note", plan.Note)
	return m.sid, nil
}

// gatherMerge reads what the merge hint names; nil when there is nothing to
// merge (no loser link) or the hint is not confirmed (the loser exists).
func (a *Applier) gatherMerge(ctx context.Context, r *run, p *pair) (*merging, error) {
	m := &merging{}
	var err error
	if r.ch.MergedToID != "" { // the loser's delete
		if p.person != nil && !p.person.IsDeleted || p.link == nil {
			return nil, nil
		}
		m.lid, m.sid, m.ll = p.pidString(), r.ch.MergedToID, p.link
		if !validMergeIDs(m) {
			return nil, nil
		}
		if m.sl, err = a.linkOf(ctx, r, m.sid); err != nil {
			return nil, err
		}
		if m.survivor, err = a.person(ctx, r, m.sid); err != nil {
			return nil, err
		}
	} else { // the survivor's upsert
		m.lid, m.sid, m.sl, m.survivor = r.ch.MergedFromID, p.pidString(), p.link, p.person
		if !validMergeIDs(m) {
			return nil, nil
		}
		if m.ll, err = a.linkOf(ctx, r, m.lid); err != nil || m.ll == nil {
			return nil, err
		}
		loser, err := a.person(ctx, r, m.lid)
		if err != nil {
			return nil, err
		}
		if loser != nil && !loser.IsDeleted {
			logging.FromContext(ctx).Warn("applier: merge hint names a person that still exists; ignored", "merged_from", m.lid)
			return nil, nil
		}
	}
	for _, l := range []*store.Link{m.ll, m.sl} {
		if l == nil {
			continue
		}
		if _, st := syncplan.CheckIntent(l.Pending, a.now(), a.grace, r.own[l.Pending]); st == syncplan.InFlight {
			return nil, errInFlight
		}
	}
	if m.lg, err = a.liveTwin(ctx, r, p, m.ll); err != nil {
		return nil, err
	}
	if m.sl != nil && m.sl.GoogleID != m.ll.GoogleID {
		if m.sg, err = a.liveTwin(ctx, r, p, m.sl); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (a *Applier) mergeFacts(r *run, m *merging) syncplan.MergeFacts {
	f := syncplan.MergeFacts{
		Survivor:       syncplan.PipedriveSide(a.mapper, m.survivor, "", r.conn.PipedriveUserID).State,
		SurvivorLinked: m.sl != nil,
		SameContact:    m.sl != nil && m.ll.GoogleID != "" && m.sl.GoogleID == m.ll.GoogleID,
		LoserTwin:      m.lg != nil,
		SurvivorTwin:   m.sg != nil,
		LoserNewer:     m.sl != nil && m.ll.UpdatedAt.After(m.sl.UpdatedAt),
		Policy:         syncplan.DeletePolicy(r.conn.DeletePolicy),
	}
	dropped := m.lg
	if f.LoserNewer {
		dropped = m.sg
	}
	f.DroppedElsewhere = inOtherGroup(dropped, r.conn.GoogleGroup)
	return f
}

func validMergeIDs(m *merging) bool {
	l, errL := strconv.ParseInt(m.lid, 10, 64)
	s, errS := strconv.ParseInt(m.sid, 10, 64)
	return errL == nil && errS == nil && l > 0 && s > 0 && l != s
}

// linkOf returns the link of a Pipedrive person, nil if none.
func (a *Applier) linkOf(ctx context.Context, r *run, pid string) (*store.Link, error) {
	l, err := a.store.LinkByPipedrive(ctx, r.conn.ID, pid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("applier: link of merged person: %w", err)
	}
	return l, nil
}

// person reads a Pipedrive person, nil if not found.
func (a *Applier) person(ctx context.Context, r *run, pid string) (*pipedrive.Person, error) {
	p, err := r.cl.Pipedrive.GetPerson(ctx, mustID(pid))
	if pipedrive.Gone(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("applier: read merged Pipedrive person: %w", err)
	}
	return p, nil
}

// liveTwin reads the Google contact of l: nil if none, gone, or outside the
// group (never touched then).
func (a *Applier) liveTwin(ctx context.Context, r *run, p *pair, l *store.Link) (*people.Person, error) {
	if l == nil || l.GoogleID == "" {
		return nil, nil
	}
	gp := p.gp
	if gp == nil || l.GoogleID != p.gid {
		g, err := a.google(ctx, r)
		if err != nil {
			return nil, err
		}
		gp, err = g.Get(ctx, l.GoogleID)
		if errors.Is(err, google.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("applier: read Google contact of a merged person: %w", err)
		}
	}
	if gp.Metadata != nil && gp.Metadata.Deleted || !syncplan.InGroup(gp, r.conn.GoogleGroup) {
		return nil, nil
	}
	return gp, nil
}

// inOtherGroup: gp is a member of a group other than ours and My Contacts.
func inOtherGroup(gp *people.Person, group string) bool {
	if gp == nil {
		return false
	}
	for _, m := range gp.Memberships {
		if m == nil || m.ContactGroupMembership == nil {
			continue
		}
		if g := m.ContactGroupMembership.ContactGroupResourceName; g != group && g != myContacts {
			return true
		}
	}
	return false
}

// mergeStep runs one step of a merge plan.
func (a *Applier) mergeStep(ctx context.Context, r *run, m *merging, plan syncplan.MergePlan, op syncplan.MergeOp) error {
	switch op {
	case syncplan.MergeLeaveLoserTwin:
		return a.leaveGroup(ctx, r, m.lg)
	case syncplan.MergeFoldIntoSurvivorTwin:
		return a.writeFold(ctx, r, m.sg, syncplan.Fold(a.mapper.FromGoogle(m.sg), a.mapper.FromGoogle(m.lg)))
	case syncplan.MergeFoldIntoLoserTwin:
		return a.writeFold(ctx, r, m.lg, syncplan.Fold(a.mapper.FromGoogle(m.sg), a.mapper.FromGoogle(m.lg)))
	case syncplan.MergeFoldRecordIntoLoserTwin:
		rec, err := a.survivorRecord(ctx, r, m)
		if err != nil {
			return err
		}
		return a.writeFold(ctx, r, m.lg, syncplan.Fold(rec, a.mapper.FromGoogle(m.lg)))
	case syncplan.MergeRemoveSurvivorTwin:
		return a.removeTwin(ctx, r, m.sg, plan.Fate)
	case syncplan.MergeRemoveLoserTwin:
		return a.removeTwin(ctx, r, m.lg, plan.Fate)
	case syncplan.MergeNote:
		return a.noteMerge(ctx, r, m, m.sl, plan.Note)
	case syncplan.MergeTakeOverWithRecord:
		rec, err := a.survivorRecord(ctx, r, m)
		if err != nil {
			return err
		}
		base, err := marshalBase(rec)
		if err != nil {
			return err
		}
		return a.takeOver(ctx, r, m, plan.Note, base)
	case syncplan.MergeTakeOverWithBase:
		return a.takeOver(ctx, r, m, plan.Note, m.sl.Base)
	case syncplan.MergeDropLoserLink:
		return a.dropLink(ctx, r, m.ll)
	}
	return fmt.Errorf("applier: unknown merge step %d", op)
}

// survivorRecord is the survivor's Pipedrive record (Pipedrive's merge
// result), with its organization.
func (a *Applier) survivorRecord(ctx context.Context, r *run, m *merging) (contact.Contact, error) {
	sp := &pair{}
	if err := a.setPerson(ctx, r, sp, m.survivor); err != nil {
		return contact.Contact{}, err
	}
	rec := a.mapper.FromPipedrive(m.survivor, sp.org)
	// as the survivor compares with a Google contact: a name the sync chose
	// for Pipedrive is no name, a Google type held as its nearest label is
	// that type
	if m.sl != nil {
		rec = contact.UnderiveName(rec, m.sl.DerivedName)
	}
	if m.lg != nil {
		rec = contact.AlignPipedriveLabels(rec, a.mapper.FromGoogle(m.lg))
	}
	return rec, nil
}

// writeFold writes c into the Google contact gp (etag-guarded).
func (a *Applier) writeFold(ctx context.Context, r *run, gp *people.Person, c contact.Contact) error {
	p, mask := a.mapper.ApplyToGoogle(c, gp)
	if mask == "" {
		return nil
	}
	g, err := a.google(ctx, r)
	if err != nil {
		return err
	}
	if _, err := g.Update(ctx, p, strings.Split(mask, ",")); err != nil {
		return fmt.Errorf("applier: fold merged contact: %w", err)
	}
	return a.step(ctx, StepRemoteWritten)
}

// removeTwin removes the contact gp as fate says.
func (a *Applier) removeTwin(ctx context.Context, r *run, gp *people.Person, fate syncplan.TwinFate) error {
	switch fate {
	case syncplan.FateKeep:
		return nil
	case syncplan.FateLeave:
		return a.leaveGroup(ctx, r, gp)
	}
	g, err := a.google(ctx, r)
	if err != nil {
		return err
	}
	if err := g.Delete(ctx, gp.ResourceName); err != nil && !errors.Is(err, google.ErrNotFound) {
		return fmt.Errorf("applier: delete merged Google contact: %w", err)
	}
	return a.step(ctx, StepRemoteWritten)
}

// takeOver gives the survivor the loser's link: written under the
// survivor's deterministic id (so a concurrent first link of the survivor
// collides with it instead of doubling it) with the loser link's contact,
// history and the given base, after the survivor's old link (whose
// contact is gone or folded) is dropped; then the loser's link is dropped.
func (a *Applier) takeOver(ctx context.Context, r *run, m *merging, note string, base []byte) error {
	if m.sl != nil {
		if err := a.dropLink(ctx, r, m.sl); err != nil {
			return err
		}
	}
	nl := &store.Link{
		ID: store.LinkIDForPipedrive(m.sid), PipedriveID: m.sid, GoogleID: m.ll.GoogleID, Base: base,
		GoogleVersion: m.ll.GoogleVersion, GoogleHash: m.ll.GoogleHash, History: slices.Clone(m.ll.History),
		// the Google contact is the loser's; the name is the survivor's
		UnsyncedAddresses: m.ll.UnsyncedAddresses,
	}
	if m.sl != nil {
		nl.DerivedName = m.sl.DerivedName
	}
	addMergeEntry(nl, a.mergeEntry(r, m, note), m.lid)
	if err := a.store.CreateLink(ctx, r.conn.ID, nl); err != nil {
		return fmt.Errorf("applier: survivor takes over the link: %w", err)
	}
	return a.dropLink(ctx, r, m.ll)
}

// noteMerge records the merge on l (the survivor's link), once.
func (a *Applier) noteMerge(ctx context.Context, r *run, m *merging, l *store.Link, note string) error {
	if l == nil || !addMergeEntry(l, a.mergeEntry(r, m, note), m.lid) {
		return nil
	}
	if err := a.store.UpdateLink(ctx, r.conn.ID, l); err != nil {
		return fmt.Errorf("applier: record merge: %w", err)
	}
	return nil
}

// mergeEntry is the survivor's history line: ids and words only.
func (a *Applier) mergeEntry(r *run, m *merging, note string) store.HistoryEntry {
	return store.HistoryEntry{
		At: a.now(), Side: string(queue.Pipedrive), Action: mergeAction,
		Detail: mergedFrom(m.lid) + note + " (via " + string(r.ch.Source) + ")",
	}
}

func mergedFrom(lid string) string { return "merged from Pipedrive person " + lid + ": " }

// addMergeEntry adds e unless l already records the merge of lid.
func addMergeEntry(l *store.Link, e store.HistoryEntry, lid string) bool {
	for _, h := range l.History {
		if h.Action == mergeAction && strings.HasPrefix(h.Detail, mergedFrom(lid)) {
			return false
		}
	}
	l.AddHistory(e)
	return true
}

// dropLink deletes l (only if unchanged since read).
func (a *Applier) dropLink(ctx context.Context, r *run, l *store.Link) error {
	if err := a.store.DeleteLink(ctx, r.conn.ID, l); err != nil {
		return fmt.Errorf("applier: drop merged link: %w", err)
	}
	return nil
}
