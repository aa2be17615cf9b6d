package googlefake

import (
	"errors"
	"fmt"
	"sort"

	people "google.golang.org/api/people/v1"
)

// Errors of the test helpers.
var (
	ErrInvalid     = errors.New("googlefake: invalid argument")
	ErrNotFound    = errors.New("googlefake: not found")
	ErrUnknownUser = errors.New("googlefake: unknown user")
)

// The helpers below act as the user would in the Google Contacts UI: their
// changes bump etags and the change log exactly like API writes, but they do
// not count as API traffic and spend no quota.

// AddUser creates the sandbox account email if it does not exist yet.
func (s *Server) AddUser(email string) error {
	if email == "" {
		return fmt.Errorf("googlefake: AddUser: empty e-mail: %w", ErrInvalid)
	}
	s.mu.Lock()
	s.userLocked(email)
	s.mu.Unlock()
	return nil
}

func (s *Server) lookupLocked(email string) (*user, error) {
	u := s.users[email]
	if u == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownUser, email)
	}
	return u, nil
}

func helperErr(op string, e *apiError) error {
	if e.code == 404 {
		return fmt.Errorf("googlefake: %s: %s: %w", op, e.message, ErrNotFound)
	}
	return fmt.Errorf("googlefake: %s: %s: %w", op, e.message, ErrInvalid)
}

// CreateGroup creates a user contact group and returns its resource name.
func (s *Server) CreateGroup(email, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.lookupLocked(email)
	if err != nil {
		return "", err
	}
	g, e := s.createGroupLocked(u, name, nil)
	if e != nil {
		return "", helperErr("CreateGroup", e)
	}
	return g.resourceName(), nil
}

// DeleteGroup deletes a user contact group; its contacts stay unless
// deleteContacts is set.
func (s *Server) DeleteGroup(email, groupName string, deleteContacts bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.lookupLocked(email)
	if err != nil {
		return err
	}
	g := u.findGroup(groupName)
	if g == nil || g.system {
		return fmt.Errorf("googlefake: DeleteGroup %q: %w", groupName, ErrNotFound)
	}
	s.deleteGroupLocked(u, g, deleteContacts)
	return nil
}

// SeedContact creates a contact as the user would in the UI. Memberships in
// p name its groups (default: myContacts). It returns the stored person.
func (s *Server) SeedContact(email string, p *people.Person) (*people.Person, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.lookupLocked(email)
	if err != nil {
		return nil, err
	}
	c := s.newContactLocked()
	ns, e := s.newContactSnap(u, c, p)
	if e != nil {
		return nil, helperErr("SeedContact", e)
	}
	s.commitLocked(u, c, ns)
	return toPerson(renderPerson(c, c.cur, nil, false)), nil
}

// EditContact lets edit change a copy of the contact's current state, then
// stores every writable field and the memberships of the result, as a UI edit
// would. Etags in the copy are ignored.
func (s *Server) EditContact(email, resourceName string, edit func(p *people.Person)) (*people.Person, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.lookupLocked(email)
	if err != nil {
		return nil, err
	}
	c := u.findContact(resourceName)
	if c == nil {
		return nil, fmt.Errorf("googlefake: EditContact %q: %w", resourceName, ErrNotFound)
	}
	p := toPerson(renderPerson(c, c.cur, nil, false))
	edit(p)
	p.Etag = c.cur.etag
	ns, e := s.updatedSnap(u, c, p, writableFields)
	if e != nil {
		return nil, helperErr("EditContact", e)
	}
	s.commitLocked(u, c, ns)
	return toPerson(renderPerson(c, c.cur, nil, false)), nil
}

// DeleteContact deletes a contact as the user would in the UI.
func (s *Server) DeleteContact(email, resourceName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.lookupLocked(email)
	if err != nil {
		return err
	}
	c := u.findContact(resourceName)
	if c == nil {
		return fmt.Errorf("googlefake: DeleteContact %q: %w", resourceName, ErrNotFound)
	}
	s.deleteLocked(u, c)
	return nil
}

// SetMembership adds the contact to the group or removes it, as toggling a
// label in the UI does. Removing the last group is refused, as in the API.
func (s *Server) SetMembership(email, resourceName, groupName string, member bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.lookupLocked(email)
	if err != nil {
		return err
	}
	c, g := u.findContact(resourceName), u.findGroup(groupName)
	if c == nil || g == nil {
		return fmt.Errorf("googlefake: SetMembership %q %q: %w", resourceName, groupName, ErrNotFound)
	}
	in := slicesContains(c.cur.groups, g.id)
	switch {
	case member && !in:
		s.commitLocked(u, c, &snap{fields: c.cur.fields, groups: withGroup(c.cur.groups, g.id)})
	case !member && in:
		if len(c.cur.groups) == 1 {
			return fmt.Errorf("googlefake: SetMembership: %q is the last group of %q: %w", groupName, resourceName, ErrInvalid)
		}
		s.commitLocked(u, c, &snap{fields: c.cur.fields, groups: without(c.cur.groups, g.id)})
	}
	return nil
}

// ChangeResourceName re-keys a contact, as Google does when profile-linking
// fields change; the next sync listing reports the old name in
// metadata.previousResourceNames. It returns the new resource name.
func (s *Server) ChangeResourceName(email, resourceName string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.lookupLocked(email)
	if err != nil {
		return "", err
	}
	c := u.findContact(resourceName)
	if c == nil {
		return "", fmt.Errorf("googlefake: ChangeResourceName %q: %w", resourceName, ErrNotFound)
	}
	// The old name disappears without a tombstone; the new one carries it.
	delete(u.contacts, c.id)
	for _, g := range u.groups {
		if g.members[c.id] {
			delete(g.members, c.id)
		}
	}
	nc := s.newContactLocked()
	nc.prevNames = append(append([]string(nil), c.prevNames...), c.resourceName())
	for _, gid := range c.cur.groups {
		u.groups[gid].members[nc.id] = true
	}
	nc.cur = c.cur
	s.commitLocked(u, nc, &snap{fields: c.cur.fields, groups: c.cur.groups})
	return nc.resourceName(), nil
}

// Contact returns the current state of one contact, every field included.
func (s *Server) Contact(email, resourceName string) (*people.Person, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.lookupLocked(email)
	if err != nil {
		return nil, err
	}
	c := u.findContact(resourceName)
	if c == nil {
		return nil, fmt.Errorf("googlefake: Contact %q: %w", resourceName, ErrNotFound)
	}
	return toPerson(renderPerson(c, c.cur, nil, false)), nil
}

// Contacts returns every live contact of email, oldest change first.
func (s *Server) Contacts(email string) ([]*people.Person, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.lookupLocked(email)
	if err != nil {
		return nil, err
	}
	cs := make([]*contact, 0, len(u.contacts))
	for _, c := range u.contacts {
		if !c.cur.deleted {
			cs = append(cs, c)
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].seq < cs[j].seq })
	out := make([]*people.Person, len(cs))
	for i, c := range cs {
		out[i] = toPerson(renderPerson(c, c.cur, nil, false))
	}
	return out, nil
}

// GroupMembers returns the sorted resource names of a group's members.
func (s *Server) GroupMembers(email, groupName string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.lookupLocked(email)
	if err != nil {
		return nil, err
	}
	g := u.findGroup(groupName)
	if g == nil {
		return nil, fmt.Errorf("googlefake: GroupMembers %q: %w", groupName, ErrNotFound)
	}
	out := make([]string, 0, len(g.members))
	for id := range g.members {
		out = append(out, "people/"+id)
	}
	sort.Strings(out)
	return out, nil
}

// Groups returns every live group of email with member counts.
func (s *Server) Groups(email string) ([]*people.ContactGroup, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.lookupLocked(email)
	if err != nil {
		return nil, err
	}
	var out []*people.ContactGroup
	for _, g := range u.sortedGroups() {
		if g.deleted {
			continue
		}
		out = append(out, &people.ContactGroup{
			ResourceName: g.resourceName(), Etag: g.etag, Name: g.name, FormattedName: g.formattedName,
			GroupType:   map[bool]string{true: "SYSTEM_CONTACT_GROUP", false: "USER_CONTACT_GROUP"}[g.system],
			MemberCount: int64(len(g.members)),
		})
	}
	return out, nil
}

// ExpireSyncTokens expires every sync token of email issued so far, contacts
// and groups alike; the next call with one answers EXPIRED_SYNC_TOKEN.
func (s *Server) ExpireSyncTokens(email string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.lookupLocked(email)
	if err != nil {
		return err
	}
	u.syncGen++
	return nil
}
