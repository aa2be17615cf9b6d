package syncplan

import "testing"

// The echo rule (Unchanged) as the applier meets it: one change message,
// the link and the changed side's record read, the twin not yet read.
func TestUnchanged(t *testing.T) {
	const synced, edited = "h-synced", "h-edited"
	for _, tc := range []struct {
		name string
		seen Seen
		want bool
	}{
		{"our own write comes back as a webhook (echo)",
			Seen{Linked: true, State: Present, Hash: synced, LinkHash: synced}, true},
		{"the user edited the record since the last sync",
			Seen{Linked: true, State: Present, Hash: edited, LinkHash: synced}, false},
		{"a new record, never synced (no link, or a link without a base)",
			Seen{State: Present, Hash: synced, LinkHash: synced}, false},
		{"the user deleted the record (its last content is still the synced one)",
			Seen{Linked: true, State: Deleted, Hash: synced, LinkHash: synced}, false},
		{"the record is gone (404) and reads as empty",
			Seen{Linked: true, State: Absent, Hash: synced, LinkHash: synced}, false},
		{"the contact left the group, or the person was given to a colleague",
			Seen{Linked: true, State: OutOfScope, Hash: synced, LinkHash: synced}, false},
		{"the link is busy: a pending create, a parked contact, a merge hint or the user's answer",
			Seen{Linked: true, Busy: true, State: Present, Hash: synced, LinkHash: synced}, false},
		{"an address that does not sync came or went (the link's hash is cleared)",
			Seen{Linked: true, State: Present, Hash: synced}, false},
		{"neither hash is known",
			Seen{Linked: true, State: Present}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Unchanged(tc.seen); got != tc.want {
				t.Errorf("Unchanged(%+v) = %v, want %v", tc.seen, got, tc.want)
			}
		})
	}
}
