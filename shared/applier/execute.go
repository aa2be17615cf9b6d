package applier

// Execute: the decided writes, one switch over the actions, then the link
// commit. No rule is decided here.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/syncplan"
)

// execute runs the plan's writes: Google first (etag-guarded, the likelier
// to need a re-decide), then Pipedrive. A create is preceded by its intent.
func (a *Applier) execute(ctx context.Context, r *run, p *pair, plan syncplan.Plan) error {
	if err := a.storePlanned(ctx, r, p, plan); err != nil {
		return err
	}
	for _, side := range []syncplan.Side{syncplan.Google, syncplan.Pipedrive} {
		for _, act := range plan.Actions {
			if act.Side != side {
				continue
			}
			if act.Op == syncplan.Create {
				if err := a.writeIntent(ctx, r, p, side, plan.Base); err != nil {
					return err
				}
			}
			wrote, err := a.write(ctx, r, p, act)
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

// write performs one action and reports whether anything was sent.
func (a *Applier) write(ctx context.Context, r *run, p *pair, act syncplan.Action) (bool, error) {
	if act.Side == syncplan.Google {
		g, err := a.google(ctx, r)
		if err != nil {
			return false, err
		}
		switch act.Op {
		case syncplan.Create:
			return true, a.createGoogle(ctx, r, p, g, act.Contact)
		case syncplan.Update:
			return a.updateGoogle(ctx, r, p, g, act.Contact)
		case syncplan.Delete:
			if err := g.Delete(ctx, p.gid); err != nil && !errors.Is(err, google.ErrNotFound) {
				return false, fmt.Errorf("applier: delete Google contact: %w", err)
			}
			return true, nil
		case syncplan.Leave:
			return true, a.leaveGroup(ctx, r, p.gp)
		case syncplan.Join:
			if _, err := g.ModifyMembers(ctx, r.conn.GoogleGroup, []string{p.gid}, nil); err != nil {
				return false, fmt.Errorf("applier: rejoin the group: %w", err)
			}
			return true, nil
		}
	} else {
		switch act.Op {
		case syncplan.Create:
			return true, a.createPipedrive(ctx, r, p, act.Contact)
		case syncplan.Update:
			return a.updatePipedrive(ctx, r, p, act.Contact)
		case syncplan.Delete:
			if err := a.unchangedSinceRead(ctx, r, p); err != nil {
				return false, err
			}
			if err := r.cl.Pipedrive.DeletePerson(ctx, p.pid); err != nil && !pipedrive.Gone(err) {
				return false, fmt.Errorf("applier: delete Pipedrive person: %w", err)
			}
			return true, nil
		}
	}
	return false, fmt.Errorf("applier: unknown action %s %s", act.Side, act.Op)
}

func (a *Applier) createGoogle(ctx context.Context, r *run, p *pair, g *google.Client, c contact.Contact) error {
	gp, _ := a.mapper.ApplyToGoogle(c, nil)
	// My Contacts too, as the Contacts UI does: leaving the group later
	// then never removes the contact's last group
	groups := []string{myContacts}
	if r.conn.GoogleGroup != myContacts {
		groups = append(groups, r.conn.GoogleGroup)
	}
	gp.Memberships = nil
	for _, grp := range groups {
		gp.Memberships = append(gp.Memberships, &people.Membership{
			ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: grp}})
	}
	gp.ClientData = []*people.ClientData{{Key: MarkerKey, Value: p.pidString()}}
	out, err := g.Create(ctx, gp)
	if errors.Is(err, google.ErrUncertain) {
		logging.FromContext(ctx).Warn("applier: Google create outcome unknown; looking for it", "err", err)
		found, ferr := a.findGoogleByMarker(ctx, r, p.pidString())
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
	p.gid, p.gp = out.ResourceName, out
	return nil
}

func (a *Applier) updateGoogle(ctx context.Context, r *run, p *pair, g *google.Client, c contact.Contact) (bool, error) {
	if p.gp == nil {
		return false, errRedecide
	}
	gp, mask := a.mapper.ApplyToGoogle(c, p.gp)
	if mask == "" {
		return false, nil
	}
	before := syncplan.GoogleUpdateTime(p.gp)
	out, err := g.Update(ctx, gp, strings.Split(mask, ","))
	if err != nil {
		return false, fmt.Errorf("applier: update Google contact: %w", err)
	}
	p.gp = out
	mark(&r.wroteG, a.mapper.FromGoogle(out).Hash(), syncplan.GoogleUpdateTime(out), before)
	return true, nil
}

// leaveGroup removes the contact gp from the connection's group; if that
// is its last group it is first added to My Contacts, which Google requires.
func (a *Applier) leaveGroup(ctx context.Context, r *run, gp *people.Person) error {
	if gp == nil {
		return errRedecide
	}
	g, err := a.google(ctx, r)
	if err != nil {
		return err
	}
	group := r.conn.GoogleGroup
	other := false
	for _, m := range gp.Memberships {
		if m != nil && m.ContactGroupMembership != nil && m.ContactGroupMembership.ContactGroupResourceName != group {
			other = true
		}
	}
	if !other && group != myContacts {
		if _, err := g.ModifyMembers(ctx, myContacts, []string{gp.ResourceName}, nil); err != nil {
			return fmt.Errorf("applier: add to My Contacts: %w", err)
		}
	}
	resp, err := g.ModifyMembers(ctx, group, nil, []string{gp.ResourceName})
	if err != nil {
		return fmt.Errorf("applier: leave group: %w", err)
	}
	if resp != nil && len(resp.CanNotRemoveLastContactGroupResourceNames) > 0 {
		// our view of the memberships was stale
		return fmt.Errorf("%w: the group is the contact's last", errRedecide)
	}
	return nil
}

func (a *Applier) createPipedrive(ctx context.Context, r *run, p *pair, c contact.Contact) error {
	pw := a.mapper.PipedriveWriteFor(c, nil, "")
	in, want := pw.Input, pw.Org
	// Whether the company shows the contact-sync fields is known from this
	// contact's person (then the plan left hidden ones out), else from the
	// last person the client saw. Without either they are not sent blind
	// (writing them without contact sync is undocumented): the create's
	// answer shows whether the company has them, and a PATCH follows if so.
	var later pipedrive.PersonInput
	if p.person == nil {
		switch shown, known := r.cl.Pipedrive.ContactSyncShown(); {
		case !known:
			later.IM, later.PostalAddress, later.JobTitle = in.IM, in.PostalAddress, in.JobTitle
			fallthrough
		case !shown:
			in.IM, in.PostalAddress, in.JobTitle = nil, nil, nil
		}
	}
	owner := r.conn.PipedriveUserID
	in.OwnerID = &owner
	if err := a.resolveOrg(ctx, r, &in, want); err != nil {
		return err
	}
	started := a.now()
	per, err := r.cl.Pipedrive.CreatePerson(ctx, in)
	if err != nil && uncertainPipedrive(err) {
		logging.FromContext(ctx).Warn("applier: Pipedrive create outcome unknown; looking for it", "err", err)
		found, ferr := a.findCreatedPerson(ctx, r, p, started, c)
		if ferr != nil {
			return ferr
		}
		if found == nil {
			return fmt.Errorf("%w: Pipedrive create: %w", errUnsure, err)
		}
		per, err = found, nil
	}
	if err != nil {
		return fmt.Errorf("applier: create Pipedrive person: %w", err)
	}
	p.pid, p.person = per.ID, per
	if want.Set {
		p.org = want.Name
	}
	if later != (pipedrive.PersonInput{}) && per.HasContactSyncFields {
		// A failure leaves the Pending intent: the retry adopts the person
		// and writes these fields as an ordinary update.
		if per, err = r.cl.Pipedrive.UpdatePerson(ctx, per.ID, later); err != nil {
			return fmt.Errorf("applier: contact-sync fields of the new Pipedrive person: %w", err)
		}
		p.person = per
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
	return !pipedrive.Revoked(err)
}

func (a *Applier) updatePipedrive(ctx context.Context, r *run, p *pair, c contact.Contact) (bool, error) {
	if p.person == nil {
		return false, errRedecide
	}
	pw := a.mapper.PipedriveWriteFor(c, p.person, p.org)
	in, want := pw.Input, pw.Org
	p.pdKept |= pw.Kept
	if err := a.resolveOrg(ctx, r, &in, want); err != nil {
		return false, err
	}
	if b, _ := json.Marshal(in); string(b) == "{}" {
		return false, nil
	}
	if err := a.unchangedSinceRead(ctx, r, p); err != nil {
		return false, err
	}
	per, err := r.cl.Pipedrive.UpdatePerson(ctx, p.pid, in)
	if errors.Is(err, pipedrive.ErrBadRequest) && in.PostalAddress != nil {
		// The address alone must not cost the other fields: Pipedrive's
		// address handling is the least documented part of the person.
		logging.FromContext(ctx).Warn("applier: Pipedrive refused the PATCH; retrying without the address", "err", err)
		in.PostalAddress = nil
		p.pdKept |= contact.Address
		p.pdAddrRefused = true
		if b, _ := json.Marshal(in); string(b) == "{}" {
			return false, nil
		}
		per, err = r.cl.Pipedrive.UpdatePerson(ctx, p.pid, in)
	}
	if pipedrive.Gone(err) {
		return false, fmt.Errorf("%w: %w", errRedecide, err)
	}
	if err != nil {
		return false, fmt.Errorf("applier: update Pipedrive person: %w", err)
	}
	before := p.person.UpdateTime
	p.person = per
	if want.Set {
		p.org = want.Name
	}
	mark(&r.wroteP, a.mapper.FromPipedrive(per, p.org).Hash(), per.UpdateTime, before)
	return true, nil
}

// unchangedSinceRead reads the person again just before a write:
// Pipedrive has no conditional write (no etag), and a PATCH replaces whole
// lists, so a write decided on a read that an edit of the user has since
// overtaken would undo that edit. Changed, the pair is decided again on
// the new state (errRedecide); the window left is the one between this
// read and the write. One token.
func (a *Applier) unchangedSinceRead(ctx context.Context, r *run, p *pair) error {
	if p.person == nil {
		return nil
	}
	fresh, err := r.cl.Pipedrive.GetPerson(ctx, p.pid)
	if pipedrive.Gone(err) {
		return fmt.Errorf("%w: the person is gone", errRedecide)
	}
	if err != nil {
		return fmt.Errorf("applier: read Pipedrive person before writing: %w", err)
	}
	was := a.mapper.FromPipedrive(p.person, p.org)
	now := a.mapper.FromPipedrive(fresh, p.org)
	if !fresh.UpdateTime.Equal(p.person.UpdateTime) || was.Hash() != now.Hash() ||
		fresh.OwnerID != p.person.OwnerID || !sameOrg(fresh.OrgID, p.person.OrgID) {
		return fmt.Errorf("%w: the person changed since it was read", errRedecide)
	}
	return nil
}

func sameOrg(a, b *int64) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// resolveOrg sets the person's org_id: the organization named exactly so
// (case-insensitive), created (owned by the connected user) if missing.
func (a *Applier) resolveOrg(ctx context.Context, r *run, in *pipedrive.PersonInput, want contact.OrgWant) error {
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
	hit, err := r.cl.Pipedrive.FindOrganizationByName(ctx, name)
	switch {
	case err == nil:
		id := hit.ID
		in.OrgID = &id
		return nil
	case !errors.Is(err, pipedrive.ErrNotFound):
		return fmt.Errorf("applier: find organization: %w", err)
	}
	o, err := r.cl.Pipedrive.CreateOrganization(ctx, name, r.conn.PipedriveUserID)
	if err != nil {
		return fmt.Errorf("applier: create organization: %w", err)
	}
	id := o.ID
	in.OrgID = &id
	return nil
}

// writeIntent stores the Pending intent of a create on side (one write).
func (a *Applier) writeIntent(ctx context.Context, r *run, p *pair, side syncplan.Side, base *contact.Contact) error {
	if p.link == nil {
		p.link = &store.Link{ID: linkID(p)}
	}
	l := p.link
	l.PipedriveID, l.GoogleID = p.pidString(), p.gid
	l.Pending = syncplan.Intent{Side: side, At: a.now()}.String()
	l.IntentBase = nil
	if base != nil {
		b, err := marshalBase(*base)
		if err != nil {
			return err
		}
		l.IntentBase = b
	}
	if err := a.save(ctx, r, p); err != nil {
		return err
	}
	r.own[l.Pending] = true
	return a.step(ctx, StepIntentStored)
}

// storePlanned keeps an update plan on its link before the first write
// (one Firestore write; see syncplan.Planned). A pair without a stored
// base has nothing for a plan to resume from: its retry matches it again.
func (a *Applier) storePlanned(ctx context.Context, r *run, p *pair, plan syncplan.Plan) error {
	if plan.Planned == nil || !p.stored || p.base == nil {
		return nil
	}
	b, err := json.Marshal(plan.Planned)
	if err != nil {
		return fmt.Errorf("applier: encode plan: %w", err)
	}
	p.link.Planned = b
	if err := a.save(ctx, r, p); err != nil {
		return err
	}
	p.planned = plan.Planned
	return a.step(ctx, StepPlanStored)
}

// commit stores the outcome on the link: removed (Unlink), parked (the
// owner changed away), or the new base, versions, hashes and a history
// entry. An echo writes nothing.
func (a *Applier) commit(ctx context.Context, r *run, p *pair, plan syncplan.Plan) error {
	log := logging.FromContext(ctx)
	if plan.Unlink && p.stored && p.gid != "" && leaves(plan) {
		return a.park(ctx, r, p, plan)
	}
	if plan.Unlink {
		if p.stored {
			if err := a.store.DeleteLink(ctx, r.conn.ID, p.link); err != nil {
				return fmt.Errorf("applier: remove link: %w", err)
			}
		}
		log.Info("applier: applied", "summary", plan.History.Summary, "writes", len(plan.Actions), "unlinked", true)
		return nil
	}
	if plan.Base == nil {
		log.Info("applier: skipped", "why", plan.History.Skipped)
		if p.dirty {
			return a.save(ctx, r, p)
		}
		return nil
	}
	pd, g := a.sides(r, p)
	bothPresent := pd.State == syncplan.Present && g.State == syncplan.Present
	echo := bothPresent && !plan.Writes() && len(plan.Conflicts) == 0 && p.base != nil && contact.Equal(*p.base, *plan.Base)
	// The name Pipedrive holds only because it requires one, and the
	// Google addresses beyond the one that syncs.
	derived, unsynced := "", int64(contact.UnsyncedGoogleAddresses(p.gp))
	if pd.State == syncplan.Present {
		derived = contact.DerivedName(*plan.Base, pd.Contact)
	}
	if p.gp == nil && p.link != nil {
		unsynced = p.link.UnsyncedAddresses // Google not read: as it was
	}
	if echo && p.stored && !p.dirty && len(p.link.Planned) == 0 && p.link.PipedriveID != "" && p.link.GoogleID != "" &&
		p.link.PipedriveHash == pd.Contact.Hash() && p.link.GoogleHash == g.Contact.Hash() &&
		p.link.DerivedName == derived && p.link.UnsyncedAddresses == unsynced {
		log.Debug("applier: no change (echo); nothing written")
		return nil
	}
	l := p.link
	if l == nil {
		l = &store.Link{ID: linkID(p)}
		p.link = l
	}
	if derived != "" && derived != l.DerivedName {
		p.derivedFrom = contact.NamedAfter(*plan.Base, derived)
		if p.derivedFrom == "" {
			p.derivedFrom = "one of its details"
		}
	}
	if unsynced > l.UnsyncedAddresses {
		p.moreAddresses = unsynced
	}
	l.DerivedName, l.UnsyncedAddresses = derived, unsynced
	for _, act := range plan.Actions {
		switch act.Op {
		case syncplan.Update:
			l.Updates++
		case syncplan.Create:
			l.CreatedOn = string(act.Side)
		}
	}
	l.Conflicts += int64(len(plan.Conflicts))
	entry := a.historyEntry(r, p, plan)
	repeat := !plan.Writes() && len(l.History) > 0 && l.History[len(l.History)-1].Detail == entry.Detail
	if (!echo && !repeat) || p.derivedFrom != "" || p.moreAddresses > 0 {
		l.AddHistory(entry)
	}
	base := *plan.Base
	if p.pdKept&contact.Address != 0 && p.person != nil {
		// Pipedrive still holds the address the plan meant to clear: the
		// base says so, or the next change would copy it back to Google.
		base.Address = a.mapper.FromPipedrive(p.person, p.org).Address
	}
	b, err := marshalBase(base)
	if err != nil {
		return err
	}
	l.Base, l.Pending, l.IntentBase, l.Planned = b, "", nil, nil
	l.SearchKeys = a.mapper.SearchKeys(base)
	l.PipedriveID, l.GoogleID = p.pidString(), p.gid
	if p.person != nil {
		l.PipedriveVersion = syncplan.PipedriveVersion(p.person.UpdateTime)
		l.PipedriveHash = pd.Contact.Hash()
	}
	if p.gp != nil {
		l.GoogleVersion = p.gp.Etag
		l.GoogleHash = g.Contact.Hash()
	}
	if err := a.save(ctx, r, p); err != nil {
		return err
	}
	log.Info("applier: applied", "summary", plan.History.Summary, "writes", len(plan.Actions), "conflicts", len(plan.Conflicts), "link", l.ID)
	return nil
}

func marshalBase(c contact.Contact) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("applier: encode base: %w", err)
	}
	return b, nil
}

// save writes the link: created if new, else only if unchanged since read.
func (a *Applier) save(ctx context.Context, r *run, p *pair) error {
	var err error
	if p.stored {
		err = a.store.UpdateLink(ctx, r.conn.ID, p.link)
	} else {
		err = a.store.CreateLink(ctx, r.conn.ID, p.link)
	}
	if err != nil {
		return fmt.Errorf("applier: save link: %w", err)
	}
	p.stored, p.dirty = true, false
	return nil
}

// linkID is the deterministic id of a new link: by the Pipedrive person
// when known, so two paths linking the same person collide instead of
// making two links.
func linkID(p *pair) string {
	if p.pid != 0 {
		return store.LinkIDForPipedrive(p.pidString())
	}
	return store.LinkIDForGoogle(p.gid)
}

// historyEntry renders the plan for the contact's history: field names and
// actions only, no personal data.
func (a *Applier) historyEntry(r *run, p *pair, plan syncplan.Plan) store.HistoryEntry {
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
	if p.matched != "" {
		detail = "matched by " + p.matched + "; " + detail
	}
	switch {
	case p.pdAddrRefused:
		detail += "; Pipedrive refused the address, so it keeps its own; the other fields were written"
	case p.pdKept&contact.Address != 0:
		detail += "; the address could not be cleared in Pipedrive (Pipedrive documents no way to clear it), so Pipedrive keeps its address"
	}
	if p.derivedFrom != "" {
		detail += "; the contact has no name and Pipedrive requires one, so the Pipedrive person is named after its " + p.derivedFrom +
			"; that name stays in Pipedrive and is not copied to Google (a name typed in Pipedrive is)"
	}
	if n := p.moreAddresses; n > 0 {
		what := "another address"
		if n > 1 {
			what = strconv.FormatInt(n, 10) + " more addresses"
		}
		detail += "; the Google contact has " + what + ": one address syncs (the primary one, else the first), " +
			"the others stay in Google only and are never changed or deleted there"
	}
	detail += " (via " + string(r.ch.Source) + ")"
	return store.HistoryEntry{
		At: a.now(), Side: string(r.ch.Side), Action: action, Fields: fields,
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
// linked, and the base kept (see syncplan.Unpark).
func (a *Applier) park(ctx context.Context, r *run, p *pair, plan syncplan.Plan) error {
	l := p.link
	l.AddHistory(a.historyEntry(r, p, plan))
	l.Parked, l.GoogleID, l.Pending, l.Planned = p.gid, "", "", nil
	if err := a.save(ctx, r, p); err != nil {
		return err
	}
	logging.FromContext(ctx).Info("applier: applied", "summary", plan.History.Summary, "writes", len(plan.Actions), "parked", true, "link", l.ID)
	return nil
}
