package settings_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/store"
)

const german = "de-DE,de;q=0.9,en;q=0.5"

// readyBoth connects the env's Pipedrive user (API token) and the demo
// Google user through the page, without saving: a connection in setup,
// ready for its group. It returns the connection's id.
func (b *browser) readyBoth() string {
	b.t.Helper()
	b.get("/")
	_, body := b.post("/connect/pipedrive/token", url.Values{"csrf": {b.csrf()}, "token": {b.e.APIToken}})
	ids := connIDs(body)
	if len(ids) != 1 {
		b.t.Fatalf("connections after the token form: %v", ids)
	}
	if code, body := b.get("/connect/google?conn=" + ids[0] + "&login_hint=" + url.QueryEscape(googlefake.DemoUser)); code != http.StatusOK {
		b.t.Fatalf("Google flow = %d: %s", code, body)
	}
	return ids[0]
}

// seedBothSides fills both accounts as a newcomer's would be: persons only
// in Pipedrive, contacts only in the group, twins by e-mail (with the last
// name filled differently) and by phone, two persons sharing the e-mail
// address of one contact, and a private contact outside the group. It
// returns the group's resource name.
func (e *env) seedBothSides(t *testing.T) string {
	t.Helper()
	group, err := e.Google.CreateGroup(googlefake.DemoUser, "Business")
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	mail := func(a string) *[]pipedrive.Field {
		return &[]pipedrive.Field{{Value: a, Label: "work", Primary: true}}
	}
	for _, p := range []pipedrive.PersonInput{
		{Name: str("Ada Lovelace"), Emails: mail("ada@analytical.example")},
		{Name: str("Grace Hopper"), Emails: mail("grace@navy.example")},
		{Name: str("Alan Turing"), Phones: &[]pipedrive.Field{{Value: "+44 20 7946 0000", Label: "work", Primary: true}}},
		{Name: str("Kim Lee"), Emails: mail("kim@example.com")},
		{Name: str("Kim Li"), Emails: mail("kim@example.com")},
	} {
		if _, err := e.Pipedrive.SeedPerson(e.UserID, p); err != nil {
			t.Fatal(err)
		}
	}
	in := func(g string) []*people.Membership {
		return []*people.Membership{{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: g}}}
	}
	for _, c := range []*people.Person{
		{Names: []*people.Name{{GivenName: "Ada", FamilyName: "King"}}, EmailAddresses: []*people.EmailAddress{{Value: "ada@analytical.example", Type: "work"}},
			Memberships: in(group)},
		{Names: []*people.Name{{GivenName: "Alan", FamilyName: "Turing"}}, PhoneNumbers: []*people.PhoneNumber{{Value: "+44 20 7946 0000", Type: "work"}}, Memberships: in(group)},
		{Names: []*people.Name{{GivenName: "Kim", FamilyName: "Lee"}}, EmailAddresses: []*people.EmailAddress{{Value: "kim@example.com", Type: "work"}}, Memberships: in(group)},
		{Names: []*people.Name{{GivenName: "Linus", FamilyName: "Torvalds"}}, EmailAddresses: []*people.EmailAddress{{Value: "linus@example.com", Type: "work"}}, Memberships: in(group)},
		{Names: []*people.Name{{GivenName: "Mum"}}, Memberships: in("contactGroups/myContacts")},
	} {
		if _, err := e.Google.SeedContact(googlefake.DemoUser, c); err != nil {
			t.Fatal(err)
		}
	}
	return group
}

// TestPreviewBeforeSave: the setup form's Preview button chooses the group
// and shows, in words and both languages, what the first sync will do,
// writing nothing; Save then runs it, and the status view says what it did.
func TestPreviewBeforeSave(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	ctx := context.Background()
	id := b.readyBoth()
	group := e.seedBothSides(t)

	_, body := b.get("/")
	mustContain(t, body, ">Preview the first sync<", "formaction=\""+e.url+"connections/"+id+"/preview\"", "Save and start syncing",
		"Optional: see what the first sync will do before anything is written")
	code, body := b.post("/connections/"+id+"/preview", url.Values{"csrf": {b.csrf()}, "group": {group}, "policy": {"unlink"}})
	if code != http.StatusOK {
		t.Fatalf("preview = %d: %s", code, body)
	}
	// The test's first sync runs within the call: the preview is ready.
	mustContain(t, body, "Preview started: both sides are listed and matched; nothing is written.",
		"What the first sync will do", "Nothing has been written yet",
		"Listed: 5 persons you own in Pipedrive; 4 contacts in the Google group.",
		"1 Pipedrive person will be added to the group",
		"1 Google contact will be added to Pipedrive, owned by you",
		"2 contacts exist on both sides and will be linked (1 by e-mail address, 1 by phone number)",
		"1 contact of your Google account is outside the group and is left alone",
		"1 field differs between twins; the value changed more recently is kept:",
		"<strong>Ada Lovelace</strong>, last name: Pipedrive “Lovelace”, Google “King”",
		"3 contacts match several on the other side. They are neither linked nor copied",
		"Same e-mail address — in Pipedrive: Kim Lee, Kim Li; in Google: Kim Lee",
		"Estimated time: less than a minute.", ">Preview again<", "Save and start syncing",
		`<span class="badge">Not set up yet</span>`)
	if !regexp.MustCompile(`(Pipedrive|Google)&#39;s value is kept \(changed more recently\)\.`).MatchString(body) {
		t.Error("the conflict does not say which value is kept")
	}
	if !strings.Contains(body, "Pipedrive plan, as its request limits show:") && !strings.Contains(body, "Pipedrive&#39;s plan could not be told") {
		t.Error("the preview does not name Pipedrive's plan")
	}
	if strings.Contains(body, "data-refresh") {
		t.Error("a ready preview refreshes the page")
	}
	noMissingText(t, body)

	// Nothing was written: no link, no webhook, the group as it was.
	c, err := e.Store.GetConnection(ctx, id)
	if err != nil || c.Status != store.StatusSetup || c.GoogleGroup != group || c.DeletePolicy != "unlink" ||
		c.FirstSync == nil || c.FirstSync.Phase != store.PhasePreview {
		t.Fatalf("after the preview: %+v (%v)", c, err)
	}
	if n, err := e.Store.CountLinks(ctx, id); err != nil || n != 0 || len(e.Hooks()) != 0 {
		t.Fatalf("the preview wrote: %d links, %d webhooks (%v)", n, len(e.Hooks()), err)
	}
	if members, err := e.Google.GroupMembers(googlefake.DemoUser, group); err != nil || len(members) != 4 {
		t.Fatalf("the group has %d members after the preview (%v)", len(members), err)
	}

	_, body = b.getLang("/", german)
	mustContain(t, body, "Was die erste Synchronisierung tun wird", "Es wurde noch nichts geschrieben",
		"Gelesen: 5 Personen, die Ihnen in Pipedrive gehören; 4 Kontakte in der Google-Kontaktgruppe.",
		"1 Pipedrive-Person kommt in die Gruppe", "1 Google-Kontakt kommt nach Pipedrive und gehört dort Ihnen",
		"2 Kontakte gibt es auf beiden Seiten; sie werden verknüpft (1 über die E-Mail-Adresse, 1 über die Telefonnummer)",
		"1 Kontakt Ihres Google-Kontos liegt außerhalb der Gruppe und bleibt unberührt",
		"<strong>Ada Lovelace</strong>, Nachname: Pipedrive „Lovelace“, Google „King“",
		"3 Kontakte passen zu mehreren auf der anderen Seite", "Gleiche E-Mail-Adresse – in Pipedrive: Kim Lee, Kim Li; in Google: Kim Lee",
		"Voraussichtliche Dauer: weniger als eine Minute.", ">Vorschau neu erstellen<", "Speichern und Synchronisierung starten")
	noMissingText(t, body)

	// The preview is optional: Save starts the first sync, which the
	// status view sums up once it is done.
	code, body = b.post("/connections/"+id+"/save", url.Values{"csrf": {b.csrf()}, "group": {group}, "policy": {"unlink"}})
	if code != http.StatusOK {
		t.Fatalf("save = %d: %s", code, body)
	}
	mustContain(t, body, "Saved: the sync is running.", "First sync finished",
		": 1 created in Google, 1 in Pipedrive, 2 matched, 3 held for you.")
	if strings.Contains(body, `id="preview-`+id) {
		t.Error("the preview is still shown once the sync started")
	}
	_, body = b.getLang("/", german)
	mustContain(t, body, "Erste Synchronisierung abgeschlossen", ": 1 in Google angelegt, 1 in Pipedrive, 2 zugeordnet, 3 warten auf Ihre Entscheidung.")
	noMissingText(t, body)

	// Once the sync started there is no preview: a stale form is refused
	// with a clear message and changes nothing.
	code, body = b.post("/connections/"+id+"/preview", url.Values{"csrf": {b.csrf()}, "group": {"new"}, "group_name": {"Other"}, "policy": {"ignore"}})
	if code != http.StatusConflict {
		t.Fatalf("preview after the start = %d, want 409", code)
	}
	mustContain(t, body, "A preview is shown before the first sync starts; the sync has already started.")
	if c, _ := e.Store.GetConnection(ctx, id); c.GoogleGroup != group || c.DeletePolicy != "unlink" || c.FirstSync.Mode != store.FirstSyncRun {
		t.Errorf("a refused preview changed the connection: group %s, policy %s, job %s", c.GoogleGroup, c.DeletePolicy, c.FirstSync.Mode)
	}
}

// TestPreviewNeedsAGroup: the preview of a form that chooses no group is
// refused in words.
func TestPreviewNeedsAGroup(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	id := b.readyBoth()
	code, body := b.post("/connections/"+id+"/preview", url.Values{"csrf": {b.csrf()}})
	if code != http.StatusBadRequest {
		t.Fatalf("preview without a group = %d, want 400", code)
	}
	mustContain(t, body, "Choose a contact group, or create a new one.")
	if c, _ := e.Store.GetConnection(context.Background(), id); c.FirstSync != nil {
		t.Errorf("a preview started without a group: %+v", c.FirstSync)
	}
}

// TestFirstSyncInWords shows a preview and a first sync in each of their
// phases, as the job leaves them on the connection, in both languages.
func TestFirstSyncInWords(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	ctx := context.Background()
	id := b.readyBoth()
	group := e.seedBothSides(t)
	if _, err := e.Service.ChooseGroup(ctx, id, group); err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now().UTC()
	resume := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 15, 0, 0, time.UTC)
	counts := &store.Preview{CreateInGoogle: 12, CreateInPipedrive: 3, Matched: 5, Ambiguous: 2, EstimateSeconds: 3 * 3600}
	const allowance = "the first sync has used its share of Pipedrive's daily request budget (the rest keeps the live sync running); it continues after Pipedrive's daily reset"
	tests := []struct {
		name      string
		status    store.Status
		fs        store.FirstSync
		en, de    []string
		not       []string
		refreshes bool
	}{
		{"preview listing", store.StatusSetup, store.FirstSync{Mode: store.FirstSyncPreview, Phase: store.PhaseListing, StartedAt: now.Add(-time.Minute)},
			[]string{"Preparing the preview: both sides are being listed and matched. Nothing is written. This page updates itself.", ">Preview the first sync<", "Save and start syncing"},
			[]string{"Die Vorschau wird erstellt: Beide Seiten werden gelesen und abgeglichen."},
			[]string{"This page updates itself while the sync is running."}, true},
		{"preview stalled", store.StatusSetup, store.FirstSync{Mode: store.FirstSyncPreview, Phase: store.PhaseListing, StartedAt: now.Add(-time.Hour)},
			[]string{"The preview could not be completed. Try again, or save and start syncing without it.", "The preview did not finish."},
			[]string{"Die Vorschau konnte nicht fertiggestellt werden.", "Die Vorschau wurde nicht fertig."}, nil, false},
		{"preview failed", store.StatusSetup, store.FirstSync{Mode: store.FirstSyncPreview, Phase: store.PhaseFailed, StartedAt: now,
			Reason: "The first sync stopped: Google answered HTTP 500. Start it again from this page."},
			[]string{"The preview could not be completed.", "The first sync stopped: Google answered HTTP 500."},
			[]string{"Die Vorschau konnte nicht fertiggestellt werden.", `lang="en">The first sync stopped: Google answered HTTP 500.`}, nil, false},
		{"preview of days", store.StatusSetup, store.FirstSync{Mode: store.FirstSyncPreview, Phase: store.PhasePreview, FinishedAt: now,
			Preview: &store.Preview{PipedriveListed: 10000, GoogleListed: 10000, CreateInGoogle: 7000, CreateInPipedrive: 7000, Matched: 3000,
				MatchedBy: map[string]int{"email": 2000, "phone": 600, "name+org": 400}, UpdateInGoogle: 1200, UpdateInPipedrive: 900,
				Conflicts: 14, ConflictSample: []store.PreviewConflict{{Name: "Ada Lovelace", Field: "emails[ada@analytical.example].label",
					Pipedrive: "work", Google: "home", Winner: "google"}, {Name: "", Field: "phones.primary", Pipedrive: "+4930123", Google: "", Winner: "pipedrive"}},
				OrgsToCreate: 40, PipedriveTokens: 35165, EstimateSeconds: 27*3600 + 10*60, EstimateDays: 1, PipedrivePlan: "lite"}},
			[]string{"2000 by e-mail address, 600 by phone number, 400 by name and organization", "1200 Google contacts will be updated from their twins",
				"900 Pipedrive persons will be updated from their twins", "40 organizations will be created in Pipedrive",
				"14 fields differ between twins", "label of ada@analytical.example (e-mail addresses): Pipedrive “work”, Google “home”",
				"Google&#39;s value is kept", "<strong>(no name)</strong>, which of the phone numbers comes first: Pipedrive “&#43;4930123”, Google “(empty)”",
				"and 12 more", "Estimated time: about 1 day and 3 hours.", "Pipedrive&#39;s daily request budget allows only part of it each day: the first sync needs about 35165",
				"Pipedrive plan, as its request limits show: Lite."},
			[]string{"2000 über die E-Mail-Adresse, 600 über die Telefonnummer, 400 über Name und Organisation", "Bezeichnung von ada@analytical.example (E-Mail-Adressen)",
				"welche der Telefonnummern an erster Stelle steht", "und 12 weitere", "Voraussichtliche Dauer: etwa 1 Tag und 3 Stunden.",
				"Das tägliche Anfragekontingent von Pipedrive erlaubt nur einen Teil davon pro Tag", "Pipedrive-Tarif laut seinen Anfragelimits: Lite."},
			nil, false},
		{"listing", store.StatusFirstSync, store.FirstSync{Mode: store.FirstSyncRun, Phase: store.PhaseListing, StartedAt: now},
			[]string{"First sync running", "Step 1 of 2: listing both sides and matching twins.", "This page updates itself while the sync is running."},
			[]string{"Erste Synchronisierung läuft", "Schritt 1 von 2: Beide Seiten werden gelesen und Gegenstücke abgeglichen."},
			[]string{"<progress", "Save and start syncing"}, true},
		{"writing", store.StatusFirstSync, store.FirstSync{Mode: store.FirstSyncRun, Phase: store.PhaseWriting, StartedAt: now, Preview: counts,
			PipedriveDone: 40, PipedriveTotal: 150, GoogleDone: 0, GoogleTotal: 0, LinksDone: 50, LinksTotal: 181, Rate: 89.6, ETA: now.Add(2 * time.Minute)},
			[]string{"Step 2 of 2: creating and updating contacts on both sides.", "Pipedrive: 40 of 150 persons created or updated",
				`<progress id="progress-pd-` + id + `" max="150" value="40">`, "Google: nothing to create or update.", "Linked: 50 of 181 pairs",
				`<progress id="progress-links-` + id + `" max="181" value="50">`, "90 contacts written a minute. Time left: about 2 minutes."},
			[]string{"Schritt 2 von 2: Kontakte werden auf beiden Seiten angelegt und aktualisiert.", "Pipedrive: 40 von 150 Personen angelegt oder aktualisiert",
				"Google: nichts anzulegen oder zu aktualisieren.", "Verknüpft: 50 von 181 Paaren", "90 Kontakte pro Minute geschrieben. Verbleibende Zeit: etwa 2 Minuten."},
			[]string{"First sync finished"}, true},
		{"waiting", store.StatusFirstSync, store.FirstSync{Mode: store.FirstSyncRun, Phase: store.PhaseWaiting, StartedAt: now, Preview: counts,
			PipedriveDone: 100, PipedriveTotal: 150, GoogleDone: 31, GoogleTotal: 31, LinksDone: 160, LinksTotal: 181, Rate: 120,
			ResumeAt: resume, Reason: allowance, ETA: resume.Add(30 * time.Second)},
			[]string{"Waiting for Pipedrive&#39;s daily reset, until <time datetime=\"" + resume.Format(time.RFC3339) + "\">",
				"The first sync has used its share of Pipedrive&#39;s daily request budget (the rest keeps the live sync running); it continues after Pipedrive&#39;s daily reset.",
				"Google: 31 of 31 contacts created or updated", "120 contacts written a minute. Time left: about "},
			[]string{"Wartet auf das tägliche Zurücksetzen bei Pipedrive, bis <time", "Die erste Synchronisierung hat ihren Anteil am täglichen Anfragekontingent von Pipedrive aufgebraucht",
				"Google: 31 von 31 Kontakten angelegt oder aktualisiert", "Verbleibende Zeit: etwa "},
			nil, true},
		{"reconcile past its estimate", store.StatusFirstSync, store.FirstSync{Mode: store.FirstSyncReconcile, Phase: store.PhaseWriting, StartedAt: now, Preview: counts,
			PipedriveDone: 1, PipedriveTotal: 1, GoogleDone: 0, GoogleTotal: 300, LinksTotal: 301, Rate: 100, ETA: now.Add(-time.Second)},
			[]string{"Full check running", "every contact of both sides is matched again; nothing is duplicated", "100 contacts written a minute. Time left: about 3 minutes."},
			[]string{"Vollständiger Abgleich läuft", "Verbleibende Zeit: etwa 3 Minuten."}, []string{"First sync running"}, true},
		{"past its estimate, nothing written yet", store.StatusFirstSync, store.FirstSync{Mode: store.FirstSyncRun, Phase: store.PhaseWriting, StartedAt: now,
			PipedriveTotal: 38, GoogleTotal: 6, LinksTotal: 44, ETA: now.Add(-time.Second)},
			[]string{"Pipedrive: 0 of 38 persons created or updated"}, []string{"Pipedrive: 0 von 38 Personen angelegt oder aktualisiert"},
			[]string{"Time left", "contacts written a minute"}, true},
		{"done", store.StatusLive, store.FirstSync{Mode: store.FirstSyncRun, Phase: store.PhaseDone, StartedAt: now.Add(-time.Hour), FinishedAt: now.Add(-time.Minute), Preview: counts},
			[]string{`<span class="badge">Live</span>`, "First sync finished <time datetime=\"" + now.Add(-time.Minute).Format(time.RFC3339) + "\" data-relative>",
				": 12 created in Google, 3 in Pipedrive, 5 matched, 2 held for you."},
			[]string{`<span class="badge">Aktiv</span>`, "Erste Synchronisierung abgeschlossen <time", ": 12 in Google angelegt, 3 in Pipedrive, 5 zugeordnet, 2 warten auf Ihre Entscheidung."},
			[]string{`id="progress-`, "Step 2 of 2"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.Store.UpdateConnection(ctx, id, func(c *store.Connection) error {
				fs := tt.fs
				c.Status, c.FirstSync = tt.status, &fs
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			_, body := b.get("/")
			mustContain(t, body, tt.en...)
			for _, n := range tt.not {
				if strings.Contains(body, n) {
					t.Errorf("the page shows %q", n)
				}
			}
			if got := strings.Contains(body, `data-refresh="5"`); got != tt.refreshes {
				t.Errorf("refreshes itself = %v, want %v", got, tt.refreshes)
			}
			noMissingText(t, body)
			_, body = b.getLang("/", german)
			mustContain(t, body, tt.de...)
			noMissingText(t, body)
		})
	}

	// The job counts its links once a chunk is through; the page counts
	// the links already written.
	for i := range 60 {
		pid := strconv.Itoa(1000 + i)
		if err := e.Store.CreateLink(ctx, id, &store.Link{ID: store.LinkIDForPipedrive(pid), PipedriveID: pid}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Store.UpdateConnection(ctx, id, func(c *store.Connection) error {
		c.Status, c.FirstSync = store.StatusFirstSync, &store.FirstSync{Mode: store.FirstSyncRun, Phase: store.PhaseWriting, StartedAt: now,
			PipedriveTotal: 150, GoogleTotal: 31, LinksDone: 50, LinksTotal: 181}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, body := b.get("/")
	mustContain(t, body, "Linked: 60 of 181 pairs", `<progress id="progress-links-`+id+`" max="181" value="60">`)
}
