package settings

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/connect"
	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/match"
	"github.com/contactsync/contactsync/shared/store"
)

var verbRE = regexp.MustCompile(`%(\[\d+\])?[dsvq]`)

// verbs counts the values a text takes.
func verbs(s string) int {
	n := 0
	for _, m := range verbRE.FindAllStringSubmatch(s, -1) {
		if m[1] == "" {
			n++
		} else if i := int(m[1][1] - '0'); i > n {
			n = i
		}
	}
	return n
}

// TestEveryTextInBothLanguages: both catalogues have the same keys, each
// text takes as many values in German as in English, and every text the
// code asks for exists.
func TestEveryTextInBothLanguages(t *testing.T) {
	en, de := catalog[langEN], catalog[langDE]
	for k, v := range en {
		d, ok := de[k]
		if !ok {
			t.Errorf("%s: no German text", k)
			continue
		}
		if verbs(v) != verbs(d) {
			t.Errorf("%s: English takes %d values, German %d", k, verbs(v), verbs(d))
		}
		if strings.TrimSpace(d) == "" {
			t.Errorf("%s: empty German text", k)
		}
	}
	for k := range de {
		if _, ok := en[k]; !ok {
			t.Errorf("%s: no English text", k)
		}
	}
	need := func(keys ...string) {
		for _, k := range keys {
			if _, ok := en[k]; !ok {
				t.Errorf("the code asks for %q, which has no text", k)
			}
		}
	}
	// Errors of the connect service, with the values they take.
	for k, format := range connect.MessageFormats() {
		need(k)
		if verbs(en[k]) != verbs(format) {
			t.Errorf("%s: connect's text takes %d values, the page's %d", k, verbs(format), verbs(en[k]))
		}
	}
	for _, m := range storedMessages {
		need(m.key)
		if verbs(en[m.key]) != verbs(m.pattern) {
			t.Errorf("%s: the stored text takes %d values, the page's %d", m.key, verbs(m.pattern), verbs(en[m.key]))
		}
	}
	for kind := range stateTones {
		need("state."+kind+".title", "state."+kind+".todo")
	}
	for _, ev := range []string{store.EventPipedriveConnected, store.EventGoogleConnected, store.EventTakenOver, store.EventSignedIn, store.EventSignedOut} {
		need("event." + ev)
	}
	for _, d := range append(slices.Clone(doneNotices), needsNotices...) {
		need("done." + d)
	}
	// What the page says about held changes, reviews, the brake, recorded
	// errors and history: every code the applier and the poller store.
	for _, code := range []string{"transient", "daily_budget", "permanent", "dead_letter", "paused", "reauth_google", "reauth_pipedrive", "error", "setup"} {
		need("held.code." + code)
	}
	for _, side := range []string{"pipedrive", "google"} {
		need("side.in."+side, "held.unnamed."+side, "history.change."+side, "history.change_fields."+side, "history.created_on."+side,
			"history.new."+side, "history.new_fields."+side)
		for _, kind := range []string{"upsert", "delete"} {
			need("held.what."+side+"."+kind, "brake.what."+side+"."+kind)
		}
		for _, op := range []string{"create", "update", "delete"} {
			need("history.op." + op + "." + side)
		}
	}
	need("history.op.leave.google", "history.op.join.google", "history.op.skip", "history.op.link", "history.op.merge")
	for _, code := range []string{"ambiguous", "taken", "copy", "other"} {
		need("review." + code)
	}
	for _, d := range contact.Table {
		need("field." + d.Name)
	}
	for _, p := range []string{store.PauseEmptyGoogle, store.PauseEmptyPipedrive, store.PauseGroupGone} {
		need("pause." + p)
	}
	for key, values := range map[string]int{"unreadable_change": 0, "reauth_google": 0, "reauth_pipedrive": 0, "brake": 3,
		store.PauseEmptyGoogle: 1, store.PauseEmptyPipedrive: 1, store.PauseGroupGone: 0, "webhooks_unchecked": 0} {
		need("errors.key." + key)
		if verbs(en["errors.key."+key]) != values {
			t.Errorf("errors.key.%s takes %d values, the recorded error has %d", key, verbs(en["errors.key."+key]), values)
		}
	}
	for _, p := range policyValues {
		need("policy."+p+".label", "policy."+p+".help")
	}
	for _, code := range []string{"400", "403", "404", "409", "500", "502", "503"} {
		need("status." + code)
	}
	// The first sync's phases, the sides a conflict's value comes from,
	// the matching rules and the units of time.
	for _, phase := range []string{store.PhaseListing, store.PhaseWriting, store.PhaseWaiting} {
		need("progress." + phase)
	}
	for _, side := range []string{"pipedrive", "google"} {
		need("preview.winner."+side, "progress.nothing."+side)
	}
	for _, r := range match.Rules {
		rule := strings.ReplaceAll(string(r), "+", "_")
		need("rule.by."+rule, "rule.same."+rule)
	}
	for _, u := range []string{"minutes", "hours", "days"} {
		need("unit."+u+".one", "unit."+u+".other")
	}
}

// TestStoredMessagesAreRecognized: what the poller and applier store is
// told in the user's language, values included.
func TestStoredMessagesAreRecognized(t *testing.T) {
	tests := []struct{ stored, de string }{
		{"Paused: 30 contacts were deleted or removed from the group in Google, more than the safety limit of 10 of 50 linked contacts. " +
			"Nothing was deleted in Pipedrive. If this is intended, confirm the deletes on the settings page; otherwise restore the contacts in Google and resume.",
			"30 Kontakte wurden in Google gelöscht oder aus der Gruppe entfernt, mehr als die Sicherheitsgrenze von 10 der 50 verknüpften Kontakte. In Pipedrive wurde nichts gelöscht."},
		{"Paused: the Google group lists no contacts while 12 are linked, so nothing was deleted. If the group was emptied on purpose, resume on the settings page to continue.",
			"Die Google-Gruppe enthält plötzlich keine Kontakte mehr, obwohl 12 verknüpft sind, daher wurde nichts gelöscht. Wenn Sie die Gruppe absichtlich geleert haben, setzen Sie fort."},
		{"Google access was revoked or has expired; reconnect Google on the settings page. Syncing is stopped until then.",
			"Der Zugriff auf Google wurde widerrufen oder ist abgelaufen; die Synchronisierung ruht, bis Sie Google erneut verbinden."},
		{"Pipedrive's daily request budget of the company is spent; the first sync continues after Pipedrive's daily reset",
			"Das tägliche Anfragekontingent Ihres Pipedrive-Unternehmens ist aufgebraucht; die erste Synchronisierung macht nach dem täglichen Zurücksetzen bei Pipedrive weiter."},
	}
	for _, tt := range tests {
		if got := storedText(tt.stored).in(langDE); got.Text != tt.de || got.Lang != "" {
			t.Errorf("%q in German = %+v, want %q", tt.stored, got, tt.de)
		}
	}
	if got := storedText("Something new.").in(langDE); got.Text != "Something new." || got.Lang != langEN {
		t.Errorf("an unknown stored text in German = %+v, want it as written, marked English", got)
	}
}

func TestNegotiate(t *testing.T) {
	for header, want := range map[string]string{
		"": "en", "de": "de", "de-AT": "de", "fr, de;q=0.8, en;q=0.7": "de", "en-GB, de;q=0.9": "en",
		"de;q=0, en": "en", "*": "en", "DE-de": "de", "fr": "en",
	} {
		if got := negotiate(header); got != want {
			t.Errorf("negotiate(%q) = %s, want %s", header, got, want)
		}
	}
}

// TestSeamsRender fills every seam as issues 10 and 12 will and renders
// the connection in both languages: the blocks show their data in words,
// every text exists, and a connection without them shows none of them.
func TestSeamsRender(t *testing.T) {
	tmpl := templatesFor(func(p string) string { return "https://settings.example" + p })
	at := time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)
	for _, lang := range []string{langEN, langDE} {
		v := connView{
			ID: "c1", CSRF: "tok", Title: "Acme ↔ Pipedrive", Setup: true, Ready: true,
			State:     stateView{Kind: "first_sync", Tone: "info", Title: tr(lang, "state.first_sync.title"), ToDo: tr(lang, "state.first_sync.todo")},
			Pipedrive: &pipedriveView{Name: "Pat", Email: "pat@acme.example", Company: "Acme"}, Google: &googleView{Email: "pat@example.com"},
			Policies: policies(lang, "propagate"), Running: true,
			Preview: previewView(lang, &store.FirstSync{Mode: store.FirstSyncPreview, Phase: store.PhasePreview, FinishedAt: at, Preview: &store.Preview{
				CreateInGoogle: 120, CreateInPipedrive: 1, Matched: 30, Ambiguous: 2, EstimateSeconds: 4 * 60}}, at),
			Progress: progressView(lang, &store.FirstSync{Mode: store.FirstSyncRun, Phase: store.PhaseWriting, PipedriveDone: 40, PipedriveTotal: 150,
				GoogleDone: 10, GoogleTotal: 31, Rate: 90, ETA: at.Add(2 * time.Minute)}, at),
			Counts: &CountsView{CreatedInGoogle: 3, CreatedInPipedrive: 4, Updated: 1, Deleted: 0, Merged: 2, Review: 1, Held: 1},
			Brake: &BrakeView{Title: tr(lang, "brake.title"), Text: tr(lang, "brake.text_limit", "10", "50", "30"), Held: 30,
				Listed: []HeldDelete{{Contact: "Ada Lovelace", What: tr(lang, "brake.what.google.delete")}}, More: 29,
				Confirm: tr(lang, "brake.confirm_help"), Restore: tr(lang, "brake.restore_help"), Since: at},
			Held: []HeldChange{{ID: "p-7", Contact: "Grace Hopper", What: tr(lang, "held.what.pipedrive.upsert"),
				Reason: heldReason(lang, store.HeldChange{Code: "permanent", Reason: "the service refused the change (Google answered HTTP 400)"}), Attempts: 10, At: at}},
			Ambiguous: []AmbiguousMatch{{ID: "g-people_c1", Explain: tr(lang, "review.ambiguous"),
				Record: MatchCandidate{Side: tr(lang, "side.in.google"), Name: "Alan Turing", Emails: []string{"alan@example.com"}},
				Candidates: []MatchCandidate{
					{ID: "11", Side: tr(lang, "side.in.pipedrive"), Name: "Alan Turing", Emails: []string{"alan@example.com"}, Same: true},
					{ID: "12", Side: tr(lang, "side.in.pipedrive"), Name: "A. Turing", Phones: []string{"+44 20 7946 0000"}, Note: tr(lang, "review.linked")}}}},
			Search: &ContactSearch{Query: "Ada", Searched: true, Results: []ContactHistory{historyOf(lang, &store.Link{ID: "p-1",
				Base: []byte(`{"given":"Ada","family":"Lovelace"}`), CreatedOn: "google", Updates: 2, History: []store.HistoryEntry{
					{At: at, Side: "pipedrive", Action: "update google", Fields: []string{"emails"}, Detail: "updated emails in Google (via webhook)", Conflict: true}}})}},
		}
		var buf bytes.Buffer
		if err := tmpl[lang].ExecuteTemplate(&buf, "connection", v); err != nil {
			t.Fatal(err)
		}
		v.Setup = false // the counts show once the sync runs
		if err := tmpl[lang].ExecuteTemplate(&buf, "connection", v); err != nil {
			t.Fatal(err)
		}
		body := buf.String()
		if strings.Contains(body, missing) {
			i := strings.Index(body, missing)
			t.Errorf("%s: untranslated text %s", lang, body[i:min(len(body), i+60)])
		}
		want := map[string][]string{
			langEN: {"120 Pipedrive persons will be added to the group", "Pipedrive: 40 of 150", "3 created in Google", "4 created in Pipedrive",
				"2 conflicts merged", "1 waits for your review", "1 held change", "Delete them on the other side too", "30 deletes wait for you",
				"More than 10 of 50 linked contacts", "and 29 more", "Grace Hopper", "held-retry", "refused the change", "(Google answered with HTTP status 400.)",
				"These are the same", `name="twin" value="11"`, "Already linked to another contact", "Ada Lovelace", "about 4 minutes",
				"Changed in Pipedrive (e-mail addresses) → updated in Google", "Conflict: both sides changed", "Created in Google by the sync · 2 updates"},
			langDE: {"120 Pipedrive-Personen kommen in die Gruppe", "Pipedrive: 40 von 150", "3 in Google angelegt", "2 Konflikte zusammengeführt",
				"Auch auf der anderen Seite löschen", "30 Löschungen warten auf Sie", "Erneut versuchen", "hat die Änderung abgelehnt",
				"Das ist dieselbe Person", "Bereits mit einem anderen Kontakt verknüpft", "etwa 4 Minuten",
				"In Pipedrive geändert (E-Mail-Adressen) → in Google aktualisiert", `lang="en">updated emails in Google (via webhook)`},
		}[lang]
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the seams do not show %q", lang, w)
			}
		}
		buf.Reset()
		empty := connView{ID: "c2", CSRF: "tok", State: v.State, Policies: v.Policies}
		if err := tmpl[lang].ExecuteTemplate(&buf, "connection", empty); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(body, `name="twin" value="12"`) {
			t.Errorf("%s: a linked candidate is offered as the same", lang)
		}
		for _, id := range []string{`id="preview-`, `id="progress-`, `id="finished-`, `id="brake-`, `id="held-`, `id="ambiguous-`, `id="history-`, `id="counts-`} {
			if strings.Contains(buf.String(), id) {
				t.Errorf("%s: an empty seam renders %s", lang, id)
			}
		}
	}
}

// TestDurationInWords: the preview's estimate and the time left, rounded
// as a person would say them.
func TestDurationInWords(t *testing.T) {
	tests := []struct {
		d      time.Duration
		en, de string
	}{
		{0, "less than a minute", "weniger als eine Minute"},
		{59 * time.Second, "less than a minute", "weniger als eine Minute"},
		{61 * time.Second, "about 2 minutes", "etwa 2 Minuten"},
		{time.Minute, "about 1 minute", "etwa 1 Minute"},
		{59 * time.Minute, "about 59 minutes", "etwa 59 Minuten"},
		{time.Hour + 4*time.Minute, "about 1 hour", "etwa 1 Stunde"},
		{time.Hour + 15*time.Minute, "about 1 hour and 20 minutes", "etwa 1 Stunde und 20 Minuten"},
		{2 * time.Hour, "about 2 hours", "etwa 2 Stunden"},
		{23*time.Hour + 58*time.Minute, "about 1 day", "etwa 1 Tag"},
		{27*time.Hour + 10*time.Minute, "about 1 day and 3 hours", "etwa 1 Tag und 3 Stunden"},
		{49 * time.Hour, "about 2 days and 1 hour", "etwa 2 Tage und 1 Stunde"},
	}
	for _, tt := range tests {
		if got := durationText(langEN, tt.d); got != tt.en {
			t.Errorf("%v in English = %q, want %q", tt.d, got, tt.en)
		}
		if got := durationText(langDE, tt.d); got != tt.de {
			t.Errorf("%v in German = %q, want %q", tt.d, got, tt.de)
		}
	}
}
