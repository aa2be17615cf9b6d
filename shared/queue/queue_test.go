package queue_test

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

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/contactsync/contactsync/shared/emulator/emulatortest"
	"github.com/contactsync/contactsync/shared/queue"
)

func TestValidateAndDecode(t *testing.T) {
	ok := queue.Change{ConnectionID: "c", Side: queue.Google, ObjectID: "people/c1", Kind: queue.Delete}
	tests := []struct {
		name string
		data string
		ok   bool
	}{
		{"valid", mustJSON(t, ok), true},
		{"not json", "{", false},
		{"no connection", `{"side":"google","object_id":"x","kind":"upsert"}`, false},
		{"bad side", `{"connection_id":"c","side":"outlook","object_id":"x","kind":"upsert"}`, false},
		{"no object", `{"connection_id":"c","side":"google","kind":"upsert"}`, false},
		{"bad kind", `{"connection_id":"c","side":"google","object_id":"x","kind":"merge"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := queue.DecodeChange([]byte(tt.data))
			if tt.ok && (err != nil || c.OrderingKey() != ok.OrderingKey() || c.Kind != ok.Kind) {
				t.Fatalf("DecodeChange = %+v, %v", c, err)
			}
			if !tt.ok && !errors.Is(err, queue.ErrBadMessage) {
				t.Fatalf("err = %v, want ErrBadMessage", err)
			}
		})
	}
	// one key per connection: its changes are applied one at a time
	other := ok
	other.Side, other.ObjectID = queue.Pipedrive, "42"
	if got := ok.OrderingKey(); got != "c" || other.OrderingKey() != got {
		t.Errorf("OrderingKey = %q and %q, want the connection id for both", got, other.OrderingKey())
	}
}

func FuzzDecodeChange(f *testing.F) {
	f.Add([]byte(`{"connection_id":"c","side":"google","object_id":"x","kind":"upsert"}`))
	f.Add([]byte(`{"connection_id":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := queue.DecodeChange(b)
		if err == nil && c.Validate() != nil {
			t.Fatalf("accepted an invalid change: %+v", c)
		}
	})
}

func TestFromCloudEvent(t *testing.T) {
	data := mustJSON(t, queue.Change{ConnectionID: "c", Side: queue.Pipedrive, ObjectID: "5", Kind: queue.Upsert})
	e := cloudevents.NewEvent()
	e.SetID("ce-1")
	e.SetType(queue.MessagePublishedType)
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/changes")
	if err := e.SetData("application/json", map[string]any{"message": map[string]any{"data": []byte(data), "messageId": "m-7"}}); err != nil {
		t.Fatal(err)
	}
	d, err := queue.FromCloudEvent(e)
	if err != nil || d.MessageID != "m-7" || d.Topic != "changes" || string(d.Data) != data {
		t.Fatalf("FromCloudEvent = %+v, %v", d, err)
	}
	e.SetType("google.cloud.storage.object.v1.finalized")
	if _, err := queue.FromCloudEvent(e); !errors.Is(err, queue.ErrBadMessage) {
		t.Fatalf("wrong type accepted: %v", err)
	}
}

// TestEnsurePublishPush runs against the Pub/Sub emulator: the subscriptions
// production uses are created, an ordered change is published, and the
// push arrives at the applier's path with the message intact.
func TestEnsurePublishPush(t *testing.T) {
	c, project := emulatortest.PubSub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var mu sync.Mutex
	var got []queue.Delivery
	paths := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := queue.FromPush(r, 1<<20)
		if err != nil {
			t.Errorf("FromPush: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, d)
		paths[r.URL.Path] = true
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	if err := queue.Ensure(ctx, c, map[string]string{"Apply": srv.URL, "Poll": srv.URL}); err != nil {
		t.Fatal(err)
	}
	// Idempotent: a second run finds everything in place.
	if err := queue.Ensure(ctx, c, map[string]string{"Apply": srv.URL, "Poll": srv.URL}); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	sub, err := c.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: "projects/" + project + "/subscriptions/changes-apply"})
	if err != nil {
		t.Fatal(err)
	}
	// no dead-letter policy on the emulator: it would wedge the
	// subscription for good (see Ensure)
	if !sub.EnableMessageOrdering || sub.DeadLetterPolicy != nil ||
		!strings.HasSuffix(sub.PushConfig.GetPushEndpoint(), "/projects/"+project+"/topics/changes") {
		t.Fatalf("changes-apply subscription = %v", sub)
	}

	p := queue.NewPublisher(c)
	defer p.Stop()
	var changes []queue.Change
	for i := range 3 {
		changes = append(changes, queue.Change{ConnectionID: "c1", Side: queue.Pipedrive, ObjectID: string(rune('a' + i)), Kind: queue.Upsert})
	}
	if err := p.PublishChanges(ctx, queue.ChangesTopic, changes...); err != nil {
		t.Fatal(err)
	}
	if err := p.PublishPolls(ctx, queue.PollsTopic, queue.PollRequest{ConnectionID: "c1"}); err != nil {
		t.Fatal(err)
	}
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 4 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("only %d of 4 pushes arrived", n)
		case <-time.After(100 * time.Millisecond):
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var versions string
	for _, d := range got {
		if d.Topic != queue.ChangesTopic {
			continue
		}
		ch, err := queue.DecodeChange(d.Data)
		if err != nil {
			t.Fatal(err)
		}
		versions += ch.ObjectID
	}
	if versions != "abc" {
		t.Errorf("ordered changes arrived as %q, want abc", versions)
	}
	if !paths["/connection"] {
		t.Errorf("poll request not pushed to /connection: %v", paths)
	}
	// Remove: nothing pushes to the endpoints any more.
	if err := queue.Remove(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, s := range queue.Subscriptions(project) {
		_, err := c.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: "projects/" + project + "/subscriptions/" + s.Name})
		if status.Code(err) != codes.NotFound {
			t.Errorf("subscription %s after Remove: %v", s.Name, err)
		}
	}
	if err := queue.Remove(ctx, c); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
