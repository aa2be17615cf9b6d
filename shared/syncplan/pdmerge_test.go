package syncplan

import (
	"slices"
	"strings"
	"testing"
)

// Merges in Pipedrive: the user merged a loser person into a survivor; the
// facts are as the applier gathers them after confirming the loser is gone.
func TestPlanMerge(t *testing.T) {
	// both persons synced, each with its contact in the group
	both := MergeFacts{Survivor: Present, SurvivorLinked: true, LoserTwin: true, SurvivorTwin: true}
	with := func(f MergeFacts, change func(*MergeFacts)) MergeFacts { change(&f); return f }
	keepSurvivor := []MergeOp{MergeFoldIntoSurvivorTwin, MergeNote, MergeRemoveLoserTwin, MergeDropLoserLink}
	keepLoser := []MergeOp{MergeFoldIntoLoserTwin, MergeRemoveSurvivorTwin, MergeTakeOverWithBase}
	const none TwinFate = -1 // no contact is removed
	for _, tc := range []struct {
		name   string
		f      MergeFacts
		normal bool
		ops    []MergeOp
		fate   TwinFate // of the contact the merge removes
	}{
		{"the survivor was deleted too: the loser is an ordinary delete",
			with(both, func(f *MergeFacts) { f.Survivor = Deleted }), true, nil, none},
		{"the survivor cannot be found: the loser is an ordinary delete",
			with(both, func(f *MergeFacts) { f.Survivor = Absent }), true, nil, none},
		{"merged into a colleague's person: the loser's contact leaves the group",
			MergeFacts{Survivor: OutOfScope, LoserTwin: true}, false, []MergeOp{MergeLeaveLoserTwin, MergeDropLoserLink}, none},
		{"merged into a colleague's person, policy unlink: the contact stays in the group, unlinked",
			MergeFacts{Survivor: OutOfScope, LoserTwin: true, Policy: Unlink}, false, []MergeOp{MergeDropLoserLink}, none},
		{"merged into a colleague's person, policy ignore: its contact is left alone",
			MergeFacts{Survivor: OutOfScope, LoserTwin: true, Policy: Ignore}, false, []MergeOp{MergeDropLoserLink}, none},
		{"merged into a colleague's person; the loser's contact already left the group",
			MergeFacts{Survivor: OutOfScope}, false, []MergeOp{MergeDropLoserLink}, none},
		{"the other half of the merge arrives after the takeover (both links name one contact)",
			with(both, func(f *MergeFacts) { f.SameContact = true }), false, []MergeOp{MergeDropLoserLink}, none},
		{"the loser had no contact in the group",
			with(both, func(f *MergeFacts) { f.LoserTwin = false }), false, []MergeOp{MergeNote, MergeDropLoserLink}, none},
		{"the survivor was never synced: it takes over the loser's contact",
			MergeFacts{Survivor: Present, LoserTwin: true}, false, []MergeOp{MergeFoldRecordIntoLoserTwin, MergeTakeOverWithRecord}, none},
		{"the survivor's contact left the group: it takes over the loser's",
			with(both, func(f *MergeFacts) { f.SurvivorTwin = false }), false, []MergeOp{MergeFoldRecordIntoLoserTwin, MergeTakeOverWithRecord}, none},
		{"both synced, the survivor more recently: the loser's contact is folded in and deleted",
			both, false, keepSurvivor, FateDelete},
		{"both synced, no policy chosen: propagate",
			with(both, func(f *MergeFacts) { f.Policy = "" }), false, keepSurvivor, FateDelete},
		{"both synced; the loser's contact is also in the user's Family group: it only leaves ours",
			with(both, func(f *MergeFacts) { f.DroppedElsewhere = true }), false, keepSurvivor, FateLeave},
		{"both synced, policy unlink: the loser's contact is kept, even if it is in another group too",
			with(both, func(f *MergeFacts) { f.Policy = Unlink; f.DroppedElsewhere = true }), false, keepSurvivor, FateKeep},
		{"both synced, policy ignore: the loser's contact is kept",
			with(both, func(f *MergeFacts) { f.Policy = Ignore }), false, keepSurvivor, FateKeep},
		{"both synced, the loser more recently: its contact is kept and the survivor takes it over",
			with(both, func(f *MergeFacts) { f.LoserNewer = true }), false, keepLoser, FateDelete},
		{"the loser synced more recently; the survivor's contact is in another group too",
			with(both, func(f *MergeFacts) { f.LoserNewer = true; f.DroppedElsewhere = true }), false, keepLoser, FateLeave},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PlanMerge(tc.f)
			if p.Normal != tc.normal || !slices.Equal(p.Ops, tc.ops) {
				t.Fatalf("PlanMerge(%+v) = normal %v, ops %v; want normal %v, ops %v", tc.f, p.Normal, p.Ops, tc.normal, tc.ops)
			}
			removes := slices.Contains(p.Ops, MergeRemoveLoserTwin) || slices.Contains(p.Ops, MergeRemoveSurvivorTwin)
			if removes != (tc.fate != none) {
				t.Fatalf("ops %v remove a contact: %v, want %v", p.Ops, removes, tc.fate != none)
			}
			if removes && p.Fate != tc.fate {
				t.Errorf("fate %v, want %v", p.Fate, tc.fate)
			}
			if removes && !strings.Contains(p.Note, tc.fate.String()) {
				t.Errorf("note %q does not say the contact %s", p.Note, tc.fate)
			}
			if note := slices.Contains(p.Ops, MergeNote) || slices.Contains(p.Ops, MergeTakeOverWithBase) ||
				slices.Contains(p.Ops, MergeTakeOverWithRecord); note && p.Note == "" {
				t.Errorf("no note for the history")
			}
		})
	}
}
