package settings_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/contactsync/contactsync/shared/connect/connecttest"
	"github.com/contactsync/contactsync/shared/settings"
)

// The settings handler reads the OAuth callback's query and the forms
// only behind a session, so these targets fuzz the handler itself, on the
// Firestore emulator with the Google and Pipedrive fakes (connecttest),
// and check the status class: a 5xx or a panic for garbage is a bug.

var (
	fuzzCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	fuzzConn = regexp.MustCompile(`id="conn-([0-9a-f]+)"`)
)

type fuzzEnv struct {
	*connecttest.Env
	h       http.Handler
	session string // the session cookie's value
	csrf    string
	conn    string // the connection the session owns
}

func newFuzzEnv(tb testing.TB) *fuzzEnv {
	tb.Helper()
	e := &fuzzEnv{Env: connecttest.New(tb)}
	h, err := settings.New(settings.Config{Store: e.Store, Connect: e.Service, PublicURL: "http://settings.test/",
		SessionKey: []byte("0123456789abcdef0123456789abcdef"), PipedriveOAuth: true})
	if err != nil {
		tb.Fatal(err)
	}
	e.h = h
	e.login(tb)
	return e
}

// serve runs one request; u's Path and RawPath are taken as they are, so
// a fuzzed path segment reaches the router unchanged.
func (e *fuzzEnv) serve(method string, u *url.URL, body, contentType string, withSession bool) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://settings.test/", strings.NewReader(body))
	r.URL, r.RequestURI = u, u.RequestURI()
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if withSession {
		r.AddCookie(&http.Cookie{Name: "contactsync_session", Value: e.session})
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.Name == "contactsync_session" && withSession {
			e.session = c.Value
		}
	}
	return w
}

// login gives the env a session that owns a connection (Pipedrive by API
// token), and the session's CSRF token; done again after a fuzzed form
// signed out or disconnected.
func (e *fuzzEnv) login(tb testing.TB) {
	tb.Helper()
	e.session = ""
	page := func() string {
		w := e.serve("GET", &url.URL{Path: "/"}, "", "", true)
		m := fuzzCSRF.FindStringSubmatch(w.Body.String())
		if w.Code != http.StatusOK || m == nil {
			tb.Fatalf("settings page: HTTP %d, no CSRF token", w.Code)
		}
		e.csrf = m[1]
		return w.Body.String()
	}
	page()
	form := url.Values{"csrf": {e.csrf}, "token": {e.APIToken}}.Encode()
	if w := e.serve("POST", &url.URL{Path: "/connect/pipedrive/token"}, form, "application/x-www-form-urlencoded", true); w.Code != http.StatusSeeOther {
		tb.Fatalf("connect Pipedrive: HTTP %d %s", w.Code, w.Body)
	}
	ids := fuzzConn.FindAllStringSubmatch(page(), -1)
	if len(ids) != 1 {
		tb.Fatalf("%d connections after connecting", len(ids))
	}
	e.conn = ids[0][1]
}

// checkAnswer holds for every answer to garbage: no 5xx, and nothing the
// request sent shown unescaped.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, req string, sent ...string) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("HTTP %d for %s\n%s", w.Code, req, w.Body)
	}
	for _, s := range sent {
		if strings.ContainsAny(s, `<>"`) && len(s) > 3 && strings.Contains(w.Body.String(), s) {
			t.Fatalf("%q shown unescaped, for %s", s, req)
		}
	}
}

// FuzzOAuthCallback: any query on either OAuth callback (state, code,
// error and whatever else), with or without a session and with a real
// state or a made-up one, is answered without a 5xx and without echoing
// what it was sent; a made-up code never connects anything.
func FuzzOAuthCallback(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add(true, true, "", "4/0AeanS0a-code", "", "scope=https://www.googleapis.com/auth/contacts", true)
	f.Add(false, true, "", "pd-code", "", "", true)
	f.Add(true, true, "", "", "access_denied", "", true)
	f.Add(false, true, "", "", "user_denied", "", true)
	f.Add(true, true, "", "", "<script>alert(1)</script>", "", true)
	f.Add(true, false, "", "", "access_denied", "", false)
	f.Add(true, false, "q0QkZ2a5Zr8n3vX1c9Jm4WfH7dLsT6yBpE2uKoNiA0g", "code", "", "", true)
	f.Add(false, false, "a//b", "code", "", "", true)
	f.Add(true, false, "__x__", "code", "", "", true)
	f.Add(true, false, "ID/secrets/webhook", "code", "", "", true)
	f.Add(false, false, ".", "", "", "state=..&state=x", true)
	f.Add(true, false, "", "", "", "%zz&state=%00", false)
	f.Fuzz(func(t *testing.T, google, realState bool, state, code, oauthErr, extra string, withSession bool) {
		provider := "pipedrive"
		if google {
			provider = "google"
		}
		if realState && withSession {
			w := e.serve("GET", &url.URL{Path: "/connect/" + provider}, "", "", true)
			loc, err := url.Parse(w.Header().Get("Location"))
			if w.Code != http.StatusSeeOther || err != nil || loc.Query().Get("state") == "" {
				t.Fatalf("start %s: HTTP %d, Location %q", provider, w.Code, w.Header().Get("Location"))
			}
			state = loc.Query().Get("state")
		}
		q := url.Values{}
		for k, v := range map[string]string{"state": state, "code": code, "error": oauthErr} {
			if v != "" {
				q.Set(k, v)
			}
		}
		raw := q.Encode()
		if extra != "" {
			raw += "&" + extra
		}
		u := &url.URL{Path: "/oauth/" + provider + "/callback", RawQuery: raw}
		w := e.serve("GET", u, "", "", withSession)
		checkAnswer(t, w, u.String(), oauthErr, state, extra)
		if w.Code == http.StatusSeeOther {
			t.Fatalf("a made-up code connected %s: %s", provider, u)
		}
	})
}

// FuzzSettingsForms: any POST to the forms (a connection's actions, the
// API-token form, sign-out), with any path id and action, body and
// content type, with or without the session's CSRF token, is answered
// without a 5xx; and without the CSRF token nothing is done (no 303).
func FuzzSettingsForms(f *testing.F) {
	e := newFuzzEnv(f)
	const form = "application/x-www-form-urlencoded"
	f.Add(uint8(0), "", "pause", "", form, true)
	f.Add(uint8(0), "", "resume", "", form, true)
	f.Add(uint8(0), "", "policy", "policy=mirror", form, true)
	f.Add(uint8(0), "", "policy", "policy=%3Cb%3E", form, true)
	f.Add(uint8(0), "", "save", "group=new&group_name=Pipedrive&policy=keep", form, true)
	f.Add(uint8(0), "", "save", "group=contactGroups/nope", form, true)
	f.Add(uint8(0), "", "disconnect", "confirm=no", form, true)
	f.Add(uint8(0), "", "held-retry", "held=p-12", form, true)
	f.Add(uint8(0), "", "held-dismiss", "held=../../x", form, true)
	f.Add(uint8(0), "", "match-same", "held=g-people:c1&twin=7", form, true)
	f.Add(uint8(0), "", "brake-confirm", "", form, true)
	f.Add(uint8(0), "", "pause", "", form, false)
	f.Add(uint8(0), "a/b", "pause", "", form, true)
	f.Add(uint8(0), "__x__", "pause", "", form, true)
	f.Add(uint8(0), "ID/secrets/webhook", "resume", "", form, true)
	f.Add(uint8(0), "0123456789abcdef", "nope", "", form, true)
	f.Add(uint8(1), "", "", "token=abc&conn=", form, true)
	f.Add(uint8(1), "", "", "token=abc&conn=a%2Fb", form, true)
	f.Add(uint8(1), "", "", "token=abc&conn=__x__", form, true)
	f.Add(uint8(2), "", "", "", form, false)
	f.Add(uint8(0), "", "pause", "--x\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nx\r\n--x--", "multipart/form-data; boundary=x", true)
	f.Add(uint8(0), "", "pause", "%zz=%zz;&", "", true)
	f.Fuzz(func(t *testing.T, target uint8, id, action, body, contentType string, withCSRF bool) {
		var u *url.URL
		switch target % 3 {
		case 0:
			if id == "" {
				id = e.conn
			}
			u = &url.URL{Path: "/connections/" + id + "/" + action,
				RawPath: "/connections/" + url.PathEscape(id) + "/" + url.PathEscape(action)}
		case 1:
			u = &url.URL{Path: "/connect/pipedrive/token"}
		default:
			u = &url.URL{Path: "/signout"}
		}
		if withCSRF {
			body += "&csrf=" + url.QueryEscape(e.csrf)
		}
		w := e.serve("POST", u, body, contentType, true)
		checkAnswer(t, w, u.String()+" "+body, id, action)
		if w.Code == http.StatusSeeOther {
			if !withCSRF {
				t.Fatalf("done without the CSRF token: %s %s", u, body)
			}
			if target%3 == 2 || action == "disconnect" || target%3 == 1 {
				e.login(t) // signed out, disconnected or connected again
			}
		}
	})
}
