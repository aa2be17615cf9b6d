package pipedrivefake

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

func (s *Server) handleMe(w http.ResponseWriter, _ *http.Request, a *authCtx) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, c := a.user, a.company
	ok(w, http.StatusOK, map[string]any{
		"id": u.id, "name": u.name, "email": u.email, "company_id": c.id, "company_name": c.name,
		"company_domain": c.domain, "timezone_name": "Europe/Tallinn", "locale": "en_US",
		"is_admin": 1, "active_flag": true, "lang": 1, "default_currency": "EUR",
	}, nil)
}

// listCursor is opaque to clients: the sort key of the last item returned.
type listCursor struct {
	val int64
	id  int64
}

func encodeCursor(c listCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d:%d", c.val, c.id)))
}

func decodeCursor(s string) (listCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return listCursor{}, err
	}
	var c listCursor
	if _, err := fmt.Sscanf(string(b), "%d:%d", &c.val, &c.id); err != nil {
		return listCursor{}, err
	}
	return c, nil
}

func parseLimit(q url.Values) (int, error) {
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return 0, badf("limit must be an integer between 1 and 500")
		}
		limit = n
	}
	return limit, nil
}

func (s *Server) handleListPersons(w http.ResponseWriter, r *http.Request, a *authCtx) {
	q := r.URL.Query()
	limit, err := parseLimit(q)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	var ownerID, orgID int64
	for k, dst := range map[string]*int64{"owner_id": &ownerID, "org_id": &orgID} {
		if v := q.Get(k); v != "" {
			if *dst, err = strconv.ParseInt(v, 10, 64); err != nil {
				apiError(w, http.StatusBadRequest, k+" must be an integer")
				return
			}
		}
	}
	var ids map[int64]bool
	if v := q.Get("ids"); v != "" {
		ids = map[int64]bool{}
		parts := strings.Split(v, ",")
		if len(parts) > 100 {
			apiError(w, http.StatusBadRequest, "ids: at most 100")
			return
		}
		for _, p := range parts {
			id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
			if err != nil {
				apiError(w, http.StatusBadRequest, "ids must be integers")
				return
			}
			ids[id] = true
		}
	}
	var since, until time.Time
	for k, dst := range map[string]*time.Time{"updated_since": &since, "updated_until": &until} {
		if v := q.Get(k); v != "" {
			if *dst, err = time.Parse(time.RFC3339, v); err != nil {
				apiError(w, http.StatusBadRequest, k+" must be RFC3339")
				return
			}
		}
	}
	sortBy := q.Get("sort_by")
	if sortBy == "" {
		sortBy = "id"
	}
	if sortBy != "id" && sortBy != "update_time" && sortBy != "add_time" {
		apiError(w, http.StatusBadRequest, "sort_by must be id, update_time or add_time")
		return
	}
	desc := false
	switch q.Get("sort_direction") {
	case "", "asc":
	case "desc":
		desc = true
	default:
		apiError(w, http.StatusBadRequest, "sort_direction must be asc or desc")
		return
	}
	var after *listCursor
	if v := q.Get("cursor"); v != "" {
		c, err := decodeCursor(v)
		if err != nil {
			apiError(w, http.StatusBadRequest, "invalid cursor")
			return
		}
		after = &c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := func(p *person) listCursor {
		switch sortBy {
		case "update_time":
			return listCursor{p.updateTime.Unix(), p.id}
		case "add_time":
			return listCursor{p.addTime.Unix(), p.id}
		}
		return listCursor{p.id, p.id}
	}
	less := func(x, y listCursor) bool {
		if x.val != y.val {
			return x.val < y.val
		}
		return x.id < y.id
	}
	var match []*person
	for _, p := range s.persons {
		if p.companyID != a.company.id || p.isDeleted ||
			ownerID != 0 && p.ownerID != ownerID || orgID != 0 && p.orgID != orgID ||
			ids != nil && !ids[p.id] ||
			!since.IsZero() && p.updateTime.Before(since) || !until.IsZero() && !p.updateTime.Before(until) {
			continue
		}
		if after != nil {
			k := key(p)
			if !desc && !less(*after, k) || desc && !less(k, *after) {
				continue
			}
		}
		match = append(match, p)
	}
	slices.SortFunc(match, func(x, y *person) int {
		kx, ky := key(x), key(y)
		c := 0
		if less(kx, ky) {
			c = -1
		} else if less(ky, kx) {
			c = 1
		}
		if desc {
			c = -c
		}
		return c
	})
	var next any
	if len(match) > limit {
		match = match[:limit]
		next = encodeCursor(key(match[limit-1]))
	}
	data := make([]map[string]any, 0, len(match))
	for _, p := range match {
		data = append(data, v2Person(p, a.company.contactSync))
	}
	ok(w, http.StatusOK, data, map[string]any{"next_cursor": next})
}

func (s *Server) handleGetPerson(w http.ResponseWriter, r *http.Request, a *authCtx) {
	id, valid := pathID(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	var p *person
	if valid {
		p = s.personLocked(a.company.id, id)
	}
	if p == nil || p.isDeleted && !s.deletedVisible {
		apiError(w, http.StatusNotFound, "Person not found")
		return
	}
	ok(w, http.StatusOK, v2Person(p, a.company.contactSync), nil)
}

func (s *Server) handleCreatePerson(w http.ResponseWriter, r *http.Request, a *authCtx) {
	body, err := readBody(r)
	if err != nil {
		apiError(w, http.StatusBadRequest, "cannot read body")
		return
	}
	pp, err := parseStrictPersonBody(body)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.createPersonLocked(a.user, pp, "api")
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	ok(w, http.StatusCreated, v2Person(p, a.company.contactSync), nil)
}

func (s *Server) orgExistsFn(companyID int64) func(int64) bool {
	return func(id int64) bool { o := s.orgs[id]; return o != nil && o.companyID == companyID && !o.isDeleted }
}

func (s *Server) createPersonLocked(u *user, pp *personPatch, source string) (*person, error) {
	c := s.companies[u.companyID]
	now := s.now().Truncate(time.Second)
	p := &person{companyID: c.id, ownerID: u.id, visibleTo: 3, addTime: now, updateTime: now}
	if err := pp.apply(p, true, c.contactSync, pp.strict && s.refuseCS, s.orgExistsFn(c.id)); err != nil {
		return nil, err
	}
	if p.ownerID != u.id {
		if o := s.users[p.ownerID]; o == nil || o.companyID != c.id {
			return nil, badf("owner_id %d is not a user of this company", p.ownerID)
		}
	}
	p.id = s.newID()
	s.persons[p.id] = p
	s.emitLocked(personEvent{company: c, actor: u.id, source: source, action: "create", after: p.clone()})
	return p, nil
}

func (s *Server) handlePatchPerson(w http.ResponseWriter, r *http.Request, a *authCtx) {
	id, valid := pathID(r)
	body, err := readBody(r)
	if err != nil {
		apiError(w, http.StatusBadRequest, "cannot read body")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var p *person
	if valid {
		p = s.personLocked(a.company.id, id)
	}
	if p == nil || p.isDeleted {
		apiError(w, http.StatusNotFound, "Person not found")
		return
	}
	pp, err := parseStrictPersonBody(body)
	if err == nil {
		_, err = s.patchPersonLocked(a.user, p, pp, "api")
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	ok(w, http.StatusOK, v2Person(p, a.company.contactSync), nil)
}

// patchPersonLocked applies pp atomically. update_time is bumped and a
// change webhook fires on every successful PATCH, even one that changes
// nothing (assumption: the pessimistic choice; our sync must not rely on a
// no-op write being silent).
func (s *Server) patchPersonLocked(u *user, p *person, pp *personPatch, source string) (*person, error) {
	if pp.has("is_deleted") {
		return nil, badf("PATCH cannot delete")
	}
	c := s.companies[p.companyID]
	before := p.clone()
	work := p.clone()
	if err := pp.apply(work, false, c.contactSync, pp.strict && s.refuseCS, s.orgExistsFn(c.id)); err != nil {
		return nil, err
	}
	if work.ownerID != before.ownerID {
		if o := s.users[work.ownerID]; o == nil || o.companyID != c.id {
			return nil, badf("owner_id %d is not a user of this company", work.ownerID)
		}
	}
	work.updateTime = s.now().Truncate(time.Second)
	*p = *work
	s.emitLocked(personEvent{company: c, actor: u.id, source: source, action: "change", before: before, after: p.clone()})
	return p, nil
}

func (s *Server) handleDeletePerson(w http.ResponseWriter, r *http.Request, a *authCtx) {
	id, valid := pathID(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	var p *person
	if valid {
		p = s.personLocked(a.company.id, id)
	}
	if p == nil || p.isDeleted {
		apiError(w, http.StatusNotFound, "Person not found")
		return
	}
	s.deletePersonLocked(a.user, p, "api", 0)
	ok(w, http.StatusOK, map[string]any{"id": p.id}, nil)
}

func (s *Server) deletePersonLocked(u *user, p *person, source string, mergedTo int64) {
	before := p.clone()
	now := s.now().Truncate(time.Second)
	p.isDeleted, p.deleteTime, p.updateTime = true, now, now
	s.emitLocked(personEvent{company: s.companies[p.companyID], actor: u.id, source: source, action: "delete",
		before: before, mergedTo: mergedTo})
}

func (s *Server) handleMerge(w http.ResponseWriter, r *http.Request, a *authCtx) {
	id, valid := pathID(r)
	body, err := readBody(r)
	if err != nil {
		apiError(w, http.StatusBadRequest, "cannot read body")
		return
	}
	var withID int64
	var in struct {
		MergeWithID int64 `json:"merge_with_id"`
	}
	if errJSON := decodeStrict(body, &in, "merge_with_id"); errJSON == nil {
		withID = in.MergeWithID
	} else if form, err := url.ParseQuery(string(body)); err == nil {
		withID, _ = strconv.ParseInt(form.Get("merge_with_id"), 10, 64)
	}
	if !valid || withID <= 0 {
		apiError(w, http.StatusBadRequest, "merge_with_id is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	survivor, err := s.mergeLocked(a.user, id, withID, "api")
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errNotFound) {
			status = http.StatusNotFound
		}
		apiError(w, status, err.Error())
		return
	}
	ok(w, http.StatusOK, s.v1Person(survivor, a.company.contactSync, false), nil)
}

var errNotFound = errors.New("not found")

// mergeLocked merges loserID into survivorID: the survivor's non-empty
// fields win, its empty ones are filled from the loser, the loser is
// deleted. Webhooks: delete (merged_to_id) then change (merged_from_id).
func (s *Server) mergeLocked(u *user, loserID, survivorID int64, source string) (*person, error) {
	if loserID == survivorID {
		return nil, badf("cannot merge a person with itself")
	}
	loser, surv := s.personLocked(u.companyID, loserID), s.personLocked(u.companyID, survivorID)
	if loser == nil || surv == nil || loser.isDeleted || surv.isDeleted {
		return nil, fmt.Errorf("%w: person", errNotFound)
	}
	before := surv.clone()
	if surv.firstName == "" && surv.lastName == "" && surv.name == "" {
		surv.name, surv.firstName, surv.lastName = loser.name, loser.firstName, loser.lastName
	}
	if surv.orgID == 0 {
		surv.orgID = loser.orgID
	}
	if len(surv.emails) == 0 {
		surv.emails = slices.Clone(loser.emails)
	}
	if len(surv.phones) == 0 {
		surv.phones = slices.Clone(loser.phones)
	}
	if len(surv.im) == 0 {
		surv.im = slices.Clone(loser.im)
	}
	if surv.postalAddress == nil && loser.postalAddress != nil {
		a := *loser.postalAddress
		surv.postalAddress = &a
	}
	for _, f := range []struct{ dst, src **string }{{&surv.jobTitle, &loser.jobTitle}, {&surv.notes, &loser.notes}, {&surv.birthday, &loser.birthday}} {
		if *f.dst == nil {
			*f.dst = *f.src
		}
	}
	for k, v := range loser.customFields {
		if _, ok := surv.customFields[k]; !ok {
			if surv.customFields == nil {
				surv.customFields = map[string]json.RawMessage{}
			}
			surv.customFields[k] = v
		}
	}
	s.deletePersonLocked(u, loser, source, surv.id)
	surv.updateTime = s.now().Truncate(time.Second)
	s.emitLocked(personEvent{company: s.companies[surv.companyID], actor: u.id, source: source, action: "change",
		before: before, after: surv.clone(), mergedFrom: loser.id})
	return surv, nil
}

var digitsOnly = regexp.MustCompile(`\D`)

func (s *Server) handleSearchPersons(w http.ResponseWriter, r *http.Request, a *authCtx) {
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
	fields := map[string]bool{"name": true, "email": true, "phone": true, "notes": true, "custom_fields": true}
	if v := q.Get("fields"); v != "" {
		fields = map[string]bool{}
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			switch f {
			case "name", "email", "phone", "notes", "custom_fields":
				fields[f] = true
			default:
				apiError(w, http.StatusBadRequest, "fields: unknown field "+f)
				return
			}
		}
	}
	var orgFilter int64
	if v := q.Get("organization_id"); v != "" {
		orgFilter, _ = strconv.ParseInt(v, 10, 64)
	}
	offset := 0
	if v := q.Get("cursor"); v != "" {
		c, err := decodeCursor(v)
		if err != nil {
			apiError(w, http.StatusBadRequest, "invalid cursor")
			return
		}
		offset = int(c.val)
	}
	lt := strings.ToLower(term)
	match := func(v string, phone bool) float64 {
		lv := strings.ToLower(strings.TrimSpace(v))
		if phone && s.phoneNormalize {
			lv, lt := digitsOnly.ReplaceAllString(lv, ""), digitsOnly.ReplaceAllString(lt, "")
			if lt == "" {
				return 0
			}
			if lv == lt {
				return 1
			}
			if !exact && strings.Contains(lv, lt) {
				return 0.5
			}
			return 0
		}
		switch {
		case lv == lt:
			return 1
		case !exact && strings.Contains(lv, lt):
			return 0.5
		}
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type hit struct {
		p     *person
		score float64
	}
	var hits []hit
	for _, p := range s.persons {
		if p.companyID != a.company.id || p.isDeleted || orgFilter != 0 && p.orgID != orgFilter {
			continue
		}
		best := 0.0
		if fields["name"] {
			best = max(best, match(p.name, false))
			if !exact { // word prefix match, as a search engine does
				for _, w := range strings.FieldsFunc(strings.ToLower(p.name), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
					if strings.HasPrefix(w, lt) {
						best = max(best, 0.7)
					}
				}
			}
		}
		if fields["email"] {
			for _, f := range p.emails {
				best = max(best, match(f.Value, false))
			}
		}
		if fields["phone"] {
			for _, f := range p.phones {
				best = max(best, match(f.Value, true))
			}
		}
		if fields["notes"] && p.notes != nil {
			best = max(best, match(*p.notes, false)*0.5)
		}
		if fields["custom_fields"] {
			for _, v := range p.customFields {
				var sv string
				if decodeStrict(v, &sv, "") == nil {
					best = max(best, match(sv, false)*0.5)
				}
			}
		}
		if best > 0 {
			hits = append(hits, hit{p, best})
		}
	}
	slices.SortFunc(hits, func(x, y hit) int {
		if x.score != y.score {
			if x.score > y.score {
				return -1
			}
			return 1
		}
		return int(x.p.id - y.p.id)
	})
	var next any
	if offset > len(hits) {
		offset = len(hits)
	}
	hits = hits[offset:]
	if len(hits) > limit {
		hits = hits[:limit]
		next = encodeCursor(listCursor{val: int64(offset + limit)})
	}
	items := make([]map[string]any, 0, len(hits))
	for _, h := range hits {
		p := h.p
		emails, phones := []string{}, []string{}
		for _, f := range p.emails {
			emails = append(emails, f.Value)
		}
		for _, f := range p.phones {
			phones = append(phones, f.Value)
		}
		var orgJSON any
		if o := s.orgs[p.orgID]; o != nil {
			orgJSON = map[string]any{"id": o.id, "name": o.name, "address": nullIfEmpty(o.address)}
		}
		items = append(items, map[string]any{"result_score": h.score, "item": map[string]any{
			"id": p.id, "type": "person", "name": p.name, "phones": phones, "emails": emails,
			"visible_to": p.visibleTo, "owner": map[string]any{"id": p.ownerID}, "organization": orgJSON,
			"custom_fields": []any{}, "notes": []any{},
		}})
	}
	ok(w, http.StatusOK, map[string]any{"items": items}, map[string]any{"next_cursor": next})
}
