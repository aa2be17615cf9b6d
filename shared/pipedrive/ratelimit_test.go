package pipedrive_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

// TestDailyBudgetClassification: a 429 is the daily budget (ErrDailyBudget,
// not retried) only on documented evidence; a burst 429 is retried and ends
// as plain ErrRateLimited. x-ratelimit-reset is documented for the 2-second
// window only (PRL), so it never becomes a daily resume time.
func TestDailyBudgetClassification(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		headers map[string]string
		daily   bool
		calls   int // requests the client sent (1 + retries)
	}{
		{"burst window exhausted", "/api/v2/persons/1", map[string]string{"x-ratelimit-limit": "40", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"}, false, 3},
		{"x-daily-requests-left 0", "/api/v2/persons/1", map[string]string{"x-daily-requests-left": "0"}, true, 1},
		{"x-daily-requests-left negative", "/api/v2/persons/1", map[string]string{"x-daily-requests-left": "-4"}, true, 1},
		{"burst window had room", "/api/v2/persons/1", map[string]string{"x-ratelimit-limit": "40", "x-ratelimit-remaining": "12", "x-ratelimit-reset": "2"}, true, 1},
		{"search has its own burst limit", "/api/v2/persons/search", map[string]string{"x-ratelimit-limit": "40", "x-ratelimit-remaining": "12", "x-ratelimit-reset": "2"}, false, 3},
		{"reset far beyond the window", "/api/v2/persons/1", map[string]string{"x-ratelimit-remaining": "0", "x-ratelimit-reset": "43200"}, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				for k, v := range tc.headers {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"success":false,"error":"Request over limit"}`))
			}))
			defer srv.Close()
			var slept time.Duration
			c, err := pipedrive.New(context.Background(), srv.URL, pipedrive.WithAPIToken("t"), pipedrive.WithRetry(2, time.Minute),
				pipedrive.WithSleep(func(_ context.Context, d time.Duration) error { slept += d; return nil }))
			if err != nil {
				t.Fatal(err)
			}
			if tc.path == "/api/v2/persons/search" {
				_, err = c.SearchPersons(context.Background(), "ada", pipedrive.SearchName, true)
			} else {
				_, err = c.GetPerson(context.Background(), 1)
			}
			if !errors.Is(err, pipedrive.ErrRateLimited) {
				t.Fatalf("err = %v, want ErrRateLimited", err)
			}
			if got := errors.Is(err, pipedrive.ErrDailyBudget); got != tc.daily {
				t.Errorf("daily budget = %v, want %v (%v)", got, tc.daily, err)
			}
			if n := int(calls.Load()); n != tc.calls {
				t.Errorf("%d requests, want %d", n, tc.calls)
			}
			if tc.daily && slept != 0 {
				t.Errorf("waited %v before giving up on the daily budget", slept)
			}
		})
	}
}

// TestHeaderless429IsNotTheDailyBudget: without documented evidence a
// 429 is the burst limit: retried, then plain ErrRateLimited.
func TestHeaderless429IsNotTheDailyBudget(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	c, err := pipedrive.New(context.Background(), srv.URL, pipedrive.WithAPIToken("t"),
		pipedrive.WithSleep(func(context.Context, time.Duration) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPerson(context.Background(), 1)
	if !errors.Is(err, pipedrive.ErrRateLimited) || errors.Is(err, pipedrive.ErrDailyBudget) || calls.Load() != 6 {
		t.Fatalf("%d calls: %v", calls.Load(), err)
	}
}

func TestDailyBudgetRetryAt(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name              string
		now, blockedSince string
		loc               *time.Location
		want              string
	}{
		{"UTC when the zone is unknown", "2026-03-02T15:00:00Z", "", nil, "2026-03-03T00:15:00Z"},
		{"company zone", "2026-03-02T15:00:00Z", "", berlin, "2026-03-02T23:15:00Z"},
		{"blocked since yesterday, reset not yet passed", "2026-03-02T22:00:00Z", "2026-03-02T10:00:00Z", berlin, "2026-03-02T23:15:00Z"},
		{"expected reset passed, still refused: recheck hourly", "2026-03-03T01:00:00Z", "2026-03-02T10:00:00Z", berlin, "2026-03-03T02:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var since time.Time
			if tc.blockedSince != "" {
				since = at(tc.blockedSince)
			}
			if got := pipedrive.DailyBudgetRetryAt(at(tc.now), since, tc.loc); !got.Equal(at(tc.want)) {
				t.Errorf("got %v, want %v", got.UTC(), tc.want)
			}
		})
	}
}
