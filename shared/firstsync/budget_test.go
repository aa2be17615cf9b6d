package firstsync

import (
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/store"
)

func TestLimitsFromTheBurstLimit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rl        pipedrive.RateLimit
		oauth     bool
		plan      string
		burst     int
		daily     int
		allowance int
	}{
		{"lite api token", pipedrive.RateLimit{Limit: 20, DailyLeft: -1}, false, "lite", 20, 30000, 24000},
		{"lite oauth", pipedrive.RateLimit{Limit: 80, DailyLeft: -1}, true, "lite", 80, 30000, 24000},
		{"premium api token", pipedrive.RateLimit{Limit: 100, DailyLeft: -1}, false, "premium", 100, 150000, 120000},
		{"ultimate oauth", pipedrive.RateLimit{Limit: 480, DailyLeft: -1}, true, "ultimate", 480, 210000, 168000},
		{"no headers: the smallest plan", pipedrive.RateLimit{DailyLeft: -1}, false, "", 20, 30000, 24000},
		{"more left than one seat has: more seats", pipedrive.RateLimit{Limit: 40, DailyLeft: 200000}, false, "growth", 40, 200000, 160000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := limitsFrom(tc.rl, tc.oauth, google.DefaultQuota, dailyBase, 0.8)
			if l.Plan != tc.plan || l.Burst != tc.burst || l.Daily != tc.daily || l.Allowance != tc.allowance {
				t.Errorf("got %+v", l)
			}
		})
	}
}

func TestEstimate(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	lite := Limits{Burst: 20, Daily: 30000, Allowance: 24000, GoogleWrites: 30}
	premium := Limits{Burst: 100, Daily: 150000, Allowance: 120000, GoogleWrites: 30}
	for _, tc := range []struct {
		name                         string
		l                            Limits
		batches, reqs, tokens, spent int
		want                         time.Duration
	}{
		{"nothing", lite, 0, 0, 0, 0, 0},
		{"one window each", lite, 5, 20, 100, 0, 0},
		// 35 batches, 5 a minute: the 35th goes in the 7th minute
		{"google binds", premium, 35, 7000, 35000, 0, 6 * time.Minute},
		// 7,000 requests, 100 per 2 s: 69 more windows
		{"burst binds", Limits{Burst: 100, Daily: 150000, Allowance: 120000, GoogleWrites: 30}, 1, 7000, 35000, 0, 138 * time.Second},
		// 35,000 tokens, 24,000 a day: the rest after midnight (+ margin)
		{"daily budget binds", lite, 35, 7000, 35000, 0, 15*time.Hour + 15*time.Minute + time.Duration((2200-1)/20)*2*time.Second},
		// 200 tokens left today: 40 requests now, the other 60 after the reset
		{"spent today already", lite, 0, 100, 500, 23800, 15*time.Hour + 15*time.Minute + time.Duration((60-1)/20)*2*time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Estimate(tc.l, start, tc.batches, tc.reqs, tc.tokens, tc.spent, 15*time.Minute); got != tc.want {
				t.Errorf("Estimate = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReserveKeepsToTheDaysAllowance(t *testing.T) {
	l := Limits{Daily: 1000, Allowance: 800}
	var fs struct{ FirstSync store.FirstSync }
	now := time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC)
	if n := reserve(&fs.FirstSync, l, 100, 5, now); n != 100 {
		t.Fatalf("first reserve %d", n)
	}
	if n := reserve(&fs.FirstSync, l, 100, 5, now); n != 60 { // 300 left
		t.Fatalf("second reserve %d, want the 60 that fit", n)
	}
	if n := reserve(&fs.FirstSync, l, 10, 5, now); n != 0 {
		t.Fatalf("third reserve %d, want none", n)
	}
	if n := reserve(&fs.FirstSync, l, 10, 5, now.Add(2*time.Hour)); n != 10 {
		t.Fatalf("next day %d, want all", n)
	}
}
