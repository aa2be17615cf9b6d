package googlefake

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	people "google.golang.org/api/people/v1"
)

type group struct {
	id            string
	name          string
	formattedName string
	system        bool
	members       map[string]bool // contact ids
	etag          string
	updated       time.Time
	seq           uint64
	deleted       bool
	clientData    json.RawMessage
}

func (g *group) resourceName() string { return "contactGroups/" + g.id }

// touchGroup records a change of g (rename, membership, delete): a new etag
// and a place in the group change log.
func (u *user) touchGroup(g *group, now time.Time) {
	g.etag = newEtag("#")
	g.updated = now
	u.groupSeq++
	g.seq = u.groupSeq
}

func newGroupID() string {
	var b [8]byte
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return hex.EncodeToString(b[:])
}

func renderGroup(u *user, g *group, mask map[string]bool, maxMembers int) map[string]any {
	out := map[string]any{"resourceName": g.resourceName(), "etag": g.etag}
	if g.deleted {
		out["metadata"] = map[string]any{"updateTime": g.updated.UTC().Format(time.RFC3339Nano), "deleted": true}
		return out
	}
	if mask["metadata"] {
		out["metadata"] = map[string]any{"updateTime": g.updated.UTC().Format(time.RFC3339Nano)}
	}
	if mask["groupType"] {
		out["groupType"] = "USER_CONTACT_GROUP"
		if g.system {
			out["groupType"] = "SYSTEM_CONTACT_GROUP"
		}
	}
	if mask["name"] {
		out["name"], out["formattedName"] = g.name, g.formattedName
	}
	if mask["memberCount"] && len(g.members) > 0 {
		out["memberCount"] = len(g.members)
	}
	if mask["clientData"] && len(g.clientData) > 0 {
		out["clientData"] = g.clientData
	}
	if maxMembers > 0 && len(g.members) > 0 {
		names := make([]string, 0, len(g.members))
		for id := range g.members {
			names = append(names, "people/"+id)
		}
		sort.Strings(names)
		out["memberResourceNames"] = names[:min(maxMembers, len(names))]
	}
	return out
}

func (u *user) findGroup(name string) *group {
	id, ok := strings.CutPrefix(name, "contactGroups/")
	if !ok {
		return nil
	}
	g := u.groups[id]
	if g == nil || g.deleted {
		return nil
	}
	return g
}

func (u *user) sortedGroups() []*group {
	gs := make([]*group, 0, len(u.groups))
	for _, g := range u.groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].seq < gs[j].seq })
	return gs
}

func (s *Server) listGroups(u *user, r *http.Request, _ string) (any, *apiError) {
	q := r.URL.Query()
	mask, e := fieldMask(MethodGroupsList, "groupFields", q.Get("groupFields"))
	if e != nil {
		return nil, e
	}
	pageSize := 30
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1000 {
			return nil, errInvalid("")
		}
		if n > 0 {
			pageSize = n
		}
	}
	var since uint64
	syncing := false
	if st := q.Get("syncToken"); st != "" {
		t, ok := decodeSyncToken(st)
		if !ok || t.User != u.id || t.Key != "groups" {
			return nil, errInvalid("")
		}
		if s.tokenExpired(u, t) {
			return nil, errExpiredSyncToken()
		}
		since, syncing = t.Pos, true
	}
	var gs []*group
	for _, g := range u.sortedGroups() {
		if g.seq > since && (syncing || !g.deleted) {
			gs = append(gs, g)
		}
	}
	offset := 0
	if pt := q.Get("pageToken"); pt != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(pt, "grp"))
		if !strings.HasPrefix(pt, "grp") || err != nil || n < 0 || n > len(gs) {
			return nil, errInvalid("")
		}
		offset = n
	}
	end := min(offset+pageSize, len(gs))
	out := map[string]any{}
	if end > offset {
		list := make([]any, 0, end-offset)
		for _, g := range gs[offset:end] {
			list = append(list, renderGroup(u, g, mask, 0)) // list never returns members
		}
		out["contactGroups"] = list
	}
	if len(gs) > 0 {
		out["totalItems"] = len(gs)
	}
	if end < len(gs) {
		out["nextPageToken"] = "grp" + strconv.Itoa(end)
	} else {
		now := s.clock.Now().UnixNano()
		out["nextSyncToken"] = syncToken{User: u.id, Pos: u.groupSeq, Key: "groups", Full: now, Issue: now, Gen: u.syncGen}.encode()
	}
	return out, nil
}

func parseMaxMembers(v string) (int, *apiError) {
	if v == "" {
		return 0, nil // default 0: no members
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errInvalid("")
	}
	return n, nil
}

func (s *Server) getGroup(u *user, r *http.Request, name string) (any, *apiError) {
	q := r.URL.Query()
	mask, e := fieldMask(MethodGroupsGet, "groupFields", q.Get("groupFields"))
	if e != nil {
		return nil, e
	}
	maxMembers, e := parseMaxMembers(q.Get("maxMembers"))
	if e != nil {
		return nil, e
	}
	g := u.findGroup(name)
	if g == nil {
		return nil, errNotFound()
	}
	return renderGroup(u, g, mask, maxMembers), nil
}

func (s *Server) batchGetGroups(u *user, r *http.Request, _ string) (any, *apiError) {
	q := r.URL.Query()
	mask, e := fieldMask(MethodGroupsBatchGet, "groupFields", q.Get("groupFields"))
	if e != nil {
		return nil, e
	}
	maxMembers, e := parseMaxMembers(q.Get("maxMembers"))
	if e != nil {
		return nil, e
	}
	names := q["resourceNames"]
	if len(names) == 0 || len(names) > 200 {
		return nil, errInvalid("")
	}
	var resp []any
	for _, n := range names {
		gr := map[string]any{"requestedResourceName": n}
		if g := u.findGroup(n); g != nil {
			gr["contactGroup"], gr["status"] = renderGroup(u, g, mask, maxMembers), okStatus()
		} else {
			gr["status"] = statusOf(errNotFound())
		}
		resp = append(resp, gr)
	}
	return map[string]any{"responses": resp}, nil
}

func errDuplicateGroup() *apiError {
	return &apiError{code: 409, status: "ALREADY_EXISTS", reason: "duplicate", message: "Contact group name already exists."} // wording and reason [?]
}

func (u *user) groupNameTaken(name string, except *group) bool {
	for _, g := range u.groups {
		if g != except && !g.deleted && (g.name == name || g.formattedName == name) {
			return true
		}
	}
	return false
}

func (s *Server) createGroupLocked(u *user, name string, clientData json.RawMessage) (*group, *apiError) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, errInvalid("Contact group name must not be empty.") // wording [inf]
	}
	if u.groupNameTaken(name, nil) {
		return nil, errDuplicateGroup()
	}
	g := &group{id: newGroupID(), name: name, formattedName: name, members: map[string]bool{}, clientData: clientData}
	u.groups[g.id] = g
	u.touchGroup(g, s.clock.Now())
	return g, nil
}

func groupClientData(cd []*people.GroupClientData) json.RawMessage {
	if len(cd) == 0 {
		return nil
	}
	b, _ := json.Marshal(cd)
	return b
}

func (s *Server) createGroup(u *user, r *http.Request, _ string) (any, *apiError) {
	var req people.CreateContactGroupRequest
	if e := decodeStrict(r.Body, &req, "*"); e != nil {
		return nil, e
	}
	mask, e := fieldMask(MethodGroupsCreate, "readGroupFields", req.ReadGroupFields)
	if e != nil {
		return nil, e
	}
	if req.ContactGroup == nil {
		return nil, errInvalid("")
	}
	g, e := s.createGroupLocked(u, req.ContactGroup.Name, groupClientData(req.ContactGroup.ClientData))
	if e != nil {
		return nil, e
	}
	return renderGroup(u, g, mask, 0), nil
}

func (s *Server) updateGroup(u *user, r *http.Request, name string) (any, *apiError) {
	var req people.UpdateContactGroupRequest
	if e := decodeStrict(r.Body, &req, "*"); e != nil {
		return nil, e
	}
	mask, e := fieldMask(MethodGroupsUpdate, "readGroupFields", req.ReadGroupFields)
	if e != nil {
		return nil, e
	}
	upd, e := fieldMask(MethodGroupsUpdate, "updateGroupFields", req.UpdateGroupFields)
	if e != nil {
		return nil, e
	}
	g := u.findGroup(name)
	if g == nil {
		return nil, errNotFound()
	}
	if g.system {
		return nil, errInvalid("Cannot update a system contact group.") // wording [inf]
	}
	cg := req.ContactGroup
	if cg == nil {
		return nil, errInvalid("")
	}
	if cg.Etag != "" && cg.Etag != g.etag {
		return nil, errFailedPrecondition("Request contact group etag is different than the current contact group etag.") // wording [inf]
	}
	if upd["name"] {
		n := strings.TrimSpace(cg.Name)
		if n == "" {
			return nil, errInvalid("Contact group name must not be empty.")
		}
		if u.groupNameTaken(n, g) {
			return nil, errDuplicateGroup()
		}
		g.name, g.formattedName = n, n
	}
	if upd["clientData"] {
		g.clientData = groupClientData(cg.ClientData)
	}
	u.touchGroup(g, s.clock.Now())
	return renderGroup(u, g, mask, 0), nil
}

func (s *Server) deleteGroup(u *user, r *http.Request, name string) (any, *apiError) {
	g := u.findGroup(name)
	if g == nil {
		return nil, errNotFound()
	}
	if g.system {
		return nil, errInvalid("Cannot delete a system contact group.") // wording [inf]
	}
	deleteContacts := r.URL.Query().Get("deleteContacts") == "true"
	s.deleteGroupLocked(u, g, deleteContacts)
	return map[string]any{}, nil
}

func (s *Server) deleteGroupLocked(u *user, g *group, deleteContacts bool) {
	ids := make([]string, 0, len(g.members))
	for id := range g.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		c := u.contacts[id]
		if deleteContacts {
			s.deleteLocked(u, c)
			continue
		}
		groups := without(c.cur.groups, g.id)
		if len(groups) == 0 {
			groups = []string{"myContacts"} // a contact keeps one membership [inf]
		}
		s.commitLocked(u, c, &snap{fields: c.cur.fields, groups: groups})
	}
	g.deleted = true
	g.members = map[string]bool{}
	u.touchGroup(g, s.clock.Now())
}

func without(xs []string, x string) []string {
	out := make([]string, 0, len(xs))
	for _, v := range xs {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

func withGroup(xs []string, x string) []string {
	out := append(append([]string(nil), xs...), x)
	sort.Strings(out)
	return out
}

func (s *Server) modifyMembers(u *user, r *http.Request, name string) (any, *apiError) {
	var req people.ModifyContactGroupMembersRequest
	if e := decodeStrict(r.Body, &req, "*"); e != nil {
		return nil, e
	}
	if n := len(req.ResourceNamesToAdd) + len(req.ResourceNamesToRemove); n > MaxMembersModify {
		return nil, errInvalid(fmt.Sprintf("Cannot add or remove more than %d contacts in one request.", MaxMembersModify)) // wording [inf]
	}
	g := u.findGroup(name)
	if g == nil {
		return nil, errNotFound()
	}
	if g.system && g.id != "myContacts" && g.id != "starred" && len(req.ResourceNamesToAdd) > 0 {
		return nil, errInvalid("Cannot add contacts to deprecated system contact group.") // wording [inf]
	}
	var notFound, lastGroup []string
	for _, n := range req.ResourceNamesToAdd {
		c := u.findContact(n)
		if c == nil {
			notFound = append(notFound, n)
			continue
		}
		if !slicesContains(c.cur.groups, g.id) {
			s.commitLocked(u, c, &snap{fields: c.cur.fields, groups: withGroup(c.cur.groups, g.id)})
		}
	}
	for _, n := range req.ResourceNamesToRemove {
		c := u.findContact(n)
		if c == nil {
			notFound = append(notFound, n)
			continue
		}
		if !slicesContains(c.cur.groups, g.id) {
			continue
		}
		if len(c.cur.groups) == 1 {
			lastGroup = append(lastGroup, n) // a contact keeps at least one group
			continue
		}
		s.commitLocked(u, c, &snap{fields: c.cur.fields, groups: without(c.cur.groups, g.id)})
	}
	out := map[string]any{}
	if len(notFound) > 0 {
		out["notFoundResourceNames"] = notFound
	}
	if len(lastGroup) > 0 {
		out["canNotRemoveLastContactGroupResourceNames"] = lastGroup
	}
	return out, nil
}
