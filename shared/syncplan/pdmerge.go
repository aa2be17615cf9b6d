package syncplan

// Merges in Pipedrive (SPEC section 4). A merge arrives as two changes, in
// either order, each possibly duplicated or lost: the loser's delete with
// a "merged to" hint and the survivor's upsert with a "merged from" hint.
// Either one does the whole merge, once a re-read confirms the loser is
// gone; the other then finds the loser's link gone and takes the normal
// path (an echo). So the loser's delete never reaches the normal delete
// path while its link exists, and "edit beats delete" never re-creates it.
// Every step is idempotent and ordered so that a crash between two of them
// is finished by the next delivery of either change.

// MergeFacts is what the applier gathered about one merge.
type MergeFacts struct {
	// Survivor is the survivor's state: present (owned by the user), out
	// of scope (owned by someone else), deleted or absent.
	Survivor State
	// SurvivorLinked: the survivor has a link. SameContact: both links name
	// one Google contact (a takeover already happened).
	SurvivorLinked, SameContact bool
	// LoserTwin and SurvivorTwin: each link's Google contact exists and is
	// in the group (a contact outside the group is never touched).
	LoserTwin, SurvivorTwin bool
	// LoserNewer: the loser's link was committed after the survivor's, so
	// its contact is the more recently synced one and is kept.
	LoserNewer bool
	// DroppedElsewhere: the contact to be removed is also in another group
	// of the user (or starred).
	DroppedElsewhere bool
	Policy           DeletePolicy
}

// MergeOp is one step of a merge, run in order by the applier.
type MergeOp int

// Merge steps.
const (
	// MergeLeaveLoserTwin: the loser's contact leaves the group (it stays
	// in the user's contacts).
	MergeLeaveLoserTwin MergeOp = iota
	// MergeFoldIntoSurvivorTwin: the loser's contact's synced fields are
	// folded into the survivor's contact (Fold, written with its etag).
	MergeFoldIntoSurvivorTwin
	// MergeFoldIntoLoserTwin: the survivor's contact is folded into the
	// loser's, which is kept.
	MergeFoldIntoLoserTwin
	// MergeFoldRecordIntoLoserTwin: the survivor's Pipedrive record is
	// folded into the loser's contact, which the survivor takes over.
	MergeFoldRecordIntoLoserTwin
	// MergeRemoveSurvivorTwin / MergeRemoveLoserTwin: the contact not kept
	// is removed as Fate says.
	MergeRemoveSurvivorTwin
	MergeRemoveLoserTwin
	// MergeNote records the merge in the survivor's link history, once.
	MergeNote
	// MergeTakeOverWithRecord / MergeTakeOverWithBase: the survivor takes
	// over the loser's link and contact; its base is the survivor's
	// Pipedrive record, or the survivor link's own base.
	MergeTakeOverWithRecord
	MergeTakeOverWithBase
	// MergeDropLoserLink: the loser's link is removed.
	MergeDropLoserLink
)

// TwinFate is what happens to a contact removed by a merge.
type TwinFate int

// Fates of a removed contact.
const (
	// FateDelete: deleted in Google.
	FateDelete TwinFate = iota
	// FateLeave: it only leaves the group: the user files it elsewhere
	// too, and a delete would reach outside the synced group.
	FateLeave
	// FateKeep: left as it is, no longer linked (policies unlink and
	// ignore never delete for a Pipedrive change).
	FateKeep
)

func (f TwinFate) String() string {
	switch f {
	case FateLeave:
		return "left the group (it is in other groups too)"
	case FateKeep:
		return "was left as it is (by the delete policy)"
	}
	return "was deleted"
}

// MergePlan is the decision about a merge.
type MergePlan struct {
	// Normal: no merge to do here; the change takes the normal path (the
	// survivor is gone: the loser is applied as the delete it is).
	Normal bool
	Ops    []MergeOp
	// Fate is what happens to the removed contact.
	Fate TwinFate
	// Note is the history text of MergeNote and the takeover (no personal data).
	Note string
}

// PlanMerge is the merge table. After its steps the survivor is applied as
// an upsert, so its record and the kept contact converge by the normal
// three-way merge.
//
//	survivor   links and contacts                          → steps
//	gone       –                                           → normal path
//	other user loser's contact in the group, propagate     → loser's contact leaves; drop loser's link
//	other user otherwise                                   → drop loser's link
//	the user's both links name one contact (done before)   → drop loser's link
//	the user's the loser has no contact in the group       → note; drop loser's link
//	the user's the survivor has none                       → fold its record into the loser's contact; take over (record as base)
//	the user's both have one, survivor's link newer        → fold into survivor's; note; remove loser's; drop loser's link
//	the user's both have one, loser's link newer           → fold into loser's; remove survivor's; take over (survivor's base)
func PlanMerge(f MergeFacts) MergePlan {
	pol := f.Policy
	if pol == "" {
		pol = Propagate
	}
	fate := FateDelete
	switch {
	case pol != Propagate:
		fate = FateKeep
	case f.DroppedElsewhere:
		fate = FateLeave
	}
	switch {
	case f.Survivor != Present && f.Survivor != OutOfScope:
		return MergePlan{Normal: true}
	case f.Survivor == OutOfScope:
		if f.LoserTwin && pol == Propagate {
			return MergePlan{Ops: []MergeOp{MergeLeaveLoserTwin, MergeDropLoserLink},
				Note: "merged into a person of another user; its contact left the group"}
		}
		return MergePlan{Ops: []MergeOp{MergeDropLoserLink}, Note: "merged into a person of another user"}
	case f.SurvivorLinked && f.SameContact:
		return MergePlan{Ops: []MergeOp{MergeDropLoserLink}}
	case !f.LoserTwin:
		return MergePlan{Ops: []MergeOp{MergeNote, MergeDropLoserLink}, Note: "it had no Google contact to fold in"}
	case !f.SurvivorTwin:
		return MergePlan{Ops: []MergeOp{MergeFoldRecordIntoLoserTwin, MergeTakeOverWithRecord},
			Note: "the survivor took over its Google contact"}
	case f.LoserNewer:
		return MergePlan{Ops: []MergeOp{MergeFoldIntoLoserTwin, MergeRemoveSurvivorTwin, MergeTakeOverWithBase},
			Fate: fate, Note: "fields of the other Google contact folded in; that contact " + fate.String()}
	}
	return MergePlan{Ops: []MergeOp{MergeFoldIntoSurvivorTwin, MergeNote, MergeRemoveLoserTwin, MergeDropLoserLink},
		Fate: fate, Note: "fields of its Google contact folded in; that contact " + fate.String()}
}
