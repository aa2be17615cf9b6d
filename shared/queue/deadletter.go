package queue

import (
	"context"
	"fmt"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// DeadLetters reads a dead-letter hold subscription (topic +
// DeadLetterSuffix + "-hold"): what Pub/Sub gave up on after the
// subscription's last delivery attempt. The poller moves each one into the
// held list, where the user sees it and the poller retries it later.
type DeadLetters struct {
	client *pubsub.Client
	sub    string // full subscription name
}

// NewDeadLetters reads the dead-letter hold subscription of topic.
func NewDeadLetters(c *pubsub.Client, topic string) *DeadLetters {
	return &DeadLetters{client: c, sub: subName(c.Project(), topic+DeadLetterSuffix+"-hold")}
}

// Drain pulls up to max dead letters and hands each to fn; those fn
// accepts (nil) are acknowledged, the others come back later. It returns
// how many were acknowledged.
func (d *DeadLetters) Drain(ctx context.Context, max int, fn func(Delivery) error) (int, error) {
	// ReturnImmediately: an empty hold (the usual case) must not keep the
	// scheduler tick waiting. Deprecated because it can answer empty while
	// messages exist; the next tick then drains them.
	//lint:ignore SA1019 see above
	resp, err := d.client.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: d.sub, MaxMessages: int32(max), ReturnImmediately: true})
	if err != nil {
		return 0, fmt.Errorf("queue: pull dead letters: %w", err)
	}
	var ack []string
	var errs error
	for _, m := range resp.ReceivedMessages {
		if err := fn(Delivery{MessageID: m.GetMessage().GetMessageId(), Data: m.GetMessage().GetData()}); err != nil {
			errs = err
			continue
		}
		ack = append(ack, m.AckId)
	}
	if len(ack) > 0 {
		if err := d.client.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: d.sub, AckIds: ack}); err != nil {
			return 0, fmt.Errorf("queue: acknowledge dead letters: %w", err)
		}
	}
	return len(ack), errs
}
