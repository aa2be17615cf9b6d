package applier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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

// MarkerKey is the clientData key of the Pipedrive person id written on
// every Google contact the applier creates: it finds the outcome of a
// create whose answer was lost, and recognises our own creates.
const MarkerKey = "contactsync.pipedrive_id"

const myContacts = "contactGroups/myContacts"

// work is one attempt at one change.
type work struct {
	conn *store.Connection
	cl   *account.Clients
	ch   queue.Change

	link   *store.Link // nil: no link
	stored bool        // link exists in Firestore (readAt set)
	dirty  bool        // link changed in memory (recovered intent)
	base   *contact.Contact

	pid     int64 // Pipedrive person id, 0 unknown
	gid     string
	person  *pipedrive.Person // nil: absent or not read
	orgName string
	gperson *people.Person  // nil: absent or not read
	matched string          // how the twin was found, for history
	own     map[string]bool // Pending intents written by this Apply call
	// pdKept are fields a Pipedrive write left as Pipedrive has them
	// (contact.PipedriveWrite.Kept, or an address Pipedrive refused): the
	// base keeps Pipedrive's value and the history says why.
	pdKept        contact.Fields
	pdAddrRefused bool
}

func (w *work) pidString() string {
	if w.pid == 0 {
		return ""
	}
	return strconv.FormatInt(w.pid, 10)
}

// applyOnce reads, decides, writes and commits once.
func (a *Applier) applyOnce(ctx context.Context, conn *store.Connection, cl *account.Clients, ch queue.Change, own map[string]bool) error {
	w := &work{conn: conn, cl: cl, ch: ch, own: own}
	if err := a.loadLink(ctx, w); err != nil {
		return err
	}
	if err := a.readSides(ctx, w); err != nil {
		return err
	}
	if done, err := a.merged(ctx, w); done || err != nil { // Pipedrive merges: merge.go
		return err
	}
	if w.link != nil && w.link.Pending != "" {
		if err := a.recoverIntent(ctx, w); err != nil {
			return err
		}
	}
	if w.link != nil && w.link.Parked != "" {
		if done, err := a.unpark(ctx, w); done || err != nil {
			return err
		}
	}
	if w.link == nil {
		held, err := a.findTwin(ctx, w)
		if err != nil || held {
			return err
		}
	}
	pd := syncplan.PipedriveSide(a.mapper, w.person, w.orgName, conn.PipedriveUserID)
	g := syncplan.GoogleSide(a.mapper, w.gperson, conn.GoogleGroup)
	// We write a name whole and Pipedrive splits it its own way: the same
	// whole name is no change (compared against the base, else the twin).
	if w.base != nil {
		pd.Contact = contact.AlignPipedriveName(pd.Contact, *w.base)
	} else if g.State == syncplan.Present {
		pd.Contact = contact.AlignPipedriveName(pd.Contact, g.Contact)
	}
	var hidden contact.Fields // what this Pipedrive company does not show; unknown without a person
	if w.person != nil {
		hidden = pd.Contact.Unknown & (contact.IM | contact.Address | contact.JobTitle)
	}
	plan, err := syncplan.Decide(syncplan.Input{
		Base: w.base, Pipedrive: pd, Google: g, Policy: syncplan.DeletePolicy(conn.DeletePolicy),
		Now: a.now(), PipedriveHidden: hidden,
	})
	if err != nil {
		return err
	}
	if err := a.execute(ctx, w, plan); err != nil {
		return err
	}
	return a.commit(ctx, w, plan, pd.State == syncplan.Present && g.State == syncplan.Present)
}

// loadLink finds the link of the changed record (one query).
func (a *Applier) loadLink(ctx context.Context, w *work) error {
	var l *store.Link
	var err error
	switch w.ch.Side {
	case queue.Pipedrive:
		id, perr := strconv.ParseInt(w.ch.ObjectID, 10, 64)
		if perr != nil || id <= 0 {
			return fmt.Errorf("%w: Pipedrive person id %q", queue.ErrBadMessage, w.ch.ObjectID)
		}
		w.pid = id
		l, err = a.store.LinkByPipedrive(ctx, w.conn.ID, w.ch.ObjectID)
	default:
		if !strings.HasPrefix(w.ch.ObjectID, "people/") {
			return fmt.Errorf("%w: Google resource name %q", queue.ErrBadMessage, w.ch.ObjectID)
		}
		w.gid = w.ch.ObjectID
		l, err = a.store.LinkByGoogle(ctx, w.conn.ID, w.ch.ObjectID)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("applier: load link: %w", err)
	}
	a.useLink(ctx, w, l)
	return nil
}

// useLink makes l the work's link: its ids and base.
func (a *Applier) useLink(ctx context.Context, w *work, l *store.Link) {
	w.link, w.stored = l, true
	if l.PipedriveID != "" {
		if id, err := strconv.ParseInt(l.PipedriveID, 10, 64); err == nil {
			w.pid = id
		}
	}
	if l.GoogleID != "" {
		w.gid = l.GoogleID
	}
	w.base = nil
	if len(l.Base) > 0 {
		var b contact.Contact
		if err := json.Unmarshal(l.Base, &b); err != nil {
			// a base that cannot be read is no base: the pair is merged
			// as freshly matched twins, which loses no data
			logging.FromContext(ctx).Error("applier: unreadable link base ignored", "link", l.ID, "err", err)
		} else {
			w.base = &b
		}
	}
}

// readSides reads the Pipedrive person and the Google contact the work
// knows ids of. A record that is not found is left nil (absent).
func (a *Applier) readSides(ctx context.Context, w *work) error {
	if err := a.readPipedrive(ctx, w); err != nil {
		return err
	}
	return a.readGoogle(ctx, w)
}

func (a *Applier) readPipedrive(ctx context.Context, w *work) error {
	w.person, w.orgName = nil, ""
	if w.pid == 0 {
		return nil
	}
	p, err := w.cl.Pipedrive.GetPerson(ctx, w.pid)
	if errors.Is(err, pipedrive.ErrNotFound) || errors.Is(err, pipedrive.ErrGone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("applier: read Pipedrive person: %w", err)
	}
	return a.setPerson(ctx, w, p)
}

// setPerson takes p as the Pipedrive side and resolves its organization's
// name (left empty, so unknown to the mapping, if it cannot be read).
func (a *Applier) setPerson(ctx context.Context, w *work, p *pipedrive.Person) error {
	w.person, w.orgName = p, ""
	if p.OrgID == nil || p.IsDeleted || p.OwnerID != w.conn.PipedriveUserID {
		return nil // no organization, or nothing of it will be synced
	}
	o, err := w.cl.Pipedrive.GetOrganization(ctx, *p.OrgID)
	switch {
	case errors.Is(err, pipedrive.ErrNotFound), errors.Is(err, pipedrive.ErrGone):
		return nil
	case err != nil:
		return fmt.Errorf("applier: read Pipedrive organization: %w", err)
	}
	if !o.IsDeleted {
		w.orgName = o.Name
	}
	return nil
}

func (a *Applier) readGoogle(ctx context.Context, w *work) error {
	w.gperson = nil
	if w.gid == "" {
		return nil
	}
	p, err := w.cl.Google.Get(ctx, w.gid)
	if errors.Is(err, google.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("applier: read Google contact: %w", err)
	}
	w.gperson = p
	return nil
}

// execute runs the plan's writes: Google first (etag-guarded, the likelier
// to need a re-decide), then Pipedrive. A create is preceded by its intent.
func (a *Applier) execute(ctx context.Context, w *work, plan syncplan.Plan) error {
	for _, side := range []syncplan.Side{syncplan.Google, syncplan.Pipedrive} {
		for _, act := range plan.Actions {
			if act.Side != side {
				continue
			}
			if act.Op == syncplan.Create {
				if err := a.writeIntent(ctx, w, side); err != nil {
					return err
				}
			}
			wrote, err := a.write(ctx, w, act)
			if err != nil {
				return err
			}
			if wrote {
				if err := a.step(ctx, StepRemoteWritten); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (a *Applier) step(ctx context.Context, s Step) error {
	if a.hook == nil {
		return nil
	}
	return a.hook(ctx, s)
}

// write performs one action and reports whether anything was sent.
func (a *Applier) write(ctx context.Context, w *work, act syncplan.Action) (bool, error) {
	switch {
	case act.Side == syncplan.Google && act.Op == syncplan.Create:
		return true, a.createGoogle(ctx, w, act.Contact)
	case act.Side == syncplan.Google && act.Op == syncplan.Update:
		return a.updateGoogle(ctx, w, act.Contact)
	case act.Side == syncplan.Google && act.Op == syncplan.Delete:
		err := w.cl.Google.Delete(ctx, w.gid)
		if err != nil && !errors.Is(err, google.ErrNotFound) {
			return false, fmt.Errorf("applier: delete Google contact: %w", err)
		}
		return true, nil
	case act.Side == syncplan.Google && act.Op == syncplan.Leave:
		return true, a.leaveGroup(ctx, w)
	case act.Side == syncplan.Pipedrive && act.Op == syncplan.Create:
		return true, a.createPipedrive(ctx, w, act.Contact)
	case act.Side == syncplan.Pipedrive && act.Op == syncplan.Update:
		return a.updatePipedrive(ctx, w, act.Contact)
	case act.Side == syncplan.Pipedrive && act.Op == syncplan.Delete:
		err := w.cl.Pipedrive.DeletePerson(ctx, w.pid)
		if err != nil && !errors.Is(err, pipedrive.ErrNotFound) && !errors.Is(err, pipedrive.ErrGone) {
			return false, fmt.Errorf("applier: delete Pipedrive person: %w", err)
		}
		return true, nil
	}
	return false, fmt.Errorf("applier: unknown action %s %s", act.Side, act.Op)
}

func (a *Applier) createGoogle(ctx context.Context, w *work, c contact.Contact) error {
	p, _ := a.mapper.ApplyToGoogle(c, nil)
	// My Contacts too, as the Contacts UI does: leaving the group later
	// then never removes the contact's last group
	groups := []string{myContacts}
	if w.conn.GoogleGroup != myContacts {
		groups = append(groups, w.conn.GoogleGroup)
	}
	p.Memberships = nil
	for _, g := range groups {
		p.Memberships = append(p.Memberships, &people.Membership{
			ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: g}})
	}
	p.ClientData = []*people.ClientData{{Key: MarkerKey, Value: w.pidString()}}
	out, err := w.cl.Google.Create(ctx, p)
	if errors.Is(err, google.ErrUncertain) {
		logging.FromContext(ctx).Warn("applier: Google create outcome unknown; looking for it", "err", err)
		found, ferr := a.findGoogleByMarker(ctx, w, w.pidString())
		if ferr != nil {
			return ferr
		}
		if found == nil {
			return fmt.Errorf("%w: Google create: %w", errUnsure, err)
		}
		out, err = found, nil
	}
	if err != nil {
		return fmt.Errorf("applier: create Google contact: %w", err)
	}
	w.gid, w.gperson = out.ResourceName, out
	return nil
}

func (a *Applier) updateGoogle(ctx context.Context, w *work, c contact.Contact) (bool, error) {
	if w.gperson == nil {
		return false, errRedecide
	}
	p, mask := a.mapper.ApplyToGoogle(c, w.gperson)
	if mask == "" {
		return false, nil
	}
	out, err := w.cl.Google.Update(ctx, p, strings.Split(mask, ","))
	if errors.Is(err, google.ErrStaleEtag) || errors.Is(err, google.ErrNotFound) {
		return false, fmt.Errorf("%w: %w", errRedecide, err)
	}
	if err != nil {
		return false, fmt.Errorf("applier: update Google contact: %w", err)
	}
	w.gperson = out
	return true, nil
}

// leaveGroup removes the contact from the connection's group; if that is
// its last group it is first added to My Contacts, which Google requires.
func (a *Applier) leaveGroup(ctx context.Context, w *work) error {
	group := w.conn.GoogleGroup
	other := false
	if w.gperson != nil {
		for _, m := range w.gperson.Memberships {
			if m != nil && m.ContactGroupMembership != nil && m.ContactGroupMembership.ContactGroupResourceName != group {
				other = true
			}
		}
	}
	if !other && group != myContacts {
		if _, err := w.cl.Google.ModifyMembers(ctx, myContacts, []string{w.gid}, nil); err != nil {
			return fmt.Errorf("applier: add to My Contacts: %w", err)
		}
	}
	resp, err := w.cl.Google.ModifyMembers(ctx, group, nil, []string{w.gid})
	if err != nil {
		return fmt.Errorf("applier: leave group: %w", err)
	}
	if resp != nil && len(resp.CanNotRemoveLastContactGroupResourceNames) > 0 {
		// our view of the memberships was stale
		return fmt.Errorf("%w: the group is the contact's last", errRedecide)
	}
	return nil
}

func (a *Applier) createPipedrive(ctx context.Context, w *work, c contact.Contact) error {
	pw := a.mapper.PipedriveWriteFor(c, nil, "")
	in, want := pw.Input, pw.Org
	// Whether the company shows the contact-sync fields is known from this
	// contact's person (then the plan left hidden ones out), else from the
	// last person the client saw. Without either they are not sent blind
	// (writing them without contact sync is undocumented): the create's
	// answer shows whether the company has them, and a PATCH follows if so.
	var later pipedrive.PersonInput
	if w.person == nil {
		switch shown, known := w.cl.Pipedrive.ContactSyncShown(); {
		case !known:
			later.IM, later.PostalAddress, later.JobTitle = in.IM, in.PostalAddress, in.JobTitle
			fallthrough
		case !shown:
			in.IM, in.PostalAddress, in.JobTitle = nil, nil, nil
		}
	}
	owner := w.conn.PipedriveUserID
	in.OwnerID = &owner
	if err := a.resolveOrg(ctx, w, &in, want); err != nil {
		return err
	}
	started := a.now()
	p, err := w.cl.Pipedrive.CreatePerson(ctx, in)
	if err != nil && uncertainPipedrive(err) {
		logging.FromContext(ctx).Warn("applier: Pipedrive create outcome unknown; looking for it", "err", err)
		found, ferr := a.findCreatedPerson(ctx, w, started, c)
		if ferr != nil {
			return ferr
		}
		if found == nil {
			return fmt.Errorf("%w: Pipedrive create: %w", errUnsure, err)
		}
		p, err = found, nil
	}
	if err != nil {
		return fmt.Errorf("applier: create Pipedrive person: %w", err)
	}
	w.pid, w.person = p.ID, p
	if want.Set {
		w.orgName = want.Name
	}
	if later != (pipedrive.PersonInput{}) && p.HasContactSyncFields {
		// A failure leaves the Pending intent: the retry adopts the person
		// and writes these fields as an ordinary update.
		if p, err = w.cl.Pipedrive.UpdatePerson(ctx, p.ID, later); err != nil {
			return fmt.Errorf("applier: contact-sync fields of the new Pipedrive person: %w", err)
		}
		w.person = p
	}
	return nil
}

// uncertainPipedrive: the create may have been applied (transport error,
// timeout, 5xx): Pipedrive's client does not retry those for a POST.
func uncertainPipedrive(err error) bool {
	var pe *pipedrive.APIError
	if errors.As(err, &pe) {
		return pe.StatusCode >= 500
	}
	return !errors.Is(err, pipedrive.ErrInvalidGrant)
}

func (a *Applier) updatePipedrive(ctx context.Context, w *work, c contact.Contact) (bool, error) {
	if w.person == nil {
		return false, errRedecide
	}
	pw := a.mapper.PipedriveWriteFor(c, w.person, w.orgName)
	in, want := pw.Input, pw.Org
	w.pdKept |= pw.Kept
	if err := a.resolveOrg(ctx, w, &in, want); err != nil {
		return false, err
	}
	if b, _ := json.Marshal(in); string(b) == "{}" {
		return false, nil
	}
	p, err := w.cl.Pipedrive.UpdatePerson(ctx, w.pid, in)
	if errors.Is(err, pipedrive.ErrBadRequest) && in.PostalAddress != nil {
		// The address alone must not cost the other fields: Pipedrive's
		// address handling is the least documented part of the person.
		logging.FromContext(ctx).Warn("applier: Pipedrive refused the PATCH; retrying without the address", "err", err)
		in.PostalAddress = nil
		w.pdKept |= contact.Address
		w.pdAddrRefused = true
		if b, _ := json.Marshal(in); string(b) == "{}" {
			return false, nil
		}
		p, err = w.cl.Pipedrive.UpdatePerson(ctx, w.pid, in)
	}
	if errors.Is(err, pipedrive.ErrNotFound) || errors.Is(err, pipedrive.ErrGone) {
		return false, fmt.Errorf("%w: %w", errRedecide, err)
	}
	if err != nil {
		return false, fmt.Errorf("applier: update Pipedrive person: %w", err)
	}
	w.person = p
	if want.Set {
		w.orgName = want.Name
	}
	return true, nil
}

// resolveOrg sets the person's org_id: the organization named exactly so
// (case-insensitive), created (owned by the connected user) if missing.
func (a *Applier) resolveOrg(ctx context.Context, w *work, in *pipedrive.PersonInput, want contact.OrgWant) error {
	if !want.Set {
		return nil
	}
	in.SetOrg = true
	name := strings.TrimSpace(want.Name)
	if name == "" {
		// Doubtful: no documented way to unlink a person from its
		// organization in v2. The request schema types org_id as an
		// integer; null is the least doubtful shape (PHP SDK made org_id
		// nullable in responses "to match real API behavior", and null is
		// how v2 clears custom fields). Only PATCHes get here.
		in.OrgID = nil
		return nil
	}
	hit, err := w.cl.Pipedrive.FindOrganizationByName(ctx, name)
	switch {
	case err == nil:
		id := hit.ID
		in.OrgID = &id
		return nil
	case !errors.Is(err, pipedrive.ErrNotFound):
		return fmt.Errorf("applier: find organization: %w", err)
	}
	o, err := w.cl.Pipedrive.CreateOrganization(ctx, name, w.conn.PipedriveUserID)
	if err != nil {
		return fmt.Errorf("applier: create organization: %w", err)
	}
	id := o.ID
	in.OrgID = &id
	return nil
}

// commit stores the outcome on the link: removed (Unlink), or the new
// base, versions, hashes and a history entry. An echo writes nothing.
func (a *Applier) commit(ctx context.Context, w *work, plan syncplan.Plan, bothPresent bool) error {
	log := logging.FromContext(ctx)
	if plan.Unlink && w.stored && w.gid != "" && leaves(plan) {
		return a.park(ctx, w, plan)
	}
	if plan.Unlink {
		if w.stored {
			err := a.store.DeleteLink(ctx, w.conn.ID, w.link)
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("%w: %w", errRedecide, err)
			}
			if err != nil {
				return fmt.Errorf("applier: remove link: %w", err)
			}
		}
		log.Info("applier: applied", "summary", plan.History.Summary, "writes", len(plan.Actions), "unlinked", true)
		return nil
	}
	if plan.Base == nil {
		log.Info("applier: skipped", "why", plan.History.Skipped)
		if w.dirty {
			return a.save(ctx, w)
		}
		return nil
	}
	echo := bothPresent && !plan.Writes() && len(plan.Conflicts) == 0 && w.base != nil && contact.Equal(*w.base, *plan.Base)
	if echo && w.stored && !w.dirty && w.link.PipedriveID != "" && w.link.GoogleID != "" {
		log.Debug("applier: no change (echo); nothing written")
		return nil
	}
	l := w.link
	if l == nil {
		l = &store.Link{ID: a.linkID(w)}
		w.link = l
	}
	entry := a.historyEntry(w, plan)
	repeat := !plan.Writes() && len(l.History) > 0 && l.History[len(l.History)-1].Detail == entry.Detail
	if !echo && !repeat {
		l.AddHistory(entry)
	}
	base := plan.Base
	if w.pdKept&contact.Address != 0 && w.person != nil {
		// Pipedrive still holds the address the plan meant to clear: the
		// base says so, or the next change would copy it back to Google.
		kept := *plan.Base
		kept.Address = a.mapper.FromPipedrive(w.person, w.orgName).Address
		base = &kept
	}
	b, err := json.Marshal(base)
	if err != nil {
		return fmt.Errorf("applier: encode base: %w", err)
	}
	l.Base, l.Pending = b, ""
	l.PipedriveID, l.GoogleID = w.pidString(), w.gid
	if w.person != nil {
		l.PipedriveVersion = w.person.UpdateTime.UTC().Format(time.RFC3339)
		l.PipedriveHash = a.mapper.FromPipedrive(w.person, w.orgName).Hash()
	}
	if w.gperson != nil {
		l.GoogleVersion = w.gperson.Etag
		l.GoogleHash = a.mapper.FromGoogle(w.gperson).Hash()
	}
	if err := a.save(ctx, w); err != nil {
		return err
	}
	log.Info("applier: applied", "summary", plan.History.Summary, "writes", len(plan.Actions), "conflicts", len(plan.Conflicts), "link", l.ID)
	return nil
}

// save writes the link: created if new, else only if unchanged since read.
func (a *Applier) save(ctx context.Context, w *work) error {
	var err error
	if w.stored {
		err = a.store.UpdateLink(ctx, w.conn.ID, w.link)
	} else {
		err = a.store.CreateLink(ctx, w.conn.ID, w.link)
	}
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: %w", errRedecide, err)
	}
	if err != nil {
		return fmt.Errorf("applier: save link: %w", err)
	}
	w.stored, w.dirty = true, false
	return nil
}

// linkID is the deterministic id of a new link: by the Pipedrive person
// when known, so two paths linking the same person collide instead of
// making two links.
func (a *Applier) linkID(w *work) string {
	if w.pid != 0 {
		return store.LinkIDForPipedrive(w.pidString())
	}
	return store.LinkIDForGoogle(w.gid)
}

// historyEntry renders the plan for the contact's history: field names and
// actions only, no personal data.
func (a *Applier) historyEntry(w *work, plan syncplan.Plan) store.HistoryEntry {
	h := plan.History
	var actions []string
	fieldSet := map[string]bool{}
	var fields []string
	add := func(fs []string) {
		for _, f := range fs {
			if !fieldSet[f] {
				fieldSet[f] = true
				fields = append(fields, f)
			}
		}
	}
	for _, c := range h.Changed {
		add(c.Fields)
	}
	for _, wr := range h.Written {
		actions = append(actions, string(wr.Op)+" "+string(wr.Side))
		add(wr.Fields)
	}
	action := strings.Join(actions, ", ")
	if action == "" {
		action = "skip"
		if h.Skipped == "" {
			action = "link"
		}
	}
	detail := h.Summary
	if w.matched != "" {
		detail = "matched by " + w.matched + "; " + detail
	}
	switch {
	case w.pdAddrRefused:
		detail += "; Pipedrive refused the address, so it keeps its own; the other fields were written"
	case w.pdKept&contact.Address != 0:
		detail += "; the address could not be cleared in Pipedrive (Pipedrive documents no way to clear it), so Pipedrive keeps its address"
	}
	detail += " (via " + string(w.ch.Source) + ")"
	return store.HistoryEntry{
		At: a.now(), Side: string(w.ch.Side), Action: action, Fields: fields,
		Detail: detail, Conflict: len(plan.Conflicts) > 0,
	}
}

// leaves says the plan takes the Google contact out of the group (the
// Pipedrive owner changed away).
func leaves(plan syncplan.Plan) bool {
	for _, act := range plan.Actions {
		if act.Side == syncplan.Google && act.Op == syncplan.Leave {
			return true
		}
	}
	return false
}

// park keeps the link of a person whose owner changed away, with its
// Google twin (now outside the group) remembered as Parked instead of
// linked, and the base kept: nothing syncs for it meanwhile, and if the
// person comes back to the user the same contact rejoins the group (see
// unpark) rather than a second one being created next to it.
func (a *Applier) park(ctx context.Context, w *work, plan syncplan.Plan) error {
	l := w.link
	l.AddHistory(a.historyEntry(w, plan))
	l.Parked, l.GoogleID, l.Pending = w.gid, "", ""
	if err := a.save(ctx, w); err != nil {
		return err
	}
	logging.FromContext(ctx).Info("applier: applied", "summary", plan.History.Summary, "writes", len(plan.Actions), "parked", true, "link", l.ID)
	return nil
}

// unpark handles a parked link (see park) before deciding. A person still
// owned by someone else: nothing to do (done). A person deleted: the link
// is released and the contact outside the group left alone (done). A
// person owned by the user again: its old contact rejoins the group and
// the change is decided against the kept base, so edits made meanwhile on
// either side merge. If that contact is gone or no longer ours, the person
// is new to Google.
func (a *Applier) unpark(ctx context.Context, w *work) (done bool, _ error) {
	l := w.link
	p := w.person
	switch {
	case p == nil || p.IsDeleted:
		err := a.store.DeleteLink(ctx, w.conn.ID, l)
		if errors.Is(err, store.ErrConflict) {
			return false, fmt.Errorf("%w: %w", errRedecide, err)
		}
		if err != nil {
			return false, fmt.Errorf("applier: remove parked link: %w", err)
		}
		logging.FromContext(ctx).Info("applier: parked person deleted; link removed", "link", l.ID)
		return true, nil
	case p.OwnerID != w.conn.PipedriveUserID:
		logging.FromContext(ctx).Debug("applier: person owned by another user; nothing to sync")
		return true, nil
	}
	gp, err := w.cl.Google.Get(ctx, l.Parked)
	switch {
	case errors.Is(err, google.ErrNotFound):
		gp = nil
	case err != nil:
		return false, fmt.Errorf("applier: read parked Google contact: %w", err)
	}
	if gp == nil || gp.Metadata != nil && gp.Metadata.Deleted || marker(gp) != w.pidString() {
		l.Parked, l.Base, w.base, w.dirty = "", nil, nil, true
		return false, nil
	}
	if !syncplan.InGroup(gp, w.conn.GoogleGroup) {
		if _, err := w.cl.Google.ModifyMembers(ctx, w.conn.GoogleGroup, []string{l.Parked}, nil); err != nil {
			return false, fmt.Errorf("applier: parked contact rejoins the group: %w", err)
		}
		if gp, err = w.cl.Google.Get(ctx, l.Parked); err != nil {
			return false, fmt.Errorf("applier: read parked Google contact: %w", err)
		}
	}
	w.gid, w.gperson = l.Parked, gp
	l.GoogleID, l.Parked = w.gid, ""
	w.dirty, w.matched = true, "its contact that had left the group"
	logging.FromContext(ctx).Info("applier: person is the user's again; its contact rejoins the group", "link", l.ID)
	return false, nil
}
