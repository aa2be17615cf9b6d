package pipedrivefake

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

func orgJSON(o *org) map[string]any {
	return map[string]any{"id": o.id, "name": o.name, "owner_id": o.ownerID, "add_time": apiTime(o.addTime),
		"update_time": apiTime(o.updateTime), "is_deleted": o.isDeleted, "visible_to": 3,
		"address": nil, "label_ids": []int64{}, "custom_fields": map[string]any{}}
}

func (s *Server) handleCreateOrg(w http.ResponseWriter, r *http.Request, a *authCtx) {
	body, err := readBody(r)
	if err != nil {
		apiError(w, http.StatusBadRequest, "cannot read body")
		return
	}
	if err := checkOrgBody(body); err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	var in struct {
		Name    *string `json:"name"`
		OwnerID *int64  `json:"owner_id"`
	}
	if err := decodeStrict(body, &in, "body"); err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		apiError(w, http.StatusBadRequest, "name is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	owner := a.user.id
	if in.OwnerID != nil {
		if u := s.users[*in.OwnerID]; u == nil || u.companyID != a.company.id {
			apiError(w, http.StatusBadRequest, "owner_id is not a user of this company")
			return
		}
		owner = *in.OwnerID
	}
	o := s.addOrgLocked(a.company.id, owner, strings.TrimSpace(*in.Name))
	ok(w, http.StatusCreated, orgJSON(o), nil)
}

func (s *Server) addOrgLocked(companyID, owner int64, name string) *org {
	now := s.now().Truncate(time.Second)
	o := &org{id: s.newID(), companyID: companyID, name: name, ownerID: owner, addTime: now, updateTime: now}
	s.orgs[o.id] = o
	return o
}

func (s *Server) handleGetOrg(w http.ResponseWriter, r *http.Request, a *authCtx) {
	id, valid := pathID(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgs[id]
	if !valid || o == nil || o.companyID != a.company.id || o.isDeleted {
		apiError(w, http.StatusNotFound, "Organization not found")
		return
	}
	ok(w, http.StatusOK, orgJSON(o), nil)
}

// handleListOrgs is GET /api/v2/organizations (PV2): the company's
// organizations by id, limit (≤ 500) and cursor.
func (s *Server) handleListOrgs(w http.ResponseWriter, r *http.Request, a *authCtx) {
	q := r.URL.Query()
	for k := range q {
		if k != "limit" && k != "cursor" {
			apiError(w, http.StatusBadRequest, "unsupported parameter "+k)
			return
		}
	}
	limit, err := parseLimit(q)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	var after int64
	if v := q.Get("cursor"); v != "" {
		c, err := decodeCursor(v)
		if err != nil {
			apiError(w, http.StatusBadRequest, "invalid cursor")
			return
		}
		after = c.id
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*org
	for _, o := range s.orgs {
		if o.companyID == a.company.id && !o.isDeleted && o.id > after {
			match = append(match, o)
		}
	}
	slices.SortFunc(match, func(x, y *org) int { return cmp.Compare(x.id, y.id) })
	var next any
	if len(match) > limit {
		match = match[:limit]
		next = encodeCursor(listCursor{match[limit-1].id, match[limit-1].id})
	}
	out := make([]map[string]any, len(match))
	for i, o := range match {
		out[i] = orgJSON(o)
	}
	ok(w, http.StatusOK, out, map[string]any{"next_cursor": next})
}

func (s *Server) handleSearchOrgs(w http.ResponseWriter, r *http.Request, a *authCtx) {
	q := r.URL.Query()
	term := strings.TrimSpace(q.Get("term"))
	exact := q.Get("exact_match") == "true" || q.Get("exact_match") == "1"
	if n := len([]rune(term)); n < 2 && !(exact && n == 1) {
		apiError(w, http.StatusBadRequest, "term must be at least 2 characters long (1 with exact_match)")
		return
	}
	limit, err := parseLimit(q)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	lt := strings.ToLower(term)
	s.mu.Lock()
	defer s.mu.Unlock()
	items := []map[string]any{}
	for id := int64(1); id <= s.nextID && len(items) < limit; id++ {
		o := s.orgs[id]
		if o == nil || o.companyID != a.company.id || o.isDeleted {
			continue
		}
		ln := strings.ToLower(o.name)
		score := 0.0
		switch {
		case ln == lt:
			score = 1
		case !exact && strings.Contains(ln, lt):
			score = 0.5
		}
		if score > 0 {
			items = append(items, map[string]any{"result_score": score, "item": map[string]any{
				"id": o.id, "type": "organization", "name": o.name, "address": nullIfEmpty(o.address),
				"visible_to": 3, "owner": map[string]any{"id": o.ownerID}, "custom_fields": []any{}, "notes": []any{},
			}})
		}
	}
	ok(w, http.StatusOK, map[string]any{"items": items}, map[string]any{"next_cursor": nil})
}

// orgKeys are the documented v2 organization request keys (PHP SDK 17.5
// organization request body); name and owner_id are the ones the fake
// keeps, the others are accepted and dropped.
var orgKeys = set("name", "owner_id", "visible_to", "label_ids", "address", "custom_fields",
	"website", "linkedin", "industry", "annual_revenue", "employee_count")

// checkOrgBody refuses unknown keys and wrongly typed name and owner_id,
// as v2's strict validation does.
func checkOrgBody(body []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return badf("request body must be a JSON object")
	}
	for k, v := range m {
		switch {
		case !orgKeys[k]:
			return badf("unknown field %s", k)
		case k == "name" && jsonKind(v) != "string":
			return badf("name must be a string")
		case (k == "owner_id" || k == "visible_to") && !isInt(v):
			return badf("%s must be an integer", k)
		}
	}
	return nil
}
