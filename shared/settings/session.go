package settings

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// cookieName is the browser session cookie.
const cookieName = "contactsync_session"

// sessionMaxAge keeps the session (and so the ownership of the user's
// connections) for a year; a user who loses it gets their connection back
// by connecting the same Pipedrive user again (see connect).
const sessionMaxAge = 365 * 24 * time.Hour

// session is one browser's signed session.
type session struct {
	id string // 32 random bytes, base64url; only ever in the HttpOnly cookie
}

// owner is what connections and OAuth states store of the session: a hash,
// so the database never holds a usable cookie.
func (s session) owner() string {
	sum := sha256.Sum256([]byte("contactsync owner\x00" + s.id))
	return hex.EncodeToString(sum[:])
}

func (h *Handler) mac(purpose, id string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(purpose + "\x00" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrf is the form token bound to the session.
func (h *Handler) csrf(s session) string { return h.mac("csrf", s.id) }

func (h *Handler) checkCSRF(r *http.Request, s session) bool {
	got := r.PostFormValue("csrf")
	return got != "" && hmac.Equal([]byte(got), []byte(h.csrf(s)))
}

// readSession returns the session of a validly signed cookie.
func (h *Handler) readSession(r *http.Request) (session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return session{}, false
	}
	id, sig, ok := strings.Cut(c.Value, ".")
	if !ok || len(id) != 43 || !hmac.Equal([]byte(sig), []byte(h.mac("session", id))) {
		return session{}, false
	}
	return session{id: id}, true
}

// ensureSession returns the request's session, starting one (and setting
// its cookie on w) when there is none.
func (h *Handler) ensureSession(w http.ResponseWriter, r *http.Request) session {
	if s, ok := h.readSession(r); ok {
		return s
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	s := session{id: base64.RawURLEncoding.EncodeToString(b)}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: s.id + "." + h.mac("session", s.id),
		Path: h.cookiePath, MaxAge: int(sessionMaxAge / time.Second),
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
	return s
}
