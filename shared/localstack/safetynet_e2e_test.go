package localstack_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestLostWebhookStillReachesGoogle: Pipedrive deletes webhooks after days
// of failed deliveries and bans them for 30 minutes after ten failures, and
// the events of a ban are lost. Here our webhooks are gone when a person is
// created; the poller's safety net (every SAFETY_NET_INTERVAL, at its 1m
// minimum) must still bring the person to Google, and re-register the
// webhooks so the next change arrives in seconds again.
func TestLostWebhookStillReachesGoogle(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the one-minute safety net")
	}
	h := startSyncStack(t, map[string]string{"SAFETY_NET_INTERVAL": "1m"})
	token := h.demo.PipedriveAPIToken

	var hooks []struct {
		ID int64 `json:"id"`
	}
	h.pd(t, token, http.MethodGet, "/api/v1/webhooks", nil, &hooks)
	if len(hooks) != 3 {
		t.Fatalf("demo connection has %d webhooks, want 3", len(hooks))
	}
	// Let the first safety-net run (made when the connection went live) pass,
	// so the person below is found by the next one, not by the first.
	waitFor(t, "first safety-net run", 30*time.Second, func() bool {
		return !h.connection(t).LastSafetyNetAt.IsZero()
	})
	for _, hk := range hooks {
		h.pd(t, token, http.MethodDelete, fmt.Sprintf("/api/v1/webhooks/%d", hk.ID), nil, nil)
	}

	h.createPerson(t, token, map[string]any{
		"name": "Lost Webhook", "owner_id": h.demo.PipedriveUserID,
		"emails": []map[string]any{{"value": "lost.webhook@example.com", "label": "work"}},
	})
	if h.s.Pipedrive.WaitDeliveries(t.Context()); len(h.s.Pipedrive.Webhooks(h.company)) != 0 {
		t.Fatalf("webhooks still registered: %+v", h.s.Pipedrive.Webhooks(h.company))
	}
	took := waitFor(t, "person without webhook reaches Google", 2*time.Minute, func() bool {
		c, n := h.googleByEmail(t, "lost.webhook@example.com")
		return n == 1 && h.inGroup(c)
	})
	t.Logf("reached Google through the safety net after %v", took)

	// The same safety-net run registers the webhooks again, one call each,
	// possibly after the person's change was published and applied.
	waitFor(t, "our 3 webhooks registered again", 30*time.Second, func() bool {
		h.pd(t, token, http.MethodGet, "/api/v1/webhooks", nil, &hooks)
		return len(hooks) == 3
	})
	// With the webhooks back, a change arrives in seconds again.
	start := time.Now()
	h.createPerson(t, token, map[string]any{
		"name": "Back Again", "owner_id": h.demo.PipedriveUserID,
		"emails": []map[string]any{{"value": "back.again@example.com", "label": "work"}},
	})
	waitFor(t, "webhook path restored", pipedriveToGoogle, func() bool {
		_, n := h.googleByEmail(t, "back.again@example.com")
		return n == 1
	})
	t.Logf("after re-registration a create reached Google in %v", time.Since(start))
}
