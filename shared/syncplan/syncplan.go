// Package syncplan decides what to do about one linked (or matched, or
// new) contact: given the link's base (the last-synced normalized record),
// the current state of the Pipedrive person and of the Google contact, the
// delete policy and the time, it returns the writes to make on each side,
// the new base and a history entry. It is the single place where the sync
// rules live; the applier and the first sync both call Decide.
//
// The shape follows vdirsyncer's _get_actions: a side "changed" only when
// its normalized content differs from the base, so an echo of our own
// write plans nothing; a change on one side updates the other; a change on
// both goes to a per-field, per-list-item three-way merge; a side that is
// gone deletes the twin unless the twin changed (edit beats delete).
//
// The package is pure: no I/O, no clock (Input.Now), no context.
package syncplan

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/contactsync/contactsync/shared/contact"
)

// Side is one of the two services.
type Side string

// The two sides.
const (
	Pipedrive Side = "pipedrive"
	Google    Side = "google"
)

// State is what a side holds for the contact.
type State int

// States of a side.
const (
	// Absent: the side has no record (no twin yet). With a link it counts
	// as Deleted (a 404 on a linked record is a delete).
	Absent State = iota
	// Present: the record exists and is in scope (the Pipedrive person is
	// owned by the connected user; the Google contact is in the group).
	Present
	// Deleted: the record was deleted on its side.
	Deleted
	// OutOfScope: the record exists but left the sync: the Google contact
	// was removed from the group (a delete for the sync), or the Pipedrive
	// person's owner is no longer the connected user.
	OutOfScope
)

func (s State) String() string {
	switch s {
	case Absent:
		return "absent"
	case Present:
		return "present"
	case Deleted:
		return "deleted"
	case OutOfScope:
		return "out of scope"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// DeletePolicy says what a delete on one side does to the twin.
type DeletePolicy string

// Delete policies. The empty policy is Propagate.
const (
	// Propagate deletes the twin, unless the twin changed since the base:
	// then the contact is re-created on the deleting side (edit beats
	// delete). An owner change away from the user removes the Google
	// contact from the group (it stays in the user's Google contacts).
	Propagate DeletePolicy = "propagate"
	// Unlink forgets the pair; nothing is written.
	Unlink DeletePolicy = "unlink"
	// Ignore does nothing; the link stays.
	Ignore DeletePolicy = "ignore"
)

// SideState is one side's current record.
type SideState struct {
	State State
	// Contact is the normalized record (meaningful when Present, and for
	// history when OutOfScope). Its Unknown fields are left as they are.
	Contact contact.Contact
	// Updated is the side's own last modification time; it decides a
	// true conflict (later wins).
	Updated time.Time
}

// Input is everything Decide needs.
type Input struct {
	// Base is the link's last-synced record; nil when there is no link
	// (a new contact, or twins just matched).
	Base      *contact.Contact
	Pipedrive SideState
	Google    SideState
	Policy    DeletePolicy
	Now       time.Time
	// PipedriveHidden are the fields this Pipedrive company does not show
	// (contact sync off: IM, address, job title); used for creates there.
	PipedriveHidden contact.Fields
	// Restore is the user's answer to a braked delete: put the gone record
	// back on the deleting side instead of deleting its twin.
	Restore bool
	// Planned is the update plan a run stored on the link and did not
	// commit (see Planned); nil when none is in flight.
	Planned *Planned
}

// Op is a write on one side.
type Op string

// Ops.
const (
	Create Op = "create"
	Update Op = "update"
	Delete Op = "delete"
	// Leave removes the Google contact from the group without deleting it.
	Leave Op = "leave"
	// Join puts the Google contact back into the group (a restore).
	Join Op = "join"
)

// Action is one write.
type Action struct {
	Side Side
	Op   Op
	// Contact is the whole record to write (Create, Update). Fields in
	// Contact.Unknown must not be written (the side does not show them).
	Contact contact.Contact
	// Fields are the fields whose content changes on that side (Update)
	// or that are written (Create).
	Fields contact.Fields
}

// Conflict is a field both sides changed differently since the base.
type Conflict struct {
	// Field is e.g. "given", "address", "phones.primary",
	// "emails[a@b.c].label".
	Field     string `json:"field"`
	Base      string `json:"base"`
	Pipedrive string `json:"pipedrive"`
	Google    string `json:"google"`
	Winner    Side   `json:"winner"`
}

// SideFields names the fields of one side.
type SideFields struct {
	Side   Side     `json:"side"`
	Fields []string `json:"fields"`
}

// Written is one write as recorded in history.
type Written struct {
	Side   Side     `json:"side"`
	Op     Op       `json:"op"`
	Fields []string `json:"fields,omitempty"`
}

// History is the per-contact history entry for this decision.
type History struct {
	At        time.Time    `json:"at"`
	Summary   string       `json:"summary"`
	Changed   []SideFields `json:"changed,omitempty"`
	Written   []Written    `json:"written,omitempty"`
	Conflicts []Conflict   `json:"conflicts,omitempty"`
	// Skipped says why nothing was written, when nothing was.
	Skipped string `json:"skipped,omitempty"`
}

// Plan is the decision.
type Plan struct {
	Actions []Action
	// Base is the new base to commit with the link after the writes
	// succeed; nil when the link is to be removed or none is needed.
	Base *contact.Contact
	// Unlink: remove the link (after the writes succeed).
	Unlink    bool
	Conflicts []Conflict
	History   History
	// Planned is stored on the link before the first update is sent and
	// cleared by the commit; nil when the plan updates nothing.
	Planned *Planned
}

// Writes reports whether the plan writes anything.
func (p Plan) Writes() bool { return len(p.Actions) > 0 }

// Deletes counts the plan's destructive actions (Delete and Leave), for
// the mass-delete brake.
func (p Plan) Deletes() int {
	n := 0
	for _, a := range p.Actions {
		if a.Op == Delete || a.Op == Leave {
			n++
		}
	}
	return n
}

// ErrInvalidInput is wrapped by Decide's errors.
var ErrInvalidInput = errors.New("syncplan: invalid input")

// Decide plans one contact. It returns an error only for invalid input.
func Decide(in Input) (Plan, error) {
	pol := in.Policy
	if pol == "" {
		pol = Propagate
	}
	switch pol {
	case Propagate, Unlink, Ignore:
	default:
		return Plan{}, fmt.Errorf("%w: unknown delete policy %q", ErrInvalidInput, in.Policy)
	}
	for _, s := range []State{in.Pipedrive.State, in.Google.State} {
		if s < Absent || s > OutOfScope {
			return Plan{}, fmt.Errorf("%w: %v", ErrInvalidInput, s)
		}
	}
	d := decider{in: in, pol: pol}
	if in.Base != nil {
		d.base = *in.Base
		// a linked record that cannot be found was deleted
		if d.in.Pipedrive.State == Absent {
			d.in.Pipedrive.State = Deleted
		}
		if d.in.Google.State == Absent {
			d.in.Google.State = Deleted
		}
		if in.Planned != nil {
			d.base = in.Planned.Base
		}
	}
	// a plan in flight belongs to a link's base
	pl := in.Planned
	if in.Base == nil {
		pl = nil
	}
	d.seen = map[Side]SideState{
		Pipedrive: resume(pl, Pipedrive, d.in.Pipedrive),
		Google:    resume(pl, Google, d.in.Google),
	}
	d.decide()
	d.plan.History.At = in.Now
	d.plan.History.Conflicts = d.plan.Conflicts
	for _, a := range d.plan.Actions {
		d.plan.History.Written = append(d.plan.History.Written, Written{Side: a.Side, Op: a.Op, Fields: a.Fields.List()})
	}
	return d.plan, nil
}

type decider struct {
	in   Input
	pol  DeletePolicy
	base contact.Contact
	// seen are the sides as the merge compares them with the base: as
	// they are, or with a plan in flight as it left them (resume).
	seen map[Side]SideState
	plan Plan
}

func (d *decider) decide() {
	pd, g := d.in.Pipedrive, d.in.Google
	pIn, gIn := pd.State == Present, g.State == Present
	if d.in.Base == nil {
		switch {
		case pIn && gIn:
			d.both("matched twins merged")
		case pIn:
			d.create(Google, pd.Contact, "new in Pipedrive")
		case gIn && pd.State == OutOfScope:
			d.skip("the Pipedrive twin is owned by another user")
		case gIn:
			d.create(Pipedrive, g.Contact, "new in Google")
		default:
			d.skip("no record in scope on either side")
		}
		return
	}
	d.noteChanged()
	switch {
	case pIn && gIn:
		d.both("")
	case pIn:
		d.gone(Google, g.State)
	case gIn:
		d.gone(Pipedrive, pd.State)
	default:
		d.plan.Unlink = true
		d.plan.History.Summary = fmt.Sprintf("gone on both sides (Pipedrive %v, Google %v): link removed", pd.State, g.State)
	}
}

func (d *decider) side(s Side) SideState {
	if s == Pipedrive {
		return d.in.Pipedrive
	}
	return d.in.Google
}

func other(s Side) Side {
	if s == Pipedrive {
		return Google
	}
	return Pipedrive
}

func sideName(s Side) string {
	if s == Pipedrive {
		return "Pipedrive"
	}
	return "Google"
}

// changed returns the fields a present side changed since the base: the
// user's edits there. With a plan in flight the base is the link's, but a
// field the plan writes there counts as that side's base once written
// (its value came from the other side).
func (d *decider) changed(s Side) contact.Fields {
	st := d.seen[s]
	if st.State != Present {
		return 0
	}
	base := d.base
	if pl := d.in.Planned; pl != nil && d.in.Base != nil {
		base = contact.Overlay(*d.in.Base, pl.Base, pl.side(s).Fields)
	}
	return contact.Diff(base, st.Contact) &^ st.Contact.Unknown
}

func (d *decider) noteChanged() {
	for _, s := range []Side{Pipedrive, Google} {
		if f := d.changed(s); f != 0 {
			d.plan.History.Changed = append(d.plan.History.Changed, SideFields{Side: s, Fields: f.List()})
		}
	}
}

func (d *decider) skip(why string) {
	d.plan.History.Skipped = why
	d.plan.History.Summary = "skipped: " + why
	if d.in.Base != nil {
		b := d.base.Clone()
		d.plan.Base = &b
	}
}

// create writes c as a new record on side s and makes it the base.
func (d *decider) create(s Side, c contact.Contact, why string) {
	w := c.Clone()
	w.Unknown = 0
	if s == Pipedrive {
		w.Unknown = d.in.PipedriveHidden
	}
	fields := contact.Diff(contact.Contact{}, w) &^ w.Unknown
	d.plan.Actions = append(d.plan.Actions, Action{Side: s, Op: Create, Contact: w, Fields: fields})
	b := c.Clone()
	b.Unknown = c.Unknown & w.Unknown
	d.plan.Base = &b
	d.plan.History.Summary = why + ": created in " + sideName(s)
}

// both merges two present sides and writes the result where it differs.
func (d *decider) both(why string) {
	pd, g := d.in.Pipedrive, d.in.Google
	merged, conflicts := merge(d.base, d.seen[Pipedrive], d.seen[Google])
	d.plan.Conflicts = conflicts
	for _, s := range []Side{Pipedrive, Google} {
		st := d.side(s)
		f := contact.Diff(st.Contact, merged) &^ st.Contact.Unknown
		if f == 0 {
			continue
		}
		w := merged.Clone()
		w.Unknown = st.Contact.Unknown
		d.plan.Actions = append(d.plan.Actions, Action{Side: s, Op: Update, Contact: w, Fields: f})
	}
	b := merged.Clone()
	b.Unknown = pd.Contact.Unknown & g.Contact.Unknown
	d.plan.Base = &b
	d.plan.Planned = d.planned(b)
	switch {
	case len(d.plan.Actions) == 0 && why == "":
		d.plan.History.Skipped = "no change since the last sync (echo)"
		d.plan.History.Summary = "no change"
	case len(d.plan.Actions) == 0:
		d.plan.History.Summary = why + ": already equal"
	default:
		var parts []string
		if why != "" {
			parts = append(parts, why)
		}
		for _, a := range d.plan.Actions {
			parts = append(parts, "updated "+a.Fields.String()+" in "+sideName(a.Side))
		}
		if len(conflicts) > 0 {
			parts = append(parts, fmt.Sprintf("%d conflict(s), later change won", len(conflicts)))
		}
		d.plan.History.Summary = strings.Join(parts, "; ")
	}
}

// gone handles side s being gone (deleted or out of scope) while its twin
// is present.
func (d *decider) gone(s Side, st State) {
	twin := other(s)
	tw := d.side(twin)
	what := sideName(s) + " " + st.String()
	if s == Google && st == OutOfScope {
		what = "removed from the Google group"
	}
	ownerLeft := s == Pipedrive && st == OutOfScope
	if ownerLeft {
		what = "Pipedrive owner changed away from the user"
	}
	if d.in.Restore {
		d.restore(s, st, what)
		return
	}
	switch d.pol {
	case Ignore:
		d.skip(what + "; delete policy ignore")
		return
	case Unlink:
		d.plan.Unlink = true
		d.plan.History.Summary = what + "; delete policy unlink: link removed"
		return
	}
	if ownerLeft {
		// the person still exists, owned by someone else: nothing to
		// re-create, the Google contact just leaves the group
		d.plan.Actions = append(d.plan.Actions, Action{Side: Google, Op: Leave})
		d.plan.Unlink = true
		d.plan.History.Summary = what + ": removed from the Google group"
		return
	}
	if f := d.changed(twin); f != 0 {
		// edit beats delete: the twin's edit is re-created on side s;
		// fields the twin does not show come from the base
		c := tw.Contact.Clone()
		c = overlayUnknown(c, d.base)
		d.create(s, c, what+", but "+sideName(twin)+" changed "+f.String()+" since (edit beats delete)")
		return
	}
	d.plan.Actions = append(d.plan.Actions, Action{Side: twin, Op: Delete})
	d.plan.Unlink = true
	d.plan.History.Summary = what + ": deleted in " + sideName(twin)
}

// restore puts back the record gone on side s (the user's answer to a
// braked delete): a contact removed from the group rejoins it; a deleted
// record is created again from its twin (fields the twin does not show
// from the base); a person whose owner changed away cannot be given back,
// so the pair is forgotten and the Google contact stays as it is.
func (d *decider) restore(s Side, st State, what string) {
	switch {
	case s == Google && st == OutOfScope:
		d.plan.Actions = append(d.plan.Actions, Action{Side: Google, Op: Join})
		b := d.base.Clone()
		d.plan.Base = &b
		d.plan.History.Summary = what + ": restored by you, it rejoins the group"
	case s == Pipedrive && st == OutOfScope:
		d.plan.Unlink = true
		d.plan.History.Summary = what + ": kept by you; the Google contact stays, no longer linked"
	default:
		c := overlayUnknown(d.side(other(s)).Contact.Clone(), d.base)
		d.create(s, c, what+": restored by you")
	}
}

// overlayUnknown fills c's unknown fields from base.
func overlayUnknown(c, base contact.Contact) contact.Contact {
	c = contact.Overlay(c, base, c.Unknown&^base.Unknown)
	c.Unknown &= base.Unknown
	return c
}
