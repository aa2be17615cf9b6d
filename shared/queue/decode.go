package queue

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// MessagePublishedType is the CloudEvent type of a Pub/Sub message.
const MessagePublishedType = "google.cloud.pubsub.topic.v1.messagePublished"

// Delivery is one decoded Pub/Sub message with its id (the dedup key for an
// at-least-once delivery) and topic.
type Delivery struct {
	MessageID string
	Topic     string // short topic id, "" if unknown
	Data      []byte
}

// messagePublishedData is the CloudEvent data of messagePublished (see
// googleapis/google-cloudevents pubsub/v1/data.proto); Data arrives base64
// in JSON and decodes into []byte.
type messagePublishedData struct {
	Message struct {
		Data       []byte            `json:"data"`
		Attributes map[string]string `json:"attributes"`
		MessageID  string            `json:"messageId"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// FromCloudEvent decodes a messagePublished CloudEvent, as the applier gets
// it from functions-framework-go.
func FromCloudEvent(e cloudevents.Event) (Delivery, error) {
	if e.Type() != MessagePublishedType {
		return Delivery{}, fmt.Errorf("%w: event type %q", ErrBadMessage, e.Type())
	}
	var d messagePublishedData
	if err := e.DataAs(&d); err != nil {
		return Delivery{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	id := d.Message.MessageID
	if id == "" {
		id = e.ID()
	}
	return Delivery{MessageID: id, Topic: topicID(e.Source()), Data: d.Message.Data}, nil
}

// FromPush decodes a raw Pub/Sub push request body (the poll function
// receives these), limited to limit bytes.
func FromPush(r *http.Request, limit int64) (Delivery, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		return Delivery{}, fmt.Errorf("%w: read push body: %v", ErrBadMessage, err)
	}
	var d messagePublishedData
	if err := json.Unmarshal(body, &d); err != nil {
		return Delivery{}, fmt.Errorf("%w: push body: %v", ErrBadMessage, err)
	}
	if d.Message.MessageID == "" {
		return Delivery{}, fmt.Errorf("%w: push body has no message id", ErrBadMessage)
	}
	return Delivery{MessageID: d.Message.MessageID, Topic: topicID(r.URL.Path), Data: d.Message.Data}, nil
}

// topicID extracts T from ".../projects/P/topics/T".
func topicID(s string) string {
	_, after, ok := strings.Cut(s, "/topics/")
	if !ok {
		return ""
	}
	t, _, _ := strings.Cut(after, "/")
	return t
}

// DecodeChange parses and validates a change message.
func DecodeChange(data []byte) (Change, error) {
	var c Change
	if err := json.Unmarshal(data, &c); err != nil {
		return Change{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return c, c.Validate()
}

// DecodePollRequest parses a poll request.
func DecodePollRequest(data []byte) (PollRequest, error) {
	var r PollRequest
	if err := json.Unmarshal(data, &r); err != nil {
		return PollRequest{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if r.ConnectionID == "" {
		return PollRequest{}, fmt.Errorf("%w: poll request without connection_id", ErrBadMessage)
	}
	return r, nil
}
