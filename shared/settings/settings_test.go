package settings_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/connect/connecttest"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/settings"
	"github.com/contactsync/contactsync/shared/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	*connecttest.Env
	url   string // PUBLIC_URL, with the trailing slash
	clock *clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{Env: connecttest.New(t), clock: &clock{t: time.Now()}}
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	e.url = srv.URL + "/"
	var err error
	h, err = settings.New(settings.Config{
		Store: e.Store, Connect: e.Service, PublicURL: e.url, SessionKey: []byte("0123456789abcdef0123456789abcdef"),
		PipedriveOAuth: true, Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// browser is one browser session: a cookie jar and an HTTP client.
type browser struct {
	t      *testing.T
	e      *env
	c      *http.Client // follows redirects
	manual *http.Client // does not
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, e: e, c: &http.Client{Jar: jar},
		manual: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func read(t *testing.T, resp *http.Response, err error) (int, string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.e.url + strings.TrimPrefix(path, "/"))
	return read(b.t, resp, err)
}

// getLang gets path with an Accept-Language header.
func (b *browser) getLang(path, accept string) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.e.url+strings.TrimPrefix(path, "/"), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept-Language", accept)
	resp, err := b.c.Do(req)
	return read(b.t, resp, err)
}

// noMissingText fails if the page shows a text key without a text.
func noMissingText(t *testing.T, body string) {
	t.Helper()
	if i := strings.Index(body, "⟦"); i >= 0 {
		t.Errorf("untranslated text: %s", body[i:min(len(body), i+60)])
	}
}

func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.e.url+strings.TrimPrefix(path, "/"), form)
	return read(b.t, resp, err)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) csrf() string {
	b.t.Helper()
	code, body := b.get("/")
	m := csrfRE.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		b.t.Fatalf("no CSRF token on the page (HTTP %d)", code)
	}
	return m[1]
}

// callbackURL runs the start of an OAuth flow and the provider's consent
// without following into our callback; it returns the callback URL.
func (b *browser) callbackURL(start string) *url.URL {
	b.t.Helper()
	resp, err := b.manual.Get(b.e.url + strings.TrimPrefix(start, "/"))
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("start %s: HTTP %d", start, resp.StatusCode)
	}
	resp, err = b.manual.Get(resp.Header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	u, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || u.Query().Get("state") == "" {
		b.t.Fatalf("provider answered %d, %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return u
}

var connRE = regexp.MustCompile(`id="conn-([0-9a-f]+)"`)

func connIDs(body string) []string {
	var out []string
	for _, m := range connRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func (e *env) connections(t *testing.T) []*store.Connection {
	t.Helper()
	cs, err := e.Store.ListConnections(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestConnectFlow(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	ctx := context.Background()

	code, body := b.get("/")
	if code != http.StatusOK {
		t.Fatalf("GET / = %d", code)
	}
	mustContain(t, body, "Connect your accounts", "Sign in with Pipedrive", "API token", `<html lang="en">`)

	// Pipedrive OAuth through the fake's real redirect.
	code, body = b.get("/connect/pipedrive")
	if code != http.StatusOK {
		t.Fatalf("Pipedrive flow ended with %d: %s", code, body)
	}
	mustContain(t, body, "Pipedrive account connected.", "Pat", "pat@acme.example", "Acme", "signed in with Pipedrive", "Not set up yet")
	ids := connIDs(body)
	if len(ids) != 1 {
		t.Fatalf("connections on the page: %v", ids)
	}
	id := ids[0]
	// Google OAuth: offline, consent, PKCE.
	code, body = b.get("/connect/google?conn=" + id + "&login_hint=" + url.QueryEscape(googlefake.DemoUser))
	if code != http.StatusOK {
		t.Fatalf("Google flow ended with %d: %s", code, body)
	}
	mustContain(t, body, "Google account connected.", googlefake.DemoUser, "3. What to sync", "Create a new group", "recommended",
		`value="Pipedrive"`, "My Contacts", "Delete on both sides", "Save and start syncing")
	if strings.Contains(body, "contactGroups/myContacts") {
		t.Error("the picker offers My Contacts")
	}

	code, body = b.post("/connections/"+id+"/save", url.Values{"csrf": {b.csrf()}, "group": {"new"}, "group_name": {"Pipedrive"}, "policy": {"unlink"}})
	if code != http.StatusOK {
		t.Fatalf("save = %d: %s", code, body)
	}
	mustContain(t, body, "Saved: the sync is running.", `<span class="badge">Live</span>`, "Acme ↔ “Pipedrive”",
		"Keep the other side, stop syncing it", "0 contacts in the group")
	c, err := e.Store.GetConnection(ctx, id)
	if err != nil || c.Status != store.StatusLive || c.DeletePolicy != "unlink" || c.PollDueAt.IsZero() || len(e.Hooks()) != 3 {
		t.Fatalf("after save: %+v, %d hooks, %v", c, len(e.Hooks()), err)
	}

	// The page shows the status fields.
	poll := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	if _, err := e.Store.UpdateConnection(ctx, id, func(c *store.Connection) error {
		c.LastPollAt = poll
		c.AddError(poll, "Pipedrive's webhooks could not be checked or registered again; changes made in Pipedrive may reach Google only every few minutes until this works.")
		c.AddError(poll, "A change to person 7 could not be applied and was skipped: Google refused it.")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The linked count comes from the links.
	for _, pid := range []string{"1", "2"} {
		if err := e.Store.CreateLink(ctx, id, &store.Link{ID: store.LinkIDForPipedrive(pid), PipedriveID: pid}); err != nil {
			t.Fatal(err)
		}
	}
	_, body = b.get("/")
	mustContain(t, body, `<time datetime="2026-03-04T05:06:07Z" data-relative>2026-03-04 05:06 UTC</time>`, "2 contacts",
		"changes in Pipedrive may take a few minutes to reach Google", "A change to person 7 could not be applied",
		"History of this connection", "Pipedrive account connected in this browser", "Google account connected")
	if strings.Contains(body, "data-refresh") {
		t.Error("a live page refreshes itself")
	}

	code, body = b.post("/connections/"+id+"/pause", url.Values{"csrf": {b.csrf()}})
	mustContain(t, body, "The sync is paused.", `<span class="badge">Paused</span>`, ">Resume<")
	if code != http.StatusOK {
		t.Fatalf("pause = %d", code)
	}
	_, body = b.post("/connections/"+id+"/resume", url.Values{"csrf": {b.csrf()}})
	mustContain(t, body, "The sync is running again.", `<span class="badge">Live</span>`)
	_, body = b.post("/connections/"+id+"/policy", url.Values{"csrf": {b.csrf()}, "policy": {"ignore"}})
	mustContain(t, body, "Delete setting saved.")

	mustContain(t, body, "No contact is deleted, neither in Pipedrive nor in Google.")
	code, _ = b.post("/connections/"+id+"/disconnect", url.Values{"csrf": {b.csrf()}})
	if code != http.StatusBadRequest {
		t.Errorf("disconnect without confirmation = %d", code)
	}
	if _, err := e.Store.GetConnection(ctx, id); err != nil {
		t.Fatalf("unconfirmed disconnect deleted the connection: %v", err)
	}
	code, body = b.post("/connections/"+id+"/disconnect", url.Values{"csrf": {b.csrf()}, "confirm": {"yes"}})
	if code != http.StatusOK {
		t.Fatalf("disconnect = %d", code)
	}
	mustContain(t, body, "Disconnected", "No contact was deleted.", "Connect your accounts")
	if len(e.connections(t)) != 0 || len(e.Hooks()) != 0 {
		t.Fatalf("after disconnect: %d connections, %d hooks", len(e.connections(t)), len(e.Hooks()))
	}
}

// TestStatesInWords shows each state a connection can be in with what to
// do, as the poller, the applier and connect leave it.
func TestStatesInWords(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.get("/")
	_, body := b.post("/connect/pipedrive/token", url.Values{"csrf": {b.csrf()}, "token": {e.APIToken}})
	id := connIDs(body)[0]
	ctx := context.Background()
	tests := []struct {
		status    store.Status
		reason    string
		en, de    []string
		refreshes bool
	}{
		{store.StatusFirstSync, "", []string{"First sync running", "This page updates itself"}, []string{"Erste Synchronisierung läuft"}, true},
		{store.StatusPaused, "Paused by you.", []string{">Paused<", "Nothing is synced until you resume"}, []string{">Pausiert<"}, false},
		{store.StatusPaused, "Paused: 30 contacts were deleted or removed from the group in Google, more than the safety limit of 10 of 50 linked contacts. " +
			"Nothing was deleted in Pipedrive. If this is intended, confirm the deletes on the settings page; otherwise restore the contacts in Google and resume.",
			[]string{"Deletes held by the safety brake", "30 contacts were deleted in Google or removed from the group, more than the safety limit of 10 of 50"},
			[]string{"Löschungen von der Löschbremse zurückgehalten", "30 Kontakte wurden in Google gelöscht", "von 10 der 50 verknüpften Kontakte"}, false},
		{store.StatusPaused, "Paused: the chosen Google contact group no longer exists, so nothing was deleted. Choose a group on the settings page.",
			[]string{"Paused by a safety check", "disconnect and connect again"}, []string{"Von einer Sicherheitsprüfung angehalten"}, false},
		{store.StatusNeedsReauth, "Google access was revoked or has expired; connect Google again to resume syncing.",
			[]string{"Google needs you to sign in again", ">Connect Google again<"}, []string{"Google verlangt eine neue Anmeldung", ">Google erneut verbinden<"}, false},
		{store.StatusNeedsReauth, "Pipedrive access was revoked or has expired; reconnect Pipedrive on the settings page. Syncing is stopped until then.",
			[]string{"Pipedrive needs you to sign in again", "Sign in with Pipedrive again"}, []string{"Pipedrive verlangt eine neue Anmeldung"}, false},
		{store.StatusError, "Something unforeseen.", []string{"Stopped by an error", "Something unforeseen."}, []string{"Wegen eines Fehlers angehalten", `lang="en">Something unforeseen.`}, false},
	}
	for _, tt := range tests {
		if _, err := e.Store.UpdateConnection(ctx, id, func(c *store.Connection) error {
			c.Status, c.StatusReason = tt.status, tt.reason
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		_, body := b.get("/")
		mustContain(t, body, tt.en...)
		if got := strings.Contains(body, `data-refresh="5"`); got != tt.refreshes {
			t.Errorf("%s %q: refreshes itself = %v", tt.status, tt.reason, got)
		}
		_, body = b.getLang("/", "de-DE,de;q=0.9,en;q=0.5")
		mustContain(t, body, tt.de...)
		noMissingText(t, body)
	}
}

func TestAPITokenForm(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	code, body := b.post("/connect/pipedrive/token", url.Values{"csrf": {b.csrf()}, "token": {"nope"}})
	if code != http.StatusBadRequest || len(e.connections(t)) != 0 {
		t.Fatalf("wrong token = %d, %d connections", code, len(e.connections(t)))
	}
	mustContain(t, body, "did not accept this API token")
	code, body = b.post("/connect/pipedrive/token", url.Values{"csrf": {b.csrf()}, "token": {e.APIToken}})
	if code != http.StatusOK || len(connIDs(body)) != 1 {
		t.Fatalf("token form = %d", code)
	}
	mustContain(t, body, "Pipedrive account connected.", "connected with an API token")
	if strings.Contains(body, e.APIToken) {
		t.Fatal("the page shows the API token")
	}
}

func TestCallbackRefusals(t *testing.T) {
	const refused = "nothing was changed"
	tests := []struct {
		name     string
		provider string
		// callback returns the callback URL to deliver and the browser
		// that delivers it.
		callback func(t *testing.T, e *env, b *browser) (*url.URL, *browser)
		want     string
	}{
		{"missing state", "google", func(t *testing.T, e *env, b *browser) (*url.URL, *browser) {
			u := b.callbackURL("/connect/google")
			q := u.Query()
			q.Del("state")
			u.RawQuery = q.Encode()
			return u, b
		}, "no security code"},
		{"reused state", "google", func(t *testing.T, e *env, b *browser) (*url.URL, *browser) {
			u := b.callbackURL("/connect/google")
			if code, _ := b.get(u.String()[len(e.url)-1:]); code != http.StatusOK {
				t.Fatalf("first use = %d", code)
			}
			for _, c := range e.connections(t) { // forget the first use's effect
				if err := e.Store.DeleteConnection(context.Background(), c.ID); err != nil {
					t.Fatal(err)
				}
			}
			return u, b
		}, "already used"},
		{"expired state", "pipedrive", func(t *testing.T, e *env, b *browser) (*url.URL, *browser) {
			u := b.callbackURL("/connect/pipedrive")
			e.clock.Advance(settings.DefaultStateTTL + time.Second)
			return u, b
		}, "expired"},
		{"foreign state", "pipedrive", func(t *testing.T, e *env, b *browser) (*url.URL, *browser) {
			other := e.browser(t)
			other.get("/")
			return b.callbackURL("/connect/pipedrive"), other
		}, "another browser session"},
		{"no session cookie", "google", func(t *testing.T, e *env, b *browser) (*url.URL, *browser) {
			return b.callbackURL("/connect/google"), &browser{t: t, e: e, c: &http.Client{}}
		}, "not started in this browser session"},
		{"Google access denied", "google", func(t *testing.T, e *env, b *browser) (*url.URL, *browser) {
			u := b.callbackURL("/connect/google")
			u.RawQuery = url.Values{"state": {u.Query().Get("state")}, "error": {"access_denied"}}.Encode()
			return u, b
		}, "You declined access at Google"},
		{"Pipedrive user denied", "pipedrive", func(t *testing.T, e *env, b *browser) (*url.URL, *browser) {
			u := b.callbackURL("/connect/pipedrive")
			u.RawQuery = url.Values{"state": {u.Query().Get("state")}, "error": {"user_denied"}}.Encode()
			return u, b
		}, "You declined access at Pipedrive"},
		{"state of the other provider", "pipedrive", func(t *testing.T, e *env, b *browser) (*url.URL, *browser) {
			g := b.callbackURL("/connect/google")
			u, _ := url.Parse(e.url + "oauth/pipedrive/callback")
			u.RawQuery = g.RawQuery
			return u, b
		}, "another service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			b := e.browser(t)
			b.get("/")
			u, deliver := tt.callback(t, e, b)
			code, body := deliver.get(u.String()[len(e.url)-1:])
			if code != http.StatusBadRequest {
				t.Fatalf("callback = %d, want 400", code)
			}
			mustContain(t, body, tt.want, refused)
			if n := len(e.connections(t)); n != 0 {
				t.Errorf("%d connections stored", n)
			}
		})
	}

	// A foreign delivery does not burn the owner's state.
	e := newEnv(t)
	b := e.browser(t)
	u := b.callbackURL("/connect/google")
	other := e.browser(t)
	if code, _ := other.get(u.String()[len(e.url)-1:]); code != http.StatusBadRequest {
		t.Fatalf("foreign = %d", code)
	}
	if code, body := b.get(u.String()[len(e.url)-1:]); code != http.StatusOK || !strings.Contains(body, "Google account connected.") {
		t.Fatalf("owner after a foreign attempt = %d", code)
	}
}

func TestOwnershipAndCSRF(t *testing.T) {
	e := newEnv(t)
	alice, mallory := e.browser(t), e.browser(t)
	_, body := alice.post("/connect/pipedrive/token", url.Values{"csrf": {alice.csrf()}, "token": {e.APIToken}})
	ids := connIDs(body)
	if len(ids) != 1 {
		t.Fatalf("alice's connections: %v", ids)
	}
	id := ids[0]
	ctx := context.Background()
	if _, err := e.Store.UpdateConnection(ctx, id, func(c *store.Connection) error {
		c.Status = store.StatusLive
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	_, body = mallory.get("/")
	if strings.Contains(body, id) {
		t.Fatal("another session sees the connection")
	}
	tests := []struct {
		name string
		b    *browser
		do   func(b *browser) int
		want int
	}{
		{"other session pauses", mallory, func(b *browser) int {
			code, _ := b.post("/connections/"+id+"/pause", url.Values{"csrf": {b.csrf()}})
			return code
		}, http.StatusNotFound},
		{"other session disconnects", mallory, func(b *browser) int {
			code, _ := b.post("/connections/"+id+"/disconnect", url.Values{"csrf": {b.csrf()}, "confirm": {"yes"}})
			return code
		}, http.StatusNotFound},
		{"other session starts Google on it", mallory, func(b *browser) int {
			code, _ := b.get("/connect/google?conn=" + id)
			return code
		}, http.StatusNotFound},
		{"other session posts a token to it", mallory, func(b *browser) int {
			code, _ := b.post("/connect/pipedrive/token", url.Values{"csrf": {b.csrf()}, "conn": {id}, "token": {"x"}})
			return code
		}, http.StatusNotFound},
		{"owner without CSRF token", alice, func(b *browser) int {
			code, _ := b.post("/connections/"+id+"/pause", url.Values{})
			return code
		}, http.StatusForbidden},
		{"owner with another session's CSRF token", alice, func(b *browser) int {
			code, _ := b.post("/connections/"+id+"/pause", url.Values{"csrf": {mallory.csrf()}})
			return code
		}, http.StatusForbidden},
		{"CSRF token without the session cookie", nil, func(_ *browser) int {
			code, _ := (&browser{t: t, e: e, c: &http.Client{}}).post("/connections/"+id+"/pause", url.Values{"csrf": {alice.csrf()}})
			return code
		}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.do(tt.b); got != tt.want {
				t.Errorf("HTTP %d, want %d", got, tt.want)
			}
			c, err := e.Store.GetConnection(ctx, id)
			if err != nil || c.Status != store.StatusLive {
				t.Fatalf("the connection changed: %+v, %v", c, err)
			}
		})
	}
	code, _ := alice.post("/connections/"+id+"/pause", url.Values{"csrf": {alice.csrf()}})
	if c, _ := e.Store.GetConnection(ctx, id); code != http.StatusOK || c.Status != store.StatusPaused {
		t.Fatalf("owner's pause = %d, status %s", code, c.Status)
	}
}

func TestSessionCookie(t *testing.T) {
	e := connecttest.New(t)
	for _, tt := range []struct {
		public, path string
		secure       bool
	}{
		{"https://europe-west1-p.cloudfunctions.net/contactsync-settings", "/contactsync-settings", true},
		{"http://127.0.0.1:8080/", "/", false},
	} {
		h, err := settings.New(settings.Config{Store: e.Store, Connect: e.Service, PublicURL: tt.public, SessionKey: make([]byte, 32)})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		cookies := rec.Result().Cookies()
		if rec.Code != http.StatusOK || len(cookies) != 1 {
			t.Fatalf("%s: HTTP %d, %d cookies", tt.public, rec.Code, len(cookies))
		}
		c := cookies[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tt.secure || c.Path != tt.path {
			t.Errorf("%s: cookie %+v", tt.public, c)
		}
		body := rec.Body.String()
		base := strings.TrimRight(tt.public, "/")
		mustContain(t, body, `action="`+base+`/connect/pipedrive/token"`)
		if strings.Contains(body, "Sign in with Pipedrive") {
			t.Error("Pipedrive OAuth offered without an app")
		}

		// A tampered cookie is no session: a new one is issued.
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value[:len(c.Value)-2] + "xx"})
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if n := rec.Result().Cookies(); len(n) != 1 || n[0].Value == c.Value {
			t.Errorf("%s: tampered cookie accepted", tt.public)
		}
		gURI, pURI := h.RedirectURIs()
		if gURI != base+"/oauth/google/callback" || pURI != base+"/oauth/pipedrive/callback" {
			t.Errorf("redirect URIs %s, %s", gURI, pURI)
		}
	}
}

func TestAuthorizationRequests(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.get("/")
	tests := []struct {
		start string
		want  map[string]string
	}{
		{"/connect/google", map[string]string{"access_type": "offline", "prompt": "consent", "code_challenge_method": "S256",
			"scope": "https://www.googleapis.com/auth/contacts https://www.googleapis.com/auth/userinfo.email", "response_type": "code",
			"redirect_uri": e.url + "oauth/google/callback", "client_id": connecttest.GoogleClientID}},
		{"/connect/pipedrive", map[string]string{"response_type": "code", "redirect_uri": e.url + "oauth/pipedrive/callback",
			"client_id": connecttest.PipedriveClientID}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		resp, err := b.manual.Get(e.url + strings.TrimPrefix(tt.start, "/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		u, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || err != nil {
			t.Fatalf("%s: HTTP %d, %v", tt.start, resp.StatusCode, err)
		}
		q := u.Query()
		for k, v := range tt.want {
			if q.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", tt.start, k, q.Get(k), v)
			}
		}
		st := q.Get("state")
		if len(st) < 43 || seen[st] {
			t.Errorf("%s: weak or repeated state %q", tt.start, st)
		}
		seen[st] = true
		if tt.start == "/connect/google" && len(q.Get("code_challenge")) != 43 {
			t.Errorf("code_challenge %q", q.Get("code_challenge"))
		}
	}
}
