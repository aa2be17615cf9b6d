package pipedrive_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

// raw sends one request with the user's API token and returns the status
// and the decoded body.
func (e *env) raw(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("x-api-token", e.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// TestV2PersonBodyValidation: the fake refuses every person body the v2
// docs do not allow, with v2's strict validation (PMG, "General API
// Changes": stricter input validation, no coercion), and accepts the
// documented shapes. Each row names its source.
func TestV2PersonBodyValidation(t *testing.T) {
	e := setup(t, true)
	id, err := e.fake.SeedPerson(e.user, name("Seed Person"))
	if err != nil {
		t.Fatal(err)
	}
	patch := fmt.Sprintf("/api/v2/persons/%d", id)
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		// PMG POST/PATCH: "Either name or both first_name and last_name".
		{"name with first and last (undocumented)", "POST", "/api/v2/persons", `{"name":"A B","first_name":"A","last_name":"B"}`, 400},
		{"name with first only", "PATCH", patch, `{"name":"A B","first_name":"A"}`, 400},
		{"first name alone", "PATCH", patch, `{"first_name":"A"}`, 400},
		{"both parts empty", "POST", "/api/v2/persons", `{"first_name":"","last_name":""}`, 400},
		{"parts, one empty (PMG: accepted)", "POST", "/api/v2/persons", `{"first_name":"Cher","last_name":""}`, 201},
		// PMG address fields: "Only value subfield is required".
		{"address without value", "POST", "/api/v2/persons", `{"name":"A","postal_address":{}}`, 400},
		{"address with empty value", "PATCH", patch, `{"postal_address":{"value":" ","locality":"Köln"}}`, 400},
		{"address cleared with null (undocumented)", "PATCH", patch, `{"postal_address":null}`, 400},
		{"address as v1 text", "PATCH", patch, `{"postal_address":"Ring 1"}`, 400},
		{"address unknown subfield", "PATCH", patch, `{"postal_address":{"value":"Ring 1","city":"Köln"}}`, 400},
		{"address with value, other subfields null", "PATCH", patch, `{"postal_address":{"value":"Ring 1","locality":null}}`, 200},
		// PHP SDK 17.5.1 request models: the documented keys only.
		{"unknown key", "POST", "/api/v2/persons", `{"name":"A","nickname":"x"}`, 400},
		{"add_time (format undocumented)", "POST", "/api/v2/persons", `{"name":"A","add_time":"2026-01-01T00:00:00Z"}`, 400},
		{"update_time", "PATCH", patch, `{"update_time":"2026-01-01T00:00:00Z"}`, 400},
		// PMG: "Numeric fields no longer coerce string input".
		{"owner_id as string", "POST", "/api/v2/persons", `{"name":"A","owner_id":"1"}`, 400},
		{"org_id as string", "PATCH", patch, `{"org_id":"1"}`, 400},
		{"visible_to as string", "PATCH", patch, `{"visible_to":"3"}`, 400},
		{"visible_to out of range", "PATCH", patch, `{"visible_to":4}`, 400},
		// PMG: booleans only true and false; items are objects with value.
		{"primary as 1", "POST", "/api/v2/persons", `{"name":"A","emails":[{"value":"a@b","primary":1}]}`, 400},
		{"label as boolean", "POST", "/api/v2/persons", `{"name":"A","phones":[{"value":"1","label":true}]}`, 400},
		{"item with an unknown key", "POST", "/api/v2/persons", `{"name":"A","emails":[{"value":"a@b","type":"work"}]}`, 400},
		{"item as a bare string", "POST", "/api/v2/persons", `{"name":"A","emails":["a@b"]}`, 400},
		{"im item without value", "PATCH", patch, `{"im":[{"label":"skype"}]}`, 400},
		{"job_title as number", "PATCH", patch, `{"job_title":5}`, 400},
		// Documented shapes.
		{"minimal create", "POST", "/api/v2/persons", `{"name":"Ada Lovelace","emails":[{"value":"ada@example.com"}]}`, 201},
		{"contact-sync fields", "PATCH", patch, `{"im":[{"value":"ada","label":"skype","primary":true}],"job_title":"CTO","postal_address":{"value":"Ring 1, Köln","locality":"Köln"}}`, 200},
		{"clearing lists and the job title", "PATCH", patch, `{"phones":[],"im":[],"job_title":""}`, 200},
		// Doubtful, accepted: the least doubtful way to unlink (see the fake).
		{"org_id null", "PATCH", patch, `{"org_id":null}`, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.raw(t, tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Errorf("%s %s %s: status %d, want %d (%v)", tc.method, tc.path, tc.body, status, tc.status, body)
			}
			if status == 400 && (body["success"] != false || body["error"] == "") {
				t.Errorf("400 without Pipedrive's error envelope: %v", body)
			}
		})
	}
}

// TestNameIsSplitByPipedrive: name alone is split (PMG: "first_name and
// last_name are derived from splitting the name"), the parts alone are
// concatenated into name.
func TestNameIsSplitByPipedrive(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	p, err := e.c.CreatePerson(ctx, name("Anna Maria Schmidt"))
	if err != nil {
		t.Fatal(err)
	}
	if f, l := pipedrive.SplitName("Anna Maria Schmidt"); p.FirstName != f || p.LastName != l || p.Name != "Anna Maria Schmidt" {
		t.Errorf("split: %q = %q + %q", p.Name, p.FirstName, p.LastName)
	}
	p, err = e.c.UpdatePerson(ctx, p.ID, pipedrive.PersonInput{FirstName: ptr("Anna Maria"), LastName: ptr("Müller")})
	if err != nil || p.Name != "Anna Maria Müller" || p.FirstName != "Anna Maria" {
		t.Errorf("concat: %v %+v", err, p)
	}
}

// TestV1BasePaths: v1 answers under /v1/ (Pipedrive's API-token examples
// on api.pipedrive.com) and /api/v1/ (OAuth's api_domain); v2 only under
// /api/v2/ (PMG).
func TestV1BasePaths(t *testing.T) {
	e := setup(t, false)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/v1/users/me", 200}, {"GET", "/api/v1/users/me", 200},
		{"GET", "/v1/webhooks", 200}, {"GET", "/api/v1/webhooks", 200},
		{"GET", "/v2/persons", 404}, {"GET", "/api/v2/persons", 200},
	} {
		if status, body := e.raw(t, tc.method, tc.path, ""); status != tc.status {
			t.Errorf("%s %s: %d, want %d (%v)", tc.method, tc.path, status, tc.status, body)
		}
	}
	if status, _ := e.raw(t, "POST", "/v1/webhooks", `{"subscription_url":"http://127.0.0.1:1/x","event_action":"create","event_object":"person","name":"v1"}`); status != 201 {
		t.Errorf("POST /v1/webhooks: %d", status)
	}
	if n := e.fake.Calls("GET /api/v1/users/me"); n != 2 {
		t.Errorf("both forms count as one route: %d calls", n)
	}
}

// TestWebhookListingAsDocumented: the listing (and the POST answer) show
// what PV1's examples show, not what was sent: http_auth_user and
// http_auth_password null, event_action in v1 naming. The POST body is
// the documented one.
func TestWebhookListingAsDocumented(t *testing.T) {
	e := setup(t, false)
	status, created := e.raw(t, "POST", "/api/v1/webhooks", fmt.Sprintf(`{"subscription_url":"http://127.0.0.1:1/x","event_action":"create","event_object":"person","name":"n","user_id":%d,"http_auth_user":"u","http_auth_password":"p","version":"2.0"}`, e.user))
	if status != 201 {
		t.Fatalf("create: %d %v", status, created)
	}
	_, list := e.raw(t, "GET", "/api/v1/webhooks", "")
	data, _ := list["data"].([]any)
	if len(data) != 1 {
		t.Fatalf("list: %v", list)
	}
	for _, h := range []map[string]any{created["data"].(map[string]any), data[0].(map[string]any)} {
		if h["http_auth_user"] != nil || h["http_auth_password"] != nil || h["event_action"] != "added" || h["name"] != "n" {
			t.Errorf("webhook shape: %v", h)
		}
	}
	for _, bad := range []string{
		`{"subscription_url":"http://127.0.0.1:1/x","event_action":"added","event_object":"person","name":"v1 name"}`,
		`{"subscription_url":"http://127.0.0.1:1/x","event_action":"create","event_object":"persons","name":"plural"}`,
		`{"subscription_url":"http://127.0.0.1:1/x","event_action":"create","event_object":"person","name":"n","user_id":"1"}`,
		`{"subscription_url":"http://127.0.0.1:1/x","event_action":"create","event_object":"person","name":"n","secret":"x"}`,
	} {
		if status, body := e.raw(t, "POST", "/api/v1/webhooks", bad); status != 400 {
			t.Errorf("%s: %d %v", bad, status, body)
		}
	}
}

// TestWebhookOnlyForWhatTheUserSees: PV1 POST /webhooks user_id: "the
// webhook will only be sent if the user has access to the specified
// object(s)". A person with owner-only visibility that moves to another
// owner sends our user nothing.
func TestWebhookOnlyForWhatTheUserSees(t *testing.T) {
	e := setup(t, false)
	other, _, err := e.fake.CreateUser(e.company, "Otto Other", "otto@example.test")
	if err != nil {
		t.Fatal(err)
	}
	r := newReceiver(t)
	if _, err := e.c.CreateWebhook(context.Background(), pipedrive.WebhookInput{SubscriptionURL: r.srv.URL,
		EventAction: "*", EventObject: "person", Name: "mine", UserID: e.user}); err != nil {
		t.Fatal(err)
	}
	id, err := e.fake.UIAddPerson(e.user, name("Vera Visible"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.fake.UISetVisibility(e.user, id, 1); err != nil { // owner & followers
		t.Fatal(err)
	}
	e.wait(t)
	if n := len(r.events(t)); n != 2 {
		t.Fatalf("own person: %d events, want 2", n)
	}
	if err := e.fake.UIEditPerson(e.user, id, pipedrive.PersonInput{OwnerID: &other}); err != nil {
		t.Fatal(err)
	}
	e.wait(t)
	if n := len(r.events(t)); n != 2 {
		t.Errorf("moved to another owner with owner-only visibility: %d events, want still 2", n)
	}
	// Visible to the whole company: the move is seen.
	id2, _ := e.fake.UIAddPerson(e.user, name("Carl Company"))
	_ = e.fake.UIEditPerson(e.user, id2, pipedrive.PersonInput{OwnerID: &other})
	e.wait(t)
	if n := len(r.events(t)); n != 4 {
		t.Errorf("company-visible person: %d events, want 4", n)
	}
}

// TestOrganizationBodyValidation: v2 organization bodies are checked like
// person bodies.
func TestOrganizationBodyValidation(t *testing.T) {
	e := setup(t, false)
	for body, want := range map[string]int{
		`{"name":"Acme","owner_id":` + fmt.Sprint(e.user) + `}`: 201,
		`{"name":"Acme","nickname":"x"}`:                        400,
		`{"name":"Acme","owner_id":"1"}`:                        400,
		`{"name":5}`:                                            400,
	} {
		if status, b := e.raw(t, "POST", "/api/v2/organizations", body); status != want {
			t.Errorf("%s: %d, want %d (%v)", body, status, want, b)
		}
	}
}

// TestContactSyncShownIsLearnedFromReads: the client remembers whether the
// last person it saw carried the contact-sync keys.
func TestContactSyncShownIsLearnedFromReads(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	if _, known := e.c.ContactSyncShown(); known {
		t.Fatal("known before any read")
	}
	p, err := e.c.CreatePerson(ctx, name("Cora Sync"))
	if err != nil {
		t.Fatal(err)
	}
	if shown, known := e.c.ContactSyncShown(); shown || !known {
		t.Errorf("contact sync off: shown %v known %v", shown, known)
	}
	e.fake.SetContactSync(e.company, true)
	if _, err := e.c.GetPerson(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if shown, known := e.c.ContactSyncShown(); !shown || !known {
		t.Errorf("contact sync on: shown %v known %v", shown, known)
	}
}
