package pipedrive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrBadPerson marks person JSON that cannot be read even leniently.
var ErrBadPerson = errors.New("pipedrive: malformed person")

var customKey = regexp.MustCompile(`^[0-9a-f]{40}$`)

// DecodePerson reads a person in any shape Pipedrive sends: API v2, the v1
// API (merge response) and the v1 and v2 webhook payloads. It tolerates the
// documented type drift: ids and numbers as strings, owner_id/org_id as
// objects, times as RFC 3339, "2006-01-02 15:04:05" or unix seconds,
// emails/phones under v1 or v2 keys, IM under "im" or "ims", as objects or bare strings, v1 empty
// items ({"value":"","primary":true}, dropped), and v1's flat postal_address_*
// keys. Unknown keys are ignored; v1 top-level 40-hex custom fields are kept
// in CustomFields.
func DecodePerson(raw []byte) (*Person, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPerson, err)
	}
	if m == nil {
		return nil, fmt.Errorf("%w: null", ErrBadPerson)
	}
	p := &Person{}
	var ok bool
	if p.ID, ok = looseID(m["id"]); !ok || p.ID <= 0 {
		return nil, fmt.Errorf("%w: no usable id", ErrBadPerson)
	}
	p.Name = looseString(m["name"])
	p.FirstName = looseString(m["first_name"])
	p.LastName = looseString(m["last_name"])
	p.OwnerID, _ = looseID(m["owner_id"])
	if org, ok := looseID(m["org_id"]); ok && org > 0 {
		p.OrgID = &org
	}
	p.Emails = looseFields(first(m, "emails", "email"))
	p.Phones = looseFields(first(m, "phones", "phone"))
	for _, k := range contactSyncKeys {
		if _, ok := m[k]; ok {
			p.HasContactSyncFields = true
		}
	}
	// "im" in the v2 schema and v1, "ims" in v2's own descriptions.
	p.IM = looseFields(first(m, "im", "ims"))
	p.PostalAddress = looseAddress(m)
	if jt, ok := m["job_title"]; ok && !isNull(jt) {
		s := looseString(jt)
		p.JobTitle = &s
	}
	p.AddTime, _ = looseTime(m["add_time"])
	p.UpdateTime, _ = looseTime(m["update_time"])
	p.IsDeleted = looseBool(m["is_deleted"])
	if af, ok := m["active_flag"]; ok && !isNull(af) && !looseBool(af) {
		p.IsDeleted = true
	}
	if v, ok := looseID(m["visible_to"]); ok {
		p.VisibleTo = int(v)
	}
	var labels []json.RawMessage
	if json.Unmarshal(m["label_ids"], &labels) == nil {
		for _, l := range labels {
			if id, ok := looseID(l); ok {
				p.LabelIDs = append(p.LabelIDs, id)
			}
		}
	}
	var cf map[string]json.RawMessage
	if json.Unmarshal(m["custom_fields"], &cf) == nil && len(cf) > 0 {
		p.CustomFields = cf
	}
	for k, v := range m {
		if customKey.MatchString(k) {
			if p.CustomFields == nil {
				p.CustomFields = map[string]json.RawMessage{}
			}
			p.CustomFields[k] = v
		}
	}
	return p, nil
}

func first(m map[string]json.RawMessage, keys ...string) json.RawMessage {
	for _, k := range keys {
		if v, ok := m[k]; ok && !isNull(v) {
			return v
		}
	}
	return nil
}

func isNull(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) == 0 || string(r) == "null"
}

// looseID reads an int, a decimal string, or an object with "id" or "value"
// holding one (owner_id and org_id in v1: {"id":1,"name":…,"value":1}).
func looseID(r json.RawMessage) (int64, bool) { return looseIDIn(r, 1) }

// looseIDIn reads objects at most depth levels deep: each level reads its
// whole input again, so unbounded nesting ({"value":{"value":…}} 9,000
// deep, 150 kB) took minutes of CPU for one webhook.
func looseIDIn(r json.RawMessage, depth int) (int64, bool) {
	if isNull(r) {
		return 0, false
	}
	var n json.Number
	if err := json.Unmarshal(r, &n); err == nil {
		return numberToID(string(n))
	}
	var s string
	if err := json.Unmarshal(r, &s); err == nil {
		return numberToID(strings.TrimSpace(s))
	}
	var obj map[string]json.RawMessage
	if depth > 0 && json.Unmarshal(r, &obj) == nil {
		if v, ok := obj["value"]; ok && !isNull(v) {
			return looseIDIn(v, depth-1)
		}
		if v, ok := obj["id"]; ok {
			return looseIDIn(v, depth-1)
		}
	}
	return 0, false
}

func numberToID(s string) (int64, bool) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

func looseString(r json.RawMessage) string {
	if isNull(r) {
		return ""
	}
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(r, &n) == nil {
		return n.String()
	}
	return ""
}

func looseBool(r json.RawMessage) bool {
	if isNull(r) {
		return false
	}
	var b bool
	if json.Unmarshal(r, &b) == nil {
		return b
	}
	switch strings.ToLower(looseString(r)) {
	case "1", "true", "yes":
		return true
	}
	return false
}

// looseFields reads [{value,label,primary}] or ["value"], dropping items
// with an empty value (v1's placeholder for "none").
func looseFields(r json.RawMessage) []Field {
	if isNull(r) {
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(r, &items) != nil {
		if s := looseString(r); strings.TrimSpace(s) != "" { // a bare string
			return []Field{{Value: s, Label: "work", Primary: true}}
		}
		return nil
	}
	var out []Field
	for _, it := range items {
		var obj map[string]json.RawMessage
		var f Field
		if json.Unmarshal(it, &obj) == nil {
			f = Field{Value: looseString(obj["value"]), Label: looseString(obj["label"]), Primary: looseBool(obj["primary"])}
		} else {
			f = Field{Value: looseString(it)}
		}
		if strings.TrimSpace(f.Value) == "" {
			continue
		}
		out = append(out, f)
	}
	return out
}

// looseAddress reads the v2 object or v1's text plus flat keys.
func looseAddress(m map[string]json.RawMessage) *Address {
	r := m["postal_address"]
	var a Address
	var obj map[string]json.RawMessage
	if !isNull(r) && json.Unmarshal(r, &obj) == nil && obj != nil {
		a = Address{
			Value: looseString(obj["value"]), Subpremise: looseString(obj["subpremise"]),
			StreetNumber: looseString(obj["street_number"]), Route: looseString(obj["route"]),
			Sublocality: looseString(obj["sublocality"]), Locality: looseString(obj["locality"]),
			AdminAreaLevel1: looseString(obj["admin_area_level_1"]), AdminAreaLevel2: looseString(obj["admin_area_level_2"]),
			Country: looseString(obj["country"]), PostalCode: looseString(obj["postal_code"]),
		}
	} else {
		g := func(k string) string { return looseString(m["postal_address_"+k]) }
		a = Address{
			Value: looseString(r), Subpremise: g("subpremise"), StreetNumber: g("street_number"),
			Route: g("route"), Sublocality: g("sublocality"), Locality: g("locality"),
			AdminAreaLevel1: g("admin_area_level_1"), AdminAreaLevel2: g("admin_area_level_2"),
			Country: g("country"), PostalCode: g("postal_code"),
		}
		if a.Value == "" {
			a.Value = g("formatted_address")
		}
	}
	if a == (Address{}) {
		return nil
	}
	return &a
}

// ParseTime reads the time formats Pipedrive uses: RFC 3339 (with or
// without fraction), "2006-01-02 15:04:05" (UTC), and unix time in seconds,
// milliseconds or microseconds, as a number or a string.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("pipedrive: empty time")
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04:05.999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return time.Time{}, fmt.Errorf("pipedrive: unknown time format %q", s)
	}
	switch {
	case n >= 1e15: // microseconds
		return time.UnixMicro(int64(n)).UTC(), nil
	case n >= 1e12: // milliseconds
		return time.UnixMilli(int64(n)).UTC(), nil
	case n > 1e11:
		return time.Time{}, fmt.Errorf("pipedrive: implausible unix time %q", s)
	}
	sec, frac := math.Modf(n)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

func looseTime(r json.RawMessage) (time.Time, bool) {
	s := looseString(r)
	if s == "" {
		return time.Time{}, false
	}
	t, err := ParseTime(s)
	return t, err == nil
}
