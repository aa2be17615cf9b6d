package syncplan

import (
	"slices"
	"testing"
	"time"
)

// The mass-delete brake over its sliding window (SPEC section 4: more than
// 20 % of the linked contacts, at least 10, within 30 minutes), one row per
// situation the applier asks it in: links are the linked contacts now (a
// delete's link is removed with it, so links + window is what was linked
// before the window), recent the window as stored, deletes this change's
// deletes and group removals, from either side.
func TestBrakeAllow(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// at returns n deletes made age ago (negative: stamped ahead of now).
	at := func(n int, age time.Duration) []time.Time {
		return slices.Repeat([]time.Time{now.Add(-age)}, n)
	}
	// spread returns n deletes made one minute apart, the newest a minute ago.
	spread := func(n int) []time.Time {
		var ts []time.Time
		for i := n; i >= 1; i-- {
			ts = append(ts, now.Add(-time.Duration(i)*time.Minute))
		}
		return ts
	}
	type want struct {
		ok     bool
		window []time.Time // the window to store
	}
	for _, tc := range []struct {
		name               string
		brake              Brake // zero: DefaultBrake
		recent             []time.Time
		links, deletes     int
		tripped, confirmed bool
		want               want
	}{
		{name: "the first delete of a connection",
			links: 50, deletes: 1, want: want{true, at(1, 0)}},
		{name: "an edit deletes nothing: allowed, the window pruned",
			recent: append(at(3, time.Hour), spread(2)...), links: 50,
			want: want{true, spread(2)}},
		{name: "a 20-contact group: the 10th delete within 30 minutes (the minimum) goes",
			recent: spread(9), links: 11, deletes: 1, want: want{true, append(spread(9), now)}},
		{name: "a 20-contact group: the 11th delete within 30 minutes is held",
			recent: spread(10), links: 10, deletes: 1, want: want{false, spread(10)}},
		{name: "100 linked: the 20th delete (exactly 20 %) goes",
			recent: spread(19), links: 81, deletes: 1, want: want{true, append(spread(19), now)}},
		{name: "100 linked: the 21st delete (more than 20 %) is held",
			recent: spread(20), links: 80, deletes: 1, want: want{false, spread(20)}},
		{name: "104 linked: the 21st delete (20.8 is 20) is held",
			recent: spread(20), links: 84, deletes: 1, want: want{false, spread(20)}},
		{name: "one change removing two contacts counts twice, up to the limit",
			recent: spread(8), links: 12, deletes: 2, want: want{true, append(spread(8), now, now)}},
		{name: "one change removing two contacts, one past the limit: both held",
			recent: spread(9), links: 11, deletes: 2, want: want{false, spread(9)}},
		{name: "no links left: the minimum still goes",
			links: 0, deletes: 1, want: want{true, at(1, 0)}},
		{name: "no links left: past the minimum is held",
			recent: spread(10), links: 0, deletes: 1, want: want{false, spread(10)}},
		{name: "5 Google removals 29 minutes ago and 5 Pipedrive deletes now add up: the 11th is held",
			recent: append(at(5, 29*time.Minute), at(5, 0)...), links: 10, deletes: 1,
			want: want{false, append(at(5, 29*time.Minute), at(5, 0)...)}},
		{name: "10 deletes exactly 30 minutes ago have left the window",
			recent: at(10, 30*time.Minute), links: 10, deletes: 1, want: want{true, at(1, 0)}},
		{name: "10 deletes 29m59s ago are still in it",
			recent: at(10, 30*time.Minute-time.Second), links: 10, deletes: 1,
			want: want{false, at(10, 30*time.Minute-time.Second)}},
		{name: "a brake configured without a window uses 30 minutes",
			brake: Brake{Share: 0.2, Min: 10}, recent: at(10, 29*time.Minute), links: 10, deletes: 1,
			want: want{false, at(10, 29*time.Minute)}},
		{name: "deletes stamped by an instance whose clock runs 2 s ahead still count",
			recent: at(10, -2*time.Second), links: 10, deletes: 1, want: want{false, at(10, -2*time.Second)}},
		{name: "a stamp more than a window ahead (a clock gone wrong) is not counted forever",
			recent: at(10, -31*time.Minute), links: 10, deletes: 1, want: want{true, at(1, 0)}},
		{name: "the brake holds deletes awaiting the user: a single further delete is held too",
			links: 50, deletes: 1, tripped: true, want: want{false, nil}},
		{name: "the brake holds deletes awaiting the user: edits still go",
			recent: spread(11), links: 50, tripped: true, want: want{true, spread(11)}},
		{name: "the user confirmed a held delete: it goes, not counted",
			recent: spread(10), links: 10, deletes: 1, tripped: true, confirmed: true, want: want{true, spread(10)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.brake
			if b == (Brake{}) {
				b = DefaultBrake
			}
			recent := slices.Clone(tc.recent)
			ok, win := b.Allow(tc.recent, now, tc.links, tc.deletes, tc.tripped, tc.confirmed)
			if ok != tc.want.ok || !sameTimes(win, tc.want.window) {
				t.Errorf("Allow(%d recent, %d links, %d deletes, tripped %v, confirmed %v) = %v, window %v; want %v, %v",
					len(tc.recent), tc.links, tc.deletes, tc.tripped, tc.confirmed, ok, win, tc.want.ok, tc.want.window)
			}
			if !slices.Equal(recent, tc.recent) {
				t.Errorf("the stored window was changed in place")
			}
		})
	}
}

// sameTimes compares two windows as sets of instants (the stored order does
// not matter).
func sameTimes(a, b []time.Time) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, time.Time.Compare)
	slices.SortFunc(b, time.Time.Compare)
	return slices.EqualFunc(a, b, time.Time.Equal)
}
