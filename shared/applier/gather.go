package applier

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
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/syncplan"
)

// pair is one contact as gathered: its link and the two records.
type pair struct {
	link   *store.Link      // nil: no link (yet)
	stored bool             // the link exists in Firestore
	dirty  bool             // the link changed in memory (adopted, intent resolved, unparked)
	base   *contact.Contact // the link's base; nil: none
	// planned is the link's update plan in flight (Link.Planned); nil: none
	planned *syncplan.Planned

	pid int64  // Pipedrive person id, 0 unknown
	gid string // Google resource name, "" unknown

	person *pipedrive.Person // nil: absent or not read
	org    string            // the person's organization name ("" unknown)
	pRead  bool              // the Pipedrive side was read
	gp     *people.Person    // nil: absent or not read
	gRead  bool              // the Google side was read

	matched string // how the twin was found, for the history
	// pdKept are fields a Pipedrive write left as Pipedrive has them
	// (contact.PipedriveWrite.Kept, or an address Pipedrive refused): the
	// base keeps Pipedrive's value and the history says why.
	pdKept        contact.Fields
	pdAddrRefused bool
	// derivedFrom names what a newly recorded derived Pipedrive name was
	// taken from; moreAddresses counts Google addresses that newly do not
	// sync. Both only for the history.
	derivedFrom   string
	moreAddresses int64
}

func (p *pair) pidString() string {
	if p.pid == 0 {
		return ""
	}
	return strconv.FormatInt(p.pid, 10)
}

// gatherChanged reads the link of the changed record and the record itself.
func (a *Applier) gatherChanged(ctx context.Context, r *run) (*pair, error) {
	p := &pair{}
	var l *store.Link
	var err error
	switch r.ch.Side {
	case queue.Pipedrive:
		id, perr := strconv.ParseInt(r.ch.ObjectID, 10, 64)
		if perr != nil || id <= 0 {
			return nil, fmt.Errorf("%w: Pipedrive person id %q", queue.ErrBadMessage, r.ch.ObjectID)
		}
		p.pid = id
		l, err = a.store.LinkByPipedrive(ctx, r.conn.ID, r.ch.ObjectID)
	default:
		if !strings.HasPrefix(r.ch.ObjectID, "people/") {
			return nil, fmt.Errorf("%w: Google resource name %q", queue.ErrBadMessage, r.ch.ObjectID)
		}
		p.gid = r.ch.ObjectID
		l, err = a.store.LinkByGoogle(ctx, r.conn.ID, r.ch.ObjectID)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		switch l, pending, err := a.lostCreateOf(ctx, r); {
		case err != nil:
			return nil, err
		case l != nil && pending:
			a.deletedBeforeLooked(ctx, r, p, l)
			return p, nil
		case l != nil:
			return p, a.undoRecreate(ctx, r, p, l)
		}
	case err != nil:
		return nil, fmt.Errorf("applier: load link: %w", err)
	default:
		a.useLink(ctx, p, l)
	}
	switch {
	case r.ch.Side == queue.Pipedrive:
		return p, a.readPipedrive(ctx, r, p)
	case p.link == nil && r.ch.Kind == queue.Delete:
		// A tombstone of a contact no pair knows, even after the create
		// that may have been running when the poll saw it: nothing to do,
		// and no read of a contact Google said is gone.
		p.gRead = true
		return p, nil
	}
	return p, a.readGoogle(ctx, r, p)
}

// useLink makes l the pair's link: its ids and base.
func (a *Applier) useLink(ctx context.Context, p *pair, l *store.Link) {
	p.link, p.stored = l, true
	if l.PipedriveID != "" {
		if id, err := strconv.ParseInt(l.PipedriveID, 10, 64); err == nil {
			p.pid = id
		}
	}
	if l.GoogleID != "" {
		p.gid = l.GoogleID
	}
	// A base that cannot be read is no base: the pair is merged as freshly
	// matched twins, which loses no data. Without its plan a retry decides
	// as before plans were kept.
	p.base = decodeStored[contact.Contact](ctx, l, "base", l.Base)
	p.planned = decodeStored[syncplan.Planned](ctx, l, "plan in flight", l.Planned)
}

// decodeStored reads one of the link's JSON fields; nil when empty or
// unreadable (logged).
func decodeStored[T any](ctx context.Context, l *store.Link, what string, raw []byte) *T {
	if len(raw) == 0 {
		return nil
	}
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		logging.FromContext(ctx).Error("applier: unreadable "+what+" of a link ignored", "link", l.ID, "err", err)
		return nil
	}
	return v
}

// readTwin reads whichever side is not read yet.
func (a *Applier) readTwin(ctx context.Context, r *run, p *pair) error {
	if !p.pRead {
		if err := a.readPipedrive(ctx, r, p); err != nil {
			return err
		}
	}
	if !p.gRead {
		return a.readGoogle(ctx, r, p)
	}
	return nil
}

// readPipedrive reads the person the pair names (absent when not found).
func (a *Applier) readPipedrive(ctx context.Context, r *run, p *pair) error {
	p.person, p.org, p.pRead = nil, "", true
	if p.pid == 0 {
		return nil
	}
	per, err := r.cl.Pipedrive.GetPerson(ctx, p.pid)
	if pipedrive.Gone(err) && p.link != nil {
		// A linked person not found is a delete: her contact is deleted,
		// or she is created again from a changed one. One 404 that passes
		// must not do either: read her once more to confirm.
		per, err = r.cl.Pipedrive.GetPerson(ctx, p.pid)
	}
	if pipedrive.Gone(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("applier: read Pipedrive person: %w", err)
	}
	return a.setPerson(ctx, r, p, per)
}

// setPerson takes per as the Pipedrive side and resolves its organization's
// name (left empty, so unknown to the mapping, if it cannot be read).
func (a *Applier) setPerson(ctx context.Context, r *run, p *pair, per *pipedrive.Person) error {
	p.person, p.org, p.pRead = per, "", true
	if per.OrgID == nil || per.IsDeleted || per.OwnerID != r.conn.PipedriveUserID {
		return nil // no organization, or nothing of it will be synced
	}
	o, err := r.cl.Pipedrive.GetOrganization(ctx, *per.OrgID)
	switch {
	case pipedrive.Gone(err):
		return nil
	case err != nil:
		return fmt.Errorf("applier: read Pipedrive organization: %w", err)
	}
	if !o.IsDeleted {
		p.org = o.Name
	}
	return nil
}

// readGoogle reads the contact the pair names (absent when not found).
func (a *Applier) readGoogle(ctx context.Context, r *run, p *pair) error {
	p.gp, p.gRead = nil, true
	if p.gid == "" {
		return nil
	}
	g, err := a.google(ctx, r)
	if err != nil {
		return err
	}
	gp, err := g.Get(ctx, p.gid)
	if errors.Is(err, google.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("applier: read Google contact: %w", err)
	}
	p.gp = gp
	return nil
}

// sides builds the planner's view of both records.
func (a *Applier) sides(r *run, p *pair) (pd, g syncplan.SideState) {
	pd = syncplan.PipedriveSide(a.mapper, p.person, p.org, r.conn.PipedriveUserID)
	g = syncplan.GoogleSide(a.mapper, p.gp, r.conn.GoogleGroup)
	pd.Updated, g.Updated = userTime(r.wroteP, pd), userTime(r.wroteG, g)
	return pd, g
}

// seen is what the echo rule needs about the changed side.
func (a *Applier) seen(r *run, p *pair) syncplan.Seen {
	s := syncplan.Seen{
		Linked: p.stored && p.base != nil,
		Busy:   r.ch.MergedToID != "" || r.ch.MergedFromID != "" || r.ch.Decision != "",
	}
	if p.link != nil {
		s.Busy = s.Busy || p.link.Pending != "" || p.link.Parked != ""
	}
	pd, g := a.sides(r, p)
	if r.ch.Side == queue.Pipedrive {
		s.State, s.Hash = pd.State, pd.Contact.Hash()
		if p.link != nil {
			s.LinkHash = p.link.PipedriveHash
		}
		// the twin must be the link's: a link without its Google contact
		// yet is not an echo
		s.Linked = s.Linked && p.gid != ""
	} else {
		s.State, s.Hash = g.State, g.Contact.Hash()
		if p.link != nil {
			s.LinkHash = p.link.GoogleHash
			if p.link.UnsyncedAddresses != int64(contact.UnsyncedGoogleAddresses(p.gp)) {
				// an address that does not sync came or went: not a change
				// of the contact, but the link and its history must say so
				s.LinkHash = ""
			}
		}
		s.Linked = s.Linked && p.pid != 0
	}
	return s
}
