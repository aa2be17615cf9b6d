package firstsync

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/match"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/syncplan"
)

// The plan: pure. From both complete listings and the existing links it
// decides, with the sync core (match.Match, syncplan.Decide), what the job
// writes, and cuts it into chunks. The preview and the run plan alike, so
// the run does what the preview said unless the data changed in between.

// PersonRecord is a Pipedrive person the user owns, as listed.
type PersonRecord struct {
	ID      string
	Person  *pipedrive.Person
	Org     string
	Contact contact.Contact
}

// ContactRecord is a contact of the group, as listed.
type ContactRecord struct {
	ID      string
	Person  *people.Person
	Contact contact.Contact
}

// LinkRecord is an existing link.
type LinkRecord struct {
	ID, PID, GID string
	Base         *contact.Contact
	Parked       string
	Review       string
	// DerivedName is the name Pipedrive holds only because it requires
	// one (contact.UnderiveName): no name for the sync.
	DerivedName string
}

// Input is what the plan is made of.
type Input struct {
	Persons  []PersonRecord
	Contacts []ContactRecord
	Links    []LinkRecord
	Policy   syncplan.DeletePolicy
	// Hidden are the fields the company does not show (contact sync off).
	Hidden contact.Fields
	Now    time.Time
	// ListedAt is when the listing began. A person whose update_time is
	// within that second (and the clock skew) may have been edited after
	// the read and keep that update_time (whole seconds): her link is not
	// given the version, so the safety net reads her once more.
	ListedAt time.Time
}

// Item is one planned pair or create, with what syncplan decided for it.
// Items travel in chunk documents as JSON.
type Item struct {
	PID    string `json:"pid,omitempty"`
	GID    string `json:"gid,omitempty"`
	LinkID string `json:"link"`
	// Existing: the link exists (a reconcile); its history is kept.
	Existing bool              `json:"existing,omitempty"`
	Actions  []syncplan.Action `json:"actions,omitempty"`
	Base     contact.Contact   `json:"base"`
	Summary  string            `json:"summary"`
	Fields   []string          `json:"fields,omitempty"`
	// Conflicts decided by the merge (recorded in the link's history).
	Conflicts int `json:"conflicts,omitempty"`
	// Matched is the rule that paired the two records ("" for creates).
	Matched string `json:"matched,omitempty"`
	// The records as listed, in brief: a chunk compares them with a fresh
	// read before it writes (a record changed meanwhile is not
	// overwritten), and the link records them. Org is the person's
	// organization name; OrgID the organization a Pipedrive write links
	// the person to, resolved when the plan was made (0: none).
	PHash    string    `json:"ph,omitempty"`
	PVersion time.Time `json:"pv,omitzero"`
	POrgID   int64     `json:"po,omitempty"`
	Org      string    `json:"org,omitempty"`
	GHash    string    `json:"gh,omitempty"`
	GEtag    string    `json:"ge,omitempty"`
	// GUnsynced counts the listed contact's addresses that do not sync;
	// Derived is the person's name when only Pipedrive's need for one
	// made it (contact.DerivedName): both go on the link.
	GUnsynced int    `json:"gu,omitempty"`
	Derived   string `json:"dn,omitempty"`
	OrgID     int64  `json:"org_id,omitempty"`

	conflicts []syncplan.Conflict // for the preview's sample
}

// Writes reports whether the item writes on side s.
func (it Item) Writes(s syncplan.Side) bool {
	return slices.ContainsFunc(it.Actions, func(a syncplan.Action) bool { return a.Side == s })
}

// Action returns the item's action on side s.
func (it Item) Action(s syncplan.Side) (syncplan.Action, bool) {
	for _, a := range it.Actions {
		if a.Side == s {
			return a, true
		}
	}
	return syncplan.Action{}, false
}

// Review is a group of records held for review: they match without
// forming a one-to-one pair, and are never guessed.
type Review struct {
	By       string
	Persons  []string // person ids
	Contacts []string // resource names
}

// Missing is a linked record the listing did not show (deleted, out of the
// group, owned by someone else): the applier checks it by id afterwards.
type Missing struct {
	Side syncplan.Side
	ID   string
}

// Plan is the job's work.
type Plan struct {
	// Pairs are linked or matched pairs (writes on either side, or only
	// the link); GoogleCreates and PipedriveCreates the records created on
	// the other side.
	Pairs            []Item
	GoogleCreates    []Item
	PipedriveCreates []Item
	Reviews          []Review
	Missing          []Missing
	Counts           Counts
}

// Counts are what the plan will do, for the preview and the progress.
type Counts struct {
	PipedriveListed, GoogleListed int
	CreateInGoogle                int
	CreateInPipedrive             int
	Matched                       int
	MatchedBy                     map[string]int
	AlreadyLinked                 int
	UpdateInGoogle                int
	UpdateInPipedrive             int
	Conflicts                     int
	ConflictSample                []Conflict
	Ambiguous                     int
	AmbiguousSample               []Review
	Missing                       int
}

// Conflict is a field a matched pair fills differently, for the preview.
type Conflict struct {
	PID, GID string
	syncplan.Conflict
}

// samples bounds the conflicts and ambiguous groups a preview shows.
const samples = 20

// MakePlan plans the job.
func MakePlan(in Input) (Plan, error) {
	var p Plan
	p.Counts.PipedriveListed, p.Counts.GoogleListed = len(in.Persons), len(in.Contacts)
	p.Counts.MatchedBy = map[string]int{}
	persons := make(map[string]PersonRecord, len(in.Persons))
	for _, r := range in.Persons {
		persons[r.ID] = r
	}
	contacts := make(map[string]ContactRecord, len(in.Contacts))
	for _, r := range in.Contacts {
		contacts[r.ID] = r
	}

	// Existing links first (a reconcile): both listed → decided against
	// their base; one side missing → checked by the applier afterwards.
	linkedP, linkedG := map[string]bool{}, map[string]bool{}
	for _, l := range sortedLinks(in.Links) {
		switch {
		case l.Review != "":
			// held for review: neither record is matched or created
			linkedP[l.PID], linkedG[l.GID] = l.PID != "", l.GID != ""
			continue
		case l.Parked != "":
			if _, ok := persons[l.PID]; ok {
				p.Missing = append(p.Missing, Missing{Side: syncplan.Pipedrive, ID: l.PID}) // back to the user: the applier unparks
			}
			linkedP[l.PID] = true
			continue
		}
		pr, pok := persons[l.PID]
		gr, gok := contacts[l.GID]
		if l.PID != "" {
			linkedP[l.PID] = true
		}
		if l.GID != "" {
			linkedG[l.GID] = true
		}
		switch {
		case pok && gok:
			raw := pr.Contact.Hash() // the link's hash is the person's as read
			pr.Contact = contact.UnderiveName(pr.Contact, l.DerivedName)
			it, err := decide(in, &pr, &gr, l.Base, "")
			if err != nil {
				return p, err
			}
			it.PHash = raw
			it.LinkID, it.Existing = l.ID, true
			p.Counts.AlreadyLinked++
			p.Pairs = append(p.Pairs, it)
		case l.PID != "" && !pok:
			p.Missing = append(p.Missing, Missing{Side: syncplan.Pipedrive, ID: l.PID})
		case l.GID != "" && !gok:
			p.Missing = append(p.Missing, Missing{Side: syncplan.Google, ID: l.GID})
		}
	}

	// The rest is matched: by e-mail, phone, then name + organization.
	var pdRecs, gRecs []match.Record
	for _, r := range in.Persons {
		if !linkedP[r.ID] {
			pdRecs = append(pdRecs, match.Record{ID: r.ID, Contact: r.Contact})
		}
	}
	for _, r := range in.Contacts {
		if !linkedG[r.ID] {
			gRecs = append(gRecs, match.Record{ID: r.ID, Contact: r.Contact})
		}
	}
	res := match.Match(pdRecs, gRecs, nil)
	for _, pr := range res.Pairs {
		per, con := persons[pr.PipedriveID], contacts[pr.GoogleID]
		it, err := decide(in, &per, &con, nil, string(pr.By))
		if err != nil {
			return p, err
		}
		p.Counts.Matched++
		p.Counts.MatchedBy[string(pr.By)]++
		p.Pairs = append(p.Pairs, it)
	}
	for _, id := range res.OnlyPipedrive {
		per := persons[id]
		it, err := decide(in, &per, nil, nil, "")
		if err != nil {
			return p, err
		}
		p.GoogleCreates = append(p.GoogleCreates, it)
	}
	for _, id := range res.OnlyGoogle {
		con := contacts[id]
		it, err := decide(in, nil, &con, nil, "")
		if err != nil {
			return p, err
		}
		p.PipedriveCreates = append(p.PipedriveCreates, it)
	}
	for _, a := range res.Ambiguous {
		p.Reviews = append(p.Reviews, Review{By: string(a.By), Persons: a.PipedriveIDs, Contacts: a.GoogleIDs})
	}

	for _, l := range [][]Item{p.Pairs, p.GoogleCreates, p.PipedriveCreates} {
		slices.SortFunc(l, func(a, b Item) int { return cmp.Compare(a.LinkID, b.LinkID) })
	}
	slices.SortFunc(p.Missing, func(a, b Missing) int { return cmp.Compare(string(a.Side)+a.ID, string(b.Side)+b.ID) })
	p.count()
	return p, nil
}

// decide runs the sync core on one pair or one record.
func decide(in Input, per *PersonRecord, con *ContactRecord, base *contact.Contact, by string) (Item, error) {
	var it Item
	din := syncplan.Input{Base: base, Policy: in.Policy, Now: in.Now, PipedriveHidden: in.Hidden}
	if per != nil {
		it.PID, it.Org, it.PHash, it.PVersion = per.ID, per.Org, per.Contact.Hash(), per.Person.UpdateTime
		if !syncplan.VersionSettled(per.Person.UpdateTime, in.ListedAt) {
			it.PVersion = time.Time{}
		}
		if per.Person.OrgID != nil {
			it.POrgID = *per.Person.OrgID
		}
		din.Pipedrive = syncplan.SideState{State: syncplan.Present, Contact: per.Contact, Updated: per.Person.UpdateTime}
	}
	if con != nil {
		it.GID, it.GHash, it.GEtag = con.ID, con.Contact.Hash(), con.Person.Etag
		it.GUnsynced = contact.UnsyncedGoogleAddresses(con.Person)
		pdc := per
		din.Google = syncplan.SideState{State: syncplan.Present, Contact: con.Contact, Updated: syncplan.GoogleUpdateTime(con.Person)}
		if pdc != nil {
			// the same name written whole on one side and split by
			// Pipedrive on the other is no conflict
			ref := con.Contact
			if base != nil {
				ref = *base
			}
			din.Pipedrive.Contact = contact.AlignPipedrive(din.Pipedrive.Contact, ref)
		}
	}
	plan, err := syncplan.Decide(din)
	if err != nil {
		return it, fmt.Errorf("firstsync: decide: %w", err)
	}
	it.Actions, it.Summary, it.Matched = plan.Actions, plan.History.Summary, by
	if plan.Base != nil {
		it.Base = *plan.Base
	}
	if per != nil {
		it.Derived = contact.DerivedName(it.Base, per.Contact)
	}
	it.Conflicts = len(plan.Conflicts)
	for _, c := range plan.History.Changed {
		it.Fields = append(it.Fields, c.Fields...)
	}
	it.LinkID = store.LinkIDForGoogle(it.GID)
	if it.PID != "" {
		it.LinkID = store.LinkIDForPipedrive(it.PID)
	}
	it.conflicts = plan.Conflicts
	return it, nil
}

func (p *Plan) count() {
	c := &p.Counts
	c.CreateInGoogle, c.CreateInPipedrive = len(p.GoogleCreates), len(p.PipedriveCreates)
	for _, it := range p.Pairs {
		if it.Writes(syncplan.Google) {
			c.UpdateInGoogle++
		}
		if it.Writes(syncplan.Pipedrive) {
			c.UpdateInPipedrive++
		}
		c.Conflicts += it.Conflicts
		for _, cf := range it.conflicts {
			if len(c.ConflictSample) < samples {
				c.ConflictSample = append(c.ConflictSample, Conflict{PID: it.PID, GID: it.GID, Conflict: cf})
			}
		}
	}
	for _, r := range p.Reviews {
		c.Ambiguous += len(r.Persons) + len(r.Contacts)
		if len(c.AmbiguousSample) < samples {
			c.AmbiguousSample = append(c.AmbiguousSample, r)
		}
	}
	c.Missing = len(p.Missing)
}

func sortedLinks(ls []LinkRecord) []LinkRecord {
	out := slices.Clone(ls)
	slices.SortFunc(out, func(a, b LinkRecord) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
