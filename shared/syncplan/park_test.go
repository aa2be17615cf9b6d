package syncplan

import "testing"

// A parked link: the person's owner changed away from the user, its
// contact left the group and the link kept it. The applier reads the
// parked contact only when the person is the user's again (else it passes
// ContactGone).
func TestUnpark(t *testing.T) {
	for _, tc := range []struct {
		name    string
		person  State
		contact ParkedContact
		want    Unparked
	}{
		{"the person is still a colleague's", OutOfScope, ContactGone, StillAway},
		{"a colleague's person, its contact put back in the group by the user", OutOfScope, ContactInGroup, StillAway},
		{"the colleague deleted the person", Deleted, ContactGone, Release},
		{"the person cannot be found any more", Absent, ContactGone, Release},
		{"the person was deleted; its contact is back in the group", Deleted, ContactInGroup, Release},
		{"given back to the user; the contact waits outside the group", Present, ContactOutOfGroup, Rejoin},
		{"given back to the user, who already put the contact back in the group", Present, ContactInGroup, Resume},
		{"given back to the user, who deleted the contact meanwhile", Present, ContactGone, Fresh},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Unpark(tc.person, tc.contact); got != tc.want {
				t.Errorf("Unpark(%v, %v) = %v, want %v", tc.person, tc.contact, got, tc.want)
			}
		})
	}
}
