package googlefake

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

const (
	scopeContacts         = "https://www.googleapis.com/auth/contacts"
	scopeContactsReadonly = "https://www.googleapis.com/auth/contacts.readonly"
	scopeUserinfoEmail    = "https://www.googleapis.com/auth/userinfo.email"
	scopeUserEmailsRead   = "https://www.googleapis.com/auth/user.emails.read"
)

type authCode struct {
	user        *user
	clientID    string
	redirectURI string
	challenge   string
	method      string
	scope       string
	refresh     bool // a refresh token comes with this code
	expires     time.Time
}

// grant is one refresh token.
type grant struct {
	token    string
	user     *user
	clientID string
	scope    string
	expires  time.Time // zero = never
	revoked  bool
}

type accessToken struct {
	grant   *grant
	expires time.Time
}

func randToken(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

func isLoopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Fragment != "" {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// authorize auto-approves: the sandbox has no consent screen, so it answers
// at once with a redirect carrying code and state.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID, redirect := q.Get("client_id"), q.Get("redirect_uri")
	switch {
	case clientID == "":
		http.Error(w, "Error 400: invalid_request\nMissing required parameter: client_id", http.StatusBadRequest)
		return
	case redirect == "":
		http.Error(w, "Error 400: invalid_request\nMissing required parameter: redirect_uri", http.StatusBadRequest)
		return
	case !isLoopback(redirect):
		// Only loopback redirect URIs are registered in the sandbox.
		http.Error(w, "Error 400: redirect_uri_mismatch\nThe sandbox accepts only loopback redirect URIs.", http.StatusBadRequest)
		return
	}
	back := func(params url.Values) {
		u, _ := url.Parse(redirect)
		v := u.Query()
		for k, vs := range params {
			v[k] = vs
		}
		if st := q.Get("state"); st != "" {
			v.Set("state", st)
		}
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	if q.Get("response_type") != "code" {
		back(url.Values{"error": {"unsupported_response_type"}})
		return
	}
	scope := q.Get("scope")
	if scope == "" {
		back(url.Values{"error": {"invalid_request"}, "error_description": {"Missing required parameter: scope"}})
		return
	}
	method := q.Get("code_challenge_method")
	challenge := q.Get("code_challenge")
	if challenge != "" && method == "" {
		method = "plain"
	}
	if challenge != "" && method != "S256" && method != "plain" {
		back(url.Values{"error": {"invalid_request"}, "error_description": {"Invalid code_challenge_method"}})
		return
	}
	email := q.Get("login_hint")
	if email == "" {
		email = DemoUser
	}

	s.mu.Lock()
	u := s.userLocked(email) // sandbox accounts appear on first sign-in
	key := u.email + "\x00" + clientID
	// Google returns a refresh token only when the consent screen was shown:
	// the first time, or with prompt=consent (facts §6).
	consent := !s.consented[key] || strings.Contains(q.Get("prompt"), "consent")
	s.consented[key] = true
	code := randToken("4/0A", 32)
	s.codes[code] = &authCode{
		user: u, clientID: clientID, redirectURI: redirect,
		challenge: challenge, method: method, scope: scope,
		refresh: consent && q.Get("access_type") == "offline",
		expires: s.clock.Now().Add(10 * time.Minute),
	}
	s.mu.Unlock()
	back(url.Values{"code": {code}, "scope": {scope}})
}

func oauthError(w http.ResponseWriter, code int, errCode, desc string) {
	writeJSON(w, code, map[string]string{"error": errCode, "error_description": desc})
}

func (s *Server) oauthEndpoint(id string, w http.ResponseWriter, r *http.Request) {
	if id == MethodOAuthRevoke {
		s.revoke(w, r)
		return
	}
	s.token(w, r)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "Method not allowed")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Bad Request")
		return
	}
	clientID := r.PostForm.Get("client_id")
	if id, _, ok := r.BasicAuth(); ok && clientID == "" {
		clientID, _ = url.QueryUnescape(id)
	}
	if clientID == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Could not determine client ID from request.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var g *grant
	newRefresh := false
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "authorization_code":
		code := r.PostForm.Get("code")
		ac := s.codes[code]
		delete(s.codes, code) // single use
		if ac == nil || now.After(ac.expires) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Malformed auth code.")
			return
		}
		if ac.clientID != clientID {
			oauthError(w, http.StatusUnauthorized, "unauthorized_client", "Unauthorized")
			return
		}
		if r.PostForm.Get("redirect_uri") != ac.redirectURI {
			oauthError(w, http.StatusBadRequest, "redirect_uri_mismatch", "Bad Request")
			return
		}
		if err := verifyPKCE(ac, r.PostForm.Get("code_verifier")); err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_grant", err.Error())
			return
		}
		g = &grant{token: randToken("1//0g", 48), user: ac.user, clientID: clientID, scope: ac.scope}
		newRefresh = ac.refresh
	case "refresh_token":
		g = s.grants[r.PostForm.Get("refresh_token")]
		if g == nil || g.revoked || (!g.expires.IsZero() && !now.Before(g.expires)) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
			return
		}
		if g.clientID != clientID {
			oauthError(w, http.StatusUnauthorized, "unauthorized_client", "Unauthorized")
			return
		}
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt)
		return
	}
	tok := s.issueLocked(g, newRefresh)
	body := map[string]any{
		"access_token": tok.AccessToken,
		"expires_in":   int(s.cfg.accessTTL / time.Second),
		"scope":        g.scope,
		"token_type":   "Bearer",
	}
	if newRefresh {
		body["refresh_token"] = tok.RefreshToken
	}
	if !g.expires.IsZero() {
		body["refresh_token_expires_in"] = int(g.expires.Sub(now) / time.Second)
	}
	writeJSON(w, http.StatusOK, body)
}

func verifyPKCE(ac *authCode, verifier string) error {
	if ac.challenge == "" {
		return nil
	}
	if verifier == "" {
		return errors.New("Missing code verifier.")
	}
	want := verifier
	if ac.method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(ac.challenge)) != 1 {
		return errors.New("Invalid code verifier.")
	}
	return nil
}

// issueLocked mints an access token for g; with keep, g's refresh token is
// registered (a grant without it can still mint access tokens for the
// authorization_code response, as when no refresh token is returned).
func (s *Server) issueLocked(g *grant, keep bool) *oauth2.Token {
	now := s.clock.Now()
	if keep {
		if s.cfg.refreshTTL > 0 {
			g.expires = now.Add(s.cfg.refreshTTL)
		}
		s.grants[g.token] = g
	}
	at := randToken("ya29.", 96)
	s.access[at] = &accessToken{grant: g, expires: now.Add(s.cfg.accessTTL)}
	tok := &oauth2.Token{AccessToken: at, TokenType: "Bearer", Expiry: now.Add(s.cfg.accessTTL), ExpiresIn: int64(s.cfg.accessTTL / time.Second)}
	if keep {
		tok.RefreshToken = g.token
	}
	return tok
}

// revoke accepts a refresh or an access token; either revokes the whole
// grant, as Google does.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Bad Request")
		return
	}
	t := r.Form.Get("token")
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.grants[t]
	if g == nil {
		if at := s.access[t]; at != nil {
			g = at.grant
		}
	}
	if g == nil || g.revoked {
		oauthError(w, http.StatusBadRequest, "invalid_token", "Token expired or revoked")
		return
	}
	g.revoked = true
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("{}"))
}

// authenticateLocked resolves the bearer token of a People API request.
func (s *Server) authenticateLocked(r *http.Request) (*user, string, *apiError) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return nil, "", errUnauthenticated()
	}
	at := s.access[tok]
	if at == nil || at.grant.revoked || !s.clock.Now().Before(at.expires) {
		return nil, "", errUnauthenticated()
	}
	scope := ""
	for _, sc := range strings.Fields(at.grant.scope) {
		switch {
		case sc == scopeContacts:
			scope = scopeContacts
		case sc == scopeContactsReadonly && scope == "":
			scope = scopeContactsReadonly
		}
	}
	if scope == "" {
		return nil, "", errInsufficientScope()
	}
	return at.grant.user, scope, nil
}

// IssueToken signs email in for clientID with the contacts scope (or the
// given scopes) without a browser, and returns an access and a refresh
// token. Tests and the local stack's demo connection use it.
func (s *Server) IssueToken(email, clientID string, scopes ...string) (*oauth2.Token, error) {
	if email == "" || clientID == "" {
		return nil, fmt.Errorf("googlefake: IssueToken: email and client id are required: %w", ErrInvalid)
	}
	if len(scopes) == 0 {
		scopes = []string{scopeContacts}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userLocked(email)
	s.consented[u.email+"\x00"+clientID] = true
	g := &grant{token: randToken("1//0g", 48), user: u, clientID: clientID, scope: strings.Join(scopes, " ")}
	return s.issueLocked(g, true), nil
}

// RevokeTokens revokes every grant of email, as the user would from their
// Google account's security page.
func (s *Server) RevokeTokens(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.grants {
		if g.user.email == email {
			g.revoked = true
		}
	}
	for _, at := range s.access {
		if at.grant.user.email == email {
			at.grant.revoked = true
		}
	}
}

// grantHasLocked reports whether the bearer token of r was granted one of
// scopes.
func (s *Server) grantHasLocked(r *http.Request, scopes ...string) bool {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	at := s.access[tok]
	if at == nil {
		return false
	}
	for _, sc := range strings.Fields(at.grant.scope) {
		for _, want := range scopes {
			if sc == want {
				return true
			}
		}
	}
	return false
}
