package queue

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Topics lists every topic id: each work topic and its dead-letter topic.
func Topics() []string {
	var out []string
	for _, t := range []string{ChangesTopic, PollsTopic, FirstSyncTopic} {
		out = append(out, t, t+DeadLetterSuffix)
	}
	return out
}

// Ensure creates (if missing) every topic, the dead-letter hold
// subscriptions and the push subscriptions of Subscriptions(project), each
// pushing to pushBase[sub.Function]+sub.PushPath. Terraform does the same
// in production; the local stack and tests call this against the emulator.
//
// The emulator's subscriptions get no dead-letter policy: the emulator
// ignores the retry policy's backoff (it retries about once a second) and,
// once a message reaches its attempts, crashes in its dead-letter code and
// never pushes on that subscription again (facts-gcp-go.md, corrections).
// Without the policy it retries until the function acknowledges, which
// our functions do by themselves: the applier holds a change after
// syncplan.MaxAttempts (its own count), the poller answers 2xx for a
// connection it cannot poll, a first-sync step of a replaced job is dropped.
func Ensure(ctx context.Context, c *pubsub.Client, pushBase map[string]string) error {
	project := c.Project()
	for _, t := range Topics() {
		_, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topicName(project, t)})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("queue.Ensure: topic %s: %w", t, err)
		}
	}
	for _, t := range []string{ChangesTopic, PollsTopic, FirstSyncTopic} {
		dl := t + DeadLetterSuffix
		if err := createSub(ctx, c, &pubsubpb.Subscription{
			Name: subName(project, dl+"-hold"), Topic: topicName(project, dl),
			MessageRetentionDuration: durationpb.New(7 * 24 * time.Hour),
		}); err != nil {
			return err
		}
	}
	for _, s := range Subscriptions(project) {
		base, ok := pushBase[s.Function]
		if !ok {
			return fmt.Errorf("queue.Ensure: no push URL for function %s", s.Function)
		}
		if err := createSub(ctx, c, &pubsubpb.Subscription{
			Name:                  subName(project, s.Name),
			Topic:                 topicName(project, s.Topic),
			PushConfig:            &pubsubpb.PushConfig{PushEndpoint: base + s.PushPath},
			AckDeadlineSeconds:    int32(s.AckDeadlineSeconds),
			EnableMessageOrdering: s.Ordered,
			RetryPolicy: &pubsubpb.RetryPolicy{
				MinimumBackoff: durationpb.New(secs(s.MinBackoffSeconds)),
				MaximumBackoff: durationpb.New(secs(s.MaxBackoffSeconds)),
			},
		}); err != nil {
			return err
		}
	}
	return nil
}

func createSub(ctx context.Context, c *pubsub.Client, s *pubsubpb.Subscription) error {
	_, err := c.SubscriptionAdminClient.CreateSubscription(ctx, s)
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("queue.Ensure: subscription %s: %w", s.Name, err)
	}
	return nil
}

func secs(n int) time.Duration { return time.Duration(n) * time.Second }

func topicName(project, id string) string { return "projects/" + project + "/topics/" + id }

func subName(project, id string) string { return "projects/" + project + "/subscriptions/" + id }

// Remove deletes the push subscriptions Ensure made for c's project (the
// hold subscriptions and topics stay: nothing pushes from them). Tests and
// the local stack call it when they stop, so that an emulator shared by
// many runs does not keep retrying pushes to endpoints that are gone.
func Remove(ctx context.Context, c *pubsub.Client) error {
	for _, s := range Subscriptions(c.Project()) {
		err := c.SubscriptionAdminClient.DeleteSubscription(ctx, &pubsubpb.DeleteSubscriptionRequest{Subscription: subName(c.Project(), s.Name)})
		if err != nil && status.Code(err) != codes.NotFound {
			return fmt.Errorf("queue.Remove: subscription %s: %w", s.Name, err)
		}
	}
	return nil
}
