package syncplan

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/contact"
)

// The marker rule, for a Google contact in the group that has no link:
// the person id every contact we create carries (MarkerFacts as the
// applier gathers them).
func TestByMarker(t *testing.T) {
	const pid = "42"
	for _, tc := range []struct {
		name     string
		f        MarkerFacts
		want     TwinVerdict
		holdCode string
	}{
		{"a contact the user added to the group (no marker)",
			MarkerFacts{}, Search, ""},
		{"our create whose commit was lost: the person's link has no contact yet",
			MarkerFacts{Marker: pid, Linked: true, PersonLive: true}, AdoptLink, ""},
		{"our create still pending on the person's link",
			MarkerFacts{Marker: pid, Linked: true, LinkContact: "people/c1", LinkCreating: true, PersonLive: true}, AdoptLink, ""},
		{"Google re-keyed our contact: the link's contact is gone",
			MarkerFacts{Marker: pid, Linked: true, LinkContact: "people/c1", LinkContactGone: true, PersonLive: true}, AdoptLink, ""},
		{"the user copied a synced contact in Google (the copy carries the marker)",
			MarkerFacts{Marker: pid, Linked: true, LinkContact: "people/c1", PersonLive: true}, HoldForReview, "copy"},
		{"a copy whose person was deleted meanwhile is still a copy",
			MarkerFacts{Marker: pid, Linked: true, LinkContact: "people/c1"}, HoldForReview, "copy"},
		{"ours, but its link is gone (unlinked) and the person is live",
			MarkerFacts{Marker: pid, PersonLive: true}, LinkTo, ""},
		{"ours, but its person was deleted",
			MarkerFacts{Marker: pid}, Search, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, h := ByMarker(tc.f)
			if got != tc.want {
				t.Fatalf("ByMarker(%+v) = %v, want %v", tc.f, got, tc.want)
			}
			checkHold(t, h, tc.holdCode, []string{pid})
		})
	}
}

// The search rule: the other side searched by keys (e-mail, phone, name).
func TestBySearch(t *testing.T) {
	for _, tc := range []struct {
		name     string
		f        SearchFacts
		want     TwinVerdict
		holdCode string
	}{
		{"nobody shares a key: a new contact",
			SearchFacts{}, NoTwin, ""},
		{"one free person shares the e-mail",
			SearchFacts{Rule: "email", Candidates: []string{"7"}}, LinkTo, ""},
		{"two persons share the e-mail: never guessed",
			SearchFacts{Rule: "email", Candidates: []string{"7", "8"}}, HoldForReview, "ambiguous"},
		{"several matches, whatever their links",
			SearchFacts{Rule: "phone", Candidates: []string{"7", "8", "9"}, Linked: true}, HoldForReview, "ambiguous"},
		{"the one match is being created by another delivery right now",
			SearchFacts{Rule: "email", Candidates: []string{"7"}, Linked: true, Creating: true}, TwinInFlight, ""},
		{"the one match is already linked to another contact",
			SearchFacts{Rule: "name+org", Candidates: []string{"7"}, Linked: true}, HoldForReview, "taken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, h := BySearch(tc.f)
			if got != tc.want {
				t.Fatalf("BySearch(%+v) = %v, want %v", tc.f, got, tc.want)
			}
			checkHold(t, h, tc.holdCode, tc.f.Candidates)
			if tc.holdCode != "" && !strings.Contains(h.Reason, tc.f.Rule) {
				t.Errorf("reason %q does not say the rule %q", h.Reason, tc.f.Rule)
			}
		})
	}
}

// checkHold checks a twin rule's hold: none when code is "", else a review
// with that code, a reason and the candidates the user chooses from.
func checkHold(t *testing.T, h Hold, code string, candidates []string) {
	t.Helper()
	if code == "" {
		if h.Kind != "" || h.Code != "" || h.Reason != "" || len(h.Candidates) != 0 {
			t.Errorf("hold %+v, want none", h)
		}
		return
	}
	if h.Kind != HoldReview || h.Code != code || h.Reason == "" || !slices.Equal(h.Candidates, candidates) {
		t.Errorf("hold %+v, want review %q with a reason and candidates %v", h, code, candidates)
	}
}

// SharesKey recognises the outcome of a create whose answer was lost among
// recently added records: what we sent against what the service holds.
func TestSharesKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		sent contact.Contact
		got  contact.Contact
		want bool
	}{
		{"the same e-mail, cased differently",
			mk("Ada", "Lovelace", email("Ada@Example.com")), mk("A.", "L.", email("ada@example.com")), true},
		{"one of several e-mails",
			mk("Ada", "", email("a@home.example"), email("a@work.example")), mk("Augusta", "", email("a@work.example")), true},
		{"the same phone, national and international",
			mk("Ada", "", phone("030 1234567", "work")), mk("Augusta", "", phone("+49 30 1234567", "mobile")), true},
		{"the same name, typed with other case and spacing",
			mk("Ada", "Lovelace"), mk("ada ", " LOVELACE"), true},
		{"the same name at another company (the name alone recognises it)",
			mk("Ada", "Lovelace", org("Acme")), mk("Ada", "Lovelace", org("Initech")), true},
		{"nothing in common",
			mk("Ada", "Lovelace", email("ada@example.com"), phone("030 1234567", "work")),
			mk("Grace", "Hopper", email("grace@example.com"), phone("030 7654321", "work")), false},
		{"only the organization in common",
			mk("Ada", "", org("Acme")), mk("Grace", "", org("Acme")), false},
		{"the same one-digit speed dial, which is no phone number",
			mk("Ada", "", phone("1", "work")), mk("Grace", "", phone("1", "work")), false},
		{"two records without a name or keys",
			mk("", "", org("Acme")), mk("", "", org("Acme")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SharesKey(tc.sent, tc.got); got != tc.want {
				t.Errorf("SharesKey(%q, %q) = %v, want %v", tc.sent.DisplayName(), tc.got.DisplayName(), got, tc.want)
			}
			if got := SharesKey(tc.got, tc.sent); got != tc.want {
				t.Errorf("SharesKey is not symmetric: (%q, %q) = %v", tc.got.DisplayName(), tc.sent.DisplayName(), got)
			}
		})
	}
}

// CreatedSince: can a record added at added be the outcome of a create
// intended at at? Pipedrive keeps whole seconds and its clock is not ours.
func TestCreatedSince(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 900_000_000, time.UTC) // the intent, 12:00:00.9
	for _, tc := range []struct {
		name  string
		added time.Time
		want  bool
	}{
		{"added a second after the intent", at.Add(time.Second), true},
		{"added at the same instant", at, true},
		{"Pipedrive cut the fraction of the second (12:00:00)", at.Truncate(time.Second), true},
		{"Pipedrive's clock 2 s behind ours, exactly", at.Add(-2 * time.Second), true},
		{"just over 2 s before the intent", at.Add(-2*time.Second - time.Nanosecond), false},
		{"an older person that shares the e-mail (added a minute before)", at.Add(-time.Minute), false},
		{"added an hour after the intent (the user's create? the key and link checks decide)", at.Add(time.Hour), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CreatedSince(tc.added, at); got != tc.want {
				t.Errorf("CreatedSince(%v, %v) = %v, want %v", tc.added, at, got, tc.want)
			}
		})
	}
}
