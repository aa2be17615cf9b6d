package pipedrive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

// answers is an in-memory Pipedrive: it answers request i with page
// i (the last one again after the end, or from the first one again when
// cycle is set), and refuses to go on after limit requests, so a client
// that never stops paging ends instead of hanging the fuzzer.
type answers struct {
	status int
	header http.Header
	pages  [][]byte
	cycle  bool
	limit  int
	reqs   []*http.Request
}

var errRunaway = errors.New("runaway: the client kept asking")

func (a *answers) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	a.reqs = append(a.reqs, r)
	if len(a.reqs) > a.limit {
		return nil, errRunaway
	}
	b := a.page(len(a.reqs) - 1)
	return &http.Response{StatusCode: a.status, Status: strconv.Itoa(a.status), Header: a.header.Clone(),
		Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: r}, nil
}

// page is the answer to request i (from 0).
func (a *answers) page(i int) []byte {
	if a.cycle {
		return a.pages[i%len(a.pages)]
	}
	return a.pages[min(i, len(a.pages)-1)]
}

const (
	fuzzRetries = 2
	fuzzMaxWait = time.Minute
)

// fuzzClient is a client of a; it records how long it would have slept.
func fuzzClient(t *testing.T, a *answers, slept *[]time.Duration) *pipedrive.Client {
	t.Helper()
	c, err := pipedrive.New(context.Background(), "https://acme.pipedrive.example", pipedrive.WithAPIToken("token"),
		pipedrive.WithHTTPClient(&http.Client{Transport: a}), pipedrive.WithRetry(fuzzRetries, fuzzMaxWait),
		pipedrive.WithSleep(func(_ context.Context, d time.Duration) error { *slept = append(*slept, d); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var sentinels = []error{pipedrive.ErrBadRequest, pipedrive.ErrUnauthorized, pipedrive.ErrPaymentReq, pipedrive.ErrForbidden,
	pipedrive.ErrNotFound, pipedrive.ErrGone, pipedrive.ErrWebhookLimit, pipedrive.ErrUnprocessable, pipedrive.ErrRateLimited,
	pipedrive.ErrUnavailable}

// FuzzEnvelope: whatever Pipedrive answers (status, rate-limit headers,
// body) to each call, the client never panics, never sends more than its
// retries allow, never sleeps longer than its bound, returns an *APIError
// matching a sentinel for every non-2xx status, and a person it returns
// is the person asked for (or, for a create, one with an id).
func FuzzEnvelope(f *testing.F) {
	person := `{"success":true,"data":{"id":7,"name":"Ada Lovelace","owner_id":1,"org_id":null,"emails":[{"value":"ada@example.com","label":"work","primary":true}],"phones":[],"add_time":"2024-01-01T00:00:00Z","update_time":"2025-02-17T21:26:58Z","is_deleted":false,"visible_to":3}}`
	f.Add(uint16(200), []byte(person), "40", "39", "2", "")
	f.Add(uint16(200), []byte(`{"success":true,"data":[{"id":7,"name":"A"}],"additional_data":{"next_cursor":"eyJmaWVsZCI6ImlkIiwiaWQiOjd9"}}`), "", "", "", "")
	f.Add(uint16(200), []byte(`{"success":true,"data":{"items":[{"result_score":1.5,"item":{"id":3,"name":"Acme","owner":{"id":1}}}]},"additional_data":{"next_cursor":null}}`), "", "", "", "")
	f.Add(uint16(200), []byte(`{"success":true,"data":{"id":1,"name":"Pat","email":"pat@acme.example","company_id":5,"company_name":"Acme","timezone_name":"Europe/Berlin"}}`), "", "", "", "")
	f.Add(uint16(200), []byte(`{"success":true,"data":[{"id":"9","is_active":1,"subscription_url":"https://x.example/intake","http_auth_user":"c1"}]}`), "", "", "", "")
	f.Add(uint16(200), []byte(`{"success":true,"data":null}`), "", "", "", "")
	f.Add(uint16(200), []byte(`<html>Cloudflare</html>`), "", "", "", "")
	f.Add(uint16(401), []byte(`{"success":false,"error":"unauthorized access","errorCode":401}`), "", "", "", "")
	f.Add(uint16(403), []byte(`{"success":false,"error":"Plan limit","error_info":"Upgrade","code":"feature_capping_limit"}`), "", "", "", "")
	f.Add(uint16(422), []byte(`{"success":false,"errors":{"subscription_url":["is invalid"]}}`), "", "", "", "")
	f.Add(uint16(429), []byte(`{"success":false,"error":"Rate limit has been exceeded"}`), "40", "0", "1.5", "3")
	f.Add(uint16(429), []byte(``), "40", "5", "86400", "99999999999")
	f.Add(uint16(503), []byte(`maintenance`), "", "", "", "")
	f.Add(uint16(302), []byte(``), "", "", "", "")
	f.Fuzz(func(t *testing.T, status uint16, body []byte, limit, remaining, reset, retryAfter string) {
		st := int(status)
		if st < 200 || st > 599 {
			st = 200 + st%400
		}
		h := http.Header{"Content-Type": {"application/json"}}
		for k, v := range map[string]string{"x-ratelimit-limit": limit, "x-ratelimit-remaining": remaining, "x-ratelimit-reset": reset, "Retry-After": retryAfter} {
			if v != "" {
				h.Set(k, v)
			}
		}
		ctx := context.Background()
		type call struct {
			name string
			run  func(*pipedrive.Client) (person *pipedrive.Person, want int64, cursor string, err error)
		}
		calls := []call{
			{"GetPerson", func(c *pipedrive.Client) (*pipedrive.Person, int64, string, error) {
				p, err := c.GetPerson(ctx, 7)
				return p, 7, "", err
			}},
			{"UpdatePerson", func(c *pipedrive.Client) (*pipedrive.Person, int64, string, error) {
				n := "Ada"
				p, err := c.UpdatePerson(ctx, 7, pipedrive.PersonInput{Name: &n})
				return p, 7, "", err
			}},
			{"CreatePerson", func(c *pipedrive.Client) (*pipedrive.Person, int64, string, error) {
				n := "Ada"
				p, err := c.CreatePerson(ctx, pipedrive.PersonInput{Name: &n})
				return p, 0, "", err
			}},
			{"MergePersons", func(c *pipedrive.Client) (*pipedrive.Person, int64, string, error) {
				p, err := c.MergePersons(ctx, 8, 7)
				return p, 0, "", err
			}},
			{"ListPersonsPage", func(c *pipedrive.Client) (*pipedrive.Person, int64, string, error) {
				_, next, err := c.ListPersonsPage(ctx, pipedrive.ListPersonsOptions{Limit: 100}, "")
				return nil, 0, next, err
			}},
			{"Me", func(c *pipedrive.Client) (*pipedrive.Person, int64, string, error) {
				_, err := c.Me(ctx)
				return nil, 0, "", err
			}},
			{"SearchOrganizations", func(c *pipedrive.Client) (*pipedrive.Person, int64, string, error) {
				_, err := c.SearchOrganizations(ctx, "Acme", true)
				return nil, 0, "", err
			}},
			{"GetOrganization", func(c *pipedrive.Client) (*pipedrive.Person, int64, string, error) {
				_, err := c.GetOrganization(ctx, 3)
				return nil, 0, "", err
			}},
			{"ListWebhooks", func(c *pipedrive.Client) (*pipedrive.Person, int64, string, error) {
				_, err := c.ListWebhooks(ctx)
				return nil, 0, "", err
			}},
			{"DeletePerson", func(c *pipedrive.Client) (*pipedrive.Person, int64, string, error) {
				return nil, 0, "", c.DeletePerson(ctx, 7)
			}},
		}
		for _, cl := range calls {
			a := &answers{status: st, header: h, pages: [][]byte{body}, limit: 100}
			var slept []time.Duration
			c := fuzzClient(t, a, &slept)
			p, want, cursor, err := cl.run(c)
			if len(a.reqs) > fuzzRetries+1 {
				t.Fatalf("%s: %d requests for one call (status %d)", cl.name, len(a.reqs), st)
			}
			for _, d := range slept {
				if d < 0 || d > fuzzMaxWait {
					t.Fatalf("%s: slept %v (bound %v)", cl.name, d, fuzzMaxWait)
				}
			}
			if st/100 != 2 {
				var apiErr *pipedrive.APIError
				if !errors.As(err, &apiErr) || apiErr.StatusCode != st {
					t.Fatalf("%s: status %d gave %v", cl.name, st, err)
				}
				matched := 0
				for _, s := range sentinels {
					if errors.Is(err, s) {
						matched++
					}
				}
				if matched == 0 {
					t.Fatalf("%s: status %d matches no sentinel: %v", cl.name, st, err)
				}
				continue
			}
			var apiErr *pipedrive.APIError
			if errors.As(err, &apiErr) {
				t.Fatalf("%s: status %d gave an API error %v", cl.name, st, err)
			}
			if err != nil {
				continue
			}
			if len(cursor) > 3*len(body) {
				t.Fatalf("%s: a cursor of %d bytes from a body of %d", cl.name, len(cursor), len(body))
			}
			if p != nil && (want != 0 && p.ID != want || p.ID <= 0) {
				t.Fatalf("%s: asked for person %d, got person %d from %s", cl.name, want, p.ID, body)
			}
		}
	})
}

// page is one page of GET /api/v2/persons or /organizations (their items
// have the same id and name) with its next cursor (nil: the last page).
func page(ids []int64, next *string) []byte {
	items := make([]map[string]any, len(ids))
	for i, id := range ids {
		items[i] = map[string]any{"id": id, "name": "P" + strconv.FormatInt(id, 10), "owner_id": 1}
	}
	b, _ := json.Marshal(map[string]any{"success": true, "data": items, "additional_data": map[string]any{"next_cursor": next}})
	return b
}

// FuzzCursor: whatever next_cursor Pipedrive sends, every listing stops
// (no endless paging, however the cursors repeat), sends each cursor back
// exactly as received, and yields no more items than the pages held.
func FuzzCursor(f *testing.F) {
	f.Add(page([]int64{1, 2}, new("c2")), page([]int64{3}, nil), false)
	f.Add(page([]int64{1}, new("eyJpZCI6MX0=")), page([]int64{2}, new("eyJpZCI6Mn0=")), true)
	f.Add(page(nil, new("same")), page(nil, new("same")), false)
	f.Add(page([]int64{1}, new("a b&c=d#e%zz+")), page([]int64{2}, new("")), false)
	f.Add([]byte(`{"success":true,"data":[],"additional_data":{"next_cursor":7}}`), []byte(`{"data":[{"id":1}]}`), true)
	f.Fuzz(func(t *testing.T, first, second []byte, cycle bool) {
		pages := [][]byte{first, second}
		items := func(b []byte) int {
			var env struct {
				Data []json.RawMessage `json:"data"`
			}
			_ = json.Unmarshal(b, &env)
			return len(env.Data)
		}
		cursorOf := func(b []byte) (string, bool) {
			var env struct {
				AdditionalData struct {
					NextCursor *string `json:"next_cursor"`
				} `json:"additional_data"`
			}
			if json.Unmarshal(b, &env) != nil || env.AdditionalData.NextCursor == nil {
				return "", false
			}
			return *env.AdditionalData.NextCursor, true
		}
		// request i carries the cursor answer i-1 gave
		checkCursors := func(name string, a *answers) {
			for i := 1; i < len(a.reqs); i++ {
				want, ok := cursorOf(a.page(i - 1))
				if !ok || want == "" {
					t.Fatalf("%s: request %d sent after the last page", name, i+1)
				}
				if got := a.reqs[i].URL.Query().Get("cursor"); got != want {
					t.Fatalf("%s: request %d sent cursor %q, Pipedrive said %q", name, i+1, got, want)
				}
			}
		}
		const limit = 50
		lists := []struct {
			name string
			run  func(*pipedrive.Client) int
		}{
			{"Persons", func(c *pipedrive.Client) int {
				n := 0
				for _, err := range c.Persons(context.Background(), pipedrive.ListPersonsOptions{OwnerID: 1}) {
					if err != nil {
						break
					}
					n++
				}
				return n
			}},
			{"Organizations", func(c *pipedrive.Client) int {
				n := 0
				for _, err := range c.Organizations(context.Background()) {
					if err != nil {
						break
					}
					n++
				}
				return n
			}},
		}
		for _, l := range lists {
			a := &answers{status: 200, header: http.Header{"Content-Type": {"application/json"}}, pages: pages, cycle: cycle, limit: limit}
			var slept []time.Duration
			n := l.run(fuzzClient(t, a, &slept))
			if len(a.reqs) > limit {
				t.Fatalf("%s never stops paging: next cursors %q", l.name, []string{string(first), string(second)})
			}
			held := 0
			for i := range a.reqs {
				held += items(a.page(i))
			}
			if n > held {
				t.Fatalf("%s yielded %d items from pages holding %d", l.name, n, held)
			}
			checkCursors(l.name, a)
		}
		// search follows cursors too, a few pages at most
		a := &answers{status: 200, header: http.Header{"Content-Type": {"application/json"}}, pages: pages, cycle: cycle, limit: limit}
		var slept []time.Duration
		_, _ = fuzzClient(t, a, &slept).SearchPersons(context.Background(), "ada@example.com", pipedrive.SearchEmail, true)
		if len(a.reqs) > 10 {
			t.Fatalf("a search sent %d requests", len(a.reqs))
		}
	})
}

// FuzzAPIDomain: whatever the OAuth token endpoint answers (JSON or form
// encoded, as golang.org/x/oauth2 reads both), reading its api_domain never
// panics, and a client built on it either refuses it or sends its calls,
// with the token, to exactly that origin and under its path.
func FuzzAPIDomain(f *testing.F) {
	tok := func(domain any) string {
		b, _ := json.Marshal(map[string]any{"access_token": "at", "token_type": "Bearer", "refresh_token": "rt", "scope": "base contacts:full",
			"expires_in": 3599, "api_domain": domain})
		return string(b)
	}
	f.Add(tok("https://acme-sandbox.pipedrive.com"), "application/json")
	f.Add(tok("https://acme.pipedrive.com/"), "application/json; charset=utf-8")
	f.Add(tok("http://127.0.0.1:8080/sub/path"), "application/json")
	f.Add(tok(42), "application/json")
	f.Add(tok(nil), "application/json")
	f.Add(tok("acme.pipedrive.com"), "application/json")
	f.Add(tok("https://user:pw@evil.example?x=1#frag"), "application/json")
	f.Add(tok("javascript:alert(1)"), "application/json")
	f.Add("access_token=at&token_type=bearer&refresh_token=rt&api_domain=https%3A%2F%2Facme.pipedrive.com", "application/x-www-form-urlencoded")
	f.Add("access_token=at&api_domain=https%3A%2F%2Fa.example&api_domain=https%3A%2F%2Fb.example", "text/plain")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		tokenEP := &answers{status: 200, header: http.Header{"Content-Type": {contentType}}, pages: [][]byte{[]byte(body)}, limit: 5}
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: tokenEP})
		conf := &oauth2.Config{ClientID: "cid", ClientSecret: "csecret", Endpoint: pipedrive.OAuthEndpoint("https://oauth.pipedrive.example")}
		tk, err := conf.Exchange(ctx, "code")
		if err != nil {
			return
		}
		domain := pipedrive.APIDomain(tk)
		if len(domain) > len(body) {
			t.Fatalf("api_domain %q longer than the answer", domain)
		}
		api := &answers{status: 200, header: http.Header{"Content-Type": {"application/json"}},
			pages: [][]byte{[]byte(`{"success":true,"data":{"id":1,"company_id":2}}`)}, limit: 5}
		c, err := pipedrive.New(context.Background(), domain, pipedrive.WithTokenSource(oauth2.StaticTokenSource(tk)),
			pipedrive.WithHTTPClient(&http.Client{Transport: api}), pipedrive.WithRetry(0, 0))
		if err != nil {
			return
		}
		base, err := url.Parse(c.BaseURL())
		if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
			t.Fatalf("accepted api_domain %q as base %q", domain, c.BaseURL())
		}
		if _, err := c.Me(context.Background()); err != nil && len(api.reqs) == 0 {
			return // refused before sending (e.g. a host the URL cannot carry)
		}
		if len(api.reqs) != 1 {
			t.Fatalf("%d requests for one call", len(api.reqs))
		}
		r := api.reqs[0]
		if r.URL.Scheme != base.Scheme || r.URL.Host != base.Host || !strings.HasSuffix(r.URL.Path, "/api/v1/users/me") ||
			!strings.HasPrefix(r.URL.Path, strings.TrimRight(base.Path, "/")) {
			t.Fatalf("api_domain %q: the call went to %s", domain, r.URL)
		}
		// golang.org/x/oauth2 sends the token_type the endpoint named ("Bearer"
		// for Pipedrive, whatever the fuzzer chose here).
		if r.Header.Get("Authorization") != tk.Type()+" "+tk.AccessToken {
			t.Fatalf("call without the token: %q", r.Header.Get("Authorization"))
		}
	})
}
