package queue_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/contactsync/contactsync/shared/queue"
)

// pushBody is a Pub/Sub push body carrying data, as the push subscription
// sends it (data base64 in JSON).
func pushBody(data, id string) string {
	b, _ := json.Marshal(map[string]any{
		"message":      map[string]any{"data": base64.StdEncoding.EncodeToString([]byte(data)), "messageId": id, "attributes": map[string]string{"connection_id": "c"}},
		"subscription": "projects/p/subscriptions/polls-poll",
	})
	return string(b)
}

// FuzzFromPush: a push request body (the polls subscription's, decoded by
// the Poll function) never panics; every refusal is ErrBadMessage (the
// poller acknowledges it, never retries); an accepted body has a message
// id, its data is no larger than the body, and a body over the limit is
// never accepted.
func FuzzFromPush(f *testing.F) {
	f.Add(pushBody(`{"connection_id":"c1","due_at":"2026-01-02T03:04:05Z"}`, "m-1"), "/connection", int64(64<<10))
	f.Add(pushBody(`{"connection_id":"c","side":"google","object_id":"people/c1","kind":"upsert"}`, "17"), "/projects/p/topics/changes", int64(64<<10))
	f.Add(`{"message":{"data":"not base64!","messageId":"m"}}`, "/connection", int64(1024))
	f.Add(`{"message":{"messageId":""}}`, "/", int64(1024))
	f.Add(`{"message":{"data":null,"messageId":"m","publishTime":"2026-01-02T03:04:05Z"}}`, "/projects/p/topics/", int64(16))
	f.Add(`[]`, "/topics/x/y", int64(0))
	f.Fuzz(func(t *testing.T, body, path string, limit int64) {
		limit = max(limit, 0) % (1 << 20)
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.URL.Path = path
		d, err := queue.FromPush(r, limit)
		if err != nil {
			if !errors.Is(err, queue.ErrBadMessage) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if int64(len(body)) > limit {
			t.Fatalf("accepted %d bytes over a limit of %d", len(body), limit)
		}
		if d.MessageID == "" {
			t.Fatal("accepted a message without an id")
		}
		// invalid UTF-8 in a JSON string reads as U+FFFD: 3 bytes for 1
		if len(d.Data) > len(body) || len(d.MessageID) > 3*len(body) || len(d.Topic) > len(path) {
			t.Fatalf("decoded more than the body held: %d bytes of data from %d", len(d.Data), len(body))
		}
		if strings.Contains(d.Topic, "/") {
			t.Fatalf("topic %q is not an id", d.Topic)
		}
	})
}

// FuzzFromCloudEvent: a CloudEvent as functions-framework hands it to
// Apply (built here by the CloudEvents SDK from an HTTP request in binary
// mode, as an Eventarc delivery arrives) never panics; a refusal is
// ErrBadMessage, so Apply acknowledges it; what is accepted is a
// messagePublished event whose data decodes as a change or a first-sync
// step, or is refused as ErrBadMessage.
func FuzzFromCloudEvent(f *testing.F) {
	msg := func(data string) string {
		b, _ := json.Marshal(map[string]any{"message": map[string]any{"data": []byte(data), "messageId": "m-7"}, "subscription": "projects/p/subscriptions/changes-apply"})
		return string(b)
	}
	src := "//pubsub.googleapis.com/projects/p/topics/changes"
	f.Add(queue.MessagePublishedType, src, "ce-1", "application/json", msg(`{"connection_id":"c","side":"pipedrive","object_id":"5","kind":"upsert","source":"webhook"}`))
	f.Add(queue.MessagePublishedType, "//pubsub.googleapis.com/projects/p/topics/first-sync", "ce-2", "application/json", msg(`{"connection_id":"c","job":"j1","chain":"google","chunk":3}`))
	f.Add(queue.MessagePublishedType, src, "", "application/json", `{"message":{"data":"e30=","messageId":""}}`)
	f.Add(queue.MessagePublishedType, src, "ce-3", "text/plain", `hello`)
	f.Add("google.cloud.storage.object.v1.finalized", src, "ce-4", "application/json", `{}`)
	f.Add(queue.MessagePublishedType, "x", "ce-5", "application/json", `{"message":{"data":"@@"}}`)
	f.Fuzz(func(t *testing.T, typ, source, id, contentType, body string) {
		r := httptest.NewRequest("POST", "/projects/p/topics/changes", strings.NewReader(body))
		r.Header.Set("ce-specversion", "1.0")
		r.Header.Set("ce-type", typ)
		r.Header.Set("ce-source", source)
		r.Header.Set("ce-id", id)
		r.Header.Set("Content-Type", contentType)
		e, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			// The SDK refuses it before our code sees it; the same data
			// set directly on an event must still be handled.
			ev := cloudevents.NewEvent()
			ev.SetType(typ)
			ev.SetSource(source)
			ev.SetID(id)
			_ = ev.SetData(contentType, []byte(body))
			e = &ev
		}
		d, err := queue.FromCloudEvent(*e)
		if err != nil {
			if !errors.Is(err, queue.ErrBadMessage) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if e.Type() != queue.MessagePublishedType {
			t.Fatalf("accepted event type %q", e.Type())
		}
		if len(d.Data) > len(body) || strings.Contains(d.Topic, "/") {
			t.Fatalf("delivery %+v from a %d-byte body", d, len(body))
		}
		if d.MessageID == "" && e.ID() != "" {
			t.Fatal("message id lost")
		}
		if _, err := queue.DecodeChange(d.Data); err != nil && !errors.Is(err, queue.ErrBadMessage) {
			t.Fatalf("change: unclassified error: %v", err)
		}
		if _, err := queue.DecodeFirstSyncStep(d.Data); err != nil && !errors.Is(err, queue.ErrBadMessage) {
			t.Fatalf("first-sync step: unclassified error: %v", err)
		}
	})
}

// FuzzDecodePollRequest: a poll message never panics, is refused only as
// ErrBadMessage, and an accepted one names a connection and re-encodes to
// a message that decodes to itself.
func FuzzDecodePollRequest(f *testing.F) {
	f.Add([]byte(`{"connection_id":"c1","due_at":"2026-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"connection_id":"c1"}`))
	f.Add([]byte(`{"connection_id":"","due_at":"2026-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"connection_id":"c1","due_at":"yesterday"}`))
	f.Add([]byte(`{"connection_id":7}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := queue.DecodePollRequest(b)
		if err != nil {
			if !errors.Is(err, queue.ErrBadMessage) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if r.ConnectionID == "" {
			t.Fatal("accepted a poll request without a connection")
		}
		again, err := json.Marshal(r)
		if err != nil {
			// a time json cannot write (year outside 0-9999) is read
			// from what json wrote: never from our own publisher
			return
		}
		r2, err := queue.DecodePollRequest(again)
		if err != nil || r2.ConnectionID != r.ConnectionID || !r2.DueAt.Equal(r.DueAt) {
			t.Fatalf("round trip: %+v → %s → %+v, %v", r, again, r2, err)
		}
	})
}

// FuzzDecodeFirstSyncStep: a first-sync step never panics, a refusal is
// ErrBadMessage, and an accepted step validates and round-trips.
func FuzzDecodeFirstSyncStep(f *testing.F) {
	for _, s := range []string{
		`{"connection_id":"c","job":"j1","chain":"plan"}`,
		`{"connection_id":"c","job":"j1","chain":"pipedrive","chunk":12}`,
		`{"connection_id":"c","job":"j1","chain":"google","chunk":-1}`,
		`{"connection_id":"c","job":"","chain":"plan"}`,
		`{"connection_id":"c","job":"j","chain":"outlook"}`,
		`{"connection_id":"c","job":"j","chain":"plan","chunk":1e3}`,
		`{"connection_id":"c","job":"j","chain":"plan","chunk":9223372036854775808}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := queue.DecodeFirstSyncStep(b)
		if err != nil {
			if !errors.Is(err, queue.ErrBadMessage) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if s.Validate() != nil || s.Chunk < 0 {
			t.Fatalf("accepted an invalid step: %+v", s)
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if s2, err := queue.DecodeFirstSyncStep(again); err != nil || s2 != s {
			t.Fatalf("round trip: %+v → %s → %+v, %v", s, again, s2, err)
		}
		// json writes < > & as \u003c: 6 bytes for 1
		if len(again) > 6*len(b)+64 {
			t.Fatalf("%d bytes decoded into a step of %d", len(b), len(again))
		}
	})
}
