package poll

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/emulator/emulatortest"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/store"
)

// TestAdapter drives the function over HTTP as Cloud Scheduler and the
// polls push subscription do.
func TestAdapter(t *testing.T) {
	emulatortest.Require(t, emulator.Firestore)
	emulatortest.Require(t, emulator.PubSub)
	ctx := context.Background()
	project := emulatortest.Project()
	_, gURL := googlefake.NewTestServer(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	for k, v := range map[string]string{
		"GOOGLE_CLOUD_PROJECT": project, "TOKEN_KEY": base64.StdEncoding.EncodeToString(key),
		"GOOGLE_CLIENT_ID": "client", "GOOGLE_CLIENT_SECRET": "secret", "GOOGLE_BASE_URL": gURL,
		"INTAKE_URL": "http://127.0.0.1:1/", "POLL_INTERVAL": "1m",
	} {
		t.Setenv(k, v)
	}
	ps, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	for _, topic := range []string{"polls", "changes"} {
		if _, err := ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + topic}); err != nil {
			t.Fatal(err)
		}
	}
	sub := "projects/" + project + "/subscriptions/polls-test"
	if _, err := ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: "projects/" + project + "/topics/polls"}); err != nil {
		t.Fatal(err)
	}
	st, err := store.New(ctx, project, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Live but without stored credentials: its poll ends in needs re-auth.
	id, err := st.CreateConnection(ctx, &store.Connection{Status: store.StatusLive, GoogleGroup: "contactGroups/x", PollDueAt: time.Now().Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}

	call := func(method, path, body string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		handle(w, httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body)))
		return w
	}
	w := call(http.MethodPost, "/tick", "")
	var out map[string]int
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil || out["queued"] != 1 {
		t.Fatalf("/tick = %d %s", w.Code, w.Body)
	}
	resp, err := ps.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: 10, ReturnImmediately: true})
	if err != nil || len(resp.ReceivedMessages) != 1 {
		t.Fatalf("pull: %v, %d messages", err, len(resp.GetReceivedMessages()))
	}
	m := resp.ReceivedMessages[0].Message
	push, _ := json.Marshal(map[string]any{"message": map[string]any{"data": m.Data, "messageId": m.MessageId}, "subscription": sub})
	if w := call(http.MethodPost, "/connection", string(push)); w.Code != http.StatusNoContent {
		t.Fatalf("/connection = %d %s", w.Code, w.Body)
	}
	if c, err := st.GetConnection(ctx, id); err != nil || c.Status != store.StatusNeedsReauth {
		t.Fatalf("connection after poll: %+v, %v", c, err)
	}
	if w := call(http.MethodPost, "/connection", "{not json"); w.Code != http.StatusNoContent {
		t.Fatalf("malformed push = %d, want 204 (acknowledged)", w.Code)
	}
	if w := call(http.MethodGet, "/tick", ""); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET = %d", w.Code)
	}
	if w := call(http.MethodPost, "/other", ""); w.Code != http.StatusNotFound {
		t.Fatalf("unknown path = %d", w.Code)
	}
}
