package syncplan

import (
	"slices"
	"testing"
)

func TestGate(t *testing.T) {
	ready := Conn{HasGroup: true, HasUser: true}
	with := func(c Conn, status string) Conn { c.Status = status; return c }
	for _, tc := range []struct {
		conn Conn
		ok   bool
		code string
	}{
		{with(ready, "live"), true, ""},
		{with(Conn{}, "live"), false, "setup"},
		{with(ready, "first_sync"), false, "first_sync"},
		{with(ready, "paused"), false, "paused"},
		{with(Conn{HasGroup: true, HasUser: true, ReauthPipedrive: true}, "needs_reauth"), false, "reauth_pipedrive"},
		{with(Conn{HasGroup: true, HasUser: true, ReauthGoogle: true, ReauthPipedrive: true}, "needs_reauth"), false, "reauth_google"},
		{with(ready, "error"), false, "error"},
		{with(ready, "setup"), false, "setup"},
		{with(ready, "unknown"), false, "setup"},
	} {
		ok, h := Gate(tc.conn)
		if ok != tc.ok || h.Code != tc.code || !ok && (h.Kind != HoldDeferred || h.Reason == "") {
			t.Errorf("Gate(%+v) = %v, %+v; want %v %q", tc.conn, ok, h, tc.ok, tc.code)
		}
	}
}

func TestUnderReview(t *testing.T) {
	cands := []string{"people/a", "people/b"}
	for _, tc := range []struct {
		review, decision string
		held             bool
	}{
		{"", "", false},
		{"ambiguous", "", true},
		{"ambiguous", "confirm", true},
		{"ambiguous", "same", false},
		{"ambiguous", "separate", false},
	} {
		held, h := UnderReview(tc.review, tc.decision, cands)
		if held != tc.held || held && (h.Kind != HoldReview || !slices.Equal(h.Candidates, cands)) {
			t.Errorf("UnderReview(%q, %q) = %v, %+v", tc.review, tc.decision, held, h)
		}
	}
}

func TestLinksLost(t *testing.T) {
	for _, tc := range []struct {
		links, owned int
		lost         bool
	}{
		{0, 0, false},
		{0, DefaultBrake.Min, false},    // a small book: a few pending changes explain it
		{0, DefaultBrake.Min + 1, true}, // nobody linked
		{5, 12, true},                   // most unlinked
		{6, 12, false},                  // half linked
		{100, 120, false},               // a few pending or held
	} {
		if got := LinksLost(tc.links, tc.owned); got != tc.lost {
			t.Errorf("LinksLost(%d, %d) = %v", tc.links, tc.owned, got)
		}
	}
}
