package pipedrivefake

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

type authCode struct {
	clientID    string
	redirectURI string
	userID      int64
	expires     time.Time
}

type accessToken struct {
	userID  int64
	expires time.Time
}

type refreshToken struct {
	clientID string
	userID   int64
	lastUsed time.Time
	revoked  bool
}

const (
	codeTTL     = 5 * time.Minute
	accessTTL   = 3599 * time.Second
	refreshIdle = 60 * 24 * time.Hour
	oauthScopes = "base contacts:full search:read admin"
)

func isLoopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

// handleAuthorize auto-approves: it redirects straight back with a code.
// The signed-in user is ?user_id= (a sandbox extension) or the default user.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID, redirect := q.Get("client_id"), q.Get("redirect_uri")
	if clientID == "" || !isLoopback(redirect) {
		apiError(w, http.StatusBadRequest, "client_id and a loopback redirect_uri are required")
		return
	}
	s.mu.Lock()
	if _, known := s.oauthClients[clientID]; len(s.oauthClients) > 0 && !known {
		s.mu.Unlock()
		apiError(w, http.StatusBadRequest, "unknown client_id")
		return
	}
	uid := s.defaultUser
	if v := q.Get("user_id"); v != "" {
		uid, _ = strconv.ParseInt(v, 10, 64)
	}
	if s.users[uid] == nil {
		s.mu.Unlock()
		apiError(w, http.StatusBadRequest, "no such sandbox user")
		return
	}
	code := randHex(16)
	s.codes[code] = &authCode{clientID: clientID, redirectURI: redirect, userID: uid, expires: s.now().Add(codeTTL)}
	s.mu.Unlock()
	u, _ := url.Parse(redirect)
	rq := u.Query()
	rq.Set("code", code)
	if st := q.Get("state"); st != "" {
		rq.Set("state", st)
	}
	u.RawQuery = rq.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{"success": false, "message": desc, "error": code, "error_description": desc})
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid request: body must be form-urlencoded")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic { // body credentials: allowed but "not recommended"
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if want, known := s.oauthClients[id]; id == "" || secret == "" || len(s.oauthClients) > 0 && (!known || want != secret) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client: client authentication failed")
		return
	}
	now := s.now()
	var uid int64
	var rt string
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		c := s.codes[r.PostForm.Get("code")]
		delete(s.codes, r.PostForm.Get("code")) // single use
		if c == nil || !now.Before(c.expires) || c.clientID != id || c.redirectURI != r.PostForm.Get("redirect_uri") {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid grant: authorization code is invalid")
			return
		}
		uid, rt = c.userID, randHex(24)
		s.refresh[rt] = &refreshToken{clientID: id, userID: uid, lastUsed: now}
	case "refresh_token":
		rt = r.PostForm.Get("refresh_token")
		t := s.refresh[rt]
		if t == nil || t.revoked || t.clientID != id || now.Sub(t.lastUsed) >= refreshIdle || s.users[t.userID] == nil {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid grant: refresh_token is invalid")
			return
		}
		t.lastUsed, uid = now, t.userID // the same refresh token comes back
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type")
		return
	}
	at := randHex(24)
	s.access[at] = &accessToken{userID: uid, expires: now.Add(accessTTL)}
	domain := s.baseURL
	if domain == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		domain = scheme + "://" + r.Host
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": at, "token_type": "Bearer", "refresh_token": rt,
		"scope": oauthScopes, "expires_in": int(accessTTL.Seconds()), "api_domain": domain})
}
