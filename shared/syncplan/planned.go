package syncplan

import "github.com/contactsync/contactsync/shared/contact"

// Planned is an update plan kept on the link while its writes run: the
// applier stores it before the first remote update and the commit clears
// it. A delivery that finds one knows a run stopped between a write and its
// record (a crash, or an error after one side was written). Without it the
// retry took that run's writes for the user's: a phone number the user
// removed in Pipedrive after the run had written it to Google came back,
// and a person deleted after the run was created again from its Google
// contact (edit beats delete).
//
// With it, the plan's record is the base, and each side is read as the
// plan left it (resume): a field the plan did not write there, or wrote,
// is compared with the plan as it is; a field still as it was before the
// plan counts as written (the retry writes it); a field the user changed
// since is the user's edit on top of the plan.
type Planned struct {
	// Base is the record the plan writes (its Plan.Base).
	Base      contact.Contact `json:"base"`
	Pipedrive PlannedSide     `json:"pipedrive"`
	Google    PlannedSide     `json:"google"`
}

// PlannedSide is what the plan does to one side.
type PlannedSide struct {
	// Fields are the fields the plan writes there.
	Fields contact.Fields `json:"fields"`
	// Before is the side's record when the plan was made.
	Before contact.Contact `json:"before"`
}

func (p *Planned) side(s Side) PlannedSide {
	if s == Pipedrive {
		return p.Pipedrive
	}
	return p.Google
}

// resume reads side s as the plan pl left it: per field the plan writes
// there, a record still as it was before the plan reads as the plan's
// value; one the user edited since (whether or not the write happened) is
// the edit made on top of the plan, merged field-wise with the edit
// winning. Fields the plan does not write there are as they are. The
// record's Unknown fields, state and time stay.
func resume(pl *Planned, s Side, st SideState) SideState {
	if pl == nil || st.State != Present {
		return st
	}
	ps := pl.side(s)
	now := st.Contact
	var edited *contact.Contact
	c := now.Clone()
	for _, d := range contact.Table {
		switch {
		case ps.Fields&d.Field == 0 || d.Same(now, pl.Base):
		case d.Same(now, ps.Before):
			d.Copy(&c, pl.Base)
		default:
			if edited == nil {
				// ties go to the first side: the user's edit wins
				m, _ := merge(ps.Before, SideState{Contact: now}, SideState{Contact: pl.Base})
				edited = &m
			}
			d.Copy(&c, *edited)
		}
	}
	out := st
	out.Contact = contact.Normalize(c)
	out.Contact.Unknown = now.Unknown
	return out
}

// planned is the Planned of a plan that updates a side, for the applier to
// store before the writes; nil when the plan updates nothing.
func (d *decider) planned(merged contact.Contact) *Planned {
	pl := &Planned{Base: merged.Clone(),
		Pipedrive: PlannedSide{Before: d.in.Pipedrive.Contact.Clone()},
		Google:    PlannedSide{Before: d.in.Google.Contact.Clone()}}
	updates := false
	for _, a := range d.plan.Actions {
		if a.Op != Update {
			continue
		}
		updates = true
		if a.Side == Pipedrive {
			pl.Pipedrive.Fields |= a.Fields
		} else {
			pl.Google.Fields |= a.Fields
		}
	}
	if !updates {
		return nil
	}
	return pl
}
