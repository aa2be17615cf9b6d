package settings

import (
	"crypto/hmac"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzSessionCookie: whatever Cookie header a browser sends, reading the
// session never panics, and a session is accepted only from a cookie we
// signed, with a 43-character id, issued less than SessionMaxAge ago and
// not in the future; a session we issue reads back as itself.
func FuzzSessionCookie(f *testing.F) {
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	h := &Handler{key: []byte("0123456789abcdef0123456789abcdef"), now: func() time.Time { return now }}
	id := "q0QkZ2a5Zr8n3vX1c9Jm4WfH7dLsT6yBpE2uKoNiA0g" // 32 bytes, base64url
	ts := strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)
	f.Add(id, ts, true, "")
	f.Add(id, strconv.FormatInt(now.Add(-SessionMaxAge).Unix(), 10), true, "")
	f.Add(id, strconv.FormatInt(now.Add(10*time.Minute).Unix(), 10), true, "")
	f.Add(id, "+"+ts, true, "")
	f.Add(id, "9223372036854775807", true, "")
	f.Add(id, "-9223372036854775808", true, "")
	f.Add(id[:42], ts, true, "")
	f.Add(id+"."+ts, ts, true, "")
	f.Add(id, ts, false, "")
	f.Add("", "", false, "contactsync_session=a.b.c; contactsync_session=x; lang=de")
	f.Add("", "", false, `contactsync_session="quoted.1.sig"`)
	f.Add(id, ts, true, "contactsync_session=first.1.x")
	f.Fuzz(func(t *testing.T, id, ts string, sign bool, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		if header != "" {
			r.Header.Add("Cookie", header)
		}
		body := id + "." + ts
		sig := "forged"
		if sign {
			sig = h.mac("session", body)
		}
		r.Header.Add("Cookie", cookieName+"="+body+"."+sig)
		s, ok := h.readSession(r)
		if !ok {
			return
		}
		c, err := r.Cookie(cookieName)
		if err != nil {
			t.Fatalf("a session without a cookie: %v", err)
		}
		b, got, _ := cutLast(c.Value, ".")
		if !hmac.Equal([]byte(got), []byte(h.mac("session", b))) {
			t.Fatalf("accepted an unsigned cookie %q", c.Value)
		}
		if len(s.id) != 43 || !strings.HasPrefix(c.Value, s.id+".") {
			t.Fatalf("session id %q from cookie %q", s.id, c.Value)
		}
		if age := now.Sub(s.issued); age >= SessionMaxAge || age < -5*time.Minute {
			t.Fatalf("accepted a session issued %v ago", age)
		}
		// a session we issue reads back as itself
		r2 := httptest.NewRequest("GET", "/", nil)
		r2.Header.Add("Cookie", cookieName+"="+h.cookieValue(s))
		if s2, ok := h.readSession(r2); !ok || s2 != s {
			t.Fatalf("issued %+v, read back %+v, %v", s, s2, ok)
		}
	})
}
