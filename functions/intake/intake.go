// Package intake is the Cloud Function "Intake": Pipedrive webhooks in,
// change messages out. It only wires shared/intake to its configuration.
package intake

import (
	"context"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	fn "github.com/contactsync/contactsync/functions"
	"github.com/contactsync/contactsync/shared/config"
	"github.com/contactsync/contactsync/shared/intake"
	"github.com/contactsync/contactsync/shared/lazy"
	"github.com/contactsync/contactsync/shared/logging"
)

// Name is the registered function name (the deployment's entry point).
const Name = "Intake"

func init() { functions.HTTP(Name, handle) }

var handler = lazy.New(func(ctx context.Context) (http.Handler, error) {
	var cfg config.Intake
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
	return intake.New(s, p, cfg.Changes, cfg.MaxBodyBytes)
})

func handle(w http.ResponseWriter, r *http.Request) {
	h, err := handler.Get(r.Context())
	if err != nil {
		logging.FromContext(r.Context()).Error("intake: not ready", "err", err)
		// 5xx: Pipedrive retries, so nothing is lost while we are broken.
		http.Error(w, "service not ready", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}
