package pipedrivefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

type hook struct {
	id           int64
	companyID    int64
	ownerID      int64
	userID       int64
	action       string
	object       string
	url          string
	authUser     string
	authPassword string
	name         string
	version      string
	addTime      time.Time
	lastSuccess  time.Time // or addTime: the 3-day deletion clock
	lastStatus   int
	lastDelivery time.Time
	banCount     int
	bannedUntil  time.Time
}

// maxHooksPerUser is Pipedrive's limit; one more answers 422.
const maxHooksPerUser = 40

// hookJSON renders a webhook as PV1's GET /webhooks and POST /webhooks
// examples show it: http_auth_user and http_auth_password null (whatever
// was sent), event_action in v1's naming ("added" for create), times as
// "2019-10-25T08:25:27.000Z". Clients must not rely on the listing echoing
// what they sent (facts-pipedrive.md, Corrections, "Webhook listing").
func (s *Server) hookJSON(h *hook) map[string]any {
	m := map[string]any{"id": h.id, "company_id": h.companyID, "owner_id": h.ownerID, "user_id": h.userID,
		"event_action": v1ActionName(h.action), "event_object": h.object, "subscription_url": h.url, "is_active": 1,
		"add_time": hookTime(h.addTime), "remove_time": nil, "type": "general", "http_auth_user": nil,
		"http_auth_password": nil, "remove_reason": nil,
		"last_delivery_time": hookTime(h.lastDelivery), "last_http_status": nil, "admin_id": h.ownerID,
		"name": h.name, "version": h.version}
	if h.lastStatus != 0 {
		m["last_http_status"] = h.lastStatus
	}
	return m
}

// v1ActionName is the v1 name of an event_action (PV1 example: "added").
func v1ActionName(a string) string {
	switch a {
	case "create":
		return "added"
	case "change":
		return "updated"
	case "delete":
		return "deleted"
	}
	return a
}

func hookTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, _ *http.Request, a *authCtx) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for id := int64(1); id <= s.nextID; id++ {
		if h := s.hooks[id]; h != nil && h.companyID == a.company.id {
			out = append(out, s.hookJSON(h))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "success": true, "data": out})
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request, a *authCtx) {
	body, err := readBody(r)
	if err != nil {
		apiError(w, http.StatusBadRequest, "cannot read body")
		return
	}
	in := map[string]string{}
	var raw map[string]json.RawMessage
	if json.Unmarshal(body, &raw) == nil {
		// The documented body (PV1 addWebhook): unknown keys and wrongly
		// typed values are refused.
		for k, v := range raw {
			kind := jsonKind(v)
			switch k {
			case "subscription_url", "event_action", "event_object", "name", "version":
				if kind != "string" {
					v1FieldErrors(w, http.StatusBadRequest, k, "must be a string")
					return
				}
			case "http_auth_user", "http_auth_password":
				if kind != "string" && kind != "null" {
					v1FieldErrors(w, http.StatusBadRequest, k, "must be a string")
					return
				}
			case "user_id":
				if !isInt(v) {
					v1FieldErrors(w, http.StatusBadRequest, k, "must be an integer")
					return
				}
			default:
				v1FieldErrors(w, http.StatusBadRequest, k, "unknown field")
				return
			}
			var sv string
			if json.Unmarshal(v, &sv) == nil {
				in[k] = sv
			} else if kind != "null" {
				in[k] = strings.TrimSpace(string(v))
			}
		}
	} else if form, err := url.ParseQuery(string(body)); err == nil {
		for k := range form {
			in[k] = form.Get(k)
		}
	}
	u, err := url.Parse(in["subscription_url"])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v1FieldErrors(w, http.StatusBadRequest, "subscription_url", "invalid or non-reachable URL")
		return
	}
	// PV1 addWebhook enums; the listing's v1 names ("added") are output only.
	if !set("create", "change", "delete", "*")[in["event_action"]] {
		v1FieldErrors(w, http.StatusBadRequest, "event_action", "invalid value")
		return
	}
	if !set("activity", "deal", "lead", "note", "organization", "person", "pipeline", "product", "stage", "user", "*")[in["event_object"]] {
		v1FieldErrors(w, http.StatusBadRequest, "event_object", "invalid value")
		return
	}
	if in["name"] == "" || len(in["name"]) > 255 {
		v1FieldErrors(w, http.StatusBadRequest, "name", "is required and at most 255 characters")
		return
	}
	version := in["version"]
	switch version {
	case "":
		version = "2.0"
	case "1.0", "2.0":
	default:
		v1FieldErrors(w, http.StatusBadRequest, "version", "must be 1.0 or 2.0")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	userID := a.user.id
	if v := in["user_id"]; v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if u := s.users[id]; err != nil || u == nil || u.companyID != a.company.id {
			v1FieldErrors(w, http.StatusBadRequest, "user_id", "invalid user")
			return
		}
		userID = id
	}
	n := 0
	for _, h := range s.hooks {
		if h.ownerID == a.user.id {
			n++
		}
	}
	if n >= maxHooksPerUser {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"status": "error", "success": false,
			"error": "Webhooks limit reached: at most 40 webhooks per user", "errors": map[string][]string{}})
		return
	}
	now := s.now()
	h := &hook{id: s.newID(), companyID: a.company.id, ownerID: a.user.id, userID: userID,
		action: in["event_action"], object: in["event_object"], url: in["subscription_url"],
		authUser: in["http_auth_user"], authPassword: in["http_auth_password"], name: in["name"],
		version: version, addTime: now, lastSuccess: now}
	s.hooks[h.id] = h
	writeJSON(w, http.StatusCreated, map[string]any{"status": "ok", "success": true, "data": s.hookJSON(h)})
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request, a *authCtx) {
	id, _ := pathID(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hooks[id]
	if h == nil || h.companyID != a.company.id {
		v1FieldErrors(w, http.StatusNotFound, "id", "not found")
		return
	}
	delete(s.hooks, id)
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "success": true, "data": map[string]any{"id": id}})
}

// personEvent is one change to a person, before rendering per webhook.
type personEvent struct {
	company    *company
	actor      int64
	source     string // "app" or "api"
	action     string // create, change, delete
	before     *person
	after      *person
	mergedTo   int64 // on the loser's delete
	mergedFrom int64 // on the survivor's change
}

// v1Action maps a v2 action to v1's.
func v1Action(ev personEvent) string {
	switch {
	case ev.action == "create":
		return "added"
	case ev.action == "delete":
		return "deleted"
	case ev.mergedFrom != 0:
		return "merged"
	}
	return "updated"
}

func hookMatches(h *hook, ev personEvent) bool {
	if h.object != "*" && h.object != "person" {
		return false
	}
	return h.action == "*" || h.action == ev.action
}

// visibleTo says whether userID can see p: a person with visibility 1
// ("owner & followers") is seen by its owner only (followers and admin
// rights are not modelled). PV1 POST /webhooks user_id: "the webhook will
// only be sent if the user has access to the specified object(s)".
func visibleTo(userID int64, p *person) bool {
	return p == nil || p.visibleTo != 1 || p.ownerID == userID
}

// emitLocked renders the event for every matching webhook and queues the
// deliveries. Caller holds s.mu.
func (s *Server) emitLocked(ev personEvent) {
	now := s.now()
	cs := ev.company.contactSync
	for id := int64(1); id <= s.nextID; id++ {
		h := s.hooks[id]
		if h == nil || h.companyID != ev.company.id || !hookMatches(h, ev) {
			continue
		}
		// The person as it is after the event (before it, for a delete).
		if seen := ev.after; seen == nil && !visibleTo(h.userID, ev.before) || seen != nil && !visibleTo(h.userID, seen) {
			continue
		}
		var payload map[string]any
		if h.version == "1.0" {
			payload = s.v1Payload(h, ev, now, cs)
		} else {
			payload = s.v2Payload(h, ev, now, cs)
		}
		pid := ev.after
		if pid == nil {
			pid = ev.before
		}
		s.dl.enqueue(&job{hookID: h.id, version: h.version, payload: payload, attempt: 1,
			action: ev.action, personID: pid.id, metaID: metaID(payload)})
	}
}

func metaID(p map[string]any) string {
	m, _ := p["meta"].(map[string]any)
	return fmt.Sprint(m["id"])
}

func (s *Server) v2Payload(h *hook, ev personEvent, now time.Time, cs bool) map[string]any {
	pid := ev.after
	if pid == nil {
		pid = ev.before
	}
	idv := func(n int64) any {
		if s.typeDrift {
			return n
		}
		return strconv.FormatInt(n, 10)
	}
	var ts any = now.UTC().Format("2006-01-02T15:04:05.000Z")
	if s.typeDrift {
		ts = now.Unix()
	}
	meta := map[string]any{"action": ev.action, "entity": "person", "entity_id": idv(pid.id), "id": uuid(),
		"company_id": idv(ev.company.id), "user_id": idv(ev.actor), "correlation_id": uuid(), "is_bulk_edit": false,
		"timestamp": ts, "type": "general", "version": "2.0", "webhook_id": idv(h.id),
		"webhook_owner_id": idv(h.ownerID), "change_source": ev.source, "attempt": 1,
		"host": ev.company.domain + ".pipedrive.com", "permitted_user_ids": []any{idv(h.userID)}}
	if ev.mergedTo != 0 {
		meta["merged_to_id"] = idv(ev.mergedTo)
	}
	if ev.mergedFrom != 0 {
		meta["merged_from_id"] = idv(ev.mergedFrom)
	}
	out := map[string]any{"meta": meta, "data": nil, "previous": nil}
	switch ev.action {
	case "create":
		out["data"] = v2WebhookPerson(ev.after, cs)
	case "change":
		cur, prev := v2WebhookPerson(ev.after, cs), v2WebhookPerson(ev.before, cs)
		out["data"] = cur
		changed := map[string]any{} // only the fields that changed
		for k, v := range prev {
			if k == "update_time" {
				continue
			}
			a, _ := json.Marshal(v)
			b, _ := json.Marshal(cur[k])
			if !bytes.Equal(a, b) {
				changed[k] = v
			}
		}
		out["previous"] = changed
	case "delete":
		out["previous"] = v2WebhookPerson(ev.before, cs)
	}
	return out
}

func (s *Server) v1Payload(h *hook, ev personEvent, now time.Time, cs bool) map[string]any {
	pid := ev.after
	if pid == nil {
		pid = ev.before
	}
	act := v1Action(ev)
	meta := map[string]any{"v": 1, "action": act, "object": "person", "id": pid.id, "company_id": ev.company.id,
		"user_id": ev.actor, "host": ev.company.domain + ".pipedrive.com", "timestamp": now.Unix(),
		"timestamp_micro": now.UnixMicro(), "change_source": ev.source, "webhook_id": strconv.FormatInt(h.id, 10),
		"permitted_user_ids": []int64{h.userID}, "is_bulk_update": false, "trans_pending": false,
		"matches_filters": map[string]any{"current": []any{}}}
	out := map[string]any{"v": 1, "matches_filters": map[string]any{"current": []any{}}, "meta": meta,
		"current": nil, "previous": nil, "retry": 0, "event": act + ".person"}
	if ev.after != nil {
		out["current"] = s.v1Person(ev.after, cs, true)
	}
	if ev.before != nil {
		out["previous"] = s.v1Person(ev.before, cs, true)
	}
	return out
}
