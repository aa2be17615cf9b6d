// Package logtest captures what code logs through package logging, for
// tests that assert on log lines: no ERROR for bad input, no personal data,
// every line bounded.
package logtest

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/contactsync/contactsync/shared/logging"
)

// Capture is a logger (at debug level, in the functions' JSON format) and
// the lines written to it.
type Capture struct {
	mu  sync.Mutex
	buf bytes.Buffer
	Log *slog.Logger
}

// New returns an empty capture.
func New() *Capture {
	c := &Capture{}
	c.Log = logging.New(writer{c}, slog.LevelDebug)
	return c
}

type writer struct{ c *Capture }

func (w writer) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.c.buf.Write(p)
}

// Context returns ctx carrying the capture's logger: code that logs through
// logging.FromContext(ctx) writes here.
func (c *Capture) Context(ctx context.Context) context.Context {
	return logging.WithLogger(ctx, c.Log)
}

// Lines are the lines written so far.
func (c *Capture) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.TrimRight(c.buf.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Reset forgets the lines written so far.
func (c *Capture) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Reset()
}

// Severity is the Cloud Logging severity of one line ("" if it is no JSON).
func Severity(line string) string {
	var l struct {
		Severity string `json:"severity"`
	}
	_ = json.Unmarshal([]byte(line), &l)
	return l.Severity
}

// NoErrors fails t for each line of severity ERROR (or above).
func (c *Capture) NoErrors(t testing.TB) {
	t.Helper()
	for _, l := range c.Lines() {
		switch Severity(l) {
		case "ERROR", "CRITICAL", "ALERT", "EMERGENCY":
			t.Errorf("ERROR log line: %s", l)
		}
	}
}

// Lacks fails t for each line containing one of values (case-insensitive).
func (c *Capture) Lacks(t testing.TB, values ...string) {
	t.Helper()
	for _, l := range c.Lines() {
		low := strings.ToLower(l)
		for _, v := range values {
			if v != "" && strings.Contains(low, strings.ToLower(v)) {
				t.Errorf("log line carries %q: %s", v, l)
			}
		}
	}
}

// Bounded fails t for each line longer than max bytes.
func (c *Capture) Bounded(t testing.TB, max int) {
	t.Helper()
	for _, l := range c.Lines() {
		if len(l) > max {
			t.Errorf("log line of %d bytes (more than %d): %.300s…", len(l), max, l)
		}
	}
}
