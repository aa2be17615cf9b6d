package settings_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/settings"
	"github.com/contactsync/contactsync/shared/store"
)

// sessionCookie returns the browser's session cookie value.
func (b *browser) sessionCookie() string {
	b.t.Helper()
	u, _ := url.Parse(b.e.url)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "contactsync_session" {
			return c.Value
		}
	}
	return ""
}

// withCookie is a browser that sends value as its session cookie.
func (e *env) withCookie(t *testing.T, value string) *browser {
	b := e.browser(t)
	u, _ := url.Parse(e.url)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "contactsync_session", Value: value, Path: "/"}})
	return b
}

// connected makes b connect the env's Pipedrive user with its API token,
// sets the connection live, and returns its id.
func (b *browser) connected() string {
	b.t.Helper()
	b.get("/")
	code, body := b.post("/connect/pipedrive/token", url.Values{"csrf": {b.csrf()}, "token": {b.e.APIToken}})
	ids := connIDs(body)
	if code != http.StatusOK || len(ids) != 1 {
		b.t.Fatalf("connect = %d, connections %v", code, ids)
	}
	if _, err := b.e.Store.UpdateConnection(context.Background(), ids[0], func(c *store.Connection) error {
		c.Status = store.StatusLive
		return nil
	}); err != nil {
		b.t.Fatal(err)
	}
	return ids[0]
}

func (e *env) status(t *testing.T, id string) store.Status {
	t.Helper()
	c, err := e.Store.GetConnection(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c.Status
}

// TestSessionRotatesWhenItGainsAConnection: a session id known before
// (planted by someone else) owns nothing once the session gained a
// connection.
func TestSessionRotatesWhenItGainsAConnection(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.get("/")
	before := b.sessionCookie()
	id := b.connected()
	after := b.sessionCookie()
	if before == "" || after == "" || before == after {
		t.Fatalf("session cookie not rotated: %q -> %q", before, after)
	}
	if _, body := b.get("/"); !strings.Contains(body, "conn-"+id) {
		t.Fatal("the rotated session lost its connection")
	}
	old := e.withCookie(t, before)
	if _, body := old.get("/"); strings.Contains(body, id) {
		t.Fatal("the session id from before the connection still sees it")
	}
	if code, _ := old.post("/connections/"+id+"/pause", url.Values{"csrf": {old.csrf()}}); code != http.StatusNotFound {
		t.Errorf("pause with the old session = %d, want 404", code)
	}
	if e.status(t, id) != store.StatusLive {
		t.Fatal("the old session paused the connection")
	}
}

// TestForgedAndExpiredSessions: a cookie whose signature does not match,
// or that is older than the session's lifetime, is no session.
func TestForgedAndExpiredSessions(t *testing.T) {
	e := newEnv(t)
	alice := e.browser(t)
	id := alice.connected()
	cookie, csrf := alice.sessionCookie(), alice.csrf()
	parts := strings.Split(cookie, ".")
	if len(parts) != 3 {
		t.Fatalf("cookie %q is not id.issued.signature", cookie)
	}
	issued, _ := strconv.ParseInt(parts[1], 10, 64)
	forged := map[string]string{
		"issue time moved": parts[0] + "." + strconv.FormatInt(issued+int64(settings.SessionMaxAge/time.Second), 10) + "." + parts[2],
		"other signature":  parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		"no signature":     parts[0] + "." + parts[1],
		"old format":       parts[0] + "." + parts[2],
	}
	for name, value := range forged {
		t.Run(name, func(t *testing.T) {
			b := e.withCookie(t, value)
			if _, body := b.get("/"); strings.Contains(body, id) {
				t.Error("a forged cookie sees the connection")
			}
			if b.sessionCookie() == value {
				t.Error("the forged cookie was kept instead of a new session")
			}
			f := e.withCookie(t, value)
			if code, _ := f.post("/connections/"+id+"/pause", url.Values{"csrf": {csrf}}); code != http.StatusForbidden {
				t.Errorf("pause with a forged cookie = %d, want 403", code)
			}
		})
	}
	// Still valid a moment before the end of its life, refused after.
	e.clock.Advance(settings.SessionMaxAge - time.Minute)
	if _, body := alice.get("/"); !strings.Contains(body, "conn-"+id) {
		t.Fatal("the session ended early")
	}
	e.clock.Advance(2 * time.Minute)
	expired := e.withCookie(t, cookie)
	if code, _ := expired.post("/connections/"+id+"/pause", url.Values{"csrf": {csrf}}); code != http.StatusForbidden {
		t.Errorf("pause with an expired cookie = %d, want 403", code)
	}
	if _, body := alice.get("/"); strings.Contains(body, "conn-"+id) {
		t.Error("an expired session still sees its connection")
	}
	if e.status(t, id) != store.StatusLive {
		t.Fatal("a refused session changed the connection")
	}
}

// TestTakeoverIsRecorded: signing in with the connection's Pipedrive user
// in another browser moves the connection there, and its history says so.
func TestTakeoverIsRecorded(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.browser(t), e.browser(t)
	id := alice.connected()
	aliceCSRF := alice.csrf()
	code, body := bob.post("/connect/pipedrive/token", url.Values{"csrf": {bob.csrf()}, "token": {e.APIToken}})
	if code != http.StatusOK || !strings.Contains(body, "conn-"+id) {
		t.Fatalf("takeover = %d", code)
	}
	mustContain(t, body, "Taken over from another browser by signing in with Pipedrive", `<span class="badge">Live</span>`)
	if _, body := alice.get("/"); strings.Contains(body, id) {
		t.Error("the first browser still sees the connection")
	}
	if code, _ := alice.post("/connections/"+id+"/pause", url.Values{"csrf": {aliceCSRF}}); code != http.StatusNotFound {
		t.Errorf("pause from the first browser = %d, want 404", code)
	}
	c, _ := e.Store.GetConnection(context.Background(), id)
	if n := len(c.Events); n == 0 || c.Events[n-1].Kind != store.EventTakenOver {
		t.Errorf("events = %+v", c.Events)
	}
}

// TestSignOutEndsTheSession: after signing out, the old cookie owns
// nothing (even if replayed), the sync goes on, and signing in with
// Pipedrive brings the connection back.
func TestSignOutEndsTheSession(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	id := b.connected()
	cookie, csrf := b.sessionCookie(), b.csrf()
	if code, _ := b.post("/signout", url.Values{}); code != http.StatusForbidden {
		t.Errorf("sign-out without CSRF token = %d, want 403", code)
	}
	code, body := b.post("/signout", url.Values{"csrf": {csrf}})
	if code != http.StatusOK {
		t.Fatalf("sign-out = %d", code)
	}
	mustContain(t, body, "You are signed out. Your sync goes on", "Connect your accounts")
	if strings.Contains(body, id) || b.sessionCookie() == cookie {
		t.Fatal("still signed in after signing out")
	}
	replay := e.withCookie(t, cookie)
	if _, body := replay.get("/"); strings.Contains(body, id) {
		t.Error("the signed-out cookie still sees the connection")
	}
	if code, _ := replay.post("/connections/"+id+"/pause", url.Values{"csrf": {csrf}}); code != http.StatusNotFound {
		t.Errorf("pause with the signed-out cookie = %d, want 404", code)
	}
	if e.status(t, id) != store.StatusLive {
		t.Fatal("signing out stopped the sync")
	}
	_, body = b.post("/connect/pipedrive/token", url.Values{"csrf": {b.csrf()}, "token": {e.APIToken}})
	mustContain(t, body, "conn-"+id, "Signed out (the sync went on)", "Signed in with Pipedrive")
}

// TestLanguage: German from Accept-Language, the switch is remembered,
// errors of the connect service are translated too.
func TestLanguage(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	_, body := b.getLang("/", "de-CH, de;q=0.9, en;q=0.8")
	mustContain(t, body, `<html lang="de">`, "Konten verbinden", "Mit Pipedrive anmelden", `hreflang="en"`)
	noMissingText(t, body)
	_, body = b.getLang("/", "fr-FR, en;q=0.5, de;q=0.4")
	mustContain(t, body, `<html lang="en">`, "Connect your accounts")

	jar, _ := cookiejar.New(nil)
	b.c.Jar = jar
	b.get("/")
	_, body = b.get("/lang/de")
	mustContain(t, body, `<html lang="de">`, `aria-current="true">Deutsch`)
	_, body = b.getLang("/", "en-US")
	mustContain(t, body, `<html lang="de">`) // the switch wins over the browser
	code, body := b.post("/connect/pipedrive/token", url.Values{"csrf": {b.csrf()}, "token": {"wrong"}})
	if code != http.StatusBadRequest {
		t.Fatalf("wrong token = %d", code)
	}
	mustContain(t, body, "Pipedrive hat diesen API-Token nicht angenommen.")
	code, body = b.get("/oauth/google/callback?error=access_denied")
	if code != http.StatusBadRequest {
		t.Fatalf("denied callback = %d", code)
	}
	mustContain(t, body, "Sie haben den Zugriff bei Google abgelehnt")
	if code, _ := b.get("/lang/fr"); code != http.StatusNotFound {
		t.Errorf("unknown language = %d", code)
	}
}

// TestNeedsActionsRefused: the forms of "needs you" (retry, dismiss, the
// same, keep separate, confirm and restore deletes) refuse another
// session's connection, a form without a CSRF token or with another
// session's, and a forged session cookie; nothing changes. A session acting
// on its own connection never touches another connection's held change of
// the same id.
func TestNeedsActionsRefused(t *testing.T) {
	e := newEnv(t)
	alice, mallory := e.browser(t), e.browser(t)
	id := alice.connected()
	ctx := context.Background()
	held := map[string]string{
		"held": e.hold(t, id, store.HeldChange{Side: "pipedrive", ObjectID: "7", ChangeKind: "upsert", Kind: store.HeldFailed, Code: "permanent"}),
		"review": e.hold(t, id, store.HeldChange{Side: "google", ObjectID: "people/c8", ChangeKind: "upsert", Kind: store.HeldReview,
			Code: "ambiguous", Candidates: []string{"1", "2"}}),
		"brake": e.hold(t, id, store.HeldChange{Side: "google", ObjectID: "people/c9", ChangeKind: "delete", Kind: store.HeldBrake, Code: "brake"}),
	}
	if _, err := e.Store.UpdateConnection(ctx, id, func(c *store.Connection) error {
		c.BrakeTrippedAt = time.Now().UTC()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Mallory has a connection of her own (another Pipedrive user of the
	// company) with a held change of the same id.
	_, token, err := e.Pipedrive.CreateUser(e.CompanyID, "Mal", "mal@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	mallory.get("/")
	_, body := mallory.post("/connect/pipedrive/token", url.Values{"csrf": {mallory.csrf()}, "token": {token}})
	mine := connIDs(body)
	if len(mine) != 1 || mine[0] == id {
		t.Fatalf("mallory's connections: %v", mine)
	}
	e.hold(t, mine[0], store.HeldChange{Side: "pipedrive", ObjectID: "7", ChangeKind: "upsert", Kind: store.HeldFailed, Code: "permanent"})

	forms := []struct {
		action string
		form   url.Values
	}{
		{"held-retry", url.Values{"held": {held["held"]}}},
		{"held-dismiss", url.Values{"held": {held["held"]}}},
		{"match-same", url.Values{"held": {held["review"]}, "twin": {"1"}}},
		{"match-separate", url.Values{"held": {held["review"]}}},
		{"brake-confirm", nil},
		{"brake-restore", nil},
	}
	unchanged := func(t *testing.T) {
		t.Helper()
		for what, h := range held {
			d := e.heldDoc(t, id, h)
			if d == nil || !d.RetryAt.IsZero() || d.Decision != "" || d.Twin != "" {
				t.Errorf("the %s held change changed: %+v", what, d)
			}
		}
		if c, err := e.Store.GetConnection(ctx, id); err != nil || c.BrakeTrippedAt.IsZero() || !c.HeldDueAt.IsZero() {
			t.Errorf("the connection changed: tripped %v, held due %v (%v)", c.BrakeTrippedAt, c.HeldDueAt, err)
		}
	}
	aliceCookie := alice.sessionCookie()
	for _, f := range forms {
		with := func(csrf string) url.Values {
			v := url.Values{}
			for k, vs := range f.form {
				v[k] = vs
			}
			if csrf != "" {
				v.Set("csrf", csrf)
			}
			return v
		}
		t.Run(f.action, func(t *testing.T) {
			cases := []struct {
				name string
				do   func() int
				want int
			}{
				{"other session", func() int {
					code, _ := mallory.post("/connections/"+id+"/"+f.action, with(mallory.csrf()))
					return code
				}, http.StatusNotFound},
				{"no CSRF token", func() int {
					code, _ := alice.post("/connections/"+id+"/"+f.action, with(""))
					return code
				}, http.StatusForbidden},
				{"other session's CSRF token", func() int {
					code, _ := alice.post("/connections/"+id+"/"+f.action, with(mallory.csrf()))
					return code
				}, http.StatusForbidden},
				{"forged CSRF token", func() int {
					code, _ := alice.post("/connections/"+id+"/"+f.action, with(strings.Repeat("A", 43)))
					return code
				}, http.StatusForbidden},
				{"forged session cookie", func() int {
					forged := e.withCookie(t, aliceCookie[:len(aliceCookie)-2]+"xx")
					code, _ := forged.post("/connections/"+id+"/"+f.action, with(alice.csrf()))
					return code
				}, http.StatusForbidden},
			}
			for _, c := range cases {
				if got := c.do(); got != c.want {
					t.Errorf("%s: HTTP %d, want %d", c.name, got, c.want)
				}
				unchanged(t)
			}
		})
	}
	// Mallory retries her own held change: Alice's, of the same id, stays.
	if code, _ := mallory.post("/connections/"+mine[0]+"/held-retry", url.Values{"csrf": {mallory.csrf()}, "held": {held["held"]}}); code != http.StatusOK {
		t.Fatalf("retry on the own connection = %d", code)
	}
	if d := e.heldDoc(t, mine[0], held["held"]); d == nil || d.RetryAt.IsZero() {
		t.Errorf("the own held change was not retried: %+v", d)
	}
	unchanged(t)
}

// TestPreviewRefused: the preview's button refuses another session's
// connection, a form without a CSRF token or with another session's or a
// forged one, and a forged session cookie; neither a group is created or
// chosen nor a preview started.
func TestPreviewRefused(t *testing.T) {
	e := newEnv(t)
	alice, mallory := e.browser(t), e.browser(t)
	id := alice.readyBoth()
	mallory.get("/")
	ctx := context.Background()
	form := func(csrf string) url.Values {
		v := url.Values{"group": {"new"}, "group_name": {"Mallory's"}, "policy": {"ignore"}}
		if csrf != "" {
			v.Set("csrf", csrf)
		}
		return v
	}
	cookie := alice.sessionCookie()
	cases := []struct {
		name string
		do   func() int
		want int
	}{
		{"other session", func() int {
			code, _ := mallory.post("/connections/"+id+"/preview", form(mallory.csrf()))
			return code
		}, http.StatusNotFound},
		{"no CSRF token", func() int {
			code, _ := alice.post("/connections/"+id+"/preview", form(""))
			return code
		}, http.StatusForbidden},
		{"other session's CSRF token", func() int {
			code, _ := alice.post("/connections/"+id+"/preview", form(mallory.csrf()))
			return code
		}, http.StatusForbidden},
		{"forged CSRF token", func() int {
			code, _ := alice.post("/connections/"+id+"/preview", form(strings.Repeat("A", 43)))
			return code
		}, http.StatusForbidden},
		{"forged session cookie", func() int {
			forged := e.withCookie(t, cookie[:len(cookie)-2]+"xx")
			code, _ := forged.post("/connections/"+id+"/preview", form(alice.csrf()))
			return code
		}, http.StatusForbidden},
	}
	groups := func() int {
		gs, err := e.Google.Groups(googlefake.DemoUser)
		if err != nil {
			t.Fatal(err)
		}
		return len(gs)
	}
	before := groups()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.do(); got != c.want {
				t.Errorf("HTTP %d, want %d", got, c.want)
			}
			conn, err := e.Store.GetConnection(ctx, id)
			if err != nil || conn.FirstSync != nil || conn.GoogleGroup != "" || conn.DeletePolicy == "ignore" || conn.Status != store.StatusSetup {
				t.Fatalf("the connection changed: %+v (%v)", conn, err)
			}
			if n := groups(); n != before {
				t.Errorf("%d Google groups, %d before", n, before)
			}
		})
	}
	// The owner's own form works.
	if code, _ := alice.post("/connections/"+id+"/preview", form(alice.csrf())); code != http.StatusOK {
		t.Fatalf("the owner's preview = %d", code)
	}
	if conn, _ := e.Store.GetConnection(ctx, id); conn.FirstSync == nil || conn.FirstSync.Mode != store.FirstSyncPreview {
		t.Fatalf("the owner's preview did not start: %+v", conn.FirstSync)
	}
}
