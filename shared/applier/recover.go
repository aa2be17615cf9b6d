package applier

import (
	"context"
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

// A Pending intent reads "create:<side>:<RFC 3339 time>": a create on that
// side was about to be sent at that time. It is stored on the link before
// the create and cleared by the commit after it, so a crash in between
// leaves it for the next delivery, which looks for the create's outcome
// (the clientData marker on Google; a person just created by us with a
// shared e-mail, phone or name on Pipedrive) instead of creating again.

func pendingPrefix(side syncplan.Side) string { return "create:" + string(side) + ":" }

func pendingFor(side syncplan.Side, at time.Time) string {
	return pendingPrefix(side) + at.UTC().Format(time.RFC3339Nano)
}

func parsePending(s string) (syncplan.Side, time.Time, bool) {
	for _, side := range []syncplan.Side{syncplan.Google, syncplan.Pipedrive} {
		if rest, ok := strings.CutPrefix(s, pendingPrefix(side)); ok {
			at, err := time.Parse(time.RFC3339Nano, rest)
			return side, at, err == nil
		}
	}
	return "", time.Time{}, false
}

// writeIntent stores the Pending intent of a create on side (one write).
func (a *Applier) writeIntent(ctx context.Context, w *work, side syncplan.Side) error {
	if w.link == nil {
		w.link = &store.Link{ID: a.linkID(w)}
	}
	l := w.link
	l.PipedriveID, l.GoogleID = w.pidString(), w.gid
	l.Pending = pendingFor(side, a.now())
	if err := a.save(ctx, w); err != nil {
		return err
	}
	w.own[l.Pending] = true
	return a.step(ctx, StepIntentStored)
}

// recoverIntent handles a link left with a Pending intent. A young intent
// may belong to a delivery still running: retry later. An old one was
// abandoned by a crash: look for what the create did, take it into the
// link if found, and clear the intent (committed with the link).
func (a *Applier) recoverIntent(ctx context.Context, w *work) error {
	log := logging.FromContext(ctx)
	side, at, ok := parsePending(w.link.Pending)
	if ok && a.now().Sub(at) < a.grace && !w.own[w.link.Pending] {
		return errInFlight
	}
	switch side {
	case syncplan.Google:
		if w.pid == 0 {
			break
		}
		found, err := a.findGoogleByMarker(ctx, w, w.pidString())
		if err != nil {
			return err
		}
		if found != nil {
			w.gid, w.gperson = found.ResourceName, found
		}
		log.Info("applier: abandoned Google create resolved", "found", found != nil)
	case syncplan.Pipedrive:
		if w.gperson == nil {
			break // the Google contact is gone: nothing to recognise it by
		}
		found, err := a.findCreatedPerson(ctx, w, at, a.mapper.FromGoogle(w.gperson))
		if err != nil {
			return err
		}
		if found != nil {
			w.pid = found.ID
			if err := a.setPerson(ctx, w, found); err != nil {
				return err
			}
		}
		log.Info("applier: abandoned Pipedrive create resolved", "found", found != nil)
	}
	w.link.Pending, w.dirty = "", true
	return nil
}

// findTwin looks for the twin of a record that has no link. It reports
// held when the record is held for review (and recorded on the
// connection) instead of being synced.
func (a *Applier) findTwin(ctx context.Context, w *work) (held bool, err error) {
	switch w.ch.Side {
	case queue.Pipedrive:
		p := w.person
		if p == nil || p.IsDeleted || p.OwnerID != w.conn.PipedriveUserID {
			return false, nil // not in scope: nothing reaches Google
		}
		return false, a.adoptPipedriveCreate(ctx, w)
	default:
		gp := w.gperson
		if gp == nil || gp.Metadata != nil && gp.Metadata.Deleted || !syncplan.InGroup(gp, w.conn.GoogleGroup) {
			return false, nil // not in scope: never read for sync
		}
		return a.matchGoogleContact(ctx, w)
	}
}

// adoptPipedriveCreate recognises a new Pipedrive person as the outcome of
// our own create from a Google contact whose link is not committed yet
// (the webhook of our create can arrive before the commit, or after a
// crash). Without this the person would be taken for new and copied back
// to Google. One query; with nothing pending it costs one read.
func (a *Applier) adoptPipedriveCreate(ctx context.Context, w *work) error {
	pend, err := a.store.PendingLinks(ctx, w.conn.ID, pendingPrefix(syncplan.Pipedrive), 20)
	if err != nil {
		return fmt.Errorf("applier: pending creates: %w", err)
	}
	mine := a.mapper.FromPipedrive(w.person, w.orgName)
	for _, l := range pend {
		_, at, ok := parsePending(l.Pending)
		if !ok || l.GoogleID == "" || w.person.AddTime.Before(at.Add(-2*time.Second)) {
			continue // created before that intent: not its outcome
		}
		gp, err := w.cl.Google.Get(ctx, l.GoogleID)
		if errors.Is(err, google.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("applier: read Google contact of a pending create: %w", err)
		}
		if !sharesKey(mine, a.mapper.FromGoogle(gp)) {
			continue
		}
		pid := w.pid
		a.useLink(ctx, w, l)
		w.pid, w.gid, w.gperson = pid, l.GoogleID, gp
		l.Pending, w.dirty, w.matched = "", true, "our own create"
		logging.FromContext(ctx).Info("applier: person is the outcome of our create", "link", l.ID)
		return nil
	}
	return nil
}

// matchGoogleContact finds the Pipedrive twin of a Google contact in the
// group that has no link: by our clientData marker (a contact we created),
// else with Pipedrive's search by e-mail, phone, then name + organization.
// Several candidates, or a candidate already linked to another contact,
// are held for review, never guessed.
func (a *Applier) matchGoogleContact(ctx context.Context, w *work) (bool, error) {
	if m := marker(w.gperson); m != "" {
		id, err := strconv.ParseInt(m, 10, 64)
		if err == nil && id > 0 {
			l, err := a.store.LinkByPipedrive(ctx, w.conn.ID, m)
			adopt := err == nil && (l.GoogleID == "" || strings.HasPrefix(l.Pending, pendingPrefix(syncplan.Google)))
			if err == nil && !adopt {
				// Google re-keys a contact when profile-linking fields
				// change: a linked name that is gone was renamed to this one
				_, gerr := w.cl.Google.Get(ctx, l.GoogleID)
				if gerr != nil && !errors.Is(gerr, google.ErrNotFound) {
					return false, fmt.Errorf("applier: read linked Google contact: %w", gerr)
				}
				adopt = gerr != nil
			}
			switch {
			case adopt:
				// our create whose link commit has not happened (yet), or
				// our contact under a new resource name
				gp, gid := w.gperson, w.gid
				a.useLink(ctx, w, l)
				w.gid, w.gperson = gid, gp
				l.Pending, w.dirty, w.matched = "", true, "our own create"
				return false, a.readPipedrive(ctx, w)
			case err == nil:
				return true, a.hold(ctx, w, "it carries the mark of Pipedrive person "+m+", which is already linked to another Google contact (a copy?)")
			case !errors.Is(err, store.ErrNotFound):
				return false, fmt.Errorf("applier: link of marked person: %w", err)
			}
			w.pid = id
			if err := a.readPipedrive(ctx, w); err != nil {
				return false, err
			}
			if w.person != nil && !w.person.IsDeleted {
				w.matched = "our mark"
				return false, nil
			}
			w.pid, w.person = 0, nil
		}
	}
	ids, rule, err := a.matchPipedrive(ctx, w, a.mapper.FromGoogle(w.gperson))
	if err != nil {
		return false, err
	}
	switch {
	case len(ids) == 0:
		return false, nil
	case len(ids) > 1:
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = strconv.FormatInt(id, 10)
		}
		return true, a.hold(ctx, w, fmt.Sprintf("it matches %d Pipedrive persons (%s) by %s", len(ids), strings.Join(s, ", "), rule))
	}
	sid := strconv.FormatInt(ids[0], 10)
	l, err := a.store.LinkByPipedrive(ctx, w.conn.ID, sid)
	switch {
	case err == nil:
		if _, at, ok := parsePending(l.Pending); ok && a.now().Sub(at) < a.grace {
			return false, errInFlight
		}
		return true, a.hold(ctx, w, "it matches Pipedrive person "+sid+" by "+string(rule)+", which is already linked to another Google contact")
	case !errors.Is(err, store.ErrNotFound):
		return false, fmt.Errorf("applier: link of matched person: %w", err)
	}
	w.pid, w.matched = ids[0], string(rule)
	return false, a.readPipedrive(ctx, w)
}

// hold records on the connection that the record is held for review.
func (a *Applier) hold(ctx context.Context, w *work, why string) error {
	logging.FromContext(ctx).Warn("applier: held for review", "why", why)
	a.recordError(ctx, w.conn.ID, fmt.Sprintf("%s was not synced: %s. It is held for review.", describe(w.ch), why))
	return nil
}

func marker(p *people.Person) string {
	for _, cd := range p.ClientData {
		if cd != nil && cd.Key == MarkerKey {
			return cd.Value
		}
	}
	return ""
}

// matchPipedrive searches Pipedrive for g's twin, rule by rule, and
// returns the candidates of the first rule that has any. Search hits are
// verified against g's normalized keys (Pipedrive's search is fuzzy and
// does not normalize phones), so only true key matches count.
func (a *Applier) matchPipedrive(ctx context.Context, w *work, g contact.Contact) ([]int64, match.Rule, error) {
	for _, rule := range match.Rules {
		keys := match.Keys(rule, g)
		if len(keys) == 0 {
			continue
		}
		var terms []string
		search := w.cl.Pipedrive.FindPersonsByEmail
		switch rule {
		case match.ByEmail:
			for _, it := range g.Emails {
				terms = append(terms, it.Value)
			}
		case match.ByPhone:
			search = w.cl.Pipedrive.FindPersonsByPhone
			for _, it := range g.Phones {
				if contact.IsE164Key(it.Key) {
					terms = append(terms, it.Value, it.Key)
				}
			}
		case match.ByNameOrg:
			search = w.cl.Pipedrive.FindPersonsByName
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
				if slices.Contains(ids, h.ID) {
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
	for _, p := range h.Phones {
		c.Phones = append(c.Phones, a.mapper.Phone(p, "", false))
	}
	return c
}

// sharesKey: a and b share a normalized e-mail, an E.164 phone, or the
// same non-empty name.
func sharesKey(a, b contact.Contact) bool {
	for _, r := range []match.Rule{match.ByEmail, match.ByPhone} {
		bk := match.Keys(r, b)
		for _, k := range match.Keys(r, a) {
			if slices.Contains(bk, k) {
				return true
			}
		}
	}
	n := strings.ToLower(strings.Join(strings.Fields(a.DisplayName()), " "))
	return n != "" && n == strings.ToLower(strings.Join(strings.Fields(b.DisplayName()), " "))
}

// findGoogleByMarker looks through the group's members for a contact
// carrying our marker for Pipedrive person pid: the outcome of a create
// whose answer was lost. It reads the member list (a group read) and the
// members in batches of 200, newest last so scanned first; only this rare
// path pays for it.
func (a *Applier) findGoogleByMarker(ctx context.Context, w *work, pid string) (*people.Person, error) {
	group := w.conn.GoogleGroup
	g, err := w.cl.Google.GetGroup(ctx, group, 0)
	if errors.Is(err, google.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("applier: read group: %w", err)
	}
	if g.MemberCount == 0 {
		return nil, nil
	}
	if g, err = w.cl.Google.GetGroup(ctx, group, int(g.MemberCount)); err != nil {
		return nil, fmt.Errorf("applier: read group members: %w", err)
	}
	names := g.MemberResourceNames
	for end := len(names); end > 0; end -= google.MaxBatchGet {
		start := max(0, end-google.MaxBatchGet)
		got, err := w.cl.Google.BatchGet(ctx, names[start:end])
		if err != nil {
			return nil, fmt.Errorf("applier: read group members: %w", err)
		}
		for i := end - 1; i >= start; i-- {
			p := got[names[i]]
			if p != nil && marker(p) == pid && (p.Metadata == nil || !p.Metadata.Deleted) {
				return p, nil
			}
		}
	}
	return nil, nil
}

// findCreatedPerson looks for the person a create sent at since made: owned
// by the connected user, added since then, sharing a key with c, and not
// linked. The oldest such wins. It lists (not searches) Pipedrive, whose
// search index may lag behind a write.
func (a *Applier) findCreatedPerson(ctx context.Context, w *work, since time.Time, c contact.Contact) (*pipedrive.Person, error) {
	from := since.Add(-2 * time.Second).Truncate(time.Second)
	ps, _, err := w.cl.Pipedrive.ListPersonsPage(ctx, pipedrive.ListPersonsOptions{
		OwnerID: w.conn.PipedriveUserID, UpdatedSince: from, SortBy: "add_time", SortDirection: "asc", Limit: 100,
	}, "")
	if err != nil {
		return nil, fmt.Errorf("applier: list recent persons: %w", err)
	}
	for i := range ps {
		p := &ps[i]
		if p.IsDeleted || p.AddTime.Before(from) || p.ID == w.pid || !sharesKey(a.mapper.FromPipedrive(p, ""), c) {
			continue
		}
		_, err := a.store.LinkByPipedrive(ctx, w.conn.ID, strconv.FormatInt(p.ID, 10))
		if err == nil {
			continue // someone else's twin
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("applier: link of recent person: %w", err)
		}
		return p, nil
	}
	return nil, nil
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
