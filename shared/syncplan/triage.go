package syncplan

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
