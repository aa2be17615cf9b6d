package settings

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cookieName is the browser session cookie.
const cookieName = "contactsync_session"

// SessionMaxAge is how long a session lives at most. The cookie carries
// its issue time under the signature, so an older cookie is refused even
// if a browser keeps sending it; a user whose session ended gets their
// connection back by signing in with Pipedrive again (see connect).
const SessionMaxAge = 30 * 24 * time.Hour

// session is one browser's signed session.
type session struct {
	id     string    // 32 random bytes, base64url; only ever in the HttpOnly cookie
	issued time.Time // when the cookie was issued
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

// cookieValue is "id.issued.signature", the issue time in Unix seconds.
func (h *Handler) cookieValue(s session) string {
	body := s.id + "." + strconv.FormatInt(s.issued.Unix(), 10)
	return body + "." + h.mac("session", body)
}

// readSession returns the session of a validly signed, unexpired cookie.
func (h *Handler) readSession(r *http.Request) (session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return session{}, false
	}
	body, sig, ok := cutLast(c.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(h.mac("session", body))) {
		return session{}, false
	}
	id, ts, ok := strings.Cut(body, ".")
	if !ok || len(id) != 43 {
		return session{}, false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return session{}, false
	}
	issued := time.Unix(sec, 0)
	now := h.now()
	if now.Sub(issued) >= SessionMaxAge || issued.After(now.Add(5*time.Minute)) {
		return session{}, false
	}
	return session{id: id, issued: issued}, true
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// newSession starts a session and sets its cookie on w.
func (h *Handler) newSession(w http.ResponseWriter) session {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	s := session{id: base64.RawURLEncoding.EncodeToString(b), issued: h.now().Truncate(time.Second)}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: h.cookieValue(s),
		Path: h.cookiePath, MaxAge: int(SessionMaxAge / time.Second),
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
	return s
}

// ensureSession returns the request's session, starting one (and setting
// its cookie on w) when there is none.
func (h *Handler) ensureSession(w http.ResponseWriter, r *http.Request) session {
	if s, ok := h.readSession(r); ok {
		return s
	}
	return h.newSession(w)
}

// rotate replaces old with a new session (and cookie) that owns old's
// connections: done when a session gains a connection, so a session id
// that was known before (fixation) owns nothing afterwards.
func (h *Handler) rotate(ctx context.Context, w http.ResponseWriter, old session) error {
	s := h.newSession(w)
	return h.store.TransferOwner(ctx, old.owner(), s.owner())
}

// endSession clears the cookie.
func (h *Handler) endSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: "", Path: h.cookiePath, MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}
