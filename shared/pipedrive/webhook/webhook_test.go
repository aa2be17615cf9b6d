package webhook

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

// v2Change is the documented v2 person example (webhooks v2 migration guide).
const v2Change = `{"meta":{"action":"change","entity":"person","entity_id":"8","id":"0b6f5a1e-3c2d-4e5f-8a9b-1c2d3e4f5a6b","company_id":"8087566","user_id":"12415231",
 "correlation_id":"c0ffee00-0000-4000-8000-000000000000","is_bulk_edit":false,"timestamp":"2022-11-24T15:18:35.616Z","type":"general","version":"2.0",
 "webhook_id":"4710827","webhook_owner_id":"12094821","change_source":"app","attempt":1,"host":"pd-us.pipedrive.com","permitted_user_ids":["123"]},
 "data":{"id":8,"name":"Sample Person","first_name":"Sample Person","last_name":null,"owner_id":12415231,"org_id":1,"emails":[],"phones":[],
 "label":null,"visible_to":"3","custom_fields":{},"add_time":"2022-11-24T13:18:55Z","update_time":"2022-11-24T15:18:35Z"},
 "previous":{"first_name":"Sample","name":"Sample"}}`

// v2Drift has ints for ids and a unix timestamp, as the meta table says.
const v2Drift = `{"meta":{"action":"create","entity":"person","entity_id":42,"id":"d1","company_id":1,"user_id":7,
 "timestamp":1739827618,"change_source":"api","attempt":2},
 "data":{"id":42,"name":"Ann Lee","owner_id":7,"org_id":null,"visible_to":3,
 "emails":[{"value":"ann@example.test","label":"work","primary":true}],"phones":["+372 5555 1234"],
 "im":[{"value":"annlee","label":"skype","primary":true}],
 "postal_address":{"value":"Main St 1, Tartu","locality":"Tartu","country":"Estonia","postal_code":"50090"},
 "add_time":"2025-02-17T21:15:41Z","update_time":"2025-02-17T21:26:58Z"},"previous":null}`

const v2MergedDelete = `{"meta":{"action":"delete","entity":"person","entity_id":"9","id":"d2","merged_to_id":"8","timestamp":"2024-01-01T00:00:00Z","change_source":"app"},
 "data":null,"previous":{"id":9,"name":"Old Twin"}}`

const v2MergedChange = `{"meta":{"action":"change","entity":"person","entity_id":"8","id":"d3","merged_from_id":9,"timestamp":"2024-01-01T00:00:00Z"},
 "data":{"id":8,"name":"Survivor"},"previous":{"name":"Surv"}}`

const v2Org = `{"meta":{"action":"change","entity":"organization","entity_id":"3","id":"d4","timestamp":"2024-01-01T00:00:00Z"},"data":{"id":3,"name":"Acme"},"previous":{}}`

// v1Updated is trimmed from a real v1 delivery (PipedreamHQ test event).
const v1Updated = `{"v":1,"matches_filters":{"current":[]},"meta":{"action":"updated","change_source":"app","company_id":1234567890,
 "host":"subdomain.pipedrive.com","id":11,"is_bulk_update":false,"object":"person","permitted_user_ids":[1234567890],
 "timestamp":1739827618,"timestamp_micro":1739827618595189,"user_id":1234567890,"v":1,"webhook_id":"1234567890"},
 "current":{"owner_id":1234567890,"postal_address_subpremise":null,"postal_address_locality":"Tartu","id":11,"job_title":null,
 "postal_address":"Main St 1","im":[{"value":"","primary":true}],"label_ids":[14],"postal_address_country":"Estonia",
 "phone":[{"value":"","primary":true}],"visible_to":"3","org_id":null,"name":"Person Name","delete_time":null,
 "postal_address_postal_code":null,"active_flag":true,"update_time":"2025-02-17 21:26:58","postal_address_route":"Main St",
 "first_name":"Person Name","email":[{"value":"p@example.test","primary":true,"label":"work"}],
 "postal_address_street_number":"1","company_id":1234567890,"last_name":"Surname","label":14,
 "0123456789abcdef0123456789abcdef01234567":"custom","add_time":"2025-02-17 21:15:41"},
 "previous":{"id":11,"name":"Person Name"},"retry":0,"event":"updated.person"}`

const v1Deleted = `{"v":1,"meta":{"action":"deleted","object":"person","id":"12","timestamp":1739827618,"change_source":"api"},
 "current":null,"previous":{"id":12,"name":"Gone"},"retry":2,"event":"deleted.person"}`

const v1Deal = `{"v":1,"meta":{"action":"added","object":"deal","id":5,"timestamp":1739827618},"current":{"id":5},"previous":null,"event":"added.deal"}`

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    Event
		wantErr error
	}{
		{name: "v2 change", body: v2Change, want: Event{Version: 2, Object: "person", RawAction: "change", Action: Upsert,
			PersonID: "8", DeliveryID: "0b6f5a1e-3c2d-4e5f-8a9b-1c2d3e4f5a6b", ChangeSource: "app", UserID: "12415231",
			CompanyID: "8087566", WebhookID: "4710827", Attempt: 1,
			OccurredAt: time.Date(2022, 11, 24, 15, 18, 35, 616e6, time.UTC), Changed: []string{"first_name", "name"}}},
		{name: "v2 int drift", body: v2Drift, want: Event{Version: 2, Object: "person", RawAction: "create", Action: Upsert,
			PersonID: "42", DeliveryID: "d1", ChangeSource: "api", UserID: "7", CompanyID: "1", Attempt: 2,
			OccurredAt: time.Unix(1739827618, 0).UTC()}},
		{name: "v2 merge delete", body: v2MergedDelete, want: Event{Version: 2, Object: "person", RawAction: "delete",
			Action: Delete, PersonID: "9", DeliveryID: "d2", MergedToID: "8", ChangeSource: "app",
			OccurredAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Gone: &pipedrive.Person{ID: 9, Name: "Old Twin"}}},
		{name: "v2 merge change", body: v2MergedChange, want: Event{Version: 2, Object: "person", RawAction: "change",
			Action: Upsert, PersonID: "8", DeliveryID: "d3", MergedFromID: "9", Changed: []string{"name"},
			OccurredAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "v2 org", body: v2Org, wantErr: ErrNotPerson},
		{name: "v1 updated", body: v1Updated, want: Event{Version: 1, Object: "person", RawAction: "updated", Action: Upsert,
			PersonID: "11", DeliveryID: "v1:person:11:updated:1739827618595189", ChangeSource: "app", UserID: "1234567890",
			CompanyID: "1234567890", WebhookID: "1234567890", Attempt: 1, OccurredAt: time.Unix(1739827618, 0).UTC()}},
		{name: "v1 deleted", body: v1Deleted, want: Event{Version: 1, Object: "person", RawAction: "deleted", Action: Delete,
			PersonID: "12", DeliveryID: "v1:person:12:deleted:1739827618", ChangeSource: "api", Attempt: 3,
			OccurredAt: time.Unix(1739827618, 0).UTC(), Gone: &pipedrive.Person{ID: 12, Name: "Gone"}}},
		{name: "v2 delete, previous of another person", body: `{"meta":{"action":"delete","entity":"person","entity_id":"5","id":"d9"},"data":null,"previous":{"id":6,"name":"Other"}}`,
			want: Event{Version: 2, Object: "person", RawAction: "delete", Action: Delete, PersonID: "5", DeliveryID: "d9"}},
		{name: "v1 deal", body: v1Deal, wantErr: ErrNotPerson},
		{name: "not json", body: `{"meta":`, wantErr: ErrMalformed},
		{name: "array", body: `[]`, wantErr: ErrMalformed},
		{name: "no meta", body: `{"data":{}}`, wantErr: ErrMalformed},
		{name: "unknown action", body: `{"meta":{"action":"explode","entity":"person","entity_id":"1"}}`, wantErr: ErrUnknownAction},
		{name: "v1 unknown action", body: `{"v":1,"meta":{"action":"archived","object":"person","id":1},"event":"archived.person"}`, wantErr: ErrUnknownAction},
		{name: "no action", body: `{"meta":{"entity":"person","entity_id":"1"}}`, wantErr: ErrMalformed},
		{name: "other object, unknown action", body: `{"meta":{"action":"explode","entity":"deal","entity_id":"1"}}`, wantErr: ErrNotPerson},
		{name: "other object, odd id", body: `{"meta":{"action":"change","entity":"product","entity_id":"a//b"}}`, wantErr: ErrNotPerson},
		{name: "v1 other object, unknown action", body: `{"v":1,"meta":{"action":"converted","object":"lead","id":"x"},"event":"converted.lead"}`, wantErr: ErrNotPerson},
		{name: "bad id", body: `{"meta":{"action":"delete","entity":"person","entity_id":"abc"}}`, wantErr: ErrMalformed},
		{name: "change without data", body: `{"meta":{"action":"change","entity":"person","entity_id":"1"},"data":null}`, wantErr: ErrMalformed},
		{name: "id mismatch", body: `{"meta":{"action":"change","entity":"person","entity_id":"1"},"data":{"id":2,"name":"x"}}`, wantErr: ErrMalformed},
		{name: "data wrong shape", body: `{"meta":{"action":"create","entity":"person","entity_id":"1"},"data":[1]}`, wantErr: ErrMalformed},
		{name: "trailing", body: v2Org + `{}`, wantErr: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.body))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Event{}, "Person"),
				cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if (got.Action == Upsert) != (got.Person != nil) {
				t.Errorf("Person presence: %+v", got.Person)
			}
		})
	}
}

func TestParsePersonData(t *testing.T) {
	ev, err := Parse([]byte(v2Drift))
	if err != nil {
		t.Fatal(err)
	}
	p := ev.Person
	if p.ID != 42 || p.OwnerID != 7 || p.OrgID != nil || p.VisibleTo != 3 || !p.HasContactSyncFields {
		t.Errorf("person: %+v", p)
	}
	if len(p.Phones) != 1 || p.Phones[0].Value != "+372 5555 1234" || p.Emails[0].Label != "work" || p.IM[0].Label != "skype" {
		t.Errorf("lists: %+v %+v %+v", p.Phones, p.Emails, p.IM)
	}
	if p.PostalAddress == nil || p.PostalAddress.Locality != "Tartu" || !p.UpdateTime.Equal(time.Date(2025, 2, 17, 21, 26, 58, 0, time.UTC)) {
		t.Errorf("address/time: %+v %v", p.PostalAddress, p.UpdateTime)
	}

	ev, err = Parse([]byte(v1Updated))
	if err != nil {
		t.Fatal(err)
	}
	p = ev.Person
	if p.VisibleTo != 3 || len(p.IM) != 0 || len(p.Phones) != 0 || len(p.Emails) != 1 || p.LastName != "Surname" {
		t.Errorf("v1 person (empty placeholders dropped): %+v", p)
	}
	wantAddr := "Main St 1|1|Main St|Tartu|Estonia"
	a := p.PostalAddress
	if a == nil || a.Value+"|"+a.StreetNumber+"|"+a.Route+"|"+a.Locality+"|"+a.Country != wantAddr {
		t.Errorf("v1 flat address: %+v", a)
	}
	if string(p.CustomFields["0123456789abcdef0123456789abcdef01234567"]) != `"custom"` {
		t.Errorf("v1 custom field: %v", p.CustomFields)
	}
	if !p.UpdateTime.Equal(time.Date(2025, 2, 17, 21, 26, 58, 0, time.UTC)) {
		t.Errorf("v1 time: %v", p.UpdateTime)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{v2Change, v2Drift, v2MergedDelete, v2MergedChange, v2Org, v1Updated, v1Deleted, v1Deal,
		`{}`, `null`, `{"meta":{}}`, `{"meta":{"action":"create","entity":"person","entity_id":1e3},"data":{"id":"1000","owner_id":{"id":"5"}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrIgnored) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if ev.PersonID == "" || ev.Object != "person" || (ev.Action != Upsert && ev.Action != Delete) {
			t.Fatalf("accepted an incomplete event: %+v", ev)
		}
		if ev.Action == Upsert && ev.Person == nil {
			t.Fatalf("upsert without person: %+v", ev)
		}
	})
}
