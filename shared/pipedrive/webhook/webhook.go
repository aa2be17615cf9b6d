// Package webhook parses the bodies Pipedrive POSTs to webhook subscribers,
// in both the v1 and v2 formats, into one normalized Event. It does no I/O
// and no authentication: the intake function checks Basic auth first.
package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

// Errors. ErrMalformed means the body is not a Pipedrive webhook at all
// (answer 400). ErrIgnored means an event we do not sync (answer 200 and
// ignore it): ErrNotPerson, an event about another object, whatever its
// action; ErrUnknownAction, a person event with an action we do not know.
var (
	ErrMalformed     = errors.New("webhook: malformed payload")
	ErrIgnored       = errors.New("webhook: event not synced")
	ErrNotPerson     = fmt.Errorf("webhook: not a person event: %w", ErrIgnored)
	ErrUnknownAction = fmt.Errorf("webhook: unknown action: %w", ErrIgnored)
)

// Action is the normalized action.
type Action string

// Actions. A merge is an Upsert of the survivor and a Delete of the loser.
const (
	Upsert Action = "upsert"
	Delete Action = "delete"
)

// Event is one webhook delivery, normalized.
type Event struct {
	Version   int    // 1 or 2
	Object    string // "person", "organization", …, lower case
	RawAction string // as sent: create/change/delete or added/updated/deleted/merged
	Action    Action
	// PersonID is the object id in decimal (the person id for person events).
	PersonID string
	// DeliveryID identifies the event across retries: v2 meta.id (a UUID).
	// v1 has no delivery id, so it is synthesized from object, id, action
	// and the event's own timestamp, which retries repeat.
	DeliveryID   string
	MergedToID   string // v2 delete after a merge: the survivor
	MergedFromID string // v2 change after a merge: the loser
	ChangeSource string // "app" or "api" (empty if absent)
	UserID       string // who made the change
	CompanyID    string
	WebhookID    string
	Attempt      int // 1-based delivery attempt, 0 if unknown
	OccurredAt   time.Time
	// Person is the current state when the payload has one (not on delete).
	Person *pipedrive.Person
	// Gone is a deleted person's last state (the delete's "previous"), when
	// the payload has one that decodes.
	Gone *pipedrive.Person
	// Changed lists the top-level keys of v2 "previous" on change events
	// (the fields that changed); nil when unknown.
	Changed []string
}

type meta struct {
	// v2
	Action       string          `json:"action"`
	Entity       string          `json:"entity"`
	EntityID     json.RawMessage `json:"entity_id"`
	MergedToID   json.RawMessage `json:"merged_to_id"`
	MergedFromID json.RawMessage `json:"merged_from_id"`
	Attempt      json.RawMessage `json:"attempt"`
	// v1
	Object         string          `json:"object"`
	TimestampMicro json.RawMessage `json:"timestamp_micro"`
	// both
	ID           json.RawMessage `json:"id"`
	ChangeSource string          `json:"change_source"`
	UserID       json.RawMessage `json:"user_id"`
	CompanyID    json.RawMessage `json:"company_id"`
	WebhookID    json.RawMessage `json:"webhook_id"`
	Timestamp    json.RawMessage `json:"timestamp"`
	Version      json.RawMessage `json:"version"`
	V            json.RawMessage `json:"v"`
}

type body struct {
	V        json.RawMessage `json:"v"`
	Meta     *meta           `json:"meta"`
	Data     json.RawMessage `json:"data"`
	Current  json.RawMessage `json:"current"`
	Previous json.RawMessage `json:"previous"`
	Event    string          `json:"event"`
	Retry    json.RawMessage `json:"retry"`
}

// Parse reads one webhook body. For an event about another object it
// returns the event and an error matching ErrNotPerson, for a person event
// with an unknown action one matching ErrUnknownAction (both ErrIgnored).
func Parse(b []byte) (Event, error) {
	var in body
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return Event{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if dec.More() {
		return Event{}, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	if in.Meta == nil {
		return Event{}, fmt.Errorf("%w: no meta", ErrMalformed)
	}
	if in.Meta.Entity != "" || in.Meta.EntityID != nil {
		return parseV2(in)
	}
	if in.Meta.Object != "" || in.Event != "" || in.V != nil {
		return parseV1(in)
	}
	return Event{}, fmt.Errorf("%w: neither v1 (meta.object) nor v2 (meta.entity)", ErrMalformed)
}

func parseV2(in body) (Event, error) {
	m := in.Meta
	ev := Event{
		Version: 2, Object: strings.ToLower(strings.TrimSpace(m.Entity)), RawAction: m.Action,
		DeliveryID: str(m.ID), MergedToID: idOrEmpty(m.MergedToID), MergedFromID: idOrEmpty(m.MergedFromID),
		ChangeSource: m.ChangeSource, UserID: str(m.UserID), CompanyID: str(m.CompanyID),
		WebhookID: str(m.WebhookID),
	}
	if a, err := strconv.Atoi(str(m.Attempt)); err == nil && a > 0 {
		ev.Attempt = a
	}
	if ev.Object == "" {
		return Event{}, fmt.Errorf("%w: no meta.entity", ErrMalformed)
	}
	ev.OccurredAt, _ = parseTime(m.Timestamp)
	id, err := canonicalID(m.EntityID)
	if ev.Object != "person" {
		// Another object's event is ignored whatever its action and id.
		if err == nil {
			ev.PersonID = id
		}
		return ev, ErrNotPerson
	}
	switch m.Action {
	case "create", "change":
		ev.Action = Upsert
	case "delete":
		ev.Action = Delete
	case "":
		return Event{}, fmt.Errorf("%w: no meta.action", ErrMalformed)
	default:
		return ev, fmt.Errorf("%w: v2 %q", ErrUnknownAction, m.Action)
	}
	if err != nil {
		return Event{}, fmt.Errorf("%w: meta.entity_id: %w", ErrMalformed, err)
	}
	ev.PersonID = id
	if ev.Action == Upsert {
		if isNull(in.Data) {
			return Event{}, fmt.Errorf("%w: %s without data", ErrMalformed, m.Action)
		}
		p, err := pipedrive.DecodePerson(in.Data)
		if err != nil {
			return Event{}, fmt.Errorf("%w: data: %w", ErrMalformed, err)
		}
		if ev.PersonID == "" {
			ev.PersonID = strconv.FormatInt(p.ID, 10)
		} else if ev.PersonID != strconv.FormatInt(p.ID, 10) {
			return Event{}, fmt.Errorf("%w: meta.entity_id %s ≠ data.id %d", ErrMalformed, ev.PersonID, p.ID)
		}
		ev.Person = p
		if m.Action == "change" {
			var prev map[string]json.RawMessage
			if json.Unmarshal(in.Previous, &prev) == nil && prev != nil {
				ev.Changed = make([]string, 0, len(prev))
				for k := range prev {
					ev.Changed = append(ev.Changed, k)
				}
			}
		}
	} else if !isNull(in.Previous) {
		ev.Gone = gone(in.Previous, &ev.PersonID)
	}
	if ev.PersonID == "" {
		return Event{}, fmt.Errorf("%w: no person id", ErrMalformed)
	}
	return ev, nil
}

// gone decodes a delete's last state of the person: its id fills an empty
// id; a state that does not decode or names another person is nil.
func gone(previous json.RawMessage, id *string) *pipedrive.Person {
	p, err := pipedrive.DecodePerson(previous)
	if err != nil {
		return nil
	}
	pid := strconv.FormatInt(p.ID, 10)
	if *id == "" {
		*id = pid
	}
	if *id != pid {
		return nil
	}
	return p
}

func parseV1(in body) (Event, error) {
	m := in.Meta
	ev := v1Common(m, in)
	if ev.Object == "" {
		return Event{}, fmt.Errorf("%w: no meta.object", ErrMalformed)
	}
	id, err := canonicalID(m.ID)
	if ev.Object != "person" {
		// Another object's event is ignored whatever its action and id.
		if err == nil {
			ev.PersonID = id
		}
		ev.DeliveryID = v1DeliveryID(ev, m)
		return ev, ErrNotPerson
	}
	switch m.Action {
	case "added", "updated":
		ev.Action = Upsert
	case "merged":
		// Assumption (v1 merge semantics are thinly documented): "merged"
		// carries the survivor in current; the loser arrives separately as
		// deleted.person. If previous names a different id, it is the loser.
		ev.Action = Upsert
	case "deleted":
		ev.Action = Delete
	case "":
		return Event{}, fmt.Errorf("%w: no meta.action", ErrMalformed)
	default:
		return ev, fmt.Errorf("%w: v1 %q", ErrUnknownAction, m.Action)
	}
	if err != nil {
		return Event{}, fmt.Errorf("%w: meta.id: %w", ErrMalformed, err)
	}
	ev.PersonID = id
	if !isNull(in.Current) {
		p, err := pipedrive.DecodePerson(in.Current)
		if err != nil {
			return Event{}, fmt.Errorf("%w: current: %w", ErrMalformed, err)
		}
		ev.Person = p
		cur := strconv.FormatInt(p.ID, 10)
		switch {
		case ev.PersonID == "" || m.Action == "merged":
			ev.PersonID = cur
		case ev.PersonID != cur:
			// as in v2: an event about one person carrying another's state
			return Event{}, fmt.Errorf("%w: meta.id %s ≠ current.id %s", ErrMalformed, ev.PersonID, cur)
		}
	} else if ev.Action == Upsert {
		return Event{}, fmt.Errorf("%w: %s without current", ErrMalformed, m.Action)
	}
	if m.Action == "merged" && !isNull(in.Previous) {
		if p, err := pipedrive.DecodePerson(in.Previous); err == nil && strconv.FormatInt(p.ID, 10) != ev.PersonID {
			ev.MergedFromID = strconv.FormatInt(p.ID, 10)
		}
	}
	switch {
	case ev.Action == Delete && !isNull(in.Previous):
		ev.Gone = gone(in.Previous, &ev.PersonID)
	case ev.PersonID == "" && !isNull(in.Previous):
		if p, err := pipedrive.DecodePerson(in.Previous); err == nil {
			ev.PersonID = strconv.FormatInt(p.ID, 10)
		}
	}
	if ev.PersonID == "" {
		return Event{}, fmt.Errorf("%w: no person id", ErrMalformed)
	}
	ev.DeliveryID = v1DeliveryID(ev, m)
	return ev, nil
}

// v1Common fills the fields common to every v1 event.
func v1Common(m *meta, in body) Event {
	ev := Event{
		Version: 1, Object: strings.ToLower(strings.TrimSpace(m.Object)), RawAction: m.Action,
		ChangeSource: m.ChangeSource, UserID: str(m.UserID), CompanyID: str(m.CompanyID),
		WebhookID: str(m.WebhookID),
	}
	if ev.Object == "" || m.Action == "" {
		// event is "updated.person": fill what meta lacks
		if act, obj, ok := strings.Cut(in.Event, "."); ok {
			if ev.Object == "" {
				ev.Object = strings.ToLower(obj)
			}
			if m.Action == "" {
				m.Action = act
				ev.RawAction = act
			}
		}
	}
	if r, err := strconv.Atoi(str(in.Retry)); err == nil && r >= 0 && r < math.MaxInt {
		ev.Attempt = r + 1
	}
	ev.OccurredAt, _ = parseTime(m.Timestamp)
	return ev
}

func v1DeliveryID(ev Event, m *meta) string {
	ts := str(m.TimestampMicro)
	if ts == "" {
		ts = str(m.Timestamp)
	}
	return "v1:" + ev.Object + ":" + ev.PersonID + ":" + ev.RawAction + ":" + ts
}

func isNull(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) == 0 || string(r) == "null"
}

// str renders a scalar (string or number) as text; other shapes give "".
func str(r json.RawMessage) string {
	if isNull(r) {
		return ""
	}
	var s string
	if json.Unmarshal(r, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(r, &n) == nil {
		return n.String()
	}
	return ""
}

// canonicalID turns 8, "8" or 8.0 into "8"; empty stays empty.
func canonicalID(r json.RawMessage) (string, error) {
	s := str(r)
	if s == "" {
		if !isNull(r) {
			return "", errors.New("not a scalar")
		}
		return "", nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil && i > 0 {
		return strconv.FormatInt(i, 10), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 && f < 1<<53 && f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10), nil
	}
	return "", fmt.Errorf("%q is not a positive integer", s)
}

func parseTime(r json.RawMessage) (time.Time, error) {
	s := str(r)
	if s == "" {
		return time.Time{}, errors.New("no timestamp")
	}
	return pipedrive.ParseTime(s)
}

func idOrEmpty(r json.RawMessage) string {
	id, err := canonicalID(r)
	if err != nil {
		return str(r)
	}
	return id
}
