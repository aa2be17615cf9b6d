// Package settings serves the settings page: the user's connections, their
// state, and (from the connect flow) the OAuth endpoints.
package settings

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/store"
)

// Handler serves the settings function.
type Handler struct {
	store *store.Store
	mux   *http.ServeMux
}

// New refuses a nil store.
func New(s *store.Store) (*Handler, error) {
	if s == nil {
		return nil, errors.New("settings.New: nil store")
	}
	h := &Handler{store: s, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /{$}", h.index)
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

var page = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>contactsync</title></head>
<body><h1>contactsync</h1>
{{if .}}<table><tr><th>Connection</th><th>State</th><th>Google group</th><th>Last poll</th></tr>
{{range .}}<tr><td>{{.ID}}</td><td>{{.Status}}</td><td>{{.GoogleGroup}}</td><td>{{if .LastPollAt.IsZero}}never{{else}}{{.LastPollAt.Format "2006-01-02 15:04:05 MST"}}{{end}}</td></tr>
{{end}}</table>{{else}}<p>No connection yet.</p>{{end}}
</body></html>`))

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	conns, err := h.store.ListConnections(r.Context())
	if err != nil {
		logging.FromContext(r.Context()).Error("settings: list connections", "err", err)
		http.Error(w, "The settings are temporarily unavailable; please reload in a moment.", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := page.Execute(w, conns); err != nil {
		logging.FromContext(r.Context()).Error("settings: render", "err", err)
	}
}
