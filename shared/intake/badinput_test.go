package intake_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/contactsync/contactsync/shared/intake"
	"github.com/contactsync/contactsync/shared/logging/logtest"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/store/storetest"
)

// forbidden is a store the intake must not ask: rows refused before the
// store fail the test if it is called.
type forbidden struct{ t *testing.T }

func (f forbidden) GetConnection(_ context.Context, id string) (*store.Connection, error) {
	f.t.Errorf("the store was asked for connection %.80q", id)
	return nil, store.ErrNotFound
}

// Personal data in the bodies below: none of it may reach a log line.
const (
	pdName  = "Zebulon Quixley"
	pdEmail = "zebulon.quixley@privacy.example"
	pdPhone = "+49 151 2345 6789"
)

func personBody(action, id string) string {
	return fmt.Sprintf(`{"meta":{"action":%q,"entity":"person","entity_id":%q,"id":"6f1c0b3e-2222-4a4a-9b9b-%012s","version":"2.0","timestamp":"2024-05-01T10:00:00Z"},
 "data":{"id":%s,"name":%q,"owner_id":1,"emails":[{"value":%q,"primary":true}],"phones":[{"value":%q,"primary":true}],"update_time":"2024-05-01T10:00:00Z"},"previous":{"name":"Zeb"}}`,
		action, id, id, id, pdName, pdEmail, pdPhone)
}

func otherBody(entity, action string) string {
	return fmt.Sprintf(`{"meta":{"action":%q,"entity":%q,"entity_id":"5","id":"d-%s-%s","version":"2.0","timestamp":"2024-05-01T10:00:00Z"},"data":{"id":5,"name":%q},"previous":null}`,
		action, entity, entity, action, pdName)
}

func v1OtherBody(object, action string) string {
	return fmt.Sprintf(`{"v":1,"meta":{"action":%q,"object":%q,"id":5,"timestamp":1739827618},"current":{"id":5,"name":%q},"previous":null,"event":"%s.%s"}`,
		action, object, pdName, action, object)
}

// TestBadInput is the intake's bad-input table (issue 14): each row's
// status, that nothing was published or written, that a row refused before
// the store never asked it, and that no row logs an ERROR line, personal
// data, a password or an unbounded string.
func TestBadInput(t *testing.T) {
	st, ops := storetest.Counting(t)
	ctx := context.Background()
	a, err := st.CreateConnection(ctx, &store.Connection{Status: store.StatusLive, WebhookSecretHash: intake.SecretHash("password-of-a")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.CreateConnection(ctx, &store.Connection{Status: store.StatusLive, WebhookSecretHash: intake.SecretHash("password-of-b")})
	if err != nil {
		t.Fatal(err)
	}
	noHook, err := st.CreateConnection(ctx, &store.Connection{Status: store.StatusLive})
	if err != nil {
		t.Fatal(err)
	}
	const limit = 4096

	type auth struct {
		user, pass string
		none       bool
	}
	good := auth{user: a, pass: "password-of-a"}
	type row struct {
		name   string
		method string
		auth   auth
		body   string
		// store: the row may read the store (one read, no write);
		// otherwise it is answered before the store is asked.
		store bool
		want  int
		// same401: the answer (body and WWW-Authenticate) must be the
		// wrong password's, so ids cannot be probed.
		same401 bool
		// publish: how many changes are published (0 unless accepted).
		publish int
	}
	rows := []row{
		{name: "no credentials", auth: auth{none: true}, body: personBody("change", "8"), want: 401},
		{name: "empty user", auth: auth{pass: "password-of-a"}, body: personBody("change", "8"), want: 401},
		{name: "wrong password", auth: auth{user: a, pass: "guess"}, body: personBody("change", "8"), store: true, want: 401, same401: true},
		{name: "empty password", auth: auth{user: a}, body: personBody("change", "8"), store: true, want: 401, same401: true},
		{name: "another connection's password", auth: auth{user: a, pass: "password-of-b"}, body: personBody("change", "8"), store: true, want: 401, same401: true},
		{name: "another connection's id with this password", auth: auth{user: b, pass: "password-of-a"}, body: personBody("change", "8"), store: true, want: 401, same401: true},
		{name: "connection without webhook credentials", auth: auth{user: noHook, pass: ""}, body: personBody("change", "8"), store: true, want: 401, same401: true},
		{name: "unknown connection", auth: auth{user: store.NewID(), pass: "password-of-a"}, body: personBody("change", "8"), store: true, want: 401, same401: true},
		{name: "user a//b", auth: auth{user: "a//b", pass: "x"}, body: personBody("change", "8"), want: 401, same401: true},
		{name: "user __x__", auth: auth{user: "__x__", pass: "x"}, body: personBody("change", "8"), want: 401, same401: true},
		{name: "user ID/secrets/webhook", auth: auth{user: a + "/secrets/webhook", pass: "password-of-a"}, body: personBody("change", "8"), want: 401, same401: true},
		{name: "user ../ID", auth: auth{user: "../" + a, pass: "password-of-a"}, body: personBody("change", "8"), want: 401, same401: true},
		{name: "user with a dot", auth: auth{user: ".", pass: "x"}, body: personBody("change", "8"), want: 401, same401: true},
		{name: "user with spaces and quotes", auth: auth{user: `a " b`, pass: "x"}, body: personBody("change", "8"), want: 401, same401: true},
		{name: "huge user", auth: auth{user: strings.Repeat("u", 10000), pass: "x"}, body: personBody("change", "8"), want: 401, same401: true},
		{name: "user naming personal data", auth: auth{user: pdEmail, pass: "x"}, body: personBody("change", "8"), want: 401, same401: true},
		{name: "GET", method: http.MethodGet, auth: good, want: 405},
		{name: "bad JSON", auth: good, body: `{"meta":`, store: true, want: 400},
		{name: "empty body", auth: good, body: ``, store: true, want: 400},
		{name: "JSON null", auth: good, body: `null`, store: true, want: 400},
		{name: "JSON array", auth: good, body: `[` + personBody("change", "8") + `]`, store: true, want: 400},
		{name: "not a webhook", auth: good, body: `{"name":"` + pdName + `"}`, store: true, want: 400},
		{name: "two bodies", auth: good, body: personBody("change", "8") + personBody("change", "9"), store: true, want: 400},
		{name: "person without data", auth: good, body: `{"meta":{"action":"change","entity":"person","entity_id":"8"},"data":null}`, store: true, want: 400},
		{name: "person id a//b", auth: good, body: `{"meta":{"action":"delete","entity":"person","entity_id":"a//b"}}`, store: true, want: 400},
		{name: "person id not a number", auth: good, body: personBody("change", "__x__"), store: true, want: 400},
		{name: "huge body", auth: good, body: `{"meta":{"entity":"person","pad":"` + strings.Repeat("x", 10*limit) + `"}}`, store: true, want: 413},
		{name: "huge body without credentials", auth: auth{none: true}, body: strings.Repeat("x", 10*limit), want: 401},
		{name: "huge body, wrong password", auth: auth{user: a, pass: "guess"}, body: strings.Repeat("x", 10*limit), store: true, want: 401, same401: true},
		{name: "huge action", auth: good, body: personBody(strings.Repeat("a", 3000), "8"), store: true, want: 200},
		{name: "huge entity", auth: good, body: otherBody(strings.Repeat("e", 1500), "change"), store: true, want: 200},
		{name: "accepted (control)", auth: good, body: personBody("change", "8"), store: true, want: 200, publish: 1},
		{name: "accepted, personal data in the delivery id and change source", auth: good, store: true, want: 200, publish: 1,
			body: strings.Replace(strings.Replace(personBody("change", "8"), `"version":"2.0"`, `"version":"2.0","change_source":"`+pdPhone+`"`, 1),
				`"id":"6f1c0b3e-2222-4a4a-9b9b-000000000008"`, `"id":"`+pdEmail+`"`, 1)},
		{name: "unknown action naming a person", auth: good, body: personBody(pdName, "8"), store: true, want: 200},
		{name: "unknown entity naming a person", auth: good, body: otherBody(pdName, "change"), store: true, want: 200},
	}
	// An unknown event or entity is acknowledged and ignored, for any
	// entity and action, in both formats.
	for _, entity := range []string{"deal", "organization", "activity", "lead", "note", "product", "project", "user", "pipeline", "stage", "file", "persons", "person.x", "a//b", "__x__"} {
		for _, action := range []string{"create", "change", "delete", "merge", "explode", "*"} {
			rows = append(rows, row{name: "v2 " + entity + " " + action, auth: good, body: otherBody(entity, action), store: true, want: 200})
		}
	}
	for _, object := range []string{"deal", "organization", "activity", "note", "product", "user"} {
		for _, action := range []string{"added", "updated", "deleted", "merged", "archived"} {
			rows = append(rows, row{name: "v1 " + object + " " + action, auth: good, body: v1OtherBody(object, action), store: true, want: 200})
		}
	}
	for _, action := range []string{"merge", "archive", "explode", "*", "CREATE", "updated"} {
		rows = append(rows, row{name: "v2 person " + action, auth: good, body: personBody(action, "8"), store: true, want: 200})
	}
	for _, action := range []string{"archived", "restored", "create"} {
		rows = append(rows, row{name: "v1 person " + action, auth: good, store: true, want: 200,
			body: `{"v":1,"meta":{"action":"` + action + `","object":"person","id":8,"timestamp":1739827618},"current":{"id":8,"name":"` + pdName + `"},"event":"` + action + `.person"}`})
	}

	var ref401 *httptest.ResponseRecorder
	serve := func(t *testing.T, r row) (*httptest.ResponseRecorder, *recorder, *logtest.Capture) {
		var conns intake.Connections = forbidden{t}
		if r.store {
			conns = st
		}
		pub := &recorder{}
		h, err := intake.New(conns, pub, "changes", limit)
		if err != nil {
			t.Fatal(err)
		}
		logs := logtest.New()
		method := r.method
		if method == "" {
			method = http.MethodPost
		}
		req := httptest.NewRequestWithContext(logs.Context(ctx), method, "/", strings.NewReader(r.body))
		if !r.auth.none {
			req.SetBasicAuth(r.auth.user, r.auth.pass)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w, pub, logs
	}
	ref401, _, _ = serve(t, rows[2]) // the wrong password's answer
	if ref401.Code != http.StatusUnauthorized {
		t.Fatalf("wrong password = %d", ref401.Code)
	}

	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			reads, writes := ops.Reads(), ops.Writes()
			w, pub, logs := serve(t, r)
			if w.Code != r.want {
				t.Errorf("status %d, want %d; body %.200s", w.Code, r.want, w.Body)
			}
			if r.same401 && (w.Body.String() != ref401.Body.String() || w.Header().Get("WWW-Authenticate") != ref401.Header().Get("WWW-Authenticate")) {
				t.Errorf("answer %q (%q) differs from a wrong password's %q (%q)", w.Body, w.Header().Get("WWW-Authenticate"),
					ref401.Body, ref401.Header().Get("WWW-Authenticate"))
			}
			if got := len(pub.got); got != r.publish {
				t.Errorf("published %d changes, want %d: %+v", got, r.publish, pub.got)
			}
			if dr, dw := ops.Reads()-reads, ops.Writes()-writes; dw != 0 || dr > 1 || !r.store && dr != 0 {
				t.Errorf("%d reads, %d writes", dr, dw)
			}
			if len(w.Body.String()) > 1024 {
				t.Errorf("answer of %d bytes", w.Body.Len())
			}
			logs.NoErrors(t)
			logs.Bounded(t, 1024)
			logs.Lacks(t, pdName, pdEmail, pdPhone, "password-of-a", "password-of-b")
		})
	}
}

// TestReplayedDelivery: the same delivery twice (Pipedrive's retry, or a
// replay by whoever holds the credentials) is published twice as the same
// change, ids only; the intake writes nothing, and the applier, which
// reads the person anew, finds nothing to do the second time.
func TestReplayedDelivery(t *testing.T) {
	st, ops := storetest.Counting(t)
	ctx := context.Background()
	id, err := st.CreateConnection(ctx, &store.Connection{Status: store.StatusLive, WebhookSecretHash: intake.SecretHash("pw")})
	if err != nil {
		t.Fatal(err)
	}
	pub := &recorder{}
	h, err := intake.New(st, pub, "changes", 4096)
	if err != nil {
		t.Fatal(err)
	}
	logs := logtest.New()
	writes := ops.Writes()
	for i := range 3 {
		req := httptest.NewRequestWithContext(logs.Context(ctx), http.MethodPost, "/", strings.NewReader(personBody("change", "8")))
		req.SetBasicAuth(id, "pw")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("delivery %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	if len(pub.got) != 3 {
		t.Fatalf("published %d", len(pub.got))
	}
	want := queue.Change{ConnectionID: id, Side: queue.Pipedrive, ObjectID: "8", Kind: queue.Upsert, Source: queue.FromWebhook,
		OccurredAt: pub.got[0].OccurredAt}
	for i, c := range pub.got {
		if c != want {
			t.Errorf("change %d = %+v, want %+v", i, c, want)
		}
	}
	if d := ops.Writes() - writes; d != 0 {
		t.Errorf("the intake wrote %d documents", d)
	}
	logs.NoErrors(t)
	logs.Lacks(t, pdName, pdEmail, pdPhone, "pw\"")
}
