// Package logging gives every function a log/slog logger that writes Cloud
// Logging's structured JSON (severity, message, time, trace) to stdout, keeps
// request-scoped attributes in the context, and offers Bound, Fingerprint
// and RedactURLQuery so that what an outsider sends is logged bounded and
// personal data and tokens never reach a log line in clear.
package logging

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/oauth2"
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

// MaxValue is how many bytes of one string from outside (a webhook field,
// a form value, a URL, an error text) a log line carries at most.
const MaxValue = 200

// Bound returns s cut to MaxValue bytes (at a character boundary, invalid
// UTF-8 replaced) with the number of bytes left out, so whatever a request
// carries costs a log line at most a few hundred bytes. Log every string
// an outsider chose through it.
func Bound(s string) string {
	if len(s) <= MaxValue && utf8.ValidString(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= MaxValue {
		return s
	}
	cut := MaxValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(+" + strconv.Itoa(len(s)-cut) + " bytes)"
}

// BoundErr is err's text through Bound ("" for nil), for errors whose text
// carries what an outsider sent.
func BoundErr(err error) string {
	if err == nil {
		return ""
	}
	return Bound(err.Error())
}

// Fingerprint returns a short keyed hash (HMAC-SHA256 under key, 12 hex
// digits) of personal data (an e-mail address, a phone number) for a log
// line that must identify a contact without showing it. Never log an
// unkeyed hash of such a value: e-mail addresses and phone numbers are few
// enough to be found again from one by trying them all. key is a secret of
// the function's configuration; an empty key gives "" (nothing is logged).
func Fingerprint(key []byte, s string) string {
	if s == "" || len(key) == 0 {
		return ""
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.ToLower(strings.TrimSpace(s))))
	return "hmac:" + hex.EncodeToString(m.Sum(nil)[:6])
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

// RedactTokenError returns err with the text of an OAuth token endpoint's
// refusal inside it (an *oauth2.RetrieveError) cut down to the HTTP status
// and the error code ("invalid_grant"): the description and the body are
// the provider's words, which may echo what was sent. The result unwraps
// to err, so errors.Is and errors.As still see every cause; an error
// without a refusal is returned as it is.
func RedactTokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return err
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	text := fmt.Sprintf("oauth2: the token endpoint answered HTTP %d", status)
	switch {
	case oauthCodes[re.ErrorCode]:
		text += " " + re.ErrorCode
	case re.ErrorCode != "":
		text += " with another error code"
	}
	return &redacted{text: text, err: err}
}

// oauthCodes are the error codes of a token endpoint (RFC 6749, section
// 5.2): any other is shown as such, not in the provider's words.
var oauthCodes = map[string]bool{"invalid_request": true, "invalid_client": true, "invalid_grant": true,
	"unauthorized_client": true, "unsupported_grant_type": true, "invalid_scope": true}

// redacted is an error shown with its own text but unwrapping to the
// original.
type redacted struct {
	text string
	err  error
}

func (r *redacted) Error() string { return r.text }
func (r *redacted) Unwrap() error { return r.err }
