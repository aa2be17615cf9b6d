// Package settings serves the settings page and the OAuth connect flows.
//
// A browser gets a signed session cookie (HMAC with SESSION_KEY; HttpOnly,
// SameSite=Lax, Secure over https). The page lists only the connections the
// session owns, and every change is a POST carrying a CSRF token bound to
// the session. The OAuth flows use a random, single-use, expiring state
// bound to the session (and PKCE with Google); a callback with a missing,
// reused, expired or foreign state, or a refusal at the provider, gets a
// plain error page (HTTP 400) and changes nothing.
//
// Routes, relative to PUBLIC_URL:
//
//	GET  /[?conn=ID&q=TERM]              the page (with a contact's history found by TERM)
//	GET  /connect/pipedrive[?conn=ID]    start Pipedrive OAuth (needs an OAuth app)
//	GET  /oauth/pipedrive/callback       Pipedrive OAuth callback
//	POST /connect/pipedrive/token        connect Pipedrive with an API token
//	GET  /connect/google[?conn=ID]       start Google OAuth (offline, consent, PKCE S256)
//	GET  /oauth/google/callback          Google OAuth callback
//	POST /connections/{id}/save          choose or create the group, delete policy, go live
//	POST /connections/{id}/preview       the same choices, then preview the first sync (setup only)
//	POST /connections/{id}/policy        change the delete policy
//	POST /connections/{id}/pause         pause
//	POST /connections/{id}/resume        resume
//	POST /connections/{id}/disconnect    disconnect (needs confirm=yes)
//	POST /connections/{id}/held-retry    retry a held change (held=ID)
//	POST /connections/{id}/held-dismiss  dismiss a held change (held=ID)
//	POST /connections/{id}/match-same    a record held for review is the same as a candidate (held=ID, twin=ID)
//	POST /connections/{id}/match-separate  a record held for review is a contact of its own (held=ID)
//	POST /connections/{id}/brake-confirm confirm the deletes the brake holds
//	POST /connections/{id}/brake-restore restore the records of the deletes the brake holds
//	POST /signout                        sign out (the sync goes on)
//	GET  /lang/{code}                    switch the page's language (en, de)
//	GET  /static/{file}                  the stylesheet and the script
//	GET  /healthz                        liveness
//
// The session cookie lives at most SessionMaxAge and is replaced by a new
// one whenever the session gains a connection (a new one, or one taken
// over from another browser by signing in with its Pipedrive user).
package settings

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/contactsync/contactsync/shared/connect"
	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/store"
)

// OAuth providers, as stored in OAuthState.Provider.
const (
	providerGoogle    = "google"
	providerPipedrive = "pipedrive"
)

// Redirect URI paths under PUBLIC_URL (Terraform's outputs promise them).
const (
	GoogleCallbackPath    = "/oauth/google/callback"
	PipedriveCallbackPath = "/oauth/pipedrive/callback"
)

// DefaultStateTTL is how long an OAuth state stays valid.
const DefaultStateTTL = 10 * time.Minute

// maxForm bounds a form body.
const maxForm = 64 << 10

// Config wires the handler.
type Config struct {
	Store   *store.Store
	Connect *connect.Service
	// PublicURL is the settings function's public URL (with or without a
	// trailing slash); links and OAuth redirect URIs are built from it.
	PublicURL string
	// SessionKey signs the session cookie (at least 32 bytes).
	SessionKey []byte
	// PipedriveOAuth says a Pipedrive OAuth app is configured; without
	// one, only API tokens are offered.
	PipedriveOAuth bool
	// StateTTL is how long an OAuth state is valid (default 10 minutes).
	StateTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Mapper turns what the user types into the history search's keys; it
	// should have the applier's DefaultRegion (default: none).
	Mapper contact.Mapper
}

// Handler serves the settings function.
type Handler struct {
	store      *store.Store
	svc        *connect.Service
	base       string // PublicURL without the trailing slash
	key        []byte
	secure     bool
	cookiePath string
	pdOAuth    bool
	stateTTL   time.Duration
	now        func() time.Time
	mapper     contact.Mapper
	mux        *http.ServeMux
	tmpl       map[string]*template.Template // by language
}

// New refuses incomplete wiring.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Connect == nil {
		return nil, errors.New("settings.New: store and connect service are required")
	}
	if len(cfg.SessionKey) < 32 {
		return nil, errors.New("settings.New: the session key must have at least 32 bytes")
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("settings.New: bad public URL %q", cfg.PublicURL)
	}
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = DefaultStateTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	path := strings.TrimRight(u.Path, "/")
	if path == "" {
		path = "/"
	}
	h := &Handler{
		store: cfg.Store, svc: cfg.Connect, base: strings.TrimRight(cfg.PublicURL, "/"),
		key: cfg.SessionKey, secure: u.Scheme == "https", cookiePath: path, pdOAuth: cfg.PipedriveOAuth,
		stateTTL: cfg.StateTTL, now: cfg.Now, mapper: cfg.Mapper, mux: http.NewServeMux(),
	}
	h.tmpl = templatesFor(h.link)
	m := h.mux
	m.HandleFunc("GET /{$}", h.index)
	m.HandleFunc("GET /static/{file}", h.static)
	m.HandleFunc("GET /lang/{code}", h.setLang)
	m.HandleFunc("POST /signout", h.signOut)
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	m.HandleFunc("GET /connect/pipedrive", h.startPipedrive)
	m.HandleFunc("GET "+PipedriveCallbackPath, h.callback(providerPipedrive))
	m.HandleFunc("POST /connect/pipedrive/token", h.pipedriveToken)
	m.HandleFunc("GET /connect/google", h.startGoogle)
	m.HandleFunc("GET "+GoogleCallbackPath, h.callback(providerGoogle))
	m.HandleFunc("POST /connections/{id}/{action}", h.action)
	return h, nil
}

// RedirectURIs returns the Google and Pipedrive OAuth redirect URIs.
func (h *Handler) RedirectURIs() (google, pipedrive string) {
	return h.base + GoogleCallbackPath, h.base + PipedriveCallbackPath
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("Referrer-Policy", "no-referrer") // the callbacks' URLs carry codes
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// link is an absolute URL of one of our routes: PUBLIC_URL may carry a
// path (…/PREFIX-settings) that relative links would lose.
func (h *Handler) link(path string) string { return h.base + path }

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	sess := h.ensureSession(w, r)
	notice := ""
	if d := r.URL.Query().Get("done"); slices.Contains(doneNotices, d) || slices.Contains(needsNotices, d) {
		notice = "done." + d
	}
	h.render(w, r, sess, http.StatusOK, notice, text{}, true)
}

// setLang remembers the chosen language and goes back to the page.
func (h *Handler) setLang(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	if !supported(code) {
		http.NotFound(w, r)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: langCookie, Value: code, Path: h.cookiePath, MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, h.link("/"), http.StatusSeeOther)
}

// signOut ends the browser session: the session's connections no longer
// belong to any browser (their sync goes on; signing in with the Pipedrive
// user brings one back, and its history says so), and the cookie is
// cleared.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	sess, ok := h.postSession(w, r)
	if !ok {
		return
	}
	if _, err := h.store.SignOut(r.Context(), sess.owner(), h.now()); err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, keyed("error.unavailable"), err)
		return
	}
	h.endSession(w)
	http.Redirect(w, r, h.link("/?done=signout"), http.StatusSeeOther)
}

// owned returns the connection id of the request if sess owns it; otherwise
// it answers 404 (another session's connection is not even said to exist).
func (h *Handler) owned(w http.ResponseWriter, r *http.Request, sess session, id string) (*store.Connection, bool) {
	c, err := h.store.GetConnection(r.Context(), id)
	if err == nil && c.OwnerHash == sess.owner() {
		return c, true
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, http.StatusServiceUnavailable, keyed("error.unavailable"), err)
		return nil, false
	}
	h.fail(w, r, http.StatusNotFound, keyed("error.no_such_connection"), nil)
	return nil, false
}

func randomState() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// newState stores a state for provider and returns its id.
func (h *Handler) newState(ctx context.Context, sess session, provider, connID, verifier string) (string, error) {
	id := randomState()
	err := h.store.PutState(ctx, &store.OAuthState{
		ID: id, SessionHash: sess.owner(), Provider: provider, ConnectionID: connID,
		Verifier: verifier, ExpireAt: h.now().Add(h.stateTTL),
	})
	return id, err
}

func (h *Handler) startPipedrive(w http.ResponseWriter, r *http.Request) {
	if !h.pdOAuth {
		h.fail(w, r, http.StatusNotFound, keyed("error.no_pipedrive_app"), nil)
		return
	}
	h.start(w, r, providerPipedrive)
}

func (h *Handler) startGoogle(w http.ResponseWriter, r *http.Request) { h.start(w, r, providerGoogle) }

// start redirects to the provider's consent page with a new state.
func (h *Handler) start(w http.ResponseWriter, r *http.Request, provider string) {
	sess := h.ensureSession(w, r)
	connID := r.URL.Query().Get("conn")
	if connID != "" {
		if _, ok := h.owned(w, r, sess, connID); !ok {
			return
		}
	}
	gURI, pURI := h.RedirectURIs()
	var verifier string
	var target string
	state := ""
	var err error
	switch provider {
	case providerGoogle:
		verifier = oauth2.GenerateVerifier()
		if state, err = h.newState(r.Context(), sess, provider, connID, verifier); err != nil {
			break
		}
		opts := []oauth2.AuthCodeOption{oauth2.AccessTypeOffline, oauth2.ApprovalForce, oauth2.S256ChallengeOption(verifier)}
		if hint := r.URL.Query().Get("login_hint"); hint != "" {
			opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
		}
		target = h.svc.GoogleOAuth(gURI).AuthCodeURL(state, opts...)
	case providerPipedrive:
		// Pipedrive documents no PKCE: a confidential client with a
		// session-bound state.
		if state, err = h.newState(r.Context(), sess, provider, connID, ""); err != nil {
			break
		}
		target = h.svc.PipedriveOAuth(pURI).AuthCodeURL(state)
	}
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, keyed("error.start_failed"), err)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

var providerNames = map[string]string{providerGoogle: "Google", providerPipedrive: "Pipedrive"}

// callback completes an OAuth flow.
func (h *Handler) callback(provider string) http.HandlerFunc {
	name := providerNames[provider]
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		q := r.URL.Query()
		// Every refusal is a plain page: the callback URL is no place
		// for forms, and nothing has been changed at that point.
		refuse := func(code int, msg text, cause error) {
			if cause != nil {
				logging.FromContext(ctx).Warn("settings: oauth callback failed", "provider", provider, "status", code, "err", cause)
			}
			h.errorPage(w, r, code, msg)
		}
		stateID := q.Get("state")
		denied := q.Get("error") == "access_denied" || q.Get("error") == "user_denied"
		if stateID == "" && denied {
			refuse(http.StatusBadRequest, keyed("oauth.declined", name), nil)
			return
		}
		if stateID == "" {
			refuse(http.StatusBadRequest, keyed("oauth.no_state"), nil)
			return
		}
		sess, ok := h.readSession(r)
		if !ok {
			refuse(http.StatusBadRequest, keyed("oauth.no_session"), nil)
			return
		}
		st, err := h.store.ConsumeState(ctx, stateID, sess.owner(), h.now())
		switch {
		case errors.Is(err, store.ErrStateUsed):
			refuse(http.StatusBadRequest, keyed("oauth.state_used"), nil)
			return
		case errors.Is(err, store.ErrStateExpired):
			refuse(http.StatusBadRequest, keyed("oauth.state_expired"), nil)
			return
		case errors.Is(err, store.ErrStateForeign):
			refuse(http.StatusBadRequest, keyed("oauth.state_foreign"), nil)
			return
		case err != nil:
			refuse(http.StatusServiceUnavailable, keyed("oauth.unavailable"), err)
			return
		}
		if st.Provider != provider {
			refuse(http.StatusBadRequest, keyed("oauth.other_provider"), nil)
			return
		}
		switch e := q.Get("error"); {
		case denied:
			refuse(http.StatusBadRequest, keyed("oauth.declined", name), nil)
			return
		case e != "":
			refuse(http.StatusBadRequest, keyed("oauth.refused", name, sanitizeCode(e)), nil)
			return
		case q.Get("code") == "":
			refuse(http.StatusBadRequest, keyed("oauth.no_code", name), nil)
			return
		}
		gURI, pURI := h.RedirectURIs()
		var c *store.Connection
		switch provider {
		case providerGoogle:
			var tok *oauth2.Token
			tok, err = h.svc.GoogleOAuth(gURI).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
			if err != nil {
				refuse(http.StatusBadRequest, keyed("oauth.exchange_failed", name), logging.RedactTokenError(err))
				return
			}
			c, err = h.svc.ConnectGoogle(ctx, sess.owner(), st.ConnectionID, tok.RefreshToken)
		case providerPipedrive:
			var tok *oauth2.Token
			tok, err = h.svc.PipedriveOAuth(pURI).Exchange(ctx, q.Get("code"))
			if err != nil {
				refuse(http.StatusBadRequest, keyed("oauth.exchange_failed", name), logging.RedactTokenError(err))
				return
			}
			c, err = h.svc.CompletePipedriveOAuth(ctx, sess.owner(), st.ConnectionID, tok)
		}
		if err != nil {
			code, msg := h.connectError(r, err)
			refuse(code, msg, nil)
			return
		}
		if st.ConnectionID == "" {
			h.gained(w, r, sess)
		}
		h.done(w, r, provider, c.ID)
	}
}

// gained rotates the session after it gained a connection.
func (h *Handler) gained(w http.ResponseWriter, r *http.Request, sess session) {
	if err := h.rotate(r.Context(), w, sess); err != nil {
		// The new cookie is set; a connection left with the old one is
		// found again by signing in with its Pipedrive user.
		logging.FromContext(r.Context()).Warn("settings: session rotation incomplete", "err", err)
	}
}

// sanitizeCode keeps an OAuth error code printable and short.
func sanitizeCode(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

// done redirects to the page with a fixed notice.
func (h *Handler) done(w http.ResponseWriter, r *http.Request, what, connID string) {
	u := h.link("/?done=" + url.QueryEscape(what))
	if connID != "" {
		u += "#conn-" + connID
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// doneNotices are the notices a redirect may ask for (?done=…), each
// the text "done.<name>".
var doneNotices = []string{providerGoogle, providerPipedrive, "live", "preview", "policy", "pause", "resume", "disconnect", "signout"}

// postSession checks the session and CSRF token of a form post.
func (h *Handler) postSession(w http.ResponseWriter, r *http.Request) (session, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, http.StatusBadRequest, keyed("error.form_unreadable"), nil)
		return session{}, false
	}
	sess, ok := h.readSession(r)
	if !ok || !h.checkCSRF(r, sess) {
		h.fail(w, r, http.StatusForbidden, keyed("error.form_expired"), nil)
		return session{}, false
	}
	return sess, true
}

func (h *Handler) pipedriveToken(w http.ResponseWriter, r *http.Request) {
	sess, ok := h.postSession(w, r)
	if !ok {
		return
	}
	connID := r.PostFormValue("conn")
	if connID != "" {
		if _, ok := h.owned(w, r, sess, connID); !ok {
			return
		}
	}
	c, err := h.svc.ConnectPipedriveToken(r.Context(), sess.owner(), connID, strings.TrimSpace(r.PostFormValue("token")))
	if err != nil {
		h.failConnect(w, r, err)
		return
	}
	if connID == "" {
		h.gained(w, r, sess)
	}
	h.done(w, r, providerPipedrive, c.ID)
}

// newGroupChoice is the group form value that asks for a new group.
const newGroupChoice = "new"

func (h *Handler) action(w http.ResponseWriter, r *http.Request) {
	sess, ok := h.postSession(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	c, ok := h.owned(w, r, sess, r.PathValue("id"))
	if !ok {
		return
	}
	var err error
	action := r.PathValue("action")
	switch action {
	case "save":
		err = h.setupChoices(r, c)
		if err == nil {
			_, err = h.svc.GoLive(ctx, c.ID)
		}
		action = "live"
	case "preview":
		// The setup form's other button: its choices are taken as Save
		// takes them (a new group is created), then the preview starts.
		// Only in setup (connect refuses it afterwards, with a message):
		// a stale form does not change a running connection's choices.
		if c.Status == store.StatusSetup {
			err = h.setupChoices(r, c)
		}
		if err == nil {
			_, err = h.svc.Preview(ctx, c.ID)
		}
	case "policy":
		_, err = h.svc.SetDeletePolicy(ctx, c.ID, r.PostFormValue("policy"))
	case "pause":
		_, err = h.svc.Pause(ctx, c.ID)
	case "resume":
		_, err = h.svc.Resume(ctx, c.ID)
	case "disconnect":
		if r.PostFormValue("confirm") != "yes" {
			h.fail(w, r, http.StatusBadRequest, keyed("error.confirm_disconnect"), nil)
			return
		}
		err = h.svc.Disconnect(ctx, c.ID)
		if err == nil {
			h.done(w, r, action, "")
			return
		}
	default:
		if !h.needsAction(w, r, c, action) {
			h.fail(w, r, http.StatusNotFound, keyed("error.unknown_action"), nil)
		}
		return
	}
	switch {
	case errors.Is(err, errNoGroup):
		h.fail(w, r, http.StatusBadRequest, keyed("error.choose_group"), nil)
		return
	case err != nil:
		h.failConnect(w, r, err)
		return
	}
	h.done(w, r, action, c.ID)
}

// errNoGroup: the setup form chooses no group, and none was chosen before.
var errNoGroup = errors.New("settings: no contact group chosen")

// setupChoices applies the setup form's group (chosen, or a new one
// created) and delete policy.
func (h *Handler) setupChoices(r *http.Request, c *store.Connection) error {
	ctx := r.Context()
	var err error
	switch g := r.PostFormValue("group"); g {
	case "":
		if c.GoogleGroup == "" {
			return errNoGroup
		}
	case newGroupChoice:
		_, err = h.svc.CreateGroup(ctx, c.ID, r.PostFormValue("group_name"))
	default:
		_, err = h.svc.ChooseGroup(ctx, c.ID, g)
	}
	if err == nil && r.PostFormValue("policy") != "" {
		_, err = h.svc.SetDeletePolicy(ctx, c.ID, r.PostFormValue("policy"))
	}
	return err
}

// failConnect shows an error of the connect service on the page.
func (h *Handler) failConnect(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := h.connectError(r, err)
	h.fail(w, r, code, msg, nil)
}

// connectError maps an error of the connect service to a status and plain
// words, logging what the user does not see.
func (h *Handler) connectError(r *http.Request, err error) (int, text) {
	log := logging.FromContext(r.Context())
	var ue *connect.Error
	switch {
	case errors.Is(err, connect.ErrNotFound):
		return http.StatusNotFound, keyed("error.no_such_connection")
	case errors.As(err, &ue):
		if ue.Err != nil {
			log.Info("settings: refused", "err", ue.Err)
		}
		if errors.Is(err, connect.ErrNotAllowed) || errors.Is(err, connect.ErrAccountMismatch) || errors.Is(err, connect.ErrAlreadyConnected) {
			return http.StatusConflict, connectText(err)
		}
		return http.StatusBadRequest, connectText(err)
	}
	log.Warn("settings: connect failed", "path", logging.Bound(r.URL.Path), "err", err)
	return http.StatusBadGateway, connectText(err)
}

// fail answers with the page (when a session exists) showing msg, or a
// plain error page. cause, if any, is logged (never shown).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, code int, msg text, cause error) {
	if cause != nil {
		logging.FromContext(r.Context()).Warn("settings: request failed", "path", logging.Bound(r.URL.Path), "status", code, "err", cause)
	}
	sess, ok := h.readSession(r)
	if !ok || code >= 500 {
		h.errorPage(w, r, code, msg)
		return
	}
	h.render(w, r, sess, code, "", msg, false)
}

// render writes the page for sess with status code. A page answering a
// GET of the page itself may update itself while something runs (never
// one answering a form: reloading it would post again).
func (h *Handler) render(w http.ResponseWriter, r *http.Request, sess session, code int, notice string, errMsg text, live bool) {
	ctx := r.Context()
	lang := pickLang(r)
	conns, err := h.store.ConnectionsByOwner(ctx, sess.owner())
	if err != nil {
		logging.FromContext(ctx).Error("settings: list connections", "err", err)
		h.errorPage(w, r, http.StatusServiceUnavailable, keyed("error.unavailable"))
		return
	}
	slices.SortFunc(conns, func(a, b *store.Connection) int { return a.CreatedAt.Compare(b.CreatedAt) })
	csrf := h.csrf(sess)
	d := pageData{chrome: newChrome(lang), New: pdForm{CSRF: csrf, OAuth: h.pdOAuth, FormID: "new"}}
	d.CSRF, d.SignOut = csrf, len(conns) > 0
	if notice != "" {
		d.Notice = tr(lang, notice)
	}
	if !errMsg.empty() {
		d.Error = errMsg.in(lang)
	}
	for _, c := range conns {
		v := h.view(ctx, lang, csrf, c)
		h.fillSearch(ctx, c, &v, r.URL.Query())
		if v.Running && live {
			d.Refresh = refreshEvery
		}
		d.Conns = append(d.Conns, v)
	}
	h.write(w, r, code, lang, "page", d)
}

// errorData is what the error page sees.
type errorData struct {
	chrome
	Status  string
	Message shown
}

func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, code int, msg text) {
	lang := pickLang(r)
	h.write(w, r, code, lang, "error", errorData{chrome: newChrome(lang), Status: tr(lang, "status."+strconv.Itoa(code)), Message: msg.in(lang)})
}
