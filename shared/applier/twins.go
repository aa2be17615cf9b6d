package applier

// Gathering for the twin rules: the twin of a record without a link, the
// outcome of an abandoned create, and the contact of a parked link. Each
// function reads what its syncplan rule needs, asks the rule, and applies
// the verdict to the pair; none decides on its own.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/match"
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

func marker(p *people.Person) string {
	for _, cd := range p.ClientData {
		if cd != nil && cd.Key == MarkerKey {
			return cd.Value
		}
	}
	return ""
}

// errHeld reports that the change was held (for review) while gathering.
type errHeld struct{ h syncplan.Hold }

func (e *errHeld) Error() string { return "applier: held: " + e.h.String() }

// twin identifies the twin of a record that has no link (syncplan's twin
// rules). It returns done when nothing is to be synced (the record is not
// in scope), and an *errHeld when the record is held for review.
func (a *Applier) twin(ctx context.Context, r *run, p *pair) (done bool, _ error) {
	if r.ch.Side == queue.Pipedrive {
		per := p.person
		if per == nil || per.IsDeleted || per.OwnerID != r.conn.PipedriveUserID {
			return true, nil // not in scope: nothing reaches Google
		}
		switch r.ch.Decision { // the user's answer to a review
		case queue.Separate:
			return false, nil // no twin: one is created
		case queue.Same:
			l, err := a.store.LinkByGoogle(ctx, r.conn.ID, r.ch.Twin)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return false, fmt.Errorf("applier: link of the chosen contact: %w", err)
			case l.Review != "":
				if err := a.dropReview(ctx, r, l, true); err != nil {
					return false, err
				}
			default:
				return false, &errHeld{syncplan.Hold{Kind: syncplan.HoldReview, Code: "taken", Candidates: []string{r.ch.Twin},
					Reason: "the contact you chose is already linked to another person"}}
			}
			p.gid, p.matched = r.ch.Twin, "your choice"
			return false, a.readGoogle(ctx, r, p)
		}
		return false, a.adoptPipedriveCreate(ctx, r, p)
	}
	if p.gp == nil || !syncplan.InGroup(p.gp, r.conn.GoogleGroup) || p.gp.Metadata != nil && p.gp.Metadata.Deleted {
		return true, nil // not in scope: never read for sync
	}
	switch r.ch.Decision { // the user's answer to a review
	case queue.Separate:
		return false, nil // no twin: one is created
	case queue.Same:
		l, err := a.linkOf(ctx, r, r.ch.Twin)
		if err != nil {
			return false, err
		}
		if l != nil && l.Review != "" {
			if err := a.dropReview(ctx, r, l, true); err != nil {
				return false, err
			}
			l = nil
		}
		if l != nil {
			return false, &errHeld{syncplan.Hold{Kind: syncplan.HoldReview, Code: "taken", Candidates: []string{r.ch.Twin},
				Reason: "the person you chose, " + r.ch.Twin + ", is already linked to another contact"}}
		}
		p.pid, p.matched = mustID(r.ch.Twin), "your choice"
		return false, a.readPipedrive(ctx, r, p)
	}
	mf, ml, err := a.markerFacts(ctx, r, p)
	if err != nil {
		return false, err
	}
	v, h := syncplan.ByMarker(mf)
	switch v {
	case syncplan.AdoptLink:
		gp, gid := p.gp, p.gid
		a.useLink(ctx, p, ml)
		p.gid, p.gp = gid, gp
		ml.Pending, p.dirty, p.matched = "", true, "our own create"
		if err := a.readPipedrive(ctx, r, p); err != nil {
			return false, err
		}
		a.createdFrom(p, syncplan.Pipedrive)
		return false, nil
	case syncplan.HoldForReview:
		return false, &errHeld{h}
	case syncplan.LinkTo:
		p.pid, p.matched = mustID(mf.Marker), "our mark"
		return false, a.readPipedrive(ctx, r, p)
	}
	sf, err := a.searchFacts(ctx, r, p)
	if err != nil {
		return false, err
	}
	v, h = syncplan.BySearch(sf)
	switch v {
	case syncplan.TwinInFlight:
		return false, errInFlight
	case syncplan.HoldForReview:
		return false, &errHeld{h}
	case syncplan.LinkTo:
		p.pid, p.matched = mustID(sf.Candidates[0]), sf.Rule
		return false, a.readPipedrive(ctx, r, p)
	}
	return false, nil
}

func mustID(s string) int64 {
	id, _ := strconv.ParseInt(s, 10, 64)
	return id
}

// markerFacts reads what the marker rule needs: the link of the person the
// contact's marker names, whether that link's contact still exists, and
// whether the person is live. It returns the marker's link (nil if none).
func (a *Applier) markerFacts(ctx context.Context, r *run, p *pair) (syncplan.MarkerFacts, *store.Link, error) {
	m := marker(p.gp)
	if id, err := strconv.ParseInt(m, 10, 64); err != nil || id <= 0 {
		return syncplan.MarkerFacts{}, nil, nil
	}
	f := syncplan.MarkerFacts{Marker: m}
	l, err := a.store.LinkByPipedrive(ctx, r.conn.ID, m)
	switch {
	case errors.Is(err, store.ErrNotFound):
		per, err := r.cl.Pipedrive.GetPerson(ctx, mustID(m))
		if err != nil && !pipedrive.Gone(err) {
			return f, nil, fmt.Errorf("applier: read marked person: %w", err)
		}
		f.PersonLive = err == nil && !per.IsDeleted
		return f, nil, nil
	case err != nil:
		return f, nil, fmt.Errorf("applier: link of marked person: %w", err)
	}
	f.Linked, f.LinkContact = true, l.GoogleID
	f.LinkCreating = strings.HasPrefix(l.Pending, syncplan.IntentPrefix(syncplan.Google))
	if l.GoogleID != "" && !f.LinkCreating {
		// Google re-keys a contact when profile-linking fields change: a
		// linked name that is gone was renamed to this one
		g, err := a.google(ctx, r)
		if err != nil {
			return f, nil, err
		}
		_, gerr := g.Get(ctx, l.GoogleID)
		if gerr != nil && !errors.Is(gerr, google.ErrNotFound) {
			return f, nil, fmt.Errorf("applier: read linked Google contact: %w", gerr)
		}
		f.LinkContactGone = gerr != nil
	}
	return f, l, nil
}

// searchFacts searches Pipedrive for the Google contact's twin, rule by
// rule (e-mail, phone, name + organization), and returns the candidates of
// the first rule that has any, with the state of a single candidate's link.
// Search hits are verified against the contact's normalized keys
// (Pipedrive's search is fuzzy and does not normalize phones).
func (a *Applier) searchFacts(ctx context.Context, r *run, p *pair) (syncplan.SearchFacts, error) {
	ids, rule, err := a.matchPipedrive(ctx, r, a.mapper.FromGoogle(p.gp))
	if err != nil || len(ids) == 0 {
		return syncplan.SearchFacts{}, err
	}
	f := syncplan.SearchFacts{Rule: string(rule)}
	for _, id := range ids {
		f.Candidates = append(f.Candidates, strconv.FormatInt(id, 10))
	}
	if len(ids) > 1 {
		return f, nil
	}
	l, err := a.store.LinkByPipedrive(ctx, r.conn.ID, f.Candidates[0])
	switch {
	case errors.Is(err, store.ErrNotFound):
		return f, nil
	case err != nil:
		return f, fmt.Errorf("applier: link of matched person: %w", err)
	}
	_, st := syncplan.CheckIntent(l.Pending, a.now(), a.grace, r.own[l.Pending])
	f.Linked, f.Creating = true, st == syncplan.InFlight
	return f, nil
}

// matchPipedrive searches Pipedrive for g's twin, rule by rule, and
// returns the candidates of the first rule that has any.
func (a *Applier) matchPipedrive(ctx context.Context, r *run, g contact.Contact) ([]int64, match.Rule, error) {
	for _, rule := range match.Rules {
		keys := match.Keys(rule, g)
		if len(keys) == 0 {
			continue
		}
		var terms []string
		search := r.cl.Pipedrive.FindPersonsByEmail
		switch rule {
		case match.ByEmail:
			for _, it := range g.Emails {
				terms = append(terms, it.Value)
			}
		case match.ByPhone:
			search = r.cl.Pipedrive.FindPersonsByPhone
			for _, it := range g.Phones {
				if contact.IsE164Key(it.Key) {
					terms = append(terms, it.Value, it.Key)
				}
			}
		case match.ByNameOrg:
			search = r.cl.Pipedrive.FindPersonsByName
			terms = []string{g.DisplayName()}
		}
		want := map[string]bool{}
		for _, k := range keys {
			want[k] = true
		}
		var ids []int64
		seen := map[string]bool{}
		for _, term := range terms {
			term = strings.TrimSpace(term)
			if len([]rune(term)) < 2 || seen[term] {
				continue
			}
			seen[term] = true
			hits, err := search(ctx, term)
			if err != nil {
				return nil, "", fmt.Errorf("applier: search Pipedrive: %w", withoutURL(err))
			}
			for _, h := range hits {
				// Only the user's own persons are twins, as in the first
				// sync (a colleague's person never reaches the group).
				if slices.Contains(ids, h.ID) || h.OwnerID != 0 && h.OwnerID != r.conn.PipedriveUserID {
					continue
				}
				for _, k := range match.Keys(rule, a.hitContact(h)) {
					if want[k] {
						ids = append(ids, h.ID)
						break
					}
				}
			}
		}
		if len(ids) > 0 {
			slices.Sort(ids)
			return ids, rule, nil
		}
	}
	return nil, "", nil
}

func (a *Applier) hitContact(h pipedrive.PersonHit) contact.Contact {
	c := contact.Contact{Given: h.Name, Org: h.OrgName}
	for _, e := range h.Emails {
		c.Emails = append(c.Emails, contact.Email(e, "", false))
	}
	for _, ph := range h.Phones {
		c.Phones = append(c.Phones, a.mapper.Phone(ph, "", false))
	}
	return c
}

// adoptPipedriveCreate recognises a new Pipedrive person as the outcome of
// our own create from a Google contact whose link is not committed yet
// (the webhook of our create can arrive before the commit, or after a
// crash). Without this the person would be taken for new and copied back
// to Google. One query; with nothing pending it costs one read.
func (a *Applier) adoptPipedriveCreate(ctx context.Context, r *run, p *pair) error {
	pend, err := a.store.PendingLinks(ctx, r.conn.ID, syncplan.IntentPrefix(syncplan.Pipedrive), 20)
	if err != nil {
		return fmt.Errorf("applier: pending creates: %w", err)
	}
	mine := a.mapper.FromPipedrive(p.person, p.org)
	for _, l := range pend {
		in, ok := syncplan.ParseIntent(l.Pending)
		if !ok || l.GoogleID == "" || !syncplan.CreatedSince(p.person.AddTime, in.At) {
			continue // created before that intent: not its outcome
		}
		g, err := a.google(ctx, r)
		if err != nil {
			return err
		}
		gp, err := g.Get(ctx, l.GoogleID)
		if errors.Is(err, google.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("applier: read Google contact of a pending create: %w", err)
		}
		if !syncplan.SharesKey(mine, a.mapper.FromGoogle(gp)) {
			continue
		}
		pid := p.pid
		a.useLink(ctx, p, l)
		p.pid, p.gid, p.gp, p.gRead = pid, l.GoogleID, gp, true
		l.Pending, p.dirty, p.matched = "", true, "our own create"
		a.createdFrom(p, syncplan.Google)
		logging.FromContext(ctx).Info("applier: person is the outcome of our create", "link", l.ID)
		return nil
	}
	return nil
}

// intentRecord is what the pair's pending create writes, kept with its
// intent (Link.IntentBase); false when none was kept or it is unreadable.
func (p *pair) intentRecord() (contact.Contact, bool) {
	var c contact.Contact
	if p.link == nil || len(p.link.IntentBase) == 0 || json.Unmarshal(p.link.IntentBase, &c) != nil {
		return contact.Contact{}, false
	}
	return c, true
}

// createdFrom gives a pair whose create was found after the fact (its
// answer lost, or its commit missing) the base it would have committed:
// what the create wrote, kept with its intent (Link.IntentBase). Not
// either record's state when found: the user may have edited one
// meanwhile, and that edit must count as a change, not as the base.
// Without a base the pair would be decided as two unrelated records, and
// a person whose owner changed away meanwhile would keep its contact in
// the group for good. A link written before intents kept their record
// falls back to the found record (side is the side it was created from).
func (a *Applier) createdFrom(p *pair, side syncplan.Side) {
	if p.base != nil {
		return
	}
	if b, ok := p.intentRecord(); ok {
		p.base = &b
		return
	}
	var b contact.Contact
	switch {
	case side == syncplan.Pipedrive && p.gp != nil:
		b = a.mapper.FromGoogle(p.gp) // the contact created from the person
	case side == syncplan.Google && p.person != nil:
		b = a.mapper.FromPipedrive(p.person, p.org)
	default:
		return
	}
	p.base = &b
}

// resolveIntent handles a link left with a Pending intent (CheckIntent): a
// young one may belong to a delivery still running (retry later); an
// abandoned one is resolved by looking for what the create did, which is
// taken into the pair if found; the intent is cleared with the commit.
func (a *Applier) resolveIntent(ctx context.Context, r *run, p *pair) error {
	in, st := syncplan.CheckIntent(p.link.Pending, a.now(), a.grace, r.own[p.link.Pending])
	switch st {
	case syncplan.NoIntent:
		return nil
	case syncplan.InFlight:
		return errInFlight
	}
	log := logging.FromContext(ctx)
	switch in.Side {
	case syncplan.Google:
		if p.pid == 0 {
			break
		}
		found, err := a.findGoogleByMarker(ctx, r, p.pidString())
		if err != nil {
			return err
		}
		if found != nil {
			p.gid, p.gp, p.gRead = found.ResourceName, found, true
			if err := a.readTwin(ctx, r, p); err != nil {
				return err
			}
			a.createdFrom(p, syncplan.Pipedrive)
		}
		log.Info("applier: abandoned Google create resolved", "found", found != nil)
	case syncplan.Pipedrive:
		if err := a.readTwin(ctx, r, p); err != nil {
			return err
		}
		// The person is recognised by what the create wrote (kept with
		// the intent), else by the Google contact it was made from. With
		// the contact deleted meanwhile it must still be found: left
		// unlinked, it would come back to Google as a new contact.
		wrote, ok := p.intentRecord()
		switch {
		case ok:
		case p.gp != nil:
			wrote = a.mapper.FromGoogle(p.gp)
		default:
			log.Warn("applier: abandoned Pipedrive create: nothing left to recognise the person by")
			p.link.Pending, p.dirty = "", true
			return nil
		}
		found, err := a.findCreatedPerson(ctx, r, p, in.At, wrote)
		if err != nil {
			return err
		}
		if found != nil {
			p.pid = found.ID
			if err := a.setPerson(ctx, r, p, found); err != nil {
				return err
			}
			a.createdFrom(p, syncplan.Google)
		} else {
			// Not created, or created and deleted by the user since: the
			// person is created again, and the delete, if any, is
			// recognised when it comes (lostCreateOf).
			p.link.LostCreateAt, p.link.LostCreateLookedAt = in.At, a.now()
		}
		log.Info("applier: abandoned Pipedrive create resolved", "found", found != nil)
	}
	p.link.Pending, p.dirty = "", true
	return nil
}

// findGoogleByMarker looks for the contact carrying our marker for
// Pipedrive person pid: the outcome of a create whose answer was lost.
// First among the group's members (a group read, then the members in
// batches of 200, newest last so scanned first), then among all contacts;
// only this rare path pays for it.
func (a *Applier) findGoogleByMarker(ctx context.Context, r *run, pid string) (*people.Person, error) {
	g, err := a.google(ctx, r)
	if err != nil {
		return nil, err
	}
	found, err := a.findMarkerInGroup(ctx, g, r.conn.GoogleGroup, pid)
	if found != nil || err != nil {
		return found, err
	}
	// The user may have taken the contact out of the group since (it stays
	// in My Contacts, where createGoogle put it too): not finding it there
	// would create it a second time and undo the removal. All contacts are
	// listed, a page of 1,000 a read; this runs only for a create whose
	// outcome was lost.
	_, err = g.List(ctx, "", func(pg *google.Page) error {
		for _, gp := range pg.People {
			if markedFor(gp, pid) {
				found = gp
				return errFound
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, fmt.Errorf("applier: list contacts: %w", err)
	}
	return found, nil
}

// markedFor reports whether gp is a live contact carrying our marker for
// Pipedrive person pid.
func markedFor(gp *people.Person, pid string) bool {
	return gp != nil && marker(gp) == pid && (gp.Metadata == nil || !gp.Metadata.Deleted)
}

// errFound ends a listing early.
var errFound = errors.New("found")

// findMarkerInGroup looks for the contact marked as pid's among the
// group's members.
func (a *Applier) findMarkerInGroup(ctx context.Context, g *google.Client, group, pid string) (*people.Person, error) {
	grp, err := g.GetGroup(ctx, group, 0)
	if errors.Is(err, google.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("applier: read group: %w", err)
	}
	if grp.MemberCount == 0 {
		return nil, nil
	}
	if grp, err = g.GetGroup(ctx, group, int(grp.MemberCount)); err != nil {
		return nil, fmt.Errorf("applier: read group members: %w", err)
	}
	names := grp.MemberResourceNames
	for end := len(names); end > 0; end -= google.MaxBatchGet {
		start := max(0, end-google.MaxBatchGet)
		got, err := g.BatchGet(ctx, names[start:end])
		if err != nil {
			return nil, fmt.Errorf("applier: read group members: %w", err)
		}
		for i := end - 1; i >= start; i-- {
			gp := got[names[i]]
			if markedFor(gp, pid) {
				return gp, nil
			}
		}
	}
	return nil, nil
}

// findCreatedPerson looks for the person a create sent at since made:
// added since then, sharing a key with c, and not linked (whoever owns it
// now). The oldest such wins.
func (a *Applier) findCreatedPerson(ctx context.Context, r *run, p *pair, since time.Time, c contact.Contact) (*pipedrive.Person, error) {
	per, err := r.cl.Pipedrive.AddedSince(ctx, since, func(per *pipedrive.Person) (bool, error) {
		if per.ID == p.pid || !syncplan.SharesKey(a.mapper.FromPipedrive(per, ""), c) {
			return false, nil
		}
		_, err := a.store.LinkByPipedrive(ctx, r.conn.ID, strconv.FormatInt(per.ID, 10))
		if errors.Is(err, store.ErrNotFound) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("applier: link of recent person: %w", err)
		}
		return false, nil // someone else's twin
	})
	if err != nil {
		return nil, fmt.Errorf("applier: %w", err)
	}
	return per, nil
}

// unpark handles a parked link (syncplan.Unpark). It returns done when the
// change needs nothing more.
func (a *Applier) unpark(ctx context.Context, r *run, p *pair) (done bool, _ error) {
	l := p.link
	person, _ := a.sides(r, p)
	pc := syncplan.ContactGone
	var gp *people.Person
	if person.State == syncplan.Present {
		g, err := a.google(ctx, r)
		if err != nil {
			return false, err
		}
		gp, err = g.Get(ctx, l.Parked)
		switch {
		case errors.Is(err, google.ErrNotFound):
			gp = nil
		case err != nil:
			return false, fmt.Errorf("applier: read parked Google contact: %w", err)
		}
		switch {
		// A contact the user made in Google (linked by a twin match or the
		// first sync) has no marker of ours; one with another person's
		// marker is not this person's contact.
		case gp == nil || gp.Metadata != nil && gp.Metadata.Deleted || marker(gp) != "" && marker(gp) != p.pidString():
		case syncplan.InGroup(gp, r.conn.GoogleGroup):
			pc = syncplan.ContactInGroup
		default:
			pc = syncplan.ContactOutOfGroup
		}
	}
	log := logging.FromContext(ctx)
	switch syncplan.Unpark(person.State, pc) {
	case syncplan.StillAway:
		log.Debug("applier: person owned by another user; nothing to sync")
		return true, nil
	case syncplan.Release:
		if err := a.store.DeleteLink(ctx, r.conn.ID, l); err != nil {
			return false, fmt.Errorf("applier: remove parked link: %w", err)
		}
		log.Info("applier: parked person deleted; link removed", "link", l.ID)
		return true, nil
	case syncplan.Fresh:
		l.Parked, l.Base, p.base, p.dirty = "", nil, nil, true
		p.gid, p.gp, p.gRead = "", nil, true
		return false, nil
	case syncplan.Rejoin:
		g, err := a.google(ctx, r)
		if err != nil {
			return false, err
		}
		if _, err := g.ModifyMembers(ctx, r.conn.GoogleGroup, []string{l.Parked}, nil); err != nil {
			return false, fmt.Errorf("applier: parked contact rejoins the group: %w", err)
		}
		if gp, err = g.Get(ctx, l.Parked); err != nil {
			return false, fmt.Errorf("applier: read parked Google contact: %w", err)
		}
	}
	p.gid, p.gp, p.gRead = l.Parked, gp, true
	l.GoogleID, l.Parked = p.gid, ""
	p.dirty, p.matched = true, "its contact that had left the group"
	log.Info("applier: person is the user's again; its contact rejoins the group", "link", l.ID)
	return false, nil
}

// withoutURL drops the URL of a transport error: a search URL carries the
// search term (an e-mail, a phone), which must not reach a log line.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
