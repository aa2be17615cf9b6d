package google

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/api/googleapi"

	"github.com/contactsync/contactsync/shared/logging"
)

type bucket int

const (
	bCriticalRead bucket = iota
	bCriticalWrite
	bWrite
	bGroupRead
	numBuckets
)

// maxCost is the largest single-call cost per bucket; the limiter's burst.
var maxCost = [numBuckets]int{bCriticalRead: 6, bCriticalWrite: 6, bWrite: 10, bGroupRead: 1}

// cost is a call's quota spend per bucket (facts §4).
type cost [numBuckets]int

var (
	costRead        = cost{bCriticalRead: 1}
	costWrite       = cost{bCriticalRead: 1, bCriticalWrite: 1}
	costBatchWrite  = cost{bCriticalRead: 6, bCriticalWrite: 6}
	costDelete      = cost{bWrite: 1}
	costBatchDelete = cost{bWrite: 10}
	costGroupRead   = cost{bGroupRead: 1}
	costGroupWrite  = cost{bWrite: 1}
)

// wait blocks until the limiter allows a call of cost k in every bucket at
// the same instant. Reserving bucket by bucket and waiting for each in turn
// would account an earlier bucket's tokens before the call is made, and a
// call that spends a critical read and a critical write could then land in
// a quota window the read bucket had already counted as free.
func (c *Client) wait(ctx context.Context, k cost) error {
	for {
		now := c.clock.Now()
		var rs []*rate.Reservation
		var delay time.Duration
		for b, n := range k {
			l := c.limit[b]
			if l == nil || n == 0 {
				continue
			}
			r := l.ReserveN(now, n)
			if !r.OK() {
				for _, x := range rs {
					x.CancelAt(now)
				}
				return fmt.Errorf("google: cost %d exceeds limiter burst", n)
			}
			rs = append(rs, r)
			delay = max(delay, r.DelayFrom(now))
		}
		if delay <= 0 {
			return nil
		}
		for _, r := range rs {
			r.CancelAt(now)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.clock.After(delay):
		}
	}
}

// call runs one API operation: rate limit, serialization of mutations,
// retries with backoff, and error classification.
func (c *Client) call(ctx context.Context, op string, kind opKind, k cost, fn func(ctx context.Context) error) error {
	if kind.mutates() {
		select {
		case c.writes <- struct{}{}:
			defer func() { <-c.writes }()
		case <-ctx.Done():
			return &Error{Op: op, Err: ctx.Err()}
		}
	}
	var err error
	for attempt := 1; ; attempt++ {
		if werr := c.wait(ctx, k); werr != nil {
			return &Error{Op: op, Err: werr}
		}
		err = fn(ctx)
		if err == nil {
			return nil
		}
		retry, after := c.retryable(ctx, kind, err)
		if !retry || attempt >= c.retry.MaxAttempts {
			break
		}
		d := c.backoff(attempt, after)
		c.log.DebugContext(ctx, "google: retrying", "op", op, "attempt", attempt, "status", statusCode(err), "delay", d)
		select {
		case <-ctx.Done():
			return &Error{Op: op, Err: ctx.Err()}
		case <-c.clock.After(d):
		}
	}
	kindErr := classify(kind, err)
	if kindErr == nil && kind == opCreate && uncertain(ctx, err) {
		kindErr = ErrUncertain
	}
	// A transport error's URL carries the sync and page tokens.
	return &Error{Op: op, Kind: kindErr, Err: logging.RedactURLQuery(err)}
}

func statusCode(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

// uncertain: the request may have reached Google and been applied.
func uncertain(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return true // canceled mid-flight: the request may have been sent
	}
	code := statusCode(err)
	return code == 0 && !isRevoked(err) || code >= 500
}

// retryable says whether err is transient for this kind of operation, and
// the server's Retry-After if it gave one.
func (c *Client) retryable(ctx context.Context, kind opKind, err error) (bool, time.Duration) {
	if ctx.Err() != nil || isRevoked(err) {
		return false, 0
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		// Transport error or timeout: the request may have been applied.
		return kind != opCreate, 0
	}
	switch ge.Code {
	case http.StatusTooManyRequests:
		return true, retryAfter(ge.Header, c.clock.Now())
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return kind != opCreate, retryAfter(ge.Header, c.clock.Now())
	}
	return false, 0
}

func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}

// backoff is truncated exponential backoff with equal jitter; a server's
// Retry-After wins when it is longer (both capped at Max).
func (c *Client) backoff(attempt int, after time.Duration) time.Duration {
	d := c.retry.Initial << (attempt - 1)
	if d <= 0 || d > c.retry.Max {
		d = c.retry.Max
	}
	d = d/2 + rand.N(d/2+1)
	if after > d {
		d = after
	}
	return min(d, c.retry.Max)
}

// Drain empties the rate limiter's buckets, as if their whole burst had
// just been spent. A client that takes over a user's calls from another
// instance (the ordering key hands one connection's changes to one handler
// at a time, but not always to the same instance) cannot know what the
// other one spent; starting empty, the two together never exceed the
// single-bucket bound (burst + rate × time), so the per-user quota holds.
func (c *Client) Drain() {
	now := c.clock.Now()
	for _, l := range c.limit {
		if l == nil {
			continue
		}
		if n := int(l.TokensAt(now)); n > 0 {
			l.ReserveN(now, n)
		}
	}
}
