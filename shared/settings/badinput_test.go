package settings_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/connect/connecttest"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/logging/logtest"
	"github.com/contactsync/contactsync/shared/settings"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/store/storetest"
)

// badFixture is a settings handler on a counting store whose requests log
// into a capture: alice owns a live connection, mallory one of her own.
type badFixture struct {
	*env
	ops            *storetest.Counter
	logs           *logtest.Capture
	alice, mallory *browser
	aliceID, malID string
	malToken       string
}

func newBadFixture(t *testing.T) *badFixture {
	t.Helper()
	st, ops := storetest.Counting(t)
	e := &env{Env: connecttest.NewWithStore(t, st), clock: &clock{t: time.Now()}}
	logs := logtest.New()
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(logs.Context(r.Context())))
	}))
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
	f := &badFixture{env: e, ops: ops, logs: logs, alice: e.browser(t), mallory: e.browser(t)}
	f.aliceID = f.alice.liveBoth().ID
	_, f.malToken, err = e.Pipedrive.CreateUser(e.CompanyID, "Mal", "mal@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	f.mallory.get("/")
	_, body := f.mallory.post("/connect/pipedrive/token", url.Values{"csrf": {f.mallory.csrf()}, "token": {f.malToken}})
	if ids := connIDs(body); len(ids) != 1 || ids[0] == f.aliceID {
		t.Fatalf("mallory's connections: %v", ids)
	} else {
		f.malID = ids[0]
	}
	return f
}

// state is what a bad request must leave as it was.
type state struct {
	conns     map[string]string // id → status, owner, update time
	states    int
	published int
	hooks     int
}

func (f *badFixture) state(t *testing.T) state {
	t.Helper()
	s := state{conns: map[string]string{}, published: len(f.Published.Changes()), hooks: len(f.Hooks())}
	for _, c := range f.connections(t) {
		s.conns[c.ID] = string(c.Status) + " " + c.OwnerHash + " " + c.UpdatedAt.String() + " " + c.GoogleGroup + " " + c.DeletePolicy
	}
	refs, err := f.Store.Client().Collection("oauth_states").DocumentRefs(context.Background()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	s.states = len(refs)
	return s
}

// Personal data and credentials of the fixture: none may reach a log line.
func (f *badFixture) secrets() []string {
	return []string{f.APIToken, f.malToken, "pat@acme.example", "mal@acme.example", googlefake.DemoUser,
		connecttest.GoogleClientSecret, connecttest.PipedriveClientSecret, "wrong-token-SECRET-7781"}
}

// TestBadInput is the settings function's bad-input table (issue 14): the
// OAuth start and callback routes and the POST forms, each row with its
// status, never 5xx; nothing stored (no connection changed, no OAuth state
// created, no webhook or change published, no Firestore write but the
// deletion of a state the row spends); a malformed id never named in a
// Firestore request; no ERROR log line, no personal data or token in the
// logs, every log line bounded.
func TestBadInput(t *testing.T) {
	f := newBadFixture(t)
	a, m := f.alice, f.mallory
	huge := strings.Repeat("z", 10000)
	unknown := store.NewID()
	escaped := func(id string) string { return url.PathEscape(id) }
	csrf := func(b *browser, kv ...string) url.Values {
		v := url.Values{"csrf": {b.csrf()}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	// callback delivers a callback URL b's flow produced, changed by edit.
	callback := func(b *browser, start, path string, edit func(q url.Values)) func() (int, string) {
		u := b.callbackURL(start)
		q := u.Query()
		edit(q)
		return func() (int, string) { return b.get(path + "?" + q.Encode()) }
	}
	get := func(b *browser, path string) func() (int, string) { return func() (int, string) { return b.get(path) } }
	post := func(b *browser, path string, form url.Values) func() (int, string) {
		return func() (int, string) { return b.post(path, form) }
	}
	stranger := &browser{t: t, e: f.env, c: &http.Client{}}
	forged := f.withCookie(t, strings.Repeat("A", 43)+".1700000000.forged")

	type row struct {
		name string
		// send is prepared before the row is measured and sends the
		// request.
		send func() (int, string)
		want int
		// bad must never be named in a Firestore request.
		bad string
		// spends: the row consumes an OAuth state (the only write allowed:
		// its deletion).
		spends bool
		// same: rows with the same non-empty value answer the same page.
		same string
		// lacks: the services' own words in their answers to this row,
		// which the logs must not quote.
		lacks []string
	}
	rows := []func() row{
		// OAuth callback.
		func() row {
			return row{name: "callback without state", send: get(a, "/oauth/google/callback?code=x"), want: 400}
		},
		func() row {
			return row{name: "callback state a//b", send: get(a, "/oauth/google/callback?code=x&state="+url.QueryEscape("a//b")), want: 400, bad: "a//b", same: "state"}
		},
		func() row {
			return row{name: "callback state __x__", send: get(a, "/oauth/google/callback?code=x&state=__x__"), want: 400, bad: "__x__", same: "state"}
		},
		func() row {
			s := f.aliceID + "/secrets/webhook"
			return row{name: "callback state ID/secrets/webhook", send: get(a, "/oauth/pipedrive/callback?code=x&state="+url.QueryEscape(s)), want: 400, bad: s}
		},
		func() row {
			return row{name: "callback state ../oauth_states", send: get(a, "/oauth/google/callback?code=x&state="+url.QueryEscape("../oauth_states/x")), want: 400, bad: "oauth_states/x", same: "state"}
		},
		func() row {
			return row{name: "callback huge state", send: get(a, "/oauth/google/callback?code=x&state="+huge), want: 400, bad: huge[:200], same: "state"}
		},
		func() row {
			return row{name: "callback state with control characters", send: get(a, "/oauth/google/callback?code=x&state="+url.QueryEscape("a\nb\x00\"<c>")), want: 400, same: "state"}
		},
		func() row {
			return row{name: "callback unknown state", send: get(a, "/oauth/google/callback?code=x&state="+strings.Repeat("Q", 43)), want: 400, same: "state"}
		},
		func() row {
			send := callback(a, "/connect/google?conn="+f.aliceID, "/oauth/google/callback", func(url.Values) {})
			if code, body := send(); code != http.StatusOK || !strings.Contains(body, "Google account connected") {
				t.Fatalf("first use = %d", code)
			}
			return row{name: "callback reused state", send: send, want: 400, same: "state"}
		},
		func() row {
			send := callback(a, "/connect/pipedrive?conn="+f.aliceID, "/oauth/pipedrive/callback", func(url.Values) {})
			f.clock.Advance(settings.DefaultStateTTL + time.Second)
			return row{name: "callback expired state", send: send, want: 400, spends: true}
		},
		func() row {
			u := a.callbackURL("/connect/google?conn=" + f.aliceID)
			return row{name: "callback state of another session", send: get(m, "/oauth/google/callback?"+u.RawQuery), want: 400}
		},
		func() row {
			u := a.callbackURL("/connect/google?conn=" + f.aliceID)
			return row{name: "callback state of the other provider", send: get(a, "/oauth/pipedrive/callback?"+u.RawQuery), want: 400, spends: true}
		},
		func() row {
			return row{name: "callback declined with a malformed state", send: get(a, "/oauth/google/callback?error=access_denied&state=__x__"), want: 400, bad: "__x__"}
		},
		func() row {
			return row{name: "callback huge error", want: 400, spends: true,
				send: callback(a, "/connect/google?conn="+f.aliceID, "/oauth/google/callback", func(q url.Values) { q.Set("error", huge) })}
		},
		func() row {
			return row{name: "callback without code", want: 400, spends: true,
				send: callback(a, "/connect/google?conn="+f.aliceID, "/oauth/google/callback", func(q url.Values) { q.Del("code") })}
		},
		func() row {
			return row{name: "callback forged code", want: 400, spends: true, lacks: []string{"Malformed auth code", "forged-"},
				send: callback(a, "/connect/google?conn="+f.aliceID, "/oauth/google/callback", func(q url.Values) { q.Set("code", "forged-"+huge[:300]) })}
		},
		func() row {
			return row{name: "callback forged Pipedrive code", want: 400, spends: true, lacks: []string{"authorization code is invalid"},
				send: callback(a, "/connect/pipedrive?conn="+f.aliceID, "/oauth/pipedrive/callback", func(q url.Values) { q.Set("code", "wrong-token-SECRET-7781") })}
		},
		func() row {
			u := a.callbackURL("/connect/google?conn=" + f.aliceID)
			return row{name: "callback without session", send: get(stranger, "/oauth/google/callback?"+u.RawQuery), want: 400}
		},
		func() row {
			u := a.callbackURL("/connect/google?conn=" + f.aliceID)
			return row{name: "callback with a forged session", send: get(forged, "/oauth/google/callback?"+u.RawQuery), want: 400}
		},
		// OAuth start: a connection that is not the session's is not said
		// to exist, whatever its id.
		func() row {
			return row{name: "start conn a//b", send: get(a, "/connect/google?conn="+url.QueryEscape("a//b")), want: 404, bad: "a//b", same: "start"}
		},
		func() row {
			return row{name: "start conn __x__", send: get(a, "/connect/google?conn=__x__"), want: 404, bad: "__x__", same: "start"}
		},
		func() row {
			s := f.aliceID + "/secrets/webhook"
			return row{name: "start conn ID/secrets/webhook", send: get(a, "/connect/google?conn="+url.QueryEscape(s)), want: 404, bad: s, same: "start"}
		},
		func() row {
			return row{name: "start huge conn", send: get(a, "/connect/pipedrive?conn="+huge), want: 404, bad: huge[:200], same: "start"}
		},
		func() row {
			return row{name: "start unknown conn", send: get(a, "/connect/google?conn="+unknown), want: 404, same: "start"}
		},
		func() row {
			return row{name: "start another session's conn", send: get(a, "/connect/pipedrive?conn="+f.malID), want: 404, same: "start"}
		},
		func() row {
			return row{name: "start another session's conn without session", send: get(stranger, "/connect/google?conn="+f.aliceID), want: 404}
		},
		// The API-token form.
		func() row {
			return row{name: "token form without CSRF", send: post(a, "/connect/pipedrive/token", url.Values{"token": {f.APIToken}}), want: 403}
		},
		func() row {
			return row{name: "token form with another session's CSRF", send: post(a, "/connect/pipedrive/token", csrf(m, "token", f.APIToken)), want: 403}
		},
		func() row {
			return row{name: "token form conn a//b", send: post(a, "/connect/pipedrive/token", csrf(a, "conn", "a//b", "token", f.APIToken)), want: 404, bad: "a//b"}
		},
		func() row {
			return row{name: "token form conn __x__", send: post(a, "/connect/pipedrive/token", csrf(a, "conn", "__x__", "token", f.APIToken)), want: 404, bad: "__x__"}
		},
		func() row {
			return row{name: "token form another session's conn", send: post(a, "/connect/pipedrive/token", csrf(a, "conn", f.malID, "token", f.malToken)), want: 404}
		},
		func() row {
			return row{name: "token form wrong token", send: post(a, "/connect/pipedrive/token", csrf(a, "conn", f.aliceID, "token", "wrong-token-SECRET-7781")), want: 400,
				lacks: []string{"unauthorized access"}}
		},
		func() row {
			return row{name: "token form huge token", send: post(a, "/connect/pipedrive/token", csrf(a, "conn", f.aliceID, "token", "wrong-token-SECRET-7781"+huge)), want: 400}
		},
		func() row {
			return row{name: "token form over the size limit", send: post(a, "/connect/pipedrive/token", csrf(a, "token", strings.Repeat(huge, 7))), want: 400}
		},
		// The connection forms.
		func() row {
			return row{name: "form id __x__", send: post(a, "/connections/__x__/pause", csrf(a)), want: 404, bad: "__x__", same: "form"}
		},
		func() row {
			return row{name: "form id a//b", send: post(a, "/connections/"+escaped("a//b")+"/pause", csrf(a)), want: 404, bad: "a//b", same: "form"}
		},
		func() row {
			s := f.aliceID + "/secrets/webhook"
			return row{name: "form id ID/secrets/webhook", send: post(a, "/connections/"+escaped(s)+"/disconnect", csrf(a, "confirm", "yes")), want: 404, bad: s, same: "form"}
		},
		func() row {
			return row{name: "form huge id", send: post(a, "/connections/"+huge+"/pause", csrf(a)), want: 404, bad: huge[:200], same: "form"}
		},
		func() row {
			return row{name: "form unknown id", send: post(a, "/connections/"+unknown+"/pause", csrf(a)), want: 404, same: "form"}
		},
		func() row {
			return row{name: "form another session's connection", send: post(a, "/connections/"+f.malID+"/disconnect", csrf(a, "confirm", "yes")), want: 404, same: "form"}
		},
		func() row {
			return row{name: "form without CSRF", send: post(a, "/connections/"+f.aliceID+"/pause", url.Values{}), want: 403}
		},
		func() row {
			return row{name: "form with another session's CSRF", send: post(a, "/connections/"+f.aliceID+"/pause", csrf(m)), want: 403}
		},
		func() row {
			return row{name: "form without session", send: post(stranger, "/connections/"+f.aliceID+"/pause", url.Values{"csrf": {a.csrf()}}), want: 403}
		},
		func() row {
			return row{name: "form unknown action", send: post(a, "/connections/"+f.aliceID+"/explode", csrf(a)), want: 404}
		},
		func() row {
			return row{name: "form huge action", send: post(a, "/connections/"+f.aliceID+"/"+huge, csrf(a)), want: 404}
		},
		func() row {
			return row{name: "held id a//b", send: post(a, "/connections/"+f.aliceID+"/held-retry", csrf(a, "held", "a//b")), want: 404, bad: "a//b"}
		},
		func() row {
			return row{name: "held id __x__", send: post(a, "/connections/"+f.aliceID+"/held-dismiss", csrf(a, "held", "__x__")), want: 404, bad: "__x__"}
		},
		func() row {
			return row{name: "held id huge", send: post(a, "/connections/"+f.aliceID+"/match-same", csrf(a, "held", "p-"+huge, "twin", huge)), want: 404}
		},
		func() row {
			return row{name: "unknown delete policy", send: post(a, "/connections/"+f.aliceID+"/policy", csrf(a, "policy", huge)), want: 400}
		},
		func() row {
			return row{name: "disconnect unconfirmed", send: post(a, "/connections/"+f.aliceID+"/disconnect", csrf(a, "confirm", huge)), want: 400}
		},
		func() row {
			return row{name: "brake confirm without a brake", send: post(a, "/connections/"+f.aliceID+"/brake-confirm", csrf(a)), want: 409}
		},
		func() row {
			return row{name: "sign out without CSRF", send: post(a, "/signout", url.Values{}), want: 403}
		},
		// The page.
		func() row {
			return row{name: "page search with conn __x__", send: get(a, "/?conn=__x__&q="+huge), want: 200, bad: "__x__"}
		},
		func() row {
			return row{name: "page search with a huge term", send: get(a, "/?conn="+f.aliceID+"&q="+url.QueryEscape("pat@acme.example "+huge)), want: 200}
		},
		func() row {
			return row{name: "unknown language", send: get(a, "/lang/"+huge), want: 404}
		},
	}

	same := map[string]string{}
	for _, mk := range rows {
		r := mk()
		t.Run(r.name, func(t *testing.T) {
			before := f.state(t)
			f.logs.Reset()
			names0, writes0 := len(f.ops.Names()), f.ops.Writes()
			code, body := r.send()
			names := f.ops.Names()[names0:]
			if code != r.want || code >= 500 {
				t.Errorf("HTTP %d, want %d", code, r.want)
			}
			for _, n := range names {
				if r.bad != "" && strings.Contains(n, r.bad) {
					t.Errorf("Firestore was asked for %.120q", n)
				}
				if strings.HasPrefix(n, "write ") && !(r.spends && strings.Contains(n, "/documents/oauth_states/")) {
					t.Errorf("written: %s", n)
				}
			}
			if d := f.ops.Writes() - writes0; !r.spends && d != 0 || r.spends && d > 1 {
				t.Errorf("%d writes", d)
			}
			after := f.state(t)
			for id, c := range before.conns {
				if after.conns[id] != c {
					t.Errorf("connection %s changed: %s -> %s", id, c, after.conns[id])
				}
			}
			if len(after.conns) != len(before.conns) || after.states > before.states || after.published != before.published || after.hooks != before.hooks {
				t.Errorf("stored or published: %+v -> %+v", before, after)
			}
			if r.same != "" {
				body = strings.ReplaceAll(body, huge, "")
				if prev, ok := same[r.same]; ok && prev != body {
					t.Errorf("the page differs from the other %q rows'", r.same)
				}
				same[r.same] = body
			}
			f.logs.NoErrors(t)
			f.logs.Bounded(t, 2048)
			f.logs.Lacks(t, append(f.secrets(), r.lacks...)...)
			if t.Failed() {
				for _, l := range f.logs.Lines() {
					t.Logf("log: %.500s", l)
				}
			}
		})
	}
}
