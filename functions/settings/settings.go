// Package settings is the Cloud Function "Settings": the settings page and
// the OAuth connect flow. It only wires shared/settings to its configuration.
package settings

import (
	"context"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	fn "github.com/contactsync/contactsync/functions"
	"github.com/contactsync/contactsync/shared/config"
	"github.com/contactsync/contactsync/shared/lazy"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/settings"
)

// Name is the registered function name (the deployment's entry point).
const Name = "Settings"

func init() { functions.HTTP(Name, handle) }

var handler = lazy.New(func(ctx context.Context) (http.Handler, error) {
	var cfg config.Settings
	if err := config.Load(ctx, &cfg, nil); err != nil {
		return nil, err
	}
	s, err := fn.Store(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	return settings.New(s)
})

func handle(w http.ResponseWriter, r *http.Request) {
	h, err := handler.Get(r.Context())
	if err != nil {
		logging.FromContext(r.Context()).Error("settings: not ready", "err", err)
		http.Error(w, "contactsync is not configured correctly; the operator can see why in the logs.", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}
