package pipedrivefake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

type company struct {
	id          int64
	name        string
	domain      string
	plan        Plan
	seats       int
	contactSync bool
	day         time.Time
	dailyUsed   int
}

type user struct {
	id        int64
	companyID int64
	name      string
	email     string
	apiToken  string
}

type org struct {
	id         int64
	companyID  int64
	name       string
	ownerID    int64
	address    string
	addTime    time.Time
	updateTime time.Time
	isDeleted  bool
}

type person struct {
	id            int64
	companyID     int64
	name          string
	firstName     string
	lastName      string
	ownerID       int64
	orgID         int64 // 0 = none
	emails        []pipedrive.Field
	phones        []pipedrive.Field
	im            []pipedrive.Field
	postalAddress *pipedrive.Address
	jobTitle      *string
	notes         *string
	birthday      *string
	visibleTo     int
	labelIDs      []int64
	customFields  map[string]json.RawMessage
	addTime       time.Time
	updateTime    time.Time
	isDeleted     bool
	deleteTime    time.Time
}

func (p *person) clone() *person {
	c := *p
	c.emails = slices.Clone(p.emails)
	c.phones = slices.Clone(p.phones)
	c.im = slices.Clone(p.im)
	if p.postalAddress != nil {
		a := *p.postalAddress
		c.postalAddress = &a
	}
	c.labelIDs = slices.Clone(p.labelIDs)
	c.customFields = make(map[string]json.RawMessage, len(p.customFields))
	for k, v := range p.customFields {
		c.customFields[k] = v
	}
	return &c
}

// purgeAfter is how long a soft-deleted person is kept.
const purgeAfter = 30 * 24 * time.Hour

// personLocked returns a person of the company, honouring the 30-day purge.
// Deleted persons are returned too; callers decide. Caller holds s.mu.
func (s *Server) personLocked(companyID, id int64) *person {
	p := s.persons[id]
	if p == nil || p.companyID != companyID {
		return nil
	}
	if p.isDeleted && s.now().Sub(p.deleteTime) >= purgeAfter {
		delete(s.persons, id)
		return nil
	}
	return p
}

func fieldsJSON(fs []pipedrive.Field) []map[string]any {
	out := make([]map[string]any, 0, len(fs))
	for _, f := range fs {
		out = append(out, map[string]any{"value": f.Value, "label": f.Label, "primary": f.Primary})
	}
	return out
}

func strPtr(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func addressJSON(a *pipedrive.Address) any {
	if a == nil {
		return nil
	}
	return map[string]any{
		"value": a.Value, "country": a.Country, "admin_area_level_1": a.AdminAreaLevel1,
		"admin_area_level_2": a.AdminAreaLevel2, "locality": a.Locality, "sublocality": a.Sublocality,
		"route": a.Route, "street_number": a.StreetNumber, "subpremise": a.Subpremise, "postal_code": a.PostalCode,
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// v2Person renders the API v2 shape. Contact-sync fields exist only when
// the company has contact sync on, exactly like the real API.
func v2Person(p *person, contactSync bool) map[string]any {
	m := map[string]any{
		"id": p.id, "name": p.name, "first_name": nullIfEmpty(p.firstName), "last_name": nullIfEmpty(p.lastName),
		"add_time": apiTime(p.addTime), "update_time": apiTime(p.updateTime), "visible_to": p.visibleTo,
		"owner_id": p.ownerID, "label_ids": nonNilInts(p.labelIDs), "org_id": nil, "is_deleted": p.isDeleted,
		"picture_id": nil, "custom_fields": nonNilMap(p.customFields),
		"emails": fieldsJSON(p.emails), "phones": fieldsJSON(p.phones),
	}
	if p.orgID != 0 {
		m["org_id"] = p.orgID
	}
	if contactSync {
		m["im"] = fieldsJSON(p.im)
		m["postal_address"] = addressJSON(p.postalAddress)
		m["notes"] = strPtr(p.notes)
		m["birthday"] = strPtr(p.birthday)
		m["job_title"] = strPtr(p.jobTitle)
	}
	return m
}

func nonNilInts(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

func nonNilMap(m map[string]json.RawMessage) map[string]json.RawMessage {
	if m == nil {
		return map[string]json.RawMessage{}
	}
	return m
}

// v2WebhookPerson is the data of a v2 webhook: the v2 shape with the drift
// the docs show (visible_to as a string, a label key).
func v2WebhookPerson(p *person, contactSync bool) map[string]any {
	m := v2Person(p, contactSync)
	m["visible_to"] = fmt.Sprint(p.visibleTo)
	m["label"] = nil
	return m
}

// v1Fields renders v1's list shape, where "none" is one empty primary item.
func v1Fields(fs []pipedrive.Field) []map[string]any {
	if len(fs) == 0 {
		return []map[string]any{{"value": "", "primary": true}}
	}
	return fieldsJSON(fs)
}

// v1Person renders the v1 shape: flat postal_address_* keys, string
// visible_to, "2006-01-02 15:04:05" times, custom fields at top level, and
// owner_id/org_id as objects (API) or plain ints (webhooks).
func (s *Server) v1Person(p *person, contactSync, webhook bool) map[string]any {
	m := map[string]any{
		"id": p.id, "company_id": p.companyID, "name": p.name, "first_name": nullIfEmpty(p.firstName),
		"last_name": nullIfEmpty(p.lastName), "phone": v1Fields(p.phones), "email": v1Fields(p.emails),
		"visible_to": fmt.Sprint(p.visibleTo), "label_ids": nonNilInts(p.labelIDs), "active_flag": !p.isDeleted,
		"add_time": v1Time(p.addTime), "update_time": v1Time(p.updateTime), "delete_time": v1Time(p.deleteTime),
		"org_id": nil, "owner_id": p.ownerID, "org_name": nil,
	}
	if u := s.users[p.ownerID]; u != nil {
		m["owner_name"] = u.name
		if !webhook {
			m["owner_id"] = map[string]any{"id": u.id, "name": u.name, "email": u.email, "value": u.id}
		}
	}
	if p.orgID != 0 {
		m["org_id"] = p.orgID
		if o := s.orgs[p.orgID]; o != nil {
			m["org_name"] = o.name
			if !webhook {
				m["org_id"] = map[string]any{"name": o.name, "owner_id": o.ownerID, "value": o.id}
			}
		}
	}
	if contactSync {
		m["im"] = v1Fields(p.im)
		m["job_title"] = strPtr(p.jobTitle)
		m["notes"] = strPtr(p.notes)
		m["birthday"] = strPtr(p.birthday)
		a := p.postalAddress
		if a == nil {
			a = &pipedrive.Address{}
		}
		m["postal_address"] = nullIfEmpty(a.Value)
		for k, v := range map[string]string{"subpremise": a.Subpremise, "street_number": a.StreetNumber,
			"route": a.Route, "sublocality": a.Sublocality, "locality": a.Locality,
			"admin_area_level_1": a.AdminAreaLevel1, "admin_area_level_2": a.AdminAreaLevel2,
			"country": a.Country, "postal_code": a.PostalCode, "formatted_address": a.Value} {
			m["postal_address_"+k] = nullIfEmpty(v)
		}
	}
	for k, v := range p.customFields {
		m[k] = v
	}
	return m
}

// toPublic converts to the client's type (all fields, for test helpers).
func toPublic(p *person) pipedrive.Person {
	out := pipedrive.Person{
		ID: p.id, Name: p.name, FirstName: p.firstName, LastName: p.lastName, OwnerID: p.ownerID,
		Emails: slices.Clone(p.emails), Phones: slices.Clone(p.phones), IM: slices.Clone(p.im),
		JobTitle: p.jobTitle, HasContactSyncFields: true, AddTime: p.addTime, UpdateTime: p.updateTime,
		IsDeleted: p.isDeleted, VisibleTo: p.visibleTo, LabelIDs: slices.Clone(p.labelIDs),
	}
	if p.orgID != 0 {
		id := p.orgID
		out.OrgID = &id
	}
	if p.postalAddress != nil {
		a := *p.postalAddress
		out.PostalAddress = &a
	}
	if len(p.customFields) > 0 {
		out.CustomFields = map[string]json.RawMessage{}
		for k, v := range p.customFields {
			out.CustomFields[k] = v
		}
	}
	return out
}

// errBadInput is a 400.
var errBadInput = errors.New("bad input")

func badf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errBadInput}, args...)...)
}

// personPatch is a decoded v2 POST/PATCH body: only sent keys are set.
// strict is set for API requests: the body was checked against the
// documented request schema (check), and apply refuses what the docs do
// not allow. The sandbox's UI helpers are not strict: the UI has its own
// first and last name fields.
type personPatch struct {
	sent   map[string]json.RawMessage
	strict bool
}

var readOnly = []string{"id", "add_time", "update_time", "is_deleted", "delete_time", "company_id"}

// Documented v2 request keys: the PHP SDK 17.5.1 PostPersonRequestBody and
// UpdatePersonRequestBody (name, owner_id, org_id, emails, phones,
// visible_to, label_ids, marketing_status, custom_fields and the
// contact-sync fields postal_address, notes, im, birthday, job_title),
// plus first_name and last_name, which the migration guide documents for
// POST and PATCH. add_time (POST only in the SDK, format undocumented) is
// refused: stricter than the docs, and never sent by contactsync.
var personKeys = set("name", "first_name", "last_name", "owner_id", "org_id", "emails", "phones", "visible_to",
	"label_ids", "marketing_status", "custom_fields", "postal_address", "notes", "im", "birthday", "job_title")

// contactSyncKeys exist only in a company with contact sync ("don't exist
// by default in Pipedrive and are only created when you set up your
// contact sync", PHP 17.5.0 changelog).
var contactSyncKeys = []string{"postal_address", "notes", "im", "birthday", "job_title"}

var addressKeys = set("value", "country", "admin_area_level_1", "admin_area_level_2", "locality",
	"sublocality", "route", "street_number", "subpremise", "postal_code")

func set(xs ...string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func parsePersonBody(raw []byte) (*personPatch, error) {
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, badf("request body must be a JSON object")
	}
	for _, k := range readOnly {
		if _, ok := m[k]; ok {
			return nil, badf("%s cannot be written", k)
		}
	}
	return &personPatch{sent: m}, nil
}

// parseStrictPersonBody is parsePersonBody for an API request: v2's
// "significantly stricter input validation" (PMG, General API Changes):
// unknown keys and wrongly typed values are refused, numbers are not
// coerced from strings, booleans are only true and false.
func parseStrictPersonBody(raw []byte) (*personPatch, error) {
	pp, err := parsePersonBody(raw)
	if err != nil {
		return nil, err
	}
	pp.strict = true
	if err := pp.check(); err != nil {
		return nil, err
	}
	return pp, nil
}

// jsonKind is the JSON type of a raw value: "string", "number", "bool",
// "null", "array" or "object".
func jsonKind(r json.RawMessage) string {
	r = bytes.TrimSpace(r)
	if len(r) == 0 {
		return ""
	}
	switch r[0] {
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	case '[':
		return "array"
	case '{':
		return "object"
	}
	return "number"
}

func isInt(r json.RawMessage) bool {
	var n json.Number
	if jsonKind(r) != "number" || json.Unmarshal(r, &n) != nil {
		return false
	}
	_, err := strconv.ParseInt(n.String(), 10, 64)
	return err == nil
}

// check validates the body against the documented request schema.
func (pp *personPatch) check() error {
	for k, v := range pp.sent {
		if !personKeys[k] {
			return badf("unknown field %s", k) // wording [inf]
		}
		kind := jsonKind(v)
		switch k {
		case "name", "first_name", "last_name", "marketing_status", "notes", "birthday", "job_title":
			if kind != "string" {
				return badf("%s must be a string", k)
			}
		case "owner_id", "visible_to":
			if !isInt(v) {
				return badf("%s must be an integer", k)
			}
		case "org_id":
			// Doubtful: null (to unlink) is undocumented on input; the
			// schema says integer. Accepted because contactsync needs some
			// way to unlink and null is the least doubtful one (it clears
			// custom fields, and org_id is nullable in responses).
			if kind != "null" && !isInt(v) {
				return badf("org_id must be an integer")
			}
		case "label_ids":
			var ids []json.RawMessage
			if kind != "array" || json.Unmarshal(v, &ids) != nil {
				return badf("label_ids must be an array of integers")
			}
			for _, id := range ids {
				if !isInt(id) {
					return badf("label_ids must be an array of integers")
				}
			}
		case "custom_fields":
			if kind != "object" {
				return badf("custom_fields must be an object")
			}
		case "emails", "phones", "im":
			if err := checkItems(k, v); err != nil {
				return err
			}
		case "postal_address":
			if err := checkAddress(v); err != nil {
				return err
			}
		}
	}
	if s, ok := pp.sent["marketing_status"]; ok {
		var v string
		_ = json.Unmarshal(s, &v)
		if !set("no_consent", "unsubscribed", "subscribed", "archived")[v] {
			return badf("marketing_status: invalid value")
		}
	}
	if s, ok := pp.sent["visible_to"]; ok {
		var v int
		_ = json.Unmarshal(s, &v)
		if v != 1 && v != 3 && v != 5 && v != 7 {
			return badf("visible_to must be one of 1, 3, 5, 7")
		}
	}
	if s, ok := pp.sent["notes"]; ok {
		var v string
		_ = json.Unmarshal(s, &v)
		if len([]rune(v)) > 10000 {
			return badf("notes: at most 10000 characters")
		}
	}
	// Names (PMG, POST and PATCH): "Either name or both first_name and
	// last_name must be provided"; sending all three is documented
	// nowhere, and only one of the two is not enough.
	_, n := pp.sent["name"]
	_, f := pp.sent["first_name"]
	_, l := pp.sent["last_name"]
	switch {
	case n && (f || l):
		return badf("send either name or first_name and last_name, not both")
	case f != l:
		return badf("first_name and last_name must be provided together")
	}
	return nil
}

// checkItems: phones, emails and IMs "can only be sent as an object ...
// Only the value field is required" (PMG); label is a string (the guide's
// example; the v2 schema's "boolean" is taken for a typo), primary a
// boolean.
func checkItems(k string, v json.RawMessage) error {
	var items []json.RawMessage
	if jsonKind(v) != "array" || json.Unmarshal(v, &items) != nil {
		return badf("%s must be an array of objects", k)
	}
	for i, it := range items {
		var obj map[string]json.RawMessage
		if jsonKind(it) != "object" || json.Unmarshal(it, &obj) != nil {
			return badf("%s[%d] must be an object", k, i)
		}
		for ik, iv := range obj {
			switch ik {
			case "value", "label":
				if jsonKind(iv) != "string" {
					return badf("%s[%d].%s must be a string", k, i, ik)
				}
			case "primary":
				if jsonKind(iv) != "bool" {
					return badf("%s[%d].primary must be a boolean", k, i)
				}
			default:
				return badf("%s[%d]: unknown field %s", k, i, ik)
			}
		}
		if _, ok := obj["value"]; !ok {
			return badf("%s[%d].value is required", k, i)
		}
	}
	return nil
}

// checkAddress: "Only value subfield is required when setting an address
// value" (PMG): an object without value (e.g. {}) is not a documented
// write, and neither is clearing with null (undocumented for a person's
// postal_address) or v1's plain string.
func checkAddress(v json.RawMessage) error {
	var obj map[string]json.RawMessage
	if jsonKind(v) != "object" || json.Unmarshal(v, &obj) != nil {
		return badf("postal_address must be an object with a value")
	}
	for k, sv := range obj {
		if !addressKeys[k] {
			return badf("postal_address: unknown field %s", k)
		}
		if kind := jsonKind(sv); kind != "string" && (kind != "null" || k == "value") {
			return badf("postal_address.%s must be a string", k)
		}
	}
	var value string
	if json.Unmarshal(obj["value"], &value) != nil || strings.TrimSpace(value) == "" {
		return badf("postal_address.value is required")
	}
	return nil
}

func (pp *personPatch) has(k string) bool { _, ok := pp.sent[k]; return ok }

func decodeStrict(raw json.RawMessage, v any, field string) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return badf("%s has the wrong type", field)
	}
	return nil
}

func (pp *personPatch) str(k string) (*string, error) {
	raw := pp.sent[k]
	if string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	var s string
	if err := decodeStrict(raw, &s, k); err != nil {
		return nil, err
	}
	return &s, nil
}

// documentedLabels are the labels Pipedrive documents per list (IM labels
// are the messenger's name and not restricted here).
var documentedLabels = map[string][]string{
	"emails": {"work", "home", "other"},
	"phones": {"work", "home", "mobile", "other"},
}

func (pp *personPatch) fields(k string) ([]pipedrive.Field, error) {
	raw := pp.sent[k]
	if string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	var items []map[string]json.RawMessage
	if err := decodeStrict(raw, &items, k); err != nil {
		return nil, err
	}
	out := make([]pipedrive.Field, 0, len(items))
	seenPrimary := false
	for i, it := range items {
		var f pipedrive.Field
		if err := decodeStrict(it["value"], &f.Value, fmt.Sprintf("%s[%d].value", k, i)); err != nil || strings.TrimSpace(f.Value) == "" {
			return nil, badf("%s[%d].value is required", k, i)
		}
		if l, ok := it["label"]; ok && string(l) != "null" {
			if err := decodeStrict(l, &f.Label, k+".label"); err != nil {
				return nil, err
			}
		}
		if f.Label == "" {
			f.Label = "work"
		}
		if allowed := documentedLabels[k]; allowed != nil && !slices.Contains(allowed, f.Label) {
			// Only these labels are documented (v1 person docs; the web UI
			// offers the same); the migration guide's "anything" example is
			// the doubtful shape our client avoids, so the fake refuses it
			// (facts-pipedrive.md, Corrections, "Labels").
			return nil, badf("%s[%d].label must be one of %s", k, i, strings.Join(allowed, ", "))
		}
		if p, ok := it["primary"]; ok && string(p) != "null" {
			if err := decodeStrict(p, &f.Primary, k+".primary"); err != nil {
				return nil, err
			}
		}
		// At most one primary: keep the first marked one.
		if f.Primary && seenPrimary {
			f.Primary = false
		}
		seenPrimary = seenPrimary || f.Primary
		out = append(out, f)
	}
	if !seenPrimary && len(out) > 0 {
		out[0].Primary = true
	}
	return out, nil
}

// apply writes the sent fields into p. Contact-sync fields sent to a
// company without contact sync are refused with a 400 when refuseCS is set
// (an API request to a fake with WithContactSyncFieldsRefused, the
// default), else ignored: the docs say only that they "are only created
// when contact sync is set up"; what writing them then does is
// undocumented, so our client must not do it and the fake refuses it.
func (pp *personPatch) apply(p *person, creating, contactSync, refuseCS bool, orgExists func(int64) bool) error {
	if len(pp.sent) == 0 {
		return badf("no fields to update")
	}
	if !contactSync && refuseCS {
		for _, k := range contactSyncKeys {
			if pp.has(k) {
				return badf("%s: this field requires contact sync to be set up for the company", k) // wording [inf]
			}
		}
	}
	name, first, last := p.name, p.firstName, p.lastName
	var err error
	var sName, sFirst, sLast *string
	if pp.has("name") {
		if sName, err = pp.str("name"); err != nil {
			return err
		}
		if sName == nil || strings.TrimSpace(*sName) == "" {
			return badf("name cannot be empty")
		}
	}
	if pp.has("first_name") {
		if sFirst, err = pp.str("first_name"); err != nil {
			return err
		}
	}
	if pp.has("last_name") {
		if sLast, err = pp.str("last_name"); err != nil {
			return err
		}
	}
	switch {
	case sName != nil:
		name = strings.TrimSpace(*sName)
		first, last = pipedrive.SplitName(name)
		if sFirst != nil || sLast != nil {
			first, last = deref(sFirst, first), deref(sLast, last)
		}
	case sFirst != nil || sLast != nil:
		first, last = deref(sFirst, first), deref(sLast, last)
		name = strings.TrimSpace(strings.TrimSpace(first) + " " + strings.TrimSpace(last))
	}
	if name == "" {
		// PMG: "both can not be empty strings at the same time".
		return badf("name is required")
	}
	p.name, p.firstName, p.lastName = name, strings.TrimSpace(first), strings.TrimSpace(last)
	if pp.has("owner_id") {
		var id int64
		if err := decodeStrict(pp.sent["owner_id"], &id, "owner_id"); err != nil {
			return err
		}
		p.ownerID = id
	}
	if pp.has("org_id") {
		var id *int64
		if err := decodeStrict(pp.sent["org_id"], &id, "org_id"); err != nil {
			return err
		}
		if id != nil && *id == 0 && pp.strict {
			return badf("organization 0 not found")
		}
		if id == nil || *id == 0 {
			p.orgID = 0
		} else if !orgExists(*id) {
			return badf("organization %d not found", *id)
		} else {
			p.orgID = *id
		}
	}
	for _, k := range []string{"emails", "phones", "im"} {
		if !pp.has(k) || (k == "im" && !contactSync) {
			continue
		}
		fs, err := pp.fields(k)
		if err != nil {
			return err
		}
		switch k { // arrays sent replace the stored ones
		case "emails":
			p.emails = fs
		case "phones":
			p.phones = fs
		case "im":
			p.im = fs
		}
	}
	if contactSync && pp.has("postal_address") {
		raw := pp.sent["postal_address"]
		var a *pipedrive.Address
		var s string
		if json.Unmarshal(raw, &s) == nil {
			a = &pipedrive.Address{Value: s}
		} else if err := decodeStrict(raw, &a, "postal_address"); err != nil {
			return err
		}
		if a != nil && *a == (pipedrive.Address{}) {
			a = nil
		}
		p.postalAddress = a
	}
	if contactSync {
		for k, dst := range map[string]**string{"job_title": &p.jobTitle, "notes": &p.notes, "birthday": &p.birthday} {
			if pp.has(k) {
				v, err := pp.str(k)
				if err != nil {
					return err
				}
				if v != nil && *v == "" {
					v = nil
				}
				*dst = v
			}
		}
	}
	if pp.has("visible_to") {
		if err := decodeStrict(pp.sent["visible_to"], &p.visibleTo, "visible_to"); err != nil {
			return err
		}
	}
	if pp.has("label_ids") {
		if err := decodeStrict(pp.sent["label_ids"], &p.labelIDs, "label_ids"); err != nil {
			return err
		}
	}
	if pp.has("custom_fields") {
		var cf map[string]json.RawMessage
		if err := decodeStrict(pp.sent["custom_fields"], &cf, "custom_fields"); err != nil {
			return err
		}
		if p.customFields == nil {
			p.customFields = map[string]json.RawMessage{}
		}
		for k, v := range cf {
			switch strings.TrimSpace(string(v)) {
			case "null": // null clears the field
				delete(p.customFields, k)
			case "[]":
				return badf("custom field %s: empty array is not allowed", k)
			default:
				p.customFields[k] = v
			}
		}
	}
	return nil
}

func deref(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}
