package syncplan

import (
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

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

func TestVersionSettled(t *testing.T) {
	v := time.Date(2026, 11, 29, 10, 0, 7, 0, time.UTC) // Pipedrive: whole seconds
	tests := []struct {
		name    string
		written time.Time
		want    bool
	}{
		{"in the version's second", v.Add(400 * time.Millisecond), false},
		{"right after the second, within the skew", v.Add(2 * time.Second), false},
		{"after the second and the skew", v.Add(time.Second + pipedrive.ClockSkew), true},
		{"long after", v.Add(time.Hour), true},
		{"before the version (our clock behind)", v.Add(-time.Second), false},
	}
	for _, tc := range tests {
		if got := VersionSettled(v, tc.written); got != tc.want {
			t.Errorf("%s: VersionSettled = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSettle(t *testing.T) {
	v := time.Date(2026, 11, 29, 10, 0, 7, 0, time.UTC)
	at := v.Format(time.RFC3339)
	tests := []struct {
		name         string
		link         string
		written, now time.Time
		want         bool
	}{
		{"settled already", at, v.Add(time.Minute), v.Add(2 * time.Minute), false},
		{"unsettled, read after the second", at, v.Add(300 * time.Millisecond), v.Add(10 * time.Second), true},
		{"unsettled, read still within the second", at, v.Add(300 * time.Millisecond), v.Add(900 * time.Millisecond), false},
		{"another version (a field we do not sync)", v.Add(-time.Hour).Format(time.RFC3339), v.Add(-time.Hour), v.Add(time.Minute), true},
		{"no version", "", time.Time{}, v.Add(time.Minute), true},
	}
	for _, tc := range tests {
		if got := Settle(tc.link, v, tc.written, tc.now); got != tc.want {
			t.Errorf("%s: Settle = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The stored form of a version is what HoldsVersion reads back; no
// version is stored as "" and holds nothing.
func TestPipedriveVersionRoundTrip(t *testing.T) {
	v := time.Date(2026, 3, 1, 12, 0, 7, 0, time.FixedZone("CET", 3600))
	if s := PipedriveVersion(v); s != "2026-03-01T11:00:07Z" || !HoldsVersion(s, v) {
		t.Errorf("PipedriveVersion(%v) = %q, held: %v", v, s, HoldsVersion(s, v))
	}
	if s := PipedriveVersion(time.Time{}); s != "" || HoldsVersion(s, time.Time{}) {
		t.Errorf("zero version stored as %q", s)
	}
}
