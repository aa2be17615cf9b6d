package syncplan

import (
	"testing"
	"time"
)

func TestParseIntent(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	for _, tc := range []struct {
		name   string
		stored string
		want   Intent
		ok     bool
	}{
		{"a Google create about to be sent", Intent{Side: Google, At: at}.String(), Intent{Side: Google, At: at}, true},
		{"a Pipedrive create about to be sent", Intent{Side: Pipedrive, At: at}.String(), Intent{Side: Pipedrive, At: at}, true},
		{"written in another zone, read in UTC", Intent{Side: Google, At: at.In(time.FixedZone("CET", 3600))}.String(), Intent{Side: Google, At: at}, true},
		{"no intent", "", Intent{}, false},
		{"an unreadable time", "create:google:yesterday", Intent{Side: Google}, false},
		{"an unknown side", "create:outlook:" + at.Format(time.RFC3339Nano), Intent{}, false},
		{"not a create", "delete:google:" + at.Format(time.RFC3339Nano), Intent{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseIntent(tc.stored)
			if ok != tc.ok || got.Side != tc.want.Side || !got.At.Equal(tc.want.At) {
				t.Errorf("ParseIntent(%q) = %+v, %v; want %+v, %v", tc.stored, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// "A young pending intent means in flight": what a delivery that finds a
// create intent on the link does (retry later, or look for the create's
// outcome).
func TestCheckIntent(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	grace := DefaultIntentGrace
	stamped := func(age time.Duration) string { return Intent{Side: Google, At: now.Add(-age)}.String() }
	for _, tc := range []struct {
		name   string
		stored string
		own    bool
		want   IntentState
	}{
		{"no create pending", "", false, NoIntent},
		{"another delivery sent the create 30 s ago and may still be running", stamped(30 * time.Second), false, InFlight},
		{"another delivery's create, just inside the grace", stamped(grace - time.Nanosecond), false, InFlight},
		{"another delivery's create, exactly the grace old: taken for abandoned", stamped(grace), false, Abandoned},
		{"the delivery that wrote it crashed 10 minutes ago", stamped(10 * time.Minute), false, Abandoned},
		{"this delivery's own intent, found again in a decide-again round", stamped(time.Second), true, Abandoned},
		{"written by an instance whose clock runs 30 s ahead", stamped(-30 * time.Second), false, InFlight},
		{"an unreadable intent is not waited for", "create:google:yesterday", false, Abandoned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, got := CheckIntent(tc.stored, now, grace, tc.own)
			if got != tc.want {
				t.Fatalf("CheckIntent(%q, own %v) = %v, want %v", tc.stored, tc.own, got, tc.want)
			}
			if want, ok := ParseIntent(tc.stored); ok && in != want {
				t.Errorf("intent %+v, want %+v (the resolver looks on its side)", in, want)
			}
		})
	}
}
