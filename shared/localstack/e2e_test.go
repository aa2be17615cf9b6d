package localstack_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/emulator/emulatortest"
	"github.com/contactsync/contactsync/shared/intake"
	"github.com/contactsync/contactsync/shared/localstack"
	"github.com/contactsync/contactsync/shared/store"
)

// startStack runs the functions on the test's emulators, in a fresh project.
func startStack(t *testing.T) (*localstack.Stack, string) {
	t.Helper()
	fsHost := emulatortest.Require(t, emulator.Firestore)
	psHost := emulatortest.Require(t, emulator.PubSub)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	project := emulatortest.Project()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := localstack.Start(ctx, localstack.Options{
		Root: root, Dir: t.TempDir(), Project: project, PollInterval: time.Hour,
		FirestoreHost: fsHost, PubSubHost: psHost,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s, project
}

const webhookBody = `{"meta":{"action":"change","entity":"person","entity_id":"8","id":"0b9a7e0c-5d2b-4b8e-9d5c-7f7d8e6a0001","company_id":"77","user_id":"12","timestamp":"2026-11-24T15:18:35.616Z","version":"2.0","change_source":"app","attempt":1},
 "data":{"id":8,"name":"Ada Lovelace","owner_id":12,"emails":[{"value":"ada@example.com","primary":true,"label":"work"}],"phones":[],"update_time":"2026-11-24T15:18:35Z"},
 "previous":{"name":"Ada"}}`

// TestWebhookReachesApplier follows one webhook through the real pieces:
// intake function → Pub/Sub emulator topic → push subscription → the
// applier as a CloudEvent → Firestore. A duplicate delivery of the same
// Pub/Sub message is recorded once.
func TestWebhookReachesApplier(t *testing.T) {
	s, project := startStack(t)
	ctx := context.Background()
	st, err := store.New(ctx, project, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	connID, err := st.CreateConnection(ctx, &store.Connection{Status: store.StatusLive, WebhookSecretHash: intake.SecretHash("pw")})
	if err != nil {
		t.Fatal(err)
	}

	req, _ := http.NewRequest(http.MethodPost, s.Endpoints.Intake, strings.NewReader(webhookBody))
	req.SetBasicAuth(connID, "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("intake answered %d", resp.StatusCode)
	}

	ds := waitDeliveries(t, st, connID, 1)
	if ds[0].ObjectID != "8" || ds[0].Kind != "upsert" || ds[0].Source != "webhook" || ds[0].Side != "pipedrive" {
		t.Fatalf("applier recorded %+v", ds[0])
	}

	// The same Pub/Sub message pushed twice (as after a lost ack) is
	// recorded once. The body is Pub/Sub's push format, at the path the
	// production subscription uses.
	change := fmt.Sprintf(`{"connection_id":%q,"side":"google","object_id":"people/c42","kind":"delete","source":"poll","occurred_at":"2026-11-24T15:18:35Z"}`, connID)
	push := fmt.Sprintf(`{"message":{"data":%q,"messageId":"dup-1","publishTime":"2026-11-24T15:18:36Z"},"subscription":"projects/%s/subscriptions/changes-apply"}`,
		base64.StdEncoding.EncodeToString([]byte(change)), project)
	for range 2 {
		resp, err := http.Post(strings.TrimSuffix(s.Endpoints.Applier, "/")+"/projects/"+project+"/topics/changes", "application/json", strings.NewReader(push))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("applier answered %d to a push", resp.StatusCode)
		}
	}
	ds = waitDeliveries(t, st, connID, 2)
	dup := 0
	for _, d := range ds {
		if d.MessageID == "dup-1" {
			dup++
		}
	}
	if len(ds) != 2 || dup != 1 {
		t.Fatalf("journal after a duplicate push: %+v", ds)
	}
}

func waitDeliveries(t *testing.T, st *store.Store, connID string, n int) []store.Delivery {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ds, err := st.Deliveries(context.Background(), connID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) >= n {
			// Give a duplicate the chance to show up before judging.
			time.Sleep(500 * time.Millisecond)
			ds, _ = st.Deliveries(context.Background(), connID)
			return ds
		}
		if time.Now().After(deadline) {
			t.Fatalf("applier recorded %d deliveries, want %d", len(ds), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestEndpointsFileLifecycle(t *testing.T) {
	s, _ := startStack(t)
	b, err := os.ReadFile(s.EndpointsPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"settings"`, `"intake"`, `"poll"`, `"applier"`, `"google"`, `"pipedrive"`, `"firestore"`, `"pubsub"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("endpoints.json lacks %s: %s", key, b)
		}
	}
	resp, err := http.Get(s.Endpoints.Settings)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("settings page answered %d", resp.StatusCode)
	}
	s.Stop()
	if _, err := os.Stat(s.EndpointsPath()); !os.IsNotExist(err) {
		t.Fatalf("endpoints.json still there after Stop: %v", err)
	}
}
