// Package settings is the Cloud Function "Settings": the settings page and
// the OAuth connect flow. It only wires shared/settings to its configuration.
package settings

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	fn "github.com/contactsync/contactsync/functions"
	"github.com/contactsync/contactsync/shared/config"
	"github.com/contactsync/contactsync/shared/connect"
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
	return build(ctx, cfg)
})

// build wires the settings handler from cfg.
func build(ctx context.Context, cfg config.Settings) (http.Handler, error) {
	s, err := fn.Store(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	accts, err := fn.Accounts(ctx, s, cfg.Crypto, cfg.Google, cfg.Pipedrive)
	if err != nil {
		return nil, err
	}
	pub, err := fn.Publisher(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	svc, err := connect.New(s, accts, connect.Config{
		IntakeURL: cfg.IntakeURL, PipedriveAPIURL: cfg.PipedriveAPIURL, GoogleBaseURL: cfg.Google.BaseURL,
		FirstSync: pub, FirstSyncTopic: cfg.FirstSync,
	})
	if err != nil {
		return nil, err
	}
	key, err := base64.StdEncoding.DecodeString(cfg.SessionKey)
	if err != nil {
		return nil, fmt.Errorf("settings: SESSION_KEY: %w", err)
	}
	return settings.New(settings.Config{
		Store: s, Connect: svc, PublicURL: cfg.PublicURL, SessionKey: key,
		PipedriveOAuth: cfg.Pipedrive.ClientID != "" && cfg.Pipedrive.ClientSecret != "",
	})
}

func handle(w http.ResponseWriter, r *http.Request) {
	h, err := handler.Get(r.Context())
	if err != nil {
		logging.FromContext(r.Context()).Error("settings: not ready", "err", err)
		http.Error(w, "contactsync is not configured correctly; the operator can see why in the logs.", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}
