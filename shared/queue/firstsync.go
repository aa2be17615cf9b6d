package queue

import (
	"context"
	"encoding/json"
	"fmt"

	"cloud.google.com/go/pubsub/v2"
)

// Chains of a first sync: the plan (listing and matching, once), then two
// chains of chunks that run side by side: Google's (one mutation of the
// user at a time) and Pipedrive's.
const (
	ChainPlan      = "plan"
	ChainGoogle    = "google"
	ChainPipedrive = "pipedrive"
)

// FirstSyncStep asks the Apply function to run one step of a connection's
// first sync: the plan, or chunk Chunk of a chain. It carries ids only.
type FirstSyncStep struct {
	ConnectionID string `json:"connection_id"`
	// Job names the first sync the step belongs to: a step of an older
	// job (restarted, or cancelled by a disconnect) is dropped.
	Job   string `json:"job"`
	Chain string `json:"chain"`
	Chunk int    `json:"chunk,omitempty"`
}

// Validate reports whether the step can be run at all.
func (s FirstSyncStep) Validate() error {
	switch {
	case s.ConnectionID == "" || s.Job == "":
		return fmt.Errorf("%w: first-sync step without connection or job", ErrBadMessage)
	case s.Chain != ChainPlan && s.Chain != ChainGoogle && s.Chain != ChainPipedrive:
		return fmt.Errorf("%w: first-sync chain %q", ErrBadMessage, s.Chain)
	case s.Chunk < 0:
		return fmt.Errorf("%w: first-sync chunk %d", ErrBadMessage, s.Chunk)
	}
	return nil
}

// DecodeFirstSyncStep parses and validates a first-sync step.
func DecodeFirstSyncStep(data []byte) (FirstSyncStep, error) {
	var s FirstSyncStep
	if err := json.Unmarshal(data, &s); err != nil {
		return FirstSyncStep{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return s, s.Validate()
}

// PublishFirstSync publishes first-sync steps (no ordering: each chain
// publishes its next step only when the previous one is done, and a
// chunk's lease keeps a duplicate delivery from running it twice).
func (p *Publisher) PublishFirstSync(ctx context.Context, topic string, steps ...FirstSyncStep) error {
	msgs := make([]*pubsub.Message, 0, len(steps))
	for _, s := range steps {
		if err := s.Validate(); err != nil {
			return err
		}
		b, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("queue: encode first-sync step: %w", err)
		}
		msgs = append(msgs, &pubsub.Message{Data: b, Attributes: map[string]string{"connection_id": s.ConnectionID, "chain": s.Chain}})
	}
	return p.publish(ctx, topic, msgs)
}
