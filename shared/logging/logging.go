// Package logging gives every function a log/slog logger that writes Cloud
// Logging's structured JSON (severity, message, time, trace) to stdout, keeps
// request-scoped attributes in the context, and offers Redact and
// RedactURLQuery so personal data and tokens never reach a log line in clear.
package logging

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
)

// Cloud Logging reads these keys from a JSON line on stdout.
const (
	keySeverity = "severity"
	keyMessage  = "message"
	keyTrace    = "logging.googleapis.com/trace"
)

type ctxKey struct{}

// New returns a logger writing Cloud Logging JSON to w at level.
func New(w io.Writer, level slog.Level) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.MessageKey:
				a.Key = keyMessage
			case slog.LevelKey:
				a.Key = keySeverity
				a.Value = slog.StringValue(severity(a.Value.Any().(slog.Level)))
			}
			return a
		},
	})
	return slog.New(h)
}

// severity maps slog levels onto Cloud Logging's LogSeverity names.
func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

// Default is the process logger, at the level named by LOG_LEVEL
// (debug, info, warn, error; default info).
func Default() *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("LOG_LEVEL"))); err != nil {
		l = slog.LevelInfo
	}
	return New(os.Stdout, l)
}

var base = Default()

// FromContext returns the logger stored in ctx, or the process default.
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok {
		return l
	}
	return base
}

// WithLogger stores l in ctx.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// With returns ctx whose logger carries the extra attributes.
func With(ctx context.Context, args ...any) context.Context {
	return WithLogger(ctx, FromContext(ctx).With(args...))
}

// WithTrace links the context's log lines to the request's Cloud Trace span,
// read from the X-Cloud-Trace-Context header ("TRACE_ID/SPAN;o=1").
func WithTrace(ctx context.Context, project, header string) context.Context {
	traceID, _, _ := strings.Cut(header, "/")
	if traceID == "" || project == "" {
		return ctx
	}
	return With(ctx, keyTrace, "projects/"+project+"/traces/"+traceID)
}

// Redact returns a short stable fingerprint of personal data (an e-mail, a
// phone number) so log lines can be correlated without showing the value.
func Redact(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(s))))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// RedactURLQuery hides the query of the request URL that a transport error
// (*url.Error) inside err carries: API clients put sync and page tokens and
// search terms (e-mail addresses, phone numbers) there. It returns err,
// changed in place, so errors.Is and errors.As still see every cause. Call it
// before wrapping err with fmt.Errorf, which fixes the message it wraps.
func RedactURLQuery(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.RawQuery != "" {
			u.RawQuery = "REDACTED"
			ue.URL = u.String()
		}
	}
	return err
}
