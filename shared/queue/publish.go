package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"cloud.google.com/go/pubsub/v2"
)

// Publisher publishes change and poll messages. It is safe for concurrent use.
type Publisher struct {
	client *pubsub.Client
	mu     sync.Mutex
	topics map[string]*pubsub.Publisher
}

// NewPublisher wraps a Pub/Sub client (PUBSUB_EMULATOR_HOST routes it to
// the emulator).
func NewPublisher(c *pubsub.Client) *Publisher {
	return &Publisher{client: c, topics: map[string]*pubsub.Publisher{}}
}

func (p *Publisher) topic(id string) *pubsub.Publisher {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.topics[id]
	if !ok {
		t = p.client.Publisher(id)
		t.EnableMessageOrdering = true
		p.topics[id] = t
	}
	return t
}

// PublishChanges publishes cs to topic and waits until every one is stored
// by Pub/Sub; only then may the caller acknowledge its own input (a webhook,
// a sync-token page). On failure the ordering key is resumed so a retry can
// publish again, and the error says how many were published.
func (p *Publisher) PublishChanges(ctx context.Context, topic string, cs ...Change) error {
	msgs := make([]*pubsub.Message, 0, len(cs))
	for _, c := range cs {
		if err := c.Validate(); err != nil {
			return err
		}
		b, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("queue: encode change: %w", err)
		}
		msgs = append(msgs, &pubsub.Message{Data: b, OrderingKey: c.OrderingKey(),
			Attributes: map[string]string{"connection_id": c.ConnectionID, "side": string(c.Side), "kind": string(c.Kind)}})
	}
	return p.publish(ctx, topic, msgs)
}

// PublishPolls publishes one poll request per connection (no ordering: each
// connection is independent).
func (p *Publisher) PublishPolls(ctx context.Context, topic string, rs ...PollRequest) error {
	msgs := make([]*pubsub.Message, 0, len(rs))
	for _, r := range rs {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("queue: encode poll request: %w", err)
		}
		msgs = append(msgs, &pubsub.Message{Data: b, Attributes: map[string]string{"connection_id": r.ConnectionID}})
	}
	return p.publish(ctx, topic, msgs)
}

func (p *Publisher) publish(ctx context.Context, topic string, msgs []*pubsub.Message) error {
	t := p.topic(topic)
	results := make([]*pubsub.PublishResult, len(msgs))
	for i, m := range msgs {
		results[i] = t.Publish(ctx, m)
	}
	var errs []error
	for i, r := range results {
		if _, err := r.Get(ctx); err != nil {
			if k := msgs[i].OrderingKey; k != "" {
				t.ResumePublish(k)
			}
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("queue: publish to %s: %d of %d failed: %w", topic, len(errs), len(msgs), errors.Join(errs...))
	}
	return nil
}

// Client is the Pub/Sub client the publisher uses.
func (p *Publisher) Client() *pubsub.Client { return p.client }

// Stop flushes and stops every topic publisher.
func (p *Publisher) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.topics {
		t.Stop()
	}
}
