package intake

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/emulator/emulatortest"
	"github.com/contactsync/contactsync/shared/intake"
	"github.com/contactsync/contactsync/shared/logging/logtest"
	"github.com/contactsync/contactsync/shared/store"
)

// TestAdapterBadInput drives the function as Pipedrive (or anyone) would,
// through its configuration from the environment: the adapter answers bad
// input exactly as shared/intake does (its table is there), publishes
// nothing for it, and logs no ERROR line.
func TestAdapterBadInput(t *testing.T) {
	emulatortest.Require(t, emulator.Firestore)
	emulatortest.Require(t, emulator.PubSub)
	ctx := context.Background()
	project := emulatortest.Project()
	t.Setenv("GOOGLE_CLOUD_PROJECT", project)
	t.Setenv("MAX_BODY_BYTES", "4096")
	st, err := store.New(ctx, project, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id, err := st.CreateConnection(ctx, &store.Connection{Status: store.StatusLive, WebhookSecretHash: intake.SecretHash("pw")})
	if err != nil {
		t.Fatal(err)
	}
	deal := `{"meta":{"action":"explode","entity":"deal","entity_id":"5","id":"d1","version":"2.0"},"data":{"id":5},"previous":null}`
	person := `{"meta":{"action":"change","entity":"person","entity_id":"8","id":"d2","version":"2.0"},"data":{"id":8,"name":"Zebulon Quixley"},"previous":null}`
	tests := []struct {
		name       string
		user, pass string
		noAuth     bool
		body       string
		want       int
	}{
		{name: "no credentials", noAuth: true, body: person, want: 401},
		{name: "wrong password", user: id, pass: "guess", body: person, want: 401},
		{name: "unknown connection", user: store.NewID(), pass: "pw", body: person, want: 401},
		{name: "user a//b", user: "a//b", pass: "pw", body: person, want: 401},
		{name: "user __x__", user: "__x__", pass: "pw", body: person, want: 401},
		{name: "user ID/secrets/webhook", user: id + "/secrets/webhook", pass: "pw", body: person, want: 401},
		{name: "bad JSON", user: id, pass: "pw", body: `{"meta":`, want: 400},
		{name: "huge body", user: id, pass: "pw", body: `{"pad":"` + strings.Repeat("x", 8192) + `"}`, want: 413},
		{name: "unknown entity and action", user: id, pass: "pw", body: deal, want: 200},
	}
	var wrong string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := logtest.New()
			req := httptest.NewRequestWithContext(logs.Context(ctx), http.MethodPost, "/", strings.NewReader(tt.body))
			if !tt.noAuth {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			w := httptest.NewRecorder()
			handle(w, req)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
			if tt.want == 401 && !tt.noAuth {
				if wrong == "" {
					wrong = w.Body.String()
				} else if w.Body.String() != wrong {
					t.Errorf("answer %q, a wrong password's is %q", w.Body, wrong)
				}
			}
			logs.NoErrors(t)
			logs.Lacks(t, "Zebulon", "Quixley")
		})
	}
}
