package applier

// Merges in Pipedrive (SPEC section 4). A merge arrives as two changes, in
// either order, each possibly duplicated or lost: the loser's delete with
// MergedToID, and the survivor's upsert with MergedFromID (v1: the
// survivor's merged.person). Either one does the whole merge, once the
// loser is confirmed gone by a re-read; the other then finds the loser's
// link gone and takes the normal path (an echo: nothing written). So the
// loser's delete never reaches the normal delete path while its link
// exists, and "edit beats delete" never re-creates it in Pipedrive.
//
// The merge, by what the two links hold:
//   - the loser has no link: nothing to do (the survivor syncs normally);
//   - the loser has no Google twin in the group: its link is dropped;
//   - the survivor has none (no link, or its contact is gone): the survivor
//     takes over the loser's link and contact;
//   - both have one: the survivor keeps the link with the most recent base
//     (its own on a tie); the other contact's synced fields are folded into
//     the kept one (syncplan.Fold: Pipedrive's rule, lists united), which is
//     written with its etag, and the other contact is removed (see
//     removeTwin) and its link dropped.
//
// Then the survivor is applied in the same call, so its Pipedrive record and
// the merged contact converge by the normal three-way merge. A survivor not
// owned by the user follows the ownership rule instead: the loser's contact
// leaves the group like the survivor's. A survivor that is gone (merged,
// then deleted) leaves the loser to the normal delete path.
//
// Every step is idempotent and ordered so that a crash between two of them
// is finished by the next delivery of either change: the fold writes only
// what differs, a removed contact counts as no twin, the "merged from"
// history entry is written once, and a takeover writes the survivor's link
// before dropping the loser's (both naming one contact reads as done).

import (
	"context"
	"encoding/json"
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

// mergeCase is one merge as found in the store and the services.
type mergeCase struct {
	lid, sid string      // loser and survivor person ids
	ll, sl   *store.Link // their links; sl may be nil
	survivor *pipedrive.Person
	lg, sg   *people.Person // their Google twins, nil unless present in the group
}

// merged handles a change carrying a merge hint. done means the change is
// fully applied (the merge and the survivor); otherwise the change takes
// the normal path.
func (a *Applier) merged(ctx context.Context, w *work) (done bool, _ error) {
	if w.ch.Side != queue.Pipedrive || w.ch.MergedToID == "" && w.ch.MergedFromID == "" {
		return false, nil
	}
	m, err := a.loadMerge(ctx, w)
	if err != nil || m == nil {
		return false, err
	}
	ctx = logging.With(ctx, "merged_from", m.lid, "merged_to", m.sid)
	switch {
	case m.survivor == nil || m.survivor.IsDeleted:
		logging.FromContext(ctx).Info("applier: merge survivor is gone; the loser is applied as a delete")
		return false, nil
	case m.survivor.OwnerID != w.conn.PipedriveUserID:
		err = a.mergeAway(ctx, w, m)
	default:
		err = a.fold(ctx, w, m)
	}
	if err != nil {
		return false, err
	}
	return true, a.applySurvivor(ctx, w, m.sid)
}

// loadMerge reads what the merge hint names; nil when there is nothing to
// merge (no loser link) or the hint is not confirmed (the loser exists).
func (a *Applier) loadMerge(ctx context.Context, w *work) (*mergeCase, error) {
	m := &mergeCase{}
	if w.ch.MergedToID != "" {
		// the loser's delete
		if w.person != nil && !w.person.IsDeleted || w.link == nil {
			return nil, nil
		}
		m.lid, m.sid, m.ll = w.pidString(), w.ch.MergedToID, w.link
		if !validIDs(m) {
			return nil, nil
		}
		var err error
		if m.sl, err = a.linkOf(ctx, w, m.sid); err != nil {
			return nil, err
		}
		if m.survivor, err = a.person(ctx, w, m.sid); err != nil {
			return nil, err
		}
	} else {
		// the survivor's upsert
		m.lid, m.sid, m.sl, m.survivor = w.ch.MergedFromID, w.pidString(), w.link, w.person
		if !validIDs(m) {
			return nil, nil
		}
		var err error
		if m.ll, err = a.linkOf(ctx, w, m.lid); err != nil || m.ll == nil {
			return nil, err
		}
		loser, err := a.person(ctx, w, m.lid)
		if err != nil {
			return nil, err
		}
		if loser != nil && !loser.IsDeleted {
			logging.FromContext(ctx).Warn("applier: merge hint names a person that still exists; ignored", "merged_from", m.lid)
			return nil, nil
		}
	}
	for _, l := range []*store.Link{m.ll, m.sl} {
		if l == nil || l.Pending == "" || w.own[l.Pending] {
			continue
		}
		if _, at, ok := parsePending(l.Pending); ok && a.now().Sub(at) < a.grace {
			return nil, errInFlight
		}
	}
	var err error
	if m.lg, err = a.liveTwin(ctx, w, m.ll); err != nil {
		return nil, err
	}
	if m.sl != nil && m.sl.GoogleID != m.ll.GoogleID {
		if m.sg, err = a.liveTwin(ctx, w, m.sl); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func validIDs(m *mergeCase) bool {
	l, errL := strconv.ParseInt(m.lid, 10, 64)
	s, errS := strconv.ParseInt(m.sid, 10, 64)
	return errL == nil && errS == nil && l > 0 && s > 0 && l != s
}

// linkOf returns the link of a Pipedrive person, nil if none.
func (a *Applier) linkOf(ctx context.Context, w *work, pid string) (*store.Link, error) {
	l, err := a.store.LinkByPipedrive(ctx, w.conn.ID, pid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("applier: link of merged person: %w", err)
	}
	return l, nil
}

// person reads a Pipedrive person, nil if not found.
func (a *Applier) person(ctx context.Context, w *work, pid string) (*pipedrive.Person, error) {
	id, _ := strconv.ParseInt(pid, 10, 64)
	p, err := w.cl.Pipedrive.GetPerson(ctx, id)
	if errors.Is(err, pipedrive.ErrNotFound) || errors.Is(err, pipedrive.ErrGone) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("applier: read merged Pipedrive person: %w", err)
	}
	return p, nil
}

// liveTwin reads the Google contact of l: nil if none, gone, or outside the
// group (never touched then).
func (a *Applier) liveTwin(ctx context.Context, w *work, l *store.Link) (*people.Person, error) {
	if l == nil || l.GoogleID == "" {
		return nil, nil
	}
	p := w.gperson
	if p == nil || l.GoogleID != w.gid {
		var err error
		p, err = w.cl.Google.Get(ctx, l.GoogleID)
		if errors.Is(err, google.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("applier: read Google contact of a merged person: %w", err)
		}
	}
	if p.Metadata != nil && p.Metadata.Deleted || !syncplan.InGroup(p, w.conn.GoogleGroup) {
		return nil, nil
	}
	return p, nil
}

// mergeAway: the survivor is owned by another user. Its own contact leaves
// the group when it is applied (ownership rule); the loser's leaves it now
// under the propagate policy (it stays in the user's contacts), and its
// link is dropped (the person it paired is gone).
func (a *Applier) mergeAway(ctx context.Context, w *work, m *mergeCase) error {
	if m.lg != nil && policy(w.conn) == syncplan.Propagate {
		if err := a.leaveGroup(ctx, &work{conn: w.conn, cl: w.cl, gid: m.lg.ResourceName, gperson: m.lg}); err != nil {
			return err
		}
	}
	if err := a.dropLink(ctx, w, m.ll); err != nil {
		return err
	}
	logging.FromContext(ctx).Info("applier: merged into a person of another user; the loser's contact left the group", "had_contact", m.lg != nil)
	return nil
}

// fold merges the two links (see the file comment).
func (a *Applier) fold(ctx context.Context, w *work, m *mergeCase) error {
	log := logging.FromContext(ctx)
	switch {
	case m.sl != nil && m.ll.GoogleID != "" && m.sl.GoogleID == m.ll.GoogleID:
		// a takeover already wrote the survivor's link
		return a.dropLink(ctx, w, m.ll)
	case m.lg == nil:
		if err := a.noteMerge(ctx, w, m, m.sl, a.mergeEntry(w, m, 0, "it had no Google contact to fold in")); err != nil {
			return err
		}
		log.Info("applier: merge: the loser had no Google contact; its link is dropped")
		return a.dropLink(ctx, w, m.ll)
	case m.sg == nil:
		return a.takeOverFolded(ctx, w, m)
	}
	keepLoser := m.ll.UpdatedAt.After(m.sl.UpdatedAt)
	keep, drop := m.sg, m.lg
	if keepLoser {
		keep, drop = m.lg, m.sg
	}
	folded := syncplan.Fold(a.mapper.FromGoogle(m.sg), a.mapper.FromGoogle(m.lg))
	fields, err := a.writeFold(ctx, w, keep, folded)
	if err != nil {
		return err
	}
	what := "the other Google contact"
	if !keepLoser {
		what = "its Google contact"
	}
	how := a.twinFate(w, drop)
	entry := a.mergeEntry(w, m, fields, "fields of "+what+" folded in; that contact "+how)
	if keepLoser {
		if err := a.removeTwin(ctx, w, drop); err != nil {
			return err
		}
		log.Info("applier: merge: folded; the survivor takes over the loser's more recent link", "fields", fields.String(), "other_contact", how)
		// the folded contact is the survivor's, by the survivor's base
		return a.takeOver(ctx, w, m, entry, m.sl.Base)
	}
	if err := a.noteMerge(ctx, w, m, m.sl, entry); err != nil {
		return err
	}
	if err := a.removeTwin(ctx, w, drop); err != nil {
		return err
	}
	log.Info("applier: merge: folded into the survivor's contact", "fields", fields.String(), "other_contact", how)
	return a.dropLink(ctx, w, m.ll)
}

// writeFold writes c into the Google contact gp (etag-guarded) and returns
// the fields that changed there.
func (a *Applier) writeFold(ctx context.Context, w *work, gp *people.Person, c contact.Contact) (contact.Fields, error) {
	p, mask := a.mapper.ApplyToGoogle(c, gp)
	if mask == "" {
		return 0, nil
	}
	fields := contact.Diff(a.mapper.FromGoogle(gp), c) &^ c.Unknown
	_, err := w.cl.Google.Update(ctx, p, strings.Split(mask, ","))
	if errors.Is(err, google.ErrStaleEtag) || errors.Is(err, google.ErrNotFound) {
		return 0, fmt.Errorf("%w: %w", errRedecide, err)
	}
	if err != nil {
		return 0, fmt.Errorf("applier: fold merged contact: %w", err)
	}
	return fields, a.step(ctx, StepRemoteWritten)
}

// twinFate says what removeTwin does to the contact gp. Under the
// propagate policy it is deleted, unless the user keeps it in another
// group too (or starred it): deleting a contact the user files elsewhere
// would reach outside the synced group, so it only leaves ours and stays a
// plain contact. Under unlink and ignore, which never delete for a
// Pipedrive change, it is left as it is, no longer linked.
func (a *Applier) twinFate(w *work, gp *people.Person) string {
	switch {
	case policy(w.conn) != syncplan.Propagate:
		return "was left as it is (delete policy " + string(policy(w.conn)) + ")"
	case inOtherGroup(gp, w.conn.GoogleGroup):
		return "left the group (it is in other groups too)"
	}
	return "was deleted"
}

// removeTwin removes the contact gp as twinFate says.
func (a *Applier) removeTwin(ctx context.Context, w *work, gp *people.Person) error {
	switch {
	case policy(w.conn) != syncplan.Propagate:
		return nil
	case inOtherGroup(gp, w.conn.GoogleGroup):
		return a.leaveGroup(ctx, &work{conn: w.conn, cl: w.cl, gid: gp.ResourceName, gperson: gp})
	}
	err := w.cl.Google.Delete(ctx, gp.ResourceName)
	if err != nil && !errors.Is(err, google.ErrNotFound) {
		return fmt.Errorf("applier: delete merged Google contact: %w", err)
	}
	return a.step(ctx, StepRemoteWritten)
}

func policy(c *store.Connection) syncplan.DeletePolicy {
	if c.DeletePolicy == "" {
		return syncplan.Propagate
	}
	return syncplan.DeletePolicy(c.DeletePolicy)
}

// inOtherGroup: gp is a member of a group other than ours and My Contacts.
func inOtherGroup(gp *people.Person, group string) bool {
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

// takeOverFolded: the survivor has no Google contact. It takes over the
// loser's, into which its Pipedrive record (Pipedrive's merge result) is
// folded; that record becomes the base, so the survivor's apply sees only
// what the loser's contact adds (list items, fields the survivor lacks)
// and writes it to Pipedrive, and never reads the survivor's record as a
// removal of the loser's items.
func (a *Applier) takeOverFolded(ctx context.Context, w *work, m *mergeCase) error {
	pw := &work{conn: w.conn, cl: w.cl}
	if err := a.setPerson(ctx, pw, m.survivor); err != nil {
		return err
	}
	base := a.mapper.FromPipedrive(m.survivor, pw.orgName)
	fields, err := a.writeFold(ctx, w, m.lg, syncplan.Fold(base, a.mapper.FromGoogle(m.lg)))
	if err != nil {
		return err
	}
	b, err := json.Marshal(base)
	if err != nil {
		return fmt.Errorf("applier: encode base: %w", err)
	}
	logging.FromContext(ctx).Info("applier: merge: the survivor takes over the loser's link and contact", "fields", fields.String())
	return a.takeOver(ctx, w, m, a.mergeEntry(w, m, fields, "the survivor took over its Google contact"), b)
}

// takeOver gives the survivor the loser's link: written under the
// survivor's deterministic id (so a concurrent first link of the survivor
// collides with it instead of doubling it) with the loser link's contact,
// history and the given base, after the survivor's old link (whose
// contact is gone or folded) is dropped; then the loser's link is dropped.
func (a *Applier) takeOver(ctx context.Context, w *work, m *mergeCase, entry store.HistoryEntry, base []byte) error {
	if m.sl != nil {
		if err := a.dropLink(ctx, w, m.sl); err != nil {
			return err
		}
	}
	nl := &store.Link{
		ID: store.LinkIDForPipedrive(m.sid), PipedriveID: m.sid, GoogleID: m.ll.GoogleID, Base: base,
		GoogleVersion: m.ll.GoogleVersion, GoogleHash: m.ll.GoogleHash, History: slices.Clone(m.ll.History),
	}
	addMergeEntry(nl, entry, m.lid)
	err := a.store.CreateLink(ctx, w.conn.ID, nl)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: %w", errRedecide, err)
	}
	if err != nil {
		return fmt.Errorf("applier: survivor takes over the link: %w", err)
	}
	return a.dropLink(ctx, w, m.ll)
}

// noteMerge records entry on l (the survivor's link), once.
func (a *Applier) noteMerge(ctx context.Context, w *work, m *mergeCase, l *store.Link, entry store.HistoryEntry) error {
	if l == nil || !addMergeEntry(l, entry, m.lid) {
		return nil
	}
	err := a.store.UpdateLink(ctx, w.conn.ID, l)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: %w", errRedecide, err)
	}
	if err != nil {
		return fmt.Errorf("applier: record merge: %w", err)
	}
	return nil
}

// mergeEntry is the survivor's history line: ids and field names only.
func (a *Applier) mergeEntry(w *work, m *mergeCase, fields contact.Fields, what string) store.HistoryEntry {
	return store.HistoryEntry{
		At: a.now(), Side: string(queue.Pipedrive), Action: mergeAction, Fields: fields.List(),
		Detail: mergedFrom(m.lid) + what + " (via " + string(w.ch.Source) + ")",
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
func (a *Applier) dropLink(ctx context.Context, w *work, l *store.Link) error {
	err := a.store.DeleteLink(ctx, w.conn.ID, l)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: %w", errRedecide, err)
	}
	if err != nil {
		return fmt.Errorf("applier: drop merged link: %w", err)
	}
	return nil
}

// applySurvivor applies the survivor as an upsert now, so both sides
// converge without waiting for its own change.
func (a *Applier) applySurvivor(ctx context.Context, w *work, sid string) error {
	ch := w.ch
	ch.ObjectID, ch.Kind, ch.MergedToID, ch.MergedFromID = sid, queue.Upsert, "", ""

	ctx = logging.With(ctx, "object", sid)
	for attempt := 1; ; attempt++ {
		err := a.applyOnce(ctx, w.conn, w.cl, ch, w.own)
		if !errors.Is(err, errRedecide) || attempt >= a.attempts {
			return err
		}
	}
}
