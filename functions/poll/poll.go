// Package poll is the Cloud Function "Poll". Cloud Scheduler POSTs to
// /tick every minute and the function fans out one poll message per due
// connection; the polls topic's push subscription delivers each to
// /connection, where that one connection is polled.
package poll

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	fn "github.com/contactsync/contactsync/functions"
	"github.com/contactsync/contactsync/shared/config"
	"github.com/contactsync/contactsync/shared/connect"
	"github.com/contactsync/contactsync/shared/lazy"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/poller"
	"github.com/contactsync/contactsync/shared/queue"
)

// Name is the registered function name (the deployment's entry point).
const Name = "Poll"

func init() { functions.HTTP(Name, handle) }

var deps = lazy.New(func(ctx context.Context) (*poller.Poller, error) {
	var cfg config.Poll
	if err := config.Load(ctx, &cfg, nil); err != nil {
		return nil, err
	}
	s, err := fn.Store(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	p, err := fn.Publisher(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	accts, err := fn.Accounts(ctx, s, cfg.Crypto, cfg.Google, cfg.Pipedrive)
	if err != nil {
		return nil, err
	}
	svc, err := connect.New(s, accts, connect.Config{IntakeURL: cfg.IntakeURL, GoogleBaseURL: cfg.Google.BaseURL})
	if err != nil {
		return nil, err
	}
	pcfg := poller.Config{
		Store: s, Publisher: p, Accounts: accts, Webhooks: svc,
		PollsTopic: cfg.Polls, ChangesTopic: cfg.Changes, FirstSyncTopic: cfg.FirstSync,
		PollInterval: cfg.PollInterval, SafetyNetInterval: cfg.SafetyNetInterval,
		DeadLetters: queue.NewDeadLetters(p.Client(), cfg.Changes),
	}
	return poller.New(pcfg)
})

// The safety net re-registers lost webhooks through the connect service.
var _ poller.Webhooks = (*connect.Service)(nil)

// maxPushBody bounds a push delivery (a poll request is tiny).
const maxPushBody = 64 << 10

func handle(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	log := logging.FromContext(ctx)
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	p, err := deps.Get(ctx)
	if err != nil {
		log.Error("poll: not ready", "err", err)
		http.Error(w, "service not ready", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case queue.PollTickPath:
		n, err := p.FanOut(ctx)
		if _, derr := p.DrainDeadLetters(ctx); derr != nil {
			log.Error("poll: dead letters not moved yet; the next tick retries", "err", derr)
		}
		if err != nil {
			log.Error("poll: fan-out failed", "err", err, "queued", n)
			http.Error(w, "fan-out failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int{"queued": n})
	case "/connection":
		d, err := queue.FromPush(r, maxPushBody)
		if err == nil {
			var req queue.PollRequest
			if req, err = queue.DecodePollRequest(d.Data); err == nil {
				err = p.PollOne(ctx, req)
			}
		}
		switch {
		case errors.Is(err, queue.ErrBadMessage):
			// Acknowledge: a malformed message never becomes valid.
			log.Error("poll: bad poll message dropped", "err", logging.BoundErr(err))
			w.WriteHeader(http.StatusNoContent)
		case err != nil:
			log.Error("poll: failed; Pub/Sub will retry", "err", err)
			http.Error(w, "poll failed", http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		http.Error(w, "unknown path: POST /tick (scheduler) or /connection (push)", http.StatusNotFound)
	}
}
