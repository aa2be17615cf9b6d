package googlefake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
	people "google.golang.org/api/people/v1"
)

// Batch limits (facts §0, §8).
const (
	MaxBatchGet        = 200
	MaxBatchCreate     = 200
	MaxBatchUpdate     = 200
	MaxBatchDelete     = 500
	MaxMembersModify   = 1000
	maxConnectionsPage = 1000
)

// snap is one immutable version of a contact. Mutations replace it, never
// change it, so page sessions and delayed sync views can hold on to it.
type snap struct {
	fields  map[string]json.RawMessage // writable fields except memberships, normalized
	groups  []string                   // group ids, sorted
	etag    string                     // person etag
	srcEtag string                     // CONTACT source etag
	updated time.Time
	deleted bool
}

type contact struct {
	id  string // "c…"
	cur *snap
	seq uint64 // change log position of the latest change
	// With a propagation delay, sync listings show stale (nil = absent)
	// until visibleAt, while people.get shows cur at once.
	visibleAt time.Time
	hasStale  bool
	stale     *snap
	prevNames []string // previous resource names, reported on sync
}

func (c *contact) resourceName() string { return "people/" + c.id }

// sourceID is the CONTACT source id: the numeric id in hex, as Google shows it.
func (c *contact) sourceID() string {
	n, err := strconv.ParseUint(strings.TrimPrefix(c.id, "c"), 10, 64)
	if err != nil {
		return c.id
	}
	return strconv.FormatUint(n, 16)
}

// view is what sync listings see at now.
func (c *contact) view(now time.Time) *snap {
	if c.hasStale && now.Before(c.visibleAt) {
		return c.stale
	}
	return c.cur
}

func newEtag(prefix string) string {
	var b [12]byte
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return prefix + base64Std(b[:])
}

// All person fields a read mask may name (discovery: personFields).
var readableFields = set("addresses", "ageRanges", "biographies", "birthdays", "calendarUrls", "clientData",
	"coverPhotos", "emailAddresses", "events", "externalIds", "genders", "imClients", "interests", "locales",
	"locations", "memberships", "metadata", "miscKeywords", "names", "nicknames", "occupations",
	"organizations", "phoneNumbers", "photos", "relations", "sipAddresses", "skills", "urls", "userDefined")

// Fields updateContact may replace (discovery: updatePersonFields).
var writableFields = set("addresses", "biographies", "birthdays", "calendarUrls", "clientData",
	"emailAddresses", "events", "externalIds", "genders", "imClients", "interests", "locales", "locations",
	"memberships", "miscKeywords", "names", "nicknames", "occupations", "organizations", "phoneNumbers",
	"relations", "sipAddresses", "urls", "userDefined")

// Singleton fields allow one value per source (facts §3, §5).
var singletonFields = []string{"names", "biographies", "birthdays", "genders"}

func set(xs ...string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// parseMask parses a comma-separated field mask. param names the parameter
// in error messages; doc is the method's reference page.
func parseMask(raw, param, doc string, valid map[string]bool, required bool) (map[string]bool, *apiError) {
	if strings.TrimSpace(raw) == "" {
		if required {
			return nil, errInvalid(param + " mask is required. Please specify one or more valid paths. Valid paths are documented at https://developers.google.com/people/api/rest/v1/" + doc + ".")
		}
		return nil, nil
	}
	m := map[string]bool{}
	for _, p := range strings.Split(raw, ",") {
		p = strings.TrimPrefix(strings.TrimSpace(p), "person.")
		if !valid[p] {
			return nil, errInvalid(fmt.Sprintf("Invalid %s mask path: %q. Valid paths are documented at https://developers.google.com/people/api/rest/v1/%s.", param, p, doc))
		}
		m[p] = true
	}
	return m, nil
}

var validSources = set("READ_SOURCE_TYPE_CONTACT", "READ_SOURCE_TYPE_PROFILE", "READ_SOURCE_TYPE_DOMAIN_CONTACT", "READ_SOURCE_TYPE_OTHER_CONTACT")

func checkSources(vals []string) *apiError {
	for _, v := range vals {
		if !validSources[v] {
			return errInvalid(fmt.Sprintf("Invalid value at 'sources' (type.googleapis.com/google.people.v1.ReadSourceType), %q", v))
		}
	}
	return nil
}

// decodeStrict decodes a JSON body, refusing unknown fields as Google does.
func decodeStrict(r io.Reader, v any, at string) *apiError {
	b, err := io.ReadAll(io.LimitReader(r, 32<<20))
	if err != nil {
		return errInvalid("Invalid JSON payload received.")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return errInvalid(fmt.Sprintf("Invalid JSON payload received. Unknown name %s at '%s': Cannot find field.", name, at))
		}
		return errInvalid("Invalid JSON payload received. " + msg)
	}
	return nil
}

var typeNames = map[string]string{
	"home": "Home", "work": "Work", "other": "Other", "mobile": "Mobile", "homeFax": "Home Fax",
	"workFax": "Work Fax", "otherFax": "Other Fax", "pager": "Pager", "workMobile": "Work Mobile",
	"workPager": "Work Pager", "main": "Main", "googleVoice": "Google Voice", "school": "School",
	"homePage": "Home Page", "blog": "Blog", "profile": "Profile", "birthday": "Birthday",
	"anniversary": "Anniversary", "spouse": "Spouse", "child": "Child", "mother": "Mother", "father": "Father",
}

var protocolNames = map[string]string{
	"aim": "AIM", "msn": "MSN", "yahoo": "Yahoo", "skype": "Skype", "qq": "QQ",
	"googleTalk": "Google Talk", "icq": "ICQ", "jabber": "Jabber", "netMeeting": "NetMeeting",
}

func formatted(names map[string]string, v string) string {
	if f, ok := names[v]; ok {
		return f
	}
	return v // custom values are shown as typed
}

// normalizeFields turns a request Person into stored fields: only writable
// fields (memberships aside), output-only values recomputed, item metadata
// set. only limits the fields taken (nil = all).
func (s *Server) normalizeFields(p *people.Person, srcID string, only map[string]bool) (map[string]json.RawMessage, *apiError) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, errInvalid("")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errInvalid("")
	}
	out := map[string]json.RawMessage{}
	for k, v := range m {
		if !writableFields[k] || k == "memberships" || (only != nil && !only[k]) {
			continue
		}
		var items []map[string]any
		if err := json.Unmarshal(v, &items); err != nil {
			return nil, errInvalid("")
		}
		if len(items) == 0 {
			continue
		}
		if slicesContains(singletonFields, k) && len(items) > 1 {
			return nil, errInvalid(fmt.Sprintf("Cannot have more than one person.%s per source.", k))
		}
		primary := 0
		for i, it := range items {
			if md, ok := it["metadata"].(map[string]any); ok && md["primary"] == true {
				primary = i
				break
			}
		}
		for i, it := range items {
			for _, o := range []string{"formattedType", "formattedProtocol", "canonicalForm", "displayNameLastFirst", "metadata"} {
				delete(it, o)
			}
			s.derive(k, it)
			md := map[string]any{"source": map[string]any{"type": "CONTACT", "id": srcID}}
			if i == primary {
				md["primary"], md["sourcePrimary"] = true, true
			}
			it["metadata"] = md
		}
		b, err := json.Marshal(items)
		if err != nil {
			return nil, errInvalid("")
		}
		out[k] = b
	}
	return out, nil
}

func slicesContains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func str(it map[string]any, k string) string {
	v, _ := it[k].(string)
	return v
}

func joinNonEmpty(sep string, xs ...string) string {
	var out []string
	for _, x := range xs {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return strings.Join(out, sep)
}

// derive fills the output-only values Google computes on write.
func (s *Server) derive(field string, it map[string]any) {
	if t := str(it, "type"); t != "" {
		it["formattedType"] = formatted(typeNames, t)
	}
	switch field {
	case "names":
		delete(it, "displayName")
		if str(it, "givenName")+str(it, "familyName")+str(it, "middleName") == "" && str(it, "unstructuredName") != "" {
			// Google parses an unstructured name into parts; last word as the
			// family name is a simplification [inf].
			parts := strings.Fields(str(it, "unstructuredName"))
			if len(parts) > 1 {
				it["givenName"] = strings.Join(parts[:len(parts)-1], " ")
				it["familyName"] = parts[len(parts)-1]
			} else if len(parts) == 1 {
				it["givenName"] = parts[0]
			}
		}
		dn := joinNonEmpty(" ", str(it, "honorificPrefix"), str(it, "givenName"), str(it, "middleName"), str(it, "familyName"), str(it, "honorificSuffix"))
		if dn != "" {
			it["displayName"] = dn
			first := joinNonEmpty(" ", str(it, "givenName"), str(it, "middleName"))
			if fam := str(it, "familyName"); fam != "" && first != "" {
				it["displayNameLastFirst"] = fam + ", " + first
			} else {
				it["displayNameLastFirst"] = dn
			}
			if str(it, "unstructuredName") == "" {
				it["unstructuredName"] = dn
			}
		}
	case "phoneNumbers":
		if v := str(it, "value"); v != "" {
			if num, err := phonenumbers.Parse(v, s.cfg.phoneRegion); err == nil && phonenumbers.IsValidNumber(num) {
				it["canonicalForm"] = phonenumbers.Format(num, phonenumbers.E164)
			}
		}
	case "imClients":
		if p := str(it, "protocol"); p != "" {
			it["formattedProtocol"] = formatted(protocolNames, p)
		}
	case "addresses":
		if str(it, "formattedValue") == "" {
			fv := joinNonEmpty("\n",
				str(it, "poBox"), str(it, "streetAddress"), str(it, "extendedAddress"),
				joinNonEmpty(" ", joinNonEmpty(", ", str(it, "city"), str(it, "region")), str(it, "postalCode")),
				str(it, "country"))
			if fv != "" {
				it["formattedValue"] = fv
			}
		}
	}
}

// parseMemberships reads the groups a request Person names. Only
// contactGroupResourceName is used, as the reference says.
func (s *Server) parseMemberships(u *user, ms []*people.Membership) ([]string, *apiError) {
	seen := map[string]bool{}
	for _, m := range ms {
		if m == nil || m.ContactGroupMembership == nil {
			continue
		}
		id, ok := strings.CutPrefix(m.ContactGroupMembership.ContactGroupResourceName, "contactGroups/")
		g := u.groups[id]
		if !ok || g == nil || g.deleted {
			return nil, errInvalid(fmt.Sprintf("Contact group %q not found.", m.ContactGroupMembership.ContactGroupResourceName)) // wording [inf]
		}
		if g.system && id != "myContacts" && id != "starred" {
			return nil, errInvalid("Cannot add contacts to deprecated system contact group.") // wording [inf]
		}
		seen[id] = true
	}
	if len(seen) == 0 {
		return nil, errInvalid("Person must have at least one contact group membership.") // wording [inf]
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out, nil
}

// commitLocked stores ns as c's new version (c.cur nil = new contact):
// fresh etags, change log position, group membership and propagation view.
func (s *Server) commitLocked(u *user, c *contact, ns *snap) {
	now := s.clock.Now()
	if s.cfg.propagation > 0 {
		if !now.Before(c.visibleAt) {
			c.hasStale, c.stale = true, c.cur
		}
		c.visibleAt = now.Add(s.cfg.propagation)
	}
	ns.etag, ns.srcEtag, ns.updated = newEtag("%"), newEtag("#"), now
	var old []string
	if c.cur != nil {
		old = c.cur.groups
	}
	for _, gid := range symDiff(old, ns.groups) {
		g := u.groups[gid]
		if g == nil {
			continue
		}
		if slicesContains(ns.groups, gid) {
			g.members[c.id] = true
		} else {
			delete(g.members, c.id)
		}
		u.touchGroup(g, now)
	}
	c.cur = ns
	u.seq++
	c.seq = u.seq
	u.contacts[c.id] = c
}

func symDiff(a, b []string) []string {
	in := map[string]int{}
	for _, x := range a {
		in[x] |= 1
	}
	for _, x := range b {
		in[x] |= 2
	}
	var out []string
	for k, v := range in {
		if v != 3 {
			out = append(out, k)
		}
	}
	return out
}

func (s *Server) newContactLocked() *contact {
	return &contact{id: "c" + s.newNumericID()}
}

// render shows a version of c; mask nil shows every field.
func renderPerson(c *contact, sn *snap, mask map[string]bool, sync bool) map[string]any {
	out := map[string]any{"resourceName": c.resourceName(), "etag": sn.etag}
	if sn.deleted {
		// Tombstones promise only resourceName and metadata.deleted.
		out["metadata"] = map[string]any{"deleted": true, "objectType": "PERSON"}
		return out
	}
	for k, v := range sn.fields {
		if mask == nil || mask[k] {
			out[k] = v
		}
	}
	if (mask == nil || mask["memberships"]) && len(sn.groups) > 0 {
		ms := make([]any, 0, len(sn.groups))
		for _, g := range sn.groups {
			ms = append(ms, map[string]any{
				"metadata":               map[string]any{"source": map[string]any{"type": "CONTACT", "id": c.sourceID()}},
				"contactGroupMembership": map[string]any{"contactGroupId": g, "contactGroupResourceName": "contactGroups/" + g},
			})
		}
		out["memberships"] = ms
	}
	if mask == nil || mask["metadata"] {
		md := map[string]any{
			"sources": []any{map[string]any{
				"type": "CONTACT", "id": c.sourceID(), "etag": sn.srcEtag,
				"updateTime": sn.updated.UTC().Format(time.RFC3339Nano),
			}},
			"objectType": "PERSON",
		}
		if sync && len(c.prevNames) > 0 {
			md["previousResourceNames"] = c.prevNames
		}
		out["metadata"] = md
	}
	return out
}

// toPerson converts a rendered person to the client type (helpers).
func toPerson(m map[string]any) *people.Person {
	b, _ := json.Marshal(m)
	var p people.Person
	_ = json.Unmarshal(b, &p)
	return &p
}

func (u *user) findContact(name string) *contact {
	id, ok := strings.CutPrefix(name, "people/")
	if !ok {
		return nil
	}
	c := u.contacts[id]
	if c == nil || c.cur.deleted {
		return nil
	}
	return c
}

// profile is the signed-in user's own person (people/me). As at Google,
// the account's e-mail address is private profile data: it is returned
// only when the grant has a profile scope that covers it (userinfo.email,
// its alias "email", or user.emails.read); the contacts scope alone shows
// public profile data only.
func (s *Server) profile(u *user, mask map[string]bool, r *http.Request) map[string]any {
	src := map[string]any{"type": "PROFILE", "id": u.id}
	fmd := map[string]any{"primary": true, "source": src}
	local, _, _ := strings.Cut(u.email, "@")
	out := map[string]any{"resourceName": "people/" + u.id, "etag": "%EgUBAi43PRoEAQIFByIMcHJvZmlsZQ=="}
	if mask["names"] {
		out["names"] = []any{map[string]any{"metadata": fmd, "displayName": local, "givenName": local, "displayNameLastFirst": local, "unstructuredName": local}}
	}
	if mask["emailAddresses"] && s.grantHasLocked(r, scopeUserinfoEmail, "email", scopeUserEmailsRead) {
		out["emailAddresses"] = []any{map[string]any{"metadata": map[string]any{"primary": true, "verified": true, "source": map[string]any{"type": "ACCOUNT", "id": u.id}}, "value": u.email}}
	}
	if mask["metadata"] {
		out["metadata"] = map[string]any{"sources": []any{src}, "objectType": "PERSON"}
	}
	return out
}

func (s *Server) getPerson(u *user, r *http.Request, name string) (any, *apiError) {
	q := r.URL.Query()
	mask, e := fieldMask(MethodGet, "personFields", q.Get("personFields"))
	if e != nil {
		return nil, e
	}
	if e := checkSources(q["sources"]); e != nil {
		return nil, e
	}
	if name == "people/me" || name == "people/"+u.id {
		return s.profile(u, mask, r), nil
	}
	c := u.findContact(name)
	if c == nil {
		return nil, errNotFound()
	}
	return renderPerson(c, c.cur, mask, false), nil
}

func okStatus() map[string]any { return map[string]any{} }

func statusOf(e *apiError) map[string]any {
	codes := map[int]int{400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 500: 13, 503: 14}
	c := codes[e.code]
	if e.status == "FAILED_PRECONDITION" {
		c = 9
	}
	return map[string]any{"code": c, "message": e.message}
}

func (s *Server) batchGetPeople(u *user, r *http.Request, _ string) (any, *apiError) {
	q := r.URL.Query()
	mask, e := fieldMask(MethodGetBatchGet, "personFields", q.Get("personFields"))
	if e != nil {
		return nil, e
	}
	if e := checkSources(q["sources"]); e != nil {
		return nil, e
	}
	names := q["resourceNames"]
	if len(names) == 0 || len(names) > MaxBatchGet {
		return nil, errInvalid(fmt.Sprintf("resourceNames must contain between 1 and %d resource names.", MaxBatchGet)) // wording [inf]
	}
	resp := make([]any, 0, len(names))
	for _, n := range names {
		pr := map[string]any{"requestedResourceName": n}
		if n == "people/me" {
			pr["person"], pr["httpStatusCode"], pr["status"] = s.profile(u, mask, r), 200, okStatus()
		} else if c := u.findContact(n); c != nil {
			pr["person"], pr["httpStatusCode"], pr["status"] = renderPerson(c, c.cur, mask, false), 200, okStatus()
		} else {
			pr["httpStatusCode"], pr["status"] = 404, statusOf(errNotFound())
		}
		resp = append(resp, pr)
	}
	return map[string]any{"responses": resp}, nil
}

// newContactSnap validates a Person for creation.
func (s *Server) newContactSnap(u *user, c *contact, p *people.Person) (*snap, *apiError) {
	fields, e := s.normalizeFields(p, c.sourceID(), nil)
	if e != nil {
		return nil, e
	}
	groups := []string{"myContacts"} // default group for new contacts [?]
	if len(p.Memberships) > 0 {
		if groups, e = s.parseMemberships(u, p.Memberships); e != nil {
			return nil, e
		}
	}
	return &snap{fields: fields, groups: groups}, nil
}

func (s *Server) createContact(u *user, r *http.Request, _ string) (any, *apiError) {
	q := r.URL.Query()
	mask, e := fieldMask(MethodCreateContact, "personFields", q.Get("personFields"))
	if e != nil {
		return nil, e
	}
	if e := checkSources(q["sources"]); e != nil {
		return nil, e
	}
	var p people.Person
	if e := decodeStrict(r.Body, &p, "person"); e != nil {
		return nil, e
	}
	c := s.newContactLocked()
	ns, e := s.newContactSnap(u, c, &p)
	if e != nil {
		return nil, e
	}
	if e := s.charge(u, cost{bDailyContactWrites: 1}); e != nil {
		return nil, e
	}
	s.commitLocked(u, c, ns)
	u.stats.ContactWrites++
	return renderPerson(c, c.cur, mask, false), nil
}

const msgStaleEtag = "Request person.etag is different than the current person.etag. Clear local cache and get the latest person."

// checkEtag applies the etag rule of updateContact (discovery document):
// "The server returns a 400 error if person.metadata.sources is not
// specified for the contact to be updated or if there is no contact
// source. The server returns a 400 error with reason failedPrecondition if
// person.metadata.sources.etag is different than the contact's etag". So
// the CONTACT source with its etag is required; a top-level person.etag
// alone is refused, and one sent as well must be current too (the observed
// message names person.etag). batchUpdateContacts says nothing about etags;
// the same rule is applied there [inf].
func checkEtag(c *contact, p *people.Person) *apiError {
	var src *people.Source
	if p.Metadata != nil {
		for _, s := range p.Metadata.Sources {
			if s != nil && s.Type == "CONTACT" {
				src = s
				break
			}
		}
	}
	if src == nil {
		return errInvalid("person.metadata.sources must specify the contact source of the person to update.") // wording [inf]
	}
	if src.Id != "" && src.Id != c.sourceID() {
		return errInvalid("person.metadata.sources does not match the person to update.") // wording [inf]
	}
	if src.Etag == "" {
		return errInvalid("person.metadata.sources.etag is required.") // wording [inf]
	}
	if src.Etag != c.cur.srcEtag || p.Etag != "" && p.Etag != c.cur.etag {
		return errFailedPrecondition(msgStaleEtag)
	}
	return nil
}

// updatedSnap applies an update of the fields in mask to c.
func (s *Server) updatedSnap(u *user, c *contact, p *people.Person, mask map[string]bool) (*snap, *apiError) {
	if e := checkEtag(c, p); e != nil {
		return nil, e
	}
	fields, e := s.normalizeFields(p, c.sourceID(), mask)
	if e != nil {
		return nil, e
	}
	ns := &snap{fields: map[string]json.RawMessage{}, groups: c.cur.groups}
	for k, v := range c.cur.fields {
		if !mask[k] {
			ns.fields[k] = v
		}
	}
	for k, v := range fields {
		ns.fields[k] = v // listed fields are replaced whole; absent ones cleared
	}
	if mask["memberships"] {
		if ns.groups, e = s.parseMemberships(u, p.Memberships); e != nil {
			return nil, e
		}
	}
	return ns, nil
}

func (s *Server) updateContact(u *user, r *http.Request, name string) (any, *apiError) {
	q := r.URL.Query()
	mask, e := fieldMask(MethodUpdateContact, "updatePersonFields", q.Get("updatePersonFields"))
	if e != nil {
		return nil, e
	}
	read, e := fieldMask(MethodUpdateContact, "personFields", q.Get("personFields"))
	if e != nil {
		return nil, e
	}
	if e := checkSources(q["sources"]); e != nil {
		return nil, e
	}
	var p people.Person
	if e := decodeStrict(r.Body, &p, "person"); e != nil {
		return nil, e
	}
	if p.ResourceName != "" && p.ResourceName != name {
		return nil, errInvalid("Resource name in the request path does not match the resource name in the person.") // wording [inf]
	}
	c := u.findContact(name)
	if c == nil {
		return nil, errNotFound()
	}
	ns, e := s.updatedSnap(u, c, &p, mask)
	if e != nil {
		return nil, e
	}
	if e := s.charge(u, cost{bDailyContactWrites: 1}); e != nil {
		return nil, e
	}
	s.commitLocked(u, c, ns)
	u.stats.ContactWrites++
	return renderPerson(c, c.cur, read, false), nil
}

func (s *Server) deleteLocked(u *user, c *contact) {
	s.commitLocked(u, c, &snap{deleted: true})
}

func (s *Server) deleteContact(u *user, _ *http.Request, name string) (any, *apiError) {
	c := u.findContact(name)
	if c == nil {
		return nil, errNotFound()
	}
	s.deleteLocked(u, c)
	u.stats.ContactWrites++
	return map[string]any{}, nil
}

// batchError fails a whole batch: the overall error is the first failing
// item's, details carry every item's status (facts §3; atomicity [inf]).
func batchError(kind string, errs map[string]*apiError, keys []string) *apiError {
	details := map[string]any{}
	var first *apiError
	for _, k := range keys {
		if e := errs[k]; e != nil {
			details[k] = statusOf(e)
			if first == nil {
				first = e
			}
		}
	}
	out := *first
	out.details = []any{map[string]any{
		"@type":         "type.googleapis.com/google.people.v1." + kind, // type URL [?]
		"contactErrors": details,
	}}
	return &out
}

func (s *Server) batchCreate(u *user, r *http.Request, _ string) (any, *apiError) {
	var req people.BatchCreateContactsRequest
	if e := decodeStrict(r.Body, &req, "*"); e != nil {
		return nil, e
	}
	if len(req.Contacts) == 0 || len(req.Contacts) > MaxBatchCreate {
		return nil, errInvalid(fmt.Sprintf("contacts must contain between 1 and %d contacts.", MaxBatchCreate)) // wording [inf]
	}
	mask, e := fieldMask(MethodBatchCreateContacts, "readMask", req.ReadMask)
	if e != nil {
		return nil, e
	}
	if e := checkSources(req.Sources); e != nil {
		return nil, e
	}
	cs := make([]*contact, len(req.Contacts))
	snaps := make([]*snap, len(req.Contacts))
	errs := map[string]*apiError{}
	var keys []string
	for i, cp := range req.Contacts {
		k := strconv.Itoa(i)
		keys = append(keys, k)
		if cp == nil || cp.ContactPerson == nil {
			errs[k] = errInvalid("contactPerson is required.")
			continue
		}
		cs[i] = s.newContactLocked()
		if snaps[i], e = s.newContactSnap(u, cs[i], cp.ContactPerson); e != nil {
			errs[k] = e
		}
	}
	if len(errs) > 0 {
		return nil, batchError("BatchCreateContactsErrorDetails", errs, keys)
	}
	if e := s.charge(u, cost{bDailyContactWrites: len(cs)}); e != nil {
		return nil, e
	}
	created := make([]any, 0, len(cs))
	for i, c := range cs {
		s.commitLocked(u, c, snaps[i])
		pr := map[string]any{"httpStatusCode": 200, "status": okStatus()}
		if mask != nil { // an empty readMask skips the read-back (facts §3)
			pr["person"] = renderPerson(c, c.cur, mask, false)
		}
		created = append(created, pr)
	}
	u.stats.ContactWrites += len(cs)
	return map[string]any{"createdPeople": created}, nil
}

func (s *Server) batchUpdate(u *user, r *http.Request, _ string) (any, *apiError) {
	var req people.BatchUpdateContactsRequest
	if e := decodeStrict(r.Body, &req, "*"); e != nil {
		return nil, e
	}
	if len(req.Contacts) == 0 || len(req.Contacts) > MaxBatchUpdate {
		return nil, errInvalid(fmt.Sprintf("contacts must contain between 1 and %d contacts.", MaxBatchUpdate)) // wording [inf]
	}
	mask, e := fieldMask(MethodBatchUpdateContacts, "updateMask", req.UpdateMask)
	if e != nil {
		return nil, e
	}
	read, e := fieldMask(MethodBatchUpdateContacts, "readMask", req.ReadMask)
	if e != nil {
		return nil, e
	}
	if e := checkSources(req.Sources); e != nil {
		return nil, e
	}
	keys := make([]string, 0, len(req.Contacts))
	for k := range req.Contacts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	errs := map[string]*apiError{}
	snaps := map[string]*snap{}
	for _, k := range keys {
		p := req.Contacts[k]
		c := u.findContact(k)
		switch {
		case c == nil:
			errs[k] = errNotFound()
		default:
			if snaps[k], e = s.updatedSnap(u, c, &p, mask); e != nil {
				errs[k] = e
			}
		}
	}
	if len(errs) > 0 {
		return nil, batchError("BatchUpdateContactsErrorDetails", errs, keys)
	}
	if e := s.charge(u, cost{bDailyContactWrites: len(keys)}); e != nil {
		return nil, e
	}
	res := map[string]any{}
	for _, k := range keys {
		c := u.findContact(k)
		s.commitLocked(u, c, snaps[k])
		pr := map[string]any{"httpStatusCode": 200, "status": okStatus(), "requestedResourceName": k}
		if read != nil {
			pr["person"] = renderPerson(c, c.cur, read, false)
		}
		res[k] = pr
	}
	u.stats.ContactWrites += len(keys)
	return map[string]any{"updateResult": res}, nil
}

func (s *Server) batchDelete(u *user, r *http.Request, _ string) (any, *apiError) {
	var req people.BatchDeleteContactsRequest
	if e := decodeStrict(r.Body, &req, "*"); e != nil {
		return nil, e
	}
	if len(req.ResourceNames) == 0 || len(req.ResourceNames) > MaxBatchDelete {
		return nil, errInvalid(fmt.Sprintf("resourceNames must contain between 1 and %d resource names.", MaxBatchDelete)) // wording [inf]
	}
	cs := make([]*contact, 0, len(req.ResourceNames))
	seen := map[string]bool{}
	for _, n := range req.ResourceNames {
		c := u.findContact(n)
		if c == nil {
			// One unknown name fails the whole batch [?]: the engine must
			// cope with contacts the user deleted meanwhile.
			return nil, errNotFound()
		}
		if !seen[c.id] {
			seen[c.id] = true
			cs = append(cs, c)
		}
	}
	for _, c := range cs {
		s.deleteLocked(u, c)
	}
	u.stats.ContactWrites += len(cs)
	return map[string]any{}, nil
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
