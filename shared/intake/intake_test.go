package intake_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/emulator/emulatortest"
	"github.com/contactsync/contactsync/shared/intake"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

type recorder struct {
	mu   sync.Mutex
	got  []queue.Change
	fail error
}

func (r *recorder) PublishChanges(_ context.Context, _ string, cs ...queue.Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.got = append(r.got, cs...)
	return nil
}

const v2Change = `{"meta":{"action":"change","entity":"person","entity_id":"8","id":"6f1c0b3e-1111-4a4a-9b9b-000000000001","company_id":"8087566","user_id":"12415231","timestamp":"2022-11-24T15:18:35.616Z","version":"2.0","change_source":"app","attempt":1},
 "data":{"id":8,"name":"Sample Person","owner_id":12415231,"org_id":1,"emails":[],"phones":[],"update_time":"2022-11-24T15:18:35Z"},
 "previous":{"name":"Sample"}}`

const v2Delete = `{"meta":{"action":"delete","entity":"person","entity_id":"9","id":"6f1c0b3e-1111-4a4a-9b9b-000000000002","version":"2.0","timestamp":"2022-11-24T15:18:35.616Z","merged_to_id":"8"},
 "data":null,"previous":{"id":9,"name":"Gone"}}`

// a person deleted (no merge): previous is her last state
const v2PersonDelete = `{"meta":{"action":"delete","entity":"person","entity_id":"10","id":"6f1c0b3e-1111-4a4a-9b9b-000000000004","version":"2.0","timestamp":"2022-11-24T15:18:35.616Z"},
 "data":null,"previous":{"id":10,"name":"Sample Gone","owner_id":12415231,"add_time":"2022-11-20T10:00:00Z","update_time":"2022-11-24T15:18:35Z",
 "emails":[{"value":"sample@example.com","primary":true,"label":"work"}],"phones":[{"value":"+49 30 1234567","primary":true,"label":"work"}]}}`

const v2Deal = `{"meta":{"action":"change","entity":"deal","entity_id":"3","id":"6f1c0b3e-1111-4a4a-9b9b-000000000003","version":"2.0","timestamp":"2022-11-24T15:18:35.616Z"},"data":{"id":3},"previous":{}}`

func TestIntake(t *testing.T) {
	emulatortest.Require(t, emulator.Firestore)
	ctx := context.Background()
	s, err := store.New(ctx, emulatortest.Project(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	connID, err := s.CreateConnection(ctx, &store.Connection{Status: store.StatusLive, WebhookSecretHash: intake.SecretHash("s3cret")})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		method      string
		user, pass  string
		noAuth      bool
		body        string
		failPublish bool
		wantCode    int
		wantMsg     string
		wantChanges []queue.Change
		wantPrints  int // keyed prints of the deleted person's keys
	}{
		{name: "v2 change is queued", body: v2Change, wantCode: 200,
			wantChanges: []queue.Change{{ConnectionID: connID, Side: queue.Pipedrive, ObjectID: "8", Kind: queue.Upsert, Source: queue.FromWebhook}}},
		{name: "v2 merge delete keeps the survivor", body: v2Delete, wantCode: 200,
			wantChanges: []queue.Change{{ConnectionID: connID, Side: queue.Pipedrive, ObjectID: "9", Kind: queue.Delete, Source: queue.FromWebhook, MergedToID: "8"}}},
		{name: "v2 delete carries the deleted person's add time and key prints", body: v2PersonDelete, wantCode: 200, wantPrints: 3,
			wantChanges: []queue.Change{{ConnectionID: connID, Side: queue.Pipedrive, ObjectID: "10", Kind: queue.Delete, Source: queue.FromWebhook,
				Gone: &queue.Gone{AddedAt: time.Date(2022, 11, 20, 10, 0, 0, 0, time.UTC)}}}},
		{name: "other object ignored", body: v2Deal, wantCode: 200, wantMsg: "ignored"},
		{name: "no credentials", noAuth: true, body: v2Change, wantCode: 401},
		{name: "wrong password", pass: "guess", body: v2Change, wantCode: 401},
		{name: "unknown connection: the same 401 as a wrong password", user: "nobody", body: v2Change, wantCode: 401, wantMsg: "wrong credentials"},
		{name: "bad json", body: `{"meta":`, wantCode: 400, wantMsg: "malformed"},
		{name: "not a webhook", body: `{"hello":"world"}`, wantCode: 400, wantMsg: "malformed"},
		{name: "oversized body", body: `{"meta":{"entity":"person","pad":"` + strings.Repeat("x", 5000) + `"}}`, wantCode: 413},
		{name: "GET refused", method: http.MethodGet, wantCode: 405},
		{name: "publish failure makes Pipedrive retry", body: v2Change, failPublish: true, wantCode: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			if tt.failPublish {
				rec.fail = errors.New("pubsub down")
			}
			h, err := intake.New(s, rec, "changes", 4096)
			if err != nil {
				t.Fatal(err)
			}
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, "/", strings.NewReader(tt.body))
			user, pass := connID, "s3cret"
			if tt.user != "" {
				user = tt.user
			}
			if tt.pass != "" {
				pass = tt.pass
			}
			if !tt.noAuth {
				req.SetBasicAuth(user, pass)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.wantCode {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.wantCode, w.Body)
			}
			if !strings.Contains(w.Body.String(), tt.wantMsg) {
				t.Errorf("body %q does not say %q", w.Body, tt.wantMsg)
			}
			if len(rec.got) != len(tt.wantChanges) {
				t.Fatalf("published %d changes, want %d: %+v", len(rec.got), len(tt.wantChanges), rec.got)
			}
			for i, want := range tt.wantChanges {
				got := rec.got[i]
				if got.ConnectionID != want.ConnectionID || got.ObjectID != want.ObjectID || got.Kind != want.Kind ||
					got.MergedToID != want.MergedToID || got.Source != want.Source {
					t.Errorf("change %d = %+v, want %+v", i, got, want)
				}
				if (got.Gone == nil) != (want.Gone == nil) || got.Gone != nil && (!got.Gone.AddedAt.Equal(want.Gone.AddedAt) || len(got.Gone.Prints) != tt.wantPrints) {
					t.Errorf("change %d: gone %+v, want added at %v and %d prints", i, got.Gone, want.Gone, tt.wantPrints)
				}
				// ids only: the person's name, e-mails and phones stay out of Pub/Sub
				b, _ := json.Marshal(got)
				for _, clear := range []string{"Sample", "sample@", "1234567"} {
					if strings.Contains(string(b), clear) {
						t.Errorf("change %d carries the person's data: %s", i, b)
					}
				}
			}
		})
	}
}
