package pipedrivefake

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

// CompanyOptions describes a sandbox company.
type CompanyOptions struct {
	Name   string
	Domain string // subdomain, default derived from Name
	Plan   Plan   // default Growth
	Seats  int    // default 1
	// ContactSync turns on the contact-sync fields (im, postal_address,
	// notes, birthday, job_title); off, they are absent from every response.
	ContactSync bool
}

// CreateCompany adds a company and returns its id.
func (s *Server) CreateCompany(o CompanyOptions) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.Plan == "" {
		o.Plan = Growth
	}
	if o.Seats <= 0 {
		o.Seats = 1
	}
	if o.Name == "" {
		o.Name = "Sandbox Company"
	}
	if o.Domain == "" {
		o.Domain = strings.ToLower(strings.Join(strings.Fields(o.Name), "-"))
	}
	c := &company{id: s.newID(), name: o.Name, domain: o.Domain, plan: o.Plan, seats: o.Seats, contactSync: o.ContactSync}
	s.companies[c.id] = c
	return c.id
}

// SetContactSync switches the company's contact-sync fields on or off.
func (s *Server) SetContactSync(companyID int64, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.companies[companyID]; c != nil {
		c.contactSync = on
	}
}

// CreateUser adds a user to a company and returns its id and API token.
// The first user created becomes the OAuth default (see SetDefaultUser).
func (s *Server) CreateUser(companyID int64, name, email string) (userID int64, apiToken string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.companies[companyID] == nil {
		return 0, "", fmt.Errorf("pipedrivefake: no company %d", companyID)
	}
	u := &user{id: s.newID(), companyID: companyID, name: name, email: email, apiToken: randHex(20)}
	s.users[u.id] = u
	s.apiTokens[u.apiToken] = u.id
	if s.defaultUser == 0 {
		s.defaultUser = u.id
	}
	return u.id, u.apiToken, nil
}

// SetDefaultUser sets who "signs in" at /oauth/authorize without ?user_id=.
func (s *Server) SetDefaultUser(userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.defaultUser = userID
}

// RevokeOAuth revokes every refresh and access token of a user (the user
// uninstalled the app): refresh then fails with invalid_grant.
func (s *Server) RevokeOAuth(userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.refresh {
		if t.userID == userID {
			t.revoked = true
		}
	}
	for k, t := range s.access {
		if t.userID == userID {
			delete(s.access, k)
		}
	}
}

// ExpireAccessTokens makes every issued access token expired.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.access)
}

func (s *Server) userLocked(userID int64) (*user, error) {
	u := s.users[userID]
	if u == nil {
		return nil, fmt.Errorf("pipedrivefake: no user %d", userID)
	}
	return u, nil
}

func patchFromInput(in pipedrive.PersonInput) (*personPatch, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return parsePersonBody(b)
}

func (s *Server) createPerson(userID int64, in pipedrive.PersonInput, source string, silent bool) (int64, error) {
	pp, err := patchFromInput(in)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.userLocked(userID)
	if err != nil {
		return 0, err
	}
	if silent {
		saved := s.hooks
		s.hooks = map[int64]*hook{}
		defer func() { s.hooks = saved }()
	}
	p, err := s.createPersonLocked(u, pp, source)
	if err != nil {
		return 0, err
	}
	return p.id, nil
}

// SeedPerson creates a person owned by userID (unless in.OwnerID says
// otherwise) without firing webhooks or counting API calls: test setup.
func (s *Server) SeedPerson(userID int64, in pipedrive.PersonInput) (int64, error) {
	return s.createPerson(userID, in, "app", true)
}

// UIAddPerson creates a person as if userID did it in the Pipedrive UI:
// webhooks fire with change_source "app"; no API call is counted.
func (s *Server) UIAddPerson(userID int64, in pipedrive.PersonInput) (int64, error) {
	return s.createPerson(userID, in, "app", false)
}

// UIEditPerson edits a person in the UI (webhook change, source "app").
func (s *Server) UIEditPerson(userID, personID int64, in pipedrive.PersonInput) error {
	pp, err := patchFromInput(in)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.userLocked(userID)
	if err != nil {
		return err
	}
	p := s.personLocked(u.companyID, personID)
	if p == nil || p.isDeleted {
		return fmt.Errorf("pipedrivefake: person %d: %w", personID, errNotFound)
	}
	_, err = s.patchPersonLocked(u, p, pp, "app")
	return err
}

// UISetVisibility sets a person's visible_to in the UI (1 = owner and
// followers, 3, 5, 7 = wider): webhooks of users who cannot see the person
// afterwards are not sent.
func (s *Server) UISetVisibility(userID, personID int64, visibleTo int) error {
	body, _ := json.Marshal(map[string]any{"visible_to": visibleTo})
	pp, err := parsePersonBody(body)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.userLocked(userID)
	if err != nil {
		return err
	}
	p := s.personLocked(u.companyID, personID)
	if p == nil || p.isDeleted {
		return fmt.Errorf("pipedrivefake: person %d: %w", personID, errNotFound)
	}
	_, err = s.patchPersonLocked(u, p, pp, "app")
	return err
}

// UISetCustomField sets (or, with nil, clears) a custom field in the UI.
func (s *Server) UISetCustomField(userID, personID int64, key string, value any) error {
	v, err := json.Marshal(value)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]any{"custom_fields": map[string]json.RawMessage{key: v}})
	pp, err := parsePersonBody(body)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.userLocked(userID)
	if err != nil {
		return err
	}
	p := s.personLocked(u.companyID, personID)
	if p == nil || p.isDeleted {
		return fmt.Errorf("pipedrivefake: person %d: %w", personID, errNotFound)
	}
	_, err = s.patchPersonLocked(u, p, pp, "app")
	return err
}

// UIDeletePerson deletes a person in the UI (webhook delete, source "app").
func (s *Server) UIDeletePerson(userID, personID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.userLocked(userID)
	if err != nil {
		return err
	}
	p := s.personLocked(u.companyID, personID)
	if p == nil || p.isDeleted {
		return fmt.Errorf("pipedrivefake: person %d: %w", personID, errNotFound)
	}
	s.deletePersonLocked(u, p, "app", 0)
	return nil
}

// UIMergePersons merges loserID into survivorID in the UI.
func (s *Server) UIMergePersons(userID, loserID, survivorID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.userLocked(userID)
	if err != nil {
		return err
	}
	_, err = s.mergeLocked(u, loserID, survivorID, "app")
	return err
}

// AddOrganization creates an organization owned by userID.
func (s *Server) AddOrganization(userID int64, name string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.userLocked(userID)
	if err != nil {
		return 0, err
	}
	return s.addOrgLocked(u.companyID, u.id, name).id, nil
}

// Person returns a person's full stored state (contact-sync fields
// included, deleted persons too), and whether it exists.
func (s *Server) Person(id int64) (pipedrive.Person, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.persons[id]
	if p == nil {
		return pipedrive.Person{}, false
	}
	return toPublic(p), true
}

// OrganizationName returns an organization's name, and whether it exists
// (an observer for tests: no API call, no rate limit).
func (s *Server) OrganizationName(id int64) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgs[id]
	if o == nil {
		return "", false
	}
	return o.name, true
}

// Persons returns the company's persons (deleted ones too), by id.
func (s *Server) Persons(companyID int64) []pipedrive.Person {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []pipedrive.Person
	for _, id := range slices.Sorted(maps.Keys(s.persons)) {
		if p := s.persons[id]; p.companyID == companyID {
			out = append(out, toPublic(p))
		}
	}
	return out
}

// WebhookState is a registered webhook with its delivery bookkeeping.
type WebhookState struct {
	pipedrive.Webhook
	CompanyID    int64
	OwnerID      int64
	HTTPPassword string
	Banned       bool
	BanCount     int
}

// Webhooks returns the company's webhooks (0 = all companies), by id.
func (s *Server) Webhooks(companyID int64) []WebhookState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []WebhookState
	now := s.now()
	for _, id := range slices.Sorted(maps.Keys(s.hooks)) {
		h := s.hooks[id]
		if companyID != 0 && h.companyID != companyID {
			continue
		}
		out = append(out, WebhookState{
			Webhook: pipedrive.Webhook{ID: h.id, UserID: h.userID, EventAction: h.action, EventObject: h.object,
				SubscriptionURL: h.url, Version: h.version, Name: h.name, IsActive: true,
				HTTPAuthUser: h.authUser, LastHTTPStatus: h.lastStatus},
			CompanyID: h.companyID, OwnerID: h.ownerID, HTTPPassword: h.authPassword,
			Banned: now.Before(h.bannedUntil), BanCount: h.banCount,
		})
	}
	return out
}

// Calls returns how many requests hit route, a pattern such as
// "PATCH /api/v2/persons/{id}" (see Routes), whatever the outcome.
func (s *Server) Calls(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[route]
}

// CompanyWrites returns the successful API writes made for one company
// (its users' tokens).
func (s *Server) CompanyWrites(companyID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.companyWrites[companyID]
}

// Writes returns the number of successful API writes (POST, PATCH, PUT,
// DELETE under /api/), over all routes or, given routes, over those only.
// "An echo costs zero writes" is Writes() unchanged.
func (s *Server) Writes(routes ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for r, c := range s.writes {
		if len(routes) == 0 || slices.Contains(routes, r) {
			n += c
		}
	}
	return n
}

// CallLog returns every request answered so far.
func (s *Server) CallLog() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log2)
}

// ResetCounters zeroes Calls, Writes and the call log.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
	clear(s.writes)
	s.log2 = nil
}

// Route patterns, for Calls and Writes.
const (
	RouteListPersons  = "GET /api/v2/persons"
	RouteGetPerson    = "GET /api/v2/persons/{id}"
	RouteCreatePerson = "POST /api/v2/persons"
	RoutePatchPerson  = "PATCH /api/v2/persons/{id}"
	RouteDeletePerson = "DELETE /api/v2/persons/{id}"
	RouteSearchPerson = "GET /api/v2/persons/search"
	RouteMerge        = "PUT /api/v1/persons/{id}/merge"
	RouteSearchOrgs   = "GET /api/v2/organizations/search"
	RouteCreateOrg    = "POST /api/v2/organizations"
	RouteGetOrg       = "GET /api/v2/organizations/{id}"
	RouteMe           = "GET /api/v1/users/me"
	RouteListHooks    = "GET /api/v1/webhooks"
	RouteCreateHook   = "POST /api/v1/webhooks"
	RouteDeleteHook   = "DELETE /api/v1/webhooks/{id}"
	RouteToken        = "POST /oauth/token"
)
