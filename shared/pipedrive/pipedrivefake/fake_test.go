package pipedrivefake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

func newTest(t *testing.T, opts ...Option) (*Server, string) {
	t.Helper()
	s := New(append([]Option{WithClock(NewVirtualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))}, opts...)...)
	t.Cleanup(s.Close)
	co := s.CreateCompany(CompanyOptions{Name: "Acme"})
	_, tok, err := s.CreateUser(co, "Ann", "ann@example.test")
	if err != nil {
		t.Fatal(err)
	}
	return s, tok
}

// The fake works in-process with a ResponseRecorder, as other packages' tests use it.
func TestInProcessResponses(t *testing.T) {
	rl := DefaultRateLimits()
	rl.CloudflareAfter = 1
	s, tok := newTest(t, WithRateLimits(rl))
	tests := []struct {
		name, method, path, token string
		status                    int
		body                      string // substring
	}{
		{"401 envelope", "GET", "/api/v1/users/me", "", 401, `"errorCode":401`},
		{"unknown path", "GET", "/api/v3/nothing", tok, 404, `"success":false`},
		{"v1 persons are gone", "GET", "/api/v1/persons", tok, 410, `"success":false`},
		{"users/me", "GET", "/api/v1/users/me", tok, 200, `"company_name":"Acme"`},
		{"empty list", "GET", "/api/v2/persons", tok, 200, `"next_cursor":null`},
		{"bad cursor", "GET", "/api/v2/persons?cursor=zzzz", tok, 400, `invalid cursor`},
		{"bad sort", "GET", "/api/v2/persons?sort_by=name", tok, 400, `sort_by`},
		{"missing person", "GET", "/api/v2/persons/999", tok, 404, `Person not found`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.token != "" {
				req.Header.Set("x-api-token", tc.token)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.body) {
				t.Errorf("%d %s", w.Code, w.Body)
			}
		})
	}
	// Search has its own burst limit of 10 per 2 s; Cloudflare blocks a
	// token that keeps going after a 429.
	codes := map[int]int{}
	for range 13 {
		req := httptest.NewRequest("GET", "/api/v2/persons/search?term=ab", nil)
		req.Header.Set("x-api-token", tok)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		codes[w.Code]++
		if w.Code == 429 && w.Header().Get("x-ratelimit-limit") != "10" {
			t.Errorf("search 429 headers: %v", w.Header())
		}
	}
	if codes[200] != 10 || codes[429] != 1 || codes[403] != 2 {
		t.Errorf("codes = %v", codes)
	}
}

func TestOAuthTokenErrors(t *testing.T) {
	s, _ := newTest(t)
	req := httptest.NewRequest("POST", "/oauth/token", strings.NewReader("grant_type=refresh_token&refresh_token=nope"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("id", "secret")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	var body map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != http.StatusBadRequest || body["error"] != "invalid_grant" ||
		body["message"] != "Invalid grant: refresh_token is invalid" {
		t.Errorf("%d %v", w.Code, body)
	}
}

func TestVirtualClock(t *testing.T) {
	c := NewVirtualClock(time.Unix(0, 0))
	var got []int
	c.AfterFunc(3*time.Second, func() { got = append(got, 3) })
	stop := c.AfterFunc(2*time.Second, func() { got = append(got, 2) })
	c.AfterFunc(1*time.Second, func() {
		got = append(got, 1)
		c.AfterFunc(time.Second, func() { got = append(got, 22) }) // due at 2 s, after the 2 s timer
	})
	stop()
	c.Advance(2 * time.Second)
	if len(got) != 2 || got[0] != 1 || got[1] != 22 {
		t.Errorf("fired %v", got)
	}
	c.Advance(time.Second)
	if len(got) != 3 || !c.Now().Equal(time.Unix(3, 0)) {
		t.Errorf("fired %v at %v", got, c.Now())
	}
}

// Only the documented labels are accepted: an e-mail or phone labelled
// otherwise is refused, as our client must never send one.
func TestUndocumentedLabelsRefused(t *testing.T) {
	s, tok := newTest(t)
	for _, tc := range []struct {
		body   string
		status int
	}{
		{`{"name":"A","emails":[{"value":"a@x.com","label":"home"}],"phones":[{"value":"1","label":"mobile"}]}`, 201},
		{`{"name":"A","emails":[{"value":"a@x.com"}]}`, 201}, // defaults to work
		{`{"name":"A","emails":[{"value":"a@x.com","label":"mobile"}]}`, 400},
		{`{"name":"A","phones":[{"value":"1","label":"main"}]}`, 400},
		{`{"name":"A","phones":[{"value":"1","label":"anything"}]}`, 400},
	} {
		req := httptest.NewRequest("POST", "/api/v2/persons", strings.NewReader(tc.body))
		req.Header.Set("x-api-token", tok)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != tc.status {
			t.Errorf("%s: %d %s", tc.body, w.Code, w.Body)
		}
	}
}

// Held deliveries can be taken out, rendered as Pipedrive sends them, one
// person's at a time; nothing is sent meanwhile.
func TestTakeHeldDeliveries(t *testing.T) {
	s, tok := newTest(t)
	req := httptest.NewRequest("POST", "/api/v1/webhooks", strings.NewReader(
		`{"subscription_url":"https://hooks.example.test/in","event_action":"*","event_object":"person","http_auth_user":"conn","http_auth_password":"pw","version":"2.0","name":"test"}`))
	req.Header.Set("x-api-token", tok)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code != http.StatusOK && w.Code != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", w.Code, w.Body)
	}
	var user int64
	for _, h := range s.Webhooks(0) {
		user = h.UserID
	}
	s.HoldDeliveries()
	ann, err := s.UIAddPerson(user, pipedrive.PersonInput{Name: ptr("Ann Example")})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := s.UIAddPerson(user, pipedrive.PersonInput{Name: ptr("Bob Example")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UIEditPerson(user, ann, pipedrive.PersonInput{Name: ptr("Ann Edited")}); err != nil {
		t.Fatal(err)
	}
	got := s.TakeHeldDeliveries(ann)
	if len(got) != 2 || got[0].Action != "create" || got[1].Action != "change" {
		t.Fatalf("Ann's held deliveries: %+v", got)
	}
	for _, d := range got {
		var body struct {
			Meta struct {
				EntityID string `json:"entity_id"`
				Attempt  int    `json:"attempt"`
			} `json:"meta"`
		}
		if err := json.Unmarshal(d.Body, &body); err != nil || body.Meta.EntityID != strconv.FormatInt(ann, 10) || body.Meta.Attempt != 1 {
			t.Errorf("body %s (%v)", d.Body, err)
		}
		if d.URL != "https://hooks.example.test/in" || d.User != "conn" || d.Password != "pw" || d.PersonID != ann {
			t.Errorf("delivery %+v", d)
		}
	}
	if rest := s.TakeHeldDeliveries(0); len(rest) != 1 || rest[0].PersonID != bob {
		t.Errorf("the others: %+v", rest)
	}
	if again := s.TakeHeldDeliveries(0); len(again) != 0 {
		t.Errorf("taken twice: %+v", again)
	}
	if sent := s.Deliveries(); len(sent) != 0 {
		t.Errorf("held deliveries were sent: %+v", sent)
	}
}

func ptr[T any](v T) *T { return &v }
