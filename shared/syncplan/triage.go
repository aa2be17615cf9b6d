package syncplan

import (
	"time"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

// Seen is what the applier knows after reading only the side a change
// names: the link and that side's record.
type Seen struct {
	// Linked: the record has a link with a base.
	Linked bool
	// Busy: the link holds a pending intent or a parked contact, or the
	// change carries a merge hint or a user's decision (confirm, restore):
	// it needs the full path.
	Busy bool
	// State is the side's record (present = in scope).
	State State
	// Hash is the side's normalized content hash; LinkHash is the hash of
	// that side the link recorded at its last commit.
	Hash, LinkHash string
}

// Unchanged is the echo rule: a change whose side holds exactly what the
// link last synced (same normalized content, still in scope) is our own
// write coming back or a duplicate delivery. It is decided without
// reading the twin, so echoes and duplicates cost no read on the other
// side. A change on the other side has a message of its own.
//
// Content, not the side's version, decides (vdirsyncer's
// test_bogus_etag_change): Pipedrive's update_time has second precision,
// so two edits within one second share a version.
func Unchanged(s Seen) bool {
	return s.Linked && !s.Busy && s.State == Present && s.Hash != "" && s.Hash == s.LinkHash
}

// VersionSettled reports whether a link that recorded Pipedrive version v
// (update_time, whole seconds) when it was written at written (our clock)
// vouches for the person's content at v. An edit made in v's second after
// our read keeps update_time v, so a link written within that second (and
// the clock skew) may not hold it: the safety net, finding the person at v
// while the webhook of such an edit was lost, must have it read (the echo
// rule then compares content), and a read that finds it unchanged after
// the second settles the link (Settle).
func VersionSettled(v, written time.Time) bool {
	return !written.Before(v.Add(time.Second + pipedrive.ClockSkew))
}

// Settle reports whether an unchanged Pipedrive record at version v, read
// at now by a change of the safety net, should be recorded on its link
// (linkVersion, written at written): it settles an unsettled version, and
// records a version the link does not hold (an edit of fields we do not
// sync), so the safety net stops sending the person.
func Settle(linkVersion string, v, written, now time.Time) bool {
	if !HoldsVersion(linkVersion, v) {
		return true
	}
	return !VersionSettled(v, written) && VersionSettled(v, now)
}

// PipedriveVersion is the stored form of Pipedrive version v (update_time)
// on a link: RFC 3339, or "" for none (a zero time).
func PipedriveVersion(v time.Time) string {
	if v.IsZero() {
		return ""
	}
	return v.UTC().Format(time.RFC3339)
}

// HoldsVersion reports whether a link's stored Pipedrive version (see
// PipedriveVersion) is update_time v.
func HoldsVersion(linkVersion string, v time.Time) bool {
	t, err := time.Parse(time.RFC3339, linkVersion)
	return err == nil && t.Equal(v)
}
