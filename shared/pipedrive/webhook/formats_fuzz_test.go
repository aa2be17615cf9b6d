package webhook_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/contactsync/contactsync/shared/intake"
	"github.com/contactsync/contactsync/shared/pipedrive/webhook"
)

// FuzzParse (webhook_test.go) feeds raw bytes; the two targets here build
// a body of one format from fuzzed parts, so the fuzzer spends its time in
// that format's rules rather than in JSON syntax.

// raw is s as a JSON value: itself when it is valid JSON, else a string.
func raw(s string) json.RawMessage {
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

// checkPersonEvent holds for every accepted person event of either format:
// a canonical positive id, a person for an upsert with that very id, and
// a change message the applier accepts.
func checkPersonEvent(t *testing.T, ev webhook.Event, body []byte) {
	t.Helper()
	id, err := strconv.ParseInt(ev.PersonID, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != ev.PersonID {
		t.Fatalf("person id %q is not a canonical positive integer\n%s", ev.PersonID, body)
	}
	if ev.Object != "person" || (ev.Action != webhook.Upsert && ev.Action != webhook.Delete) {
		t.Fatalf("accepted %+v\n%s", ev, body)
	}
	if ev.Action == webhook.Upsert && ev.Person == nil {
		t.Fatalf("upsert without a person\n%s", body)
	}
	if ev.Person != nil && ev.Person.ID != id && ev.MergedFromID == "" {
		t.Fatalf("event about %s carries person %d\n%s", ev.PersonID, ev.Person.ID, body)
	}
	if err := intake.ToChange("conn", []byte("key"), ev).Validate(); err != nil {
		t.Fatalf("the applier would drop what the intake accepted: %v\n%s", err, body)
	}
	if len(ev.DeliveryID) > len(body)+64 || len(ev.PersonID) > len(body) {
		t.Fatalf("event larger than its body: %+v", ev)
	}
}

// FuzzParseV2: a webhooks v2 body (meta.entity, meta.entity_id, data,
// previous; D:webhooks-v2-migration-guide) never panics; a refusal is
// ErrMalformed, or ErrNotPerson for another entity; an accepted event is
// a version 2 person event consistent with its meta.
func FuzzParseV2(f *testing.F) {
	f.Add("change", "person", `"8"`, "0b6f5a1e-3c2d-4e5f-8a9b-1c2d3e4f5a6b", `{"id":8,"name":"Sample Person","first_name":"Sample Person","last_name":null,"owner_id":12415231,"org_id":1,"emails":[],"phones":[],"visible_to":"3","custom_fields":{}}`, `{"first_name":"Sample","name":"Sample"}`, "", "", `"2022-11-24T15:18:35.616Z"`, `1`)
	f.Add("create", "person", `42`, "d1", `{"id":42,"name":"Ann Lee","emails":[{"value":"ann@example.test","label":"work","primary":true}],"phones":["+372 5555 1234"],"im":[{"value":"annlee","label":"skype"}],"postal_address":{"value":"Main St 1, Tartu"}}`, `null`, "", "", `1739827618`, `2`)
	f.Add("delete", "person", `"9"`, "d2", `null`, `{"id":9,"name":"Old Twin"}`, `"8"`, "", `"2024-01-01T00:00:00Z"`, `"3"`)
	f.Add("change", "person", `"8"`, "d3", `{"id":8,"name":"Survivor"}`, `{"name":"Surv"}`, "", `9`, `"2024-01-01T00:00:00Z"`, ``)
	f.Add("change", "organization", `"3"`, "d4", `{"id":3,"name":"Acme"}`, `{}`, "", "", ``, ``)
	f.Add("delete", "person", ``, "d5", `null`, `{"id":"10"}`, "", "", ``, ``)
	f.Add("change", "Person ", `8.0`, "d6", `{"id":"8"}`, `[]`, `0`, `-1`, `1e20`, `1.5`)
	f.Add("create", "person", `{"id":1}`, "", `{"id":2}`, ``, ``, ``, ``, ``)
	f.Add("change", "person", `5`, "d7", `{"id":5}`, `{}`, ``, ``, ``, `-5`)
	f.Fuzz(func(t *testing.T, action, entity, entityID, id, data, previous, mergedTo, mergedFrom, timestamp, attempt string) {
		meta := map[string]any{"action": action, "entity": entity, "id": id, "version": "2.0", "change_source": "app"}
		for k, v := range map[string]string{"entity_id": entityID, "merged_to_id": mergedTo, "merged_from_id": mergedFrom, "timestamp": timestamp, "attempt": attempt} {
			if v != "" {
				meta[k] = raw(v)
			}
		}
		body, err := json.Marshal(map[string]any{"meta": meta, "data": raw(data), "previous": raw(previous)})
		if err != nil {
			t.Skip()
		}
		ev, err := webhook.Parse(body)
		if refused(t, ev, err, 2, body) {
			return
		}
		if ev.Version != 2 || ev.RawAction != asJSON(action) || ev.DeliveryID != strings.TrimSpace(asJSON(id)) {
			t.Fatalf("event %+v does not match its meta\n%s", ev, body)
		}
		if (action == "delete") != (ev.Action == webhook.Delete) {
			t.Fatalf("action %q read as %q", action, ev.Action)
		}
		if ev.Attempt < 0 {
			t.Fatalf("attempt %d (1-based, 0 if unknown)", ev.Attempt)
		}
		checkPersonEvent(t, ev, body)
	})
}

// FuzzParseV1: a webhooks v1 body (meta.object, meta.id, current,
// previous, event "action.object", retry; D:guide-for-webhooks and a real
// delivery) never panics; a refusal is ErrMalformed, or ErrNotPerson for
// another object; an accepted event is a version 1 person event whose
// delivery id is the same on a retry.
func FuzzParseV1(f *testing.F) {
	cur := `{"owner_id":1234567890,"postal_address_locality":"Tartu","id":11,"job_title":null,"postal_address":"Main St 1","im":[{"value":"","primary":true}],` +
		`"phone":[{"value":"","primary":true}],"visible_to":"3","org_id":null,"name":"Person Name","active_flag":true,"update_time":"2025-02-17 21:26:58",` +
		`"postal_address_route":"Main St","first_name":"Person Name","email":[{"value":"p@example.test","primary":true,"label":"work"}],` +
		`"postal_address_street_number":"1","last_name":"Surname","0123456789abcdef0123456789abcdef01234567":"custom"}`
	f.Add("updated", "person", `11`, "updated.person", cur, `{"id":11,"name":"Person Name"}`, `1739827618`, `1739827618595189`, `0`)
	f.Add("deleted", "person", `"12"`, "deleted.person", `null`, `{"id":12,"name":"Gone"}`, `1739827618`, ``, `2`)
	f.Add("added", "deal", `5`, "added.deal", `{"id":5}`, `null`, `1739827618`, ``, ``)
	f.Add("merged", "person", `8`, "merged.person", `{"id":8,"name":"Survivor"}`, `{"id":9,"name":"Loser"}`, `"2024-01-01 00:00:00"`, ``, `"1"`)
	f.Add("", "", `13`, "added.person", `{"id":13,"name":"From event"}`, ``, ``, ``, ``)
	f.Add("updated", "person", ``, "", `{"id":"14","phone":"+49 30 1234567","email":"a@b.example"}`, ``, ``, ``, `x`)
	f.Add("updated", "person", `{}`, "updated.", `[]`, `"x"`, `1e300`, `-1`, `1.5`)
	f.Add("updated", "person", `3`, "updated.person", `{"id":3}`, ``, ``, ``, `-5`)
	f.Add("updated", "person", `3`, "updated.person", `{"id":3}`, ``, ``, ``, `9223372036854775807`)
	f.Fuzz(func(t *testing.T, action, object, id, event, current, previous, timestamp, timestampMicro, retry string) {
		meta := map[string]any{"v": 1, "change_source": "api", "user_id": 7, "company_id": 1}
		if action != "" {
			meta["action"] = action
		}
		if object != "" {
			meta["object"] = object
		}
		for k, v := range map[string]string{"id": id, "timestamp": timestamp, "timestamp_micro": timestampMicro} {
			if v != "" {
				meta[k] = raw(v)
			}
		}
		in := map[string]any{"v": 1, "meta": meta, "event": event}
		for k, v := range map[string]string{"current": current, "previous": previous, "retry": retry} {
			if v != "" {
				in[k] = raw(v)
			}
		}
		body, err := json.Marshal(in)
		if err != nil {
			t.Skip()
		}
		ev, err := webhook.Parse(body)
		if refused(t, ev, err, 1, body) {
			return
		}
		if ev.Version != 1 {
			t.Fatalf("v1 body read as version %d", ev.Version)
		}
		if !strings.HasPrefix(ev.DeliveryID, "v1:person:"+ev.PersonID+":") {
			t.Fatalf("delivery id %q does not name person %s", ev.DeliveryID, ev.PersonID)
		}
		if ev.MergedFromID != "" && ev.MergedFromID == ev.PersonID {
			t.Fatalf("person %s merged from itself", ev.PersonID)
		}
		if ev.Attempt < 0 {
			t.Fatalf("attempt %d (1-based, 0 if unknown)", ev.Attempt)
		}
		// a retry repeats the event: same delivery id, same person
		in["retry"] = 3
		again, _ := json.Marshal(in)
		if ev2, err := webhook.Parse(again); err != nil || ev2.DeliveryID != ev.DeliveryID || ev2.PersonID != ev.PersonID {
			t.Fatalf("retry read differently: %+v, %v (first %+v)", ev2, err, ev)
		}
		checkPersonEvent(t, ev, body)
	})
}

// refused checks the classes a body Parse refuses can fall in, for
// version: another object's event, a person event with an unknown action
// (both ignored, 200) or a malformed body (400). It reports whether Parse
// refused it.
func refused(t *testing.T, ev webhook.Event, err error, version int, body []byte) bool {
	t.Helper()
	switch {
	case err == nil:
		return false
	case errors.Is(err, webhook.ErrNotPerson):
		if ev.Version != version || ev.Object == "person" || ev.Object == "" {
			t.Fatalf("not a person event, but %+v\n%s", ev, body)
		}
	case errors.Is(err, webhook.ErrUnknownAction):
		if ev.Version != version || ev.Object != "person" {
			t.Fatalf("unknown action, but %+v\n%s", ev, body)
		}
	case !errors.Is(err, webhook.ErrMalformed):
		t.Fatalf("unclassified error: %v", err)
	}
	return true
}

// asJSON is s as it reads back from JSON (invalid UTF-8 becomes U+FFFD).
func asJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}
