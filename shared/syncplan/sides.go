package syncplan

import (
	"time"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/pipedrive"
	people "google.golang.org/api/people/v1"
)

// PipedriveSide builds the Pipedrive SideState from a person as read (nil
// when the read found nothing): deleted, out of scope when not owned by
// the connected user, else present. orgName is the person's organization
// name as resolved by the caller.
func PipedriveSide(m contact.Mapper, p *pipedrive.Person, orgName string, userID int64) SideState {
	if p == nil {
		return SideState{State: Absent}
	}
	st := SideState{State: Present, Contact: m.FromPipedrive(p, orgName), Updated: p.UpdateTime}
	switch {
	case p.IsDeleted:
		st.State = Deleted
	case p.OwnerID != userID:
		st.State = OutOfScope
	}
	return st
}

// GoogleSide builds the Google SideState from a contact as read (nil when
// the read found nothing): deleted (metadata.deleted), out of scope when
// not a member of group (a contactGroups/… resource name), else present.
// Updated is the CONTACT source's updateTime.
func GoogleSide(m contact.Mapper, p *people.Person, group string) SideState {
	if p == nil {
		return SideState{State: Absent}
	}
	st := SideState{State: Present, Contact: m.FromGoogle(p), Updated: GoogleUpdateTime(p)}
	switch {
	case p.Metadata != nil && p.Metadata.Deleted:
		st.State = Deleted
	case !InGroup(p, group):
		st.State = OutOfScope
	}
	return st
}

// InGroup reports whether the person is a member of the contact group.
func InGroup(p *people.Person, group string) bool {
	for _, m := range p.Memberships {
		if m != nil && m.ContactGroupMembership != nil && m.ContactGroupMembership.ContactGroupResourceName == group {
			return true
		}
	}
	return false
}

// GoogleUpdateTime is the CONTACT source's updateTime, zero if absent or
// unparseable.
func GoogleUpdateTime(p *people.Person) time.Time {
	if p == nil || p.Metadata == nil {
		return time.Time{}
	}
	for _, s := range p.Metadata.Sources {
		if s != nil && s.Type == "CONTACT" && s.UpdateTime != "" {
			t, err := time.Parse(time.RFC3339Nano, s.UpdateTime)
			if err == nil {
				return t
			}
		}
	}
	return time.Time{}
}
