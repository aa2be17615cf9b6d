package logging

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

func TestCloudLoggingShape(t *testing.T) {
	tests := []struct {
		name  string
		log   func(*slog.Logger)
		level slog.Level
		want  map[string]any
	}{
		{"info", func(l *slog.Logger) { l.Info("poll done", "connection", "c1") }, slog.LevelInfo,
			map[string]any{"severity": "INFO", "message": "poll done", "connection": "c1"}},
		{"warn", func(l *slog.Logger) { l.Warn("slow") }, slog.LevelInfo,
			map[string]any{"severity": "WARNING", "message": "slow"}},
		{"error", func(l *slog.Logger) { l.Error("failed", "err", "boom") }, slog.LevelInfo,
			map[string]any{"severity": "ERROR", "message": "failed", "err": "boom"}},
		{"debug shown at debug", func(l *slog.Logger) { l.Debug("detail") }, slog.LevelDebug,
			map[string]any{"severity": "DEBUG", "message": "detail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(New(&buf, tt.level))
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v (line %s)", k, got[k], v, buf.String())
				}
			}
			if _, ok := got["time"]; !ok {
				t.Errorf("no time in %s", buf.String())
			}
		})
	}
}

func TestDebugHiddenAtInfo(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, slog.LevelInfo).Debug("x")
	if buf.Len() != 0 {
		t.Fatalf("debug line written at info level: %s", buf.String())
	}
}

func TestContextAttributesAndTrace(t *testing.T) {
	var buf bytes.Buffer
	ctx := WithLogger(context.Background(), New(&buf, slog.LevelInfo))
	ctx = With(ctx, "connection", "c9")
	ctx = WithTrace(ctx, "proj", "105445aa7843bc8bf206b12000100000/1;o=1")
	FromContext(ctx).Info("hello")
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["connection"] != "c9" {
		t.Errorf("connection attr missing: %s", buf.String())
	}
	if got[keyTrace] != "projects/proj/traces/105445aa7843bc8bf206b12000100000" {
		t.Errorf("trace = %v", got[keyTrace])
	}
}

func TestFingerprint(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	a, b := Fingerprint(key, "Ann@Example.com"), Fingerprint(key, " ann@example.com ")
	if a != b || a == "" {
		t.Errorf("same address, different fingerprints: %s %s", a, b)
	}
	if strings.Contains(a, "ann") || strings.Contains(a, "example") {
		t.Errorf("fingerprint leaks the value: %s", a)
	}
	if Fingerprint(key, "") != "" || Fingerprint(nil, "ann@example.com") != "" {
		t.Error("an empty value or key should give nothing")
	}
	if Fingerprint(key, "+4915112345678") == Fingerprint(key, "+4915112345679") {
		t.Error("different values collide")
	}
	// Keyed: without the key, the value cannot be found by hashing guesses.
	if Fingerprint([]byte("another key, just as long......."), "ann@example.com") == a {
		t.Error("the fingerprint does not depend on the key")
	}
	sum := sha256.Sum256([]byte("ann@example.com"))
	if strings.Contains(a, hex.EncodeToString(sum[:6])) {
		t.Error("the fingerprint is the unkeyed hash")
	}
}

func TestBound(t *testing.T) {
	long := strings.Repeat("x", 5000)
	tests := []struct {
		name, in string
		want     string
	}{
		{"short kept", "person", "person"},
		{"empty", "", ""},
		{"at the limit", strings.Repeat("a", MaxValue), strings.Repeat("a", MaxValue)},
		{"cut", long, strings.Repeat("x", MaxValue) + "…(+4800 bytes)"},
		// 'é' is two bytes: the cut falls on a character boundary.
		{"cut at a character", "a" + strings.Repeat("é", 150), "a" + strings.Repeat("é", 99) + "…(+102 bytes)"},
		{"invalid UTF-8 replaced", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Bound(tt.in)
			if got != tt.want {
				t.Errorf("Bound = %q, want %q", got, tt.want)
			}
			if len(got) > MaxValue+32 {
				t.Errorf("%d bytes", len(got))
			}
		})
	}
	if BoundErr(nil) != "" || BoundErr(errors.New(long)) != Bound(long) {
		t.Error("BoundErr")
	}
}

func TestRedactURLQuery(t *testing.T) {
	// As an HTTP client returns it, redacted before it is wrapped on the way up.
	cause := errors.New("connection reset")
	got := fmt.Errorf("pipedrive: GET /v1/persons/search: %w", RedactURLQuery(&url.Error{Op: "Get",
		URL: "https://api.example/v1/persons/search?term=grace%40navy.example&pageToken=P2", Err: cause}))
	if s := got.Error(); strings.Contains(s, "grace") || strings.Contains(s, "P2") || !strings.Contains(s, "connection reset") {
		t.Fatalf("redacted error %q", s)
	}
	if !errors.Is(got, cause) {
		t.Errorf("the cause is no longer reachable: %v", got)
	}
	plain := errors.New("no URL here")
	if RedactURLQuery(plain) != plain || RedactURLQuery(nil) != nil {
		t.Error("an error without a URL changed")
	}
}

func TestRedactTokenError(t *testing.T) {
	for _, re := range []*oauth2.RetrieveError{
		{Response: &http.Response{StatusCode: 400}, ErrorCode: "invalid_grant", ErrorDescription: "code for grace@navy.example expired",
			Body: []byte(`{"error":"invalid_grant","error_description":"code for grace@navy.example expired"}`)},
		{Response: &http.Response{StatusCode: 502, Status: "502 Bad Gateway"}, Body: []byte("<html>grace@navy.example</html>")},
		{Response: &http.Response{StatusCode: 400}, ErrorCode: "grace@navy.example" + strings.Repeat("x", 100)},
	} {
		cause := &url.Error{Op: "Post", URL: "https://oauth.example/token", Err: re}
		got := fmt.Errorf("pipedrive: GET /api/v1/users/me: %w", RedactTokenError(cause))
		s := got.Error()
		if strings.Contains(s, "grace") || strings.Contains(s, "navy") || len(s) > 120 {
			t.Errorf("redacted error %q", s)
		}
		if !strings.Contains(s, fmt.Sprintf("HTTP %d", re.Response.StatusCode)) {
			t.Errorf("%q lost the status", s)
		}
		var back *oauth2.RetrieveError
		if !errors.As(got, &back) || back != re || !errors.Is(got, cause) {
			t.Errorf("the cause is no longer reachable: %v", got)
		}
	}
	if !strings.Contains(RedactTokenError(&oauth2.RetrieveError{Response: &http.Response{StatusCode: 400}, ErrorCode: "invalid_grant"}).Error(), "invalid_grant") {
		t.Error("the error code is lost")
	}
	plain := errors.New("connection reset")
	if RedactTokenError(plain) != plain || RedactTokenError(nil) != nil {
		t.Error("an error without a token refusal changed")
	}
}
