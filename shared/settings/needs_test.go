package settings_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/store"
)

// liveBoth connects the env's Pipedrive user (API token) and the demo
// Google user through the page, creates a group and saves: a live
// connection owned by b. It returns the connection.
func (b *browser) liveBoth() *store.Connection {
	b.t.Helper()
	b.get("/")
	_, body := b.post("/connect/pipedrive/token", url.Values{"csrf": {b.csrf()}, "token": {b.e.APIToken}})
	ids := connIDs(body)
	if len(ids) != 1 {
		b.t.Fatalf("connections after the token form: %v", ids)
	}
	id := ids[0]
	if code, body := b.get("/connect/google?conn=" + id + "&login_hint=" + url.QueryEscape(googlefake.DemoUser)); code != http.StatusOK {
		b.t.Fatalf("Google flow = %d: %s", code, body)
	}
	if code, body := b.post("/connections/"+id+"/save", url.Values{"csrf": {b.csrf()}, "group": {"new"}, "group_name": {"Pipedrive"}}); code != http.StatusOK {
		b.t.Fatalf("save = %d: %s", code, body)
	}
	c, err := b.e.Store.GetConnection(context.Background(), id)
	if err != nil || c.Status != store.StatusLive {
		b.t.Fatalf("after save: %+v, %v", c, err)
	}
	return c
}

// hold keeps h for the connection as the applier or the poller would.
func (e *env) hold(t *testing.T, connID string, h store.HeldChange) string {
	t.Helper()
	now := time.Now().UTC()
	if h.FirstAt.IsZero() {
		h.FirstAt, h.LastAt = now, now
	}
	if err := e.Store.Hold(context.Background(), connID, h); err != nil {
		t.Fatal(err)
	}
	return store.HeldKey(h.Side, h.ObjectID)
}

// heldDoc reads one held change (nil when it is gone).
func (e *env) heldDoc(t *testing.T, connID, id string) *store.HeldChange {
	t.Helper()
	hs, err := e.Store.HeldChanges(context.Background(), connID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.ID == id {
			return &h
		}
	}
	return nil
}

// link stores a link whose base is c, with the search keys the applier
// stores, and returns it.
func (e *env) link(t *testing.T, connID, pid, gid string, c contact.Contact, edit func(*store.Link)) *store.Link {
	t.Helper()
	base, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	l := &store.Link{ID: store.LinkIDForPipedrive(pid), PipedriveID: pid, GoogleID: gid, Base: base, SearchKeys: contact.Mapper{}.SearchKeys(c)}
	if edit != nil {
		edit(l)
	}
	if err := e.Store.CreateLink(context.Background(), connID, l); err != nil {
		t.Fatal(err)
	}
	return l
}

func ada() contact.Contact {
	return contact.Contact{Given: "Ada", Family: "Lovelace", Org: "Analytical Engines",
		Emails: []contact.Item{contact.Email("ada@example.com", "work", true)},
		Phones: []contact.Item{contact.Mapper{}.Phone("+49 30 1234567", "work", true)}}
}

// TestHeldChangesRetryAndDismiss: held changes are listed by the
// contact's name with their reason in words, in both languages; Retry
// makes one due again, Dismiss forgets it; a change that is not (or no
// longer) held for the user is refused.
func TestHeldChangesRetryAndDismiss(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	id := b.connected()
	ctx := context.Background()
	e.link(t, id, "7", "people/c7", contact.Contact{Given: "Grace", Family: "Hopper"}, nil)
	failed := e.hold(t, id, store.HeldChange{Side: "pipedrive", ObjectID: "7", ChangeKind: "upsert", Kind: store.HeldFailed,
		Code: "permanent", Reason: "the service refused the change (Google answered HTTP 400)"})
	deferred := e.hold(t, id, store.HeldChange{Side: "google", ObjectID: "people/c9", ChangeKind: "delete", Kind: store.HeldDeferred,
		Code: "paused", Reason: "the sync is paused; it is applied when the sync resumes", Name: "Alan Turing"})
	unknown := e.hold(t, id, store.HeldChange{Side: "pipedrive", ObjectID: "8", ChangeKind: "upsert", Kind: store.HeldFailed,
		Code: "something_new", Reason: "a reason the page has no words for"})
	braked := e.hold(t, id, store.HeldChange{Side: "google", ObjectID: "people/c10", ChangeKind: "delete", Kind: store.HeldBrake, Code: "brake", Name: "Kurt Gödel"})

	_, body := b.get("/")
	mustContain(t, body, "Changes waiting for you", "Grace Hopper", "A change in Pipedrive", "Google or Pipedrive refused the change",
		"(Google answered with HTTP status 400.)", "Alan Turing", "A deletion in Google", "The sync is paused; the change is applied when you resume.",
		"It is applied by itself once the sync runs again.", "A Pipedrive person that is not synced yet", "a reason the page has no words for",
		">Retry<", ">Dismiss<", `name="held" value="`+failed+`"`)
	if strings.Contains(body, "people/c9") {
		t.Error("the page shows a Google resource name instead of the contact's name")
	}
	_, body = b.getLang("/", "de")
	mustContain(t, body, "Änderungen, die auf Sie warten", "Eine Änderung in Pipedrive", "hat die Änderung abgelehnt",
		"(Google antwortete mit HTTP-Status 400.)", "Eine Löschung in Google", "Erneut versuchen", "Verwerfen",
		`lang="en">a reason the page has no words for`)
	noMissingText(t, body)

	code, body := b.post("/connections/"+id+"/held-retry", url.Values{"csrf": {b.csrf()}, "held": {failed}})
	if code != http.StatusOK {
		t.Fatalf("retry = %d", code)
	}
	mustContain(t, body, "The change is tried again within a minute.", "It is being tried again.")
	if strings.Contains(body, `name="held" value="`+failed+`"><button type="submit">Retry`) {
		t.Error("Retry is offered again while the change is being retried")
	}
	if h := e.heldDoc(t, id, failed); h == nil || h.RetryAt.IsZero() {
		t.Fatalf("after Retry: %+v, want it due again", h)
	}
	if c, _ := e.Store.GetConnection(ctx, id); c.HeldDueAt.IsZero() {
		t.Error("after Retry the poller is not told to look at the held changes")
	}
	code, body = b.post("/connections/"+id+"/held-dismiss", url.Values{"csrf": {b.csrf()}, "held": {deferred}})
	if code != http.StatusOK || e.heldDoc(t, id, deferred) != nil {
		t.Fatalf("dismiss = %d, held change kept: %v", code, e.heldDoc(t, id, deferred) != nil)
	}
	mustContain(t, body, "The change was dismissed")

	for name, tc := range map[string]struct{ action, held string }{
		"dismissed already":       {"held-dismiss", deferred},
		"never held":              {"held-retry", "p-99"},
		"not an id":               {"held-dismiss", "../" + unknown},
		"held by the brake":       {"held-dismiss", braked},
		"a review answer on it":   {"match-separate", failed},
		"held by the brake again": {"held-retry", braked},
	} {
		t.Run(name, func(t *testing.T) {
			code, body := b.post("/connections/"+id+"/"+tc.action, url.Values{"csrf": {b.csrf()}, "held": {tc.held}})
			if code != http.StatusNotFound {
				t.Errorf("%s %s = %d, want 404", tc.action, tc.held, code)
			}
			mustContain(t, body, "This no longer waits for you")
		})
	}
	if h := e.heldDoc(t, id, braked); h == nil || !h.RetryAt.IsZero() || h.Decision != "" {
		t.Errorf("the brake's held delete changed: %+v", h)
	}
	if h := e.heldDoc(t, id, unknown); h == nil || !h.RetryAt.IsZero() {
		t.Errorf("a refused form changed a held change: %+v", h)
	}
}

// TestReviewSameAndSeparate: a record held for review is shown beside its
// candidates, read from both services; "these are the same" records the
// chosen candidate (only one of the candidates), "keep separate" none.
func TestReviewSameAndSeparate(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	c := b.liveBoth()
	var ids []string
	for _, p := range []pipedrive.PersonInput{
		{Name: ptr("Ada Lovelace"), Emails: &[]pipedrive.Field{{Value: "ada@example.com", Label: "work", Primary: true}}},
		{Name: ptr("A. Lovelace"), Emails: &[]pipedrive.Field{{Value: "ada@example.com", Label: "home", Primary: true}},
			Phones: &[]pipedrive.Field{{Value: "+44 20 7946 0000", Label: "mobile", Primary: true}}},
		{Name: ptr("Ada King"), Emails: &[]pipedrive.Field{{Value: "ada@example.com", Label: "other", Primary: true}}},
	} {
		pid, err := e.Pipedrive.SeedPerson(e.UserID, p)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, strconv.FormatInt(pid, 10))
	}
	// The third is linked already: it cannot be chosen.
	e.link(t, c.ID, ids[2], "people/c99", contact.Contact{Given: "Ada", Family: "King"}, nil)
	g, err := e.Google.SeedContact(googlefake.DemoUser, &people.Person{Names: []*people.Name{{GivenName: "Ada", FamilyName: "Lovelace"}},
		EmailAddresses: []*people.EmailAddress{{Value: "ADA@example.com"}},
		Memberships:    []*people.Membership{{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: c.GoogleGroup}}}})
	if err != nil {
		t.Fatal(err)
	}
	review := e.hold(t, c.ID, store.HeldChange{Side: "google", ObjectID: g.ResourceName, ChangeKind: "upsert", Kind: store.HeldReview,
		Code: "ambiguous", Reason: "it matches 3 records of the other side by email", Candidates: ids})

	_, body := b.get("/")
	mustContain(t, body, "Which contact is the same person?", "matches several contacts on the other side", "In Google", "In Pipedrive",
		"Ada Lovelace", "A. Lovelace", "44 20 7946 0000", "ADA@example.com", "Ada King", "Already linked to another contact",
		`name="twin" value="`+ids[0]+`"`, `name="twin" value="`+ids[1]+`"`, "These are the same", "Keep separate")
	if strings.Contains(body, `name="twin" value="`+ids[2]+`"`) {
		t.Error("a candidate that is linked already is offered as the same")
	}
	_, body = b.getLang("/", "de")
	mustContain(t, body, "Welcher Kontakt ist dieselbe Person?", "Das ist dieselbe Person", "Getrennt lassen", "Bereits mit einem anderen Kontakt verknüpft")
	noMissingText(t, body)

	for _, twin := range []string{"", "12345", ids[0] + " "} {
		if code, _ := b.post("/connections/"+c.ID+"/match-same", url.Values{"csrf": {b.csrf()}, "held": {review}, "twin": {twin}}); code != http.StatusBadRequest {
			t.Errorf("the same as %q (no candidate) = %d, want 400", twin, code)
		}
	}
	if h := e.heldDoc(t, c.ID, review); h == nil || h.Decision != "" {
		t.Fatalf("a refused answer was recorded: %+v", h)
	}
	code, body := b.post("/connections/"+c.ID+"/match-same", url.Values{"csrf": {b.csrf()}, "held": {review}, "twin": {ids[1]}})
	if code != http.StatusOK {
		t.Fatalf("the same = %d", code)
	}
	mustContain(t, body, "Noted: the two are linked as the same person")
	if h := e.heldDoc(t, c.ID, review); h == nil || h.Decision != "same" || h.Twin != ids[1] || h.RetryAt.IsZero() {
		t.Fatalf("after 'the same': %+v", h)
	}
	if strings.Contains(body, `id="match-`+c.ID+`-`+review+`"`) {
		t.Error("the answered review is still asked")
	}
	mustContain(t, body, `data-count="review" data-n="0"`)

	other := e.hold(t, c.ID, store.HeldChange{Side: "google", ObjectID: "people/c5", ChangeKind: "upsert", Kind: store.HeldReview,
		Code: "taken", Candidates: []string{ids[2]}})
	if code, _ := b.post("/connections/"+c.ID+"/match-separate", url.Values{"csrf": {b.csrf()}, "held": {other}}); code != http.StatusOK {
		t.Fatalf("keep separate = %d", code)
	}
	if h := e.heldDoc(t, c.ID, other); h == nil || h.Decision != "separate" || h.Twin != "" {
		t.Fatalf("after 'keep separate': %+v", h)
	}
}

// TestBrakeConfirmAndRestore: a tripped brake lists the held deletes by
// name with the limit in words and what each button does; Confirm and
// Restore record the decision on every held delete and release the brake.
func TestBrakeConfirmAndRestore(t *testing.T) {
	for _, decision := range []string{"confirm", "restore"} {
		t.Run(decision, func(t *testing.T) {
			e := newEnv(t)
			b := e.browser(t)
			id := b.connected()
			ctx := context.Background()
			if code, _ := b.post("/connections/"+id+"/brake-"+decision, url.Values{"csrf": {b.csrf()}}); code != http.StatusConflict {
				t.Errorf("%s without a tripped brake = %d, want 409", decision, code)
			}
			e.link(t, id, "3", "people/c3", contact.Contact{Given: "Emmy", Family: "Noether"}, nil)
			held := []string{
				e.hold(t, id, store.HeldChange{Side: "google", ObjectID: "people/c1", ChangeKind: "delete", Kind: store.HeldBrake, Code: "brake", Name: "Kurt Gödel"}),
				e.hold(t, id, store.HeldChange{Side: "pipedrive", ObjectID: "3", ChangeKind: "delete", Kind: store.HeldBrake, Code: "brake"}),
			}
			if _, err := e.Store.UpdateConnection(ctx, id, func(c *store.Connection) error {
				c.BrakeTrippedAt = time.Now().UTC()
				c.AddErrorKey(c.BrakeTrippedAt, "brake", "The safety brake holds deletes: …", 10, 50, 30)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			_, body := b.get("/")
			mustContain(t, body, "Many contacts were deleted at once", "More than 10 of 50 linked contacts were deleted or removed from the group within 30 minutes",
				"Edits and new contacts keep syncing meanwhile.", "2 deletes wait for you:", "Kurt Gödel", "deleted in Google", "Emmy Noether", "deleted in Pipedrive",
				"Delete them on the other side too", "is deleted on the other side too", "Restore them", "put back on the side it was deleted from",
				"Deletes held by the safety brake")
			_, body = b.getLang("/", "de")
			mustContain(t, body, "Viele Kontakte wurden auf einmal gelöscht", "Mehr als 10 von 50 verknüpften Kontakten", "2 Löschungen warten auf Sie:",
				"in Google gelöscht", "Auch auf der anderen Seite löschen", "Wiederherstellen", "Die Löschbremse hält Löschungen zurück")
			noMissingText(t, body)

			code, body := b.post("/connections/"+id+"/brake-"+decision, url.Values{"csrf": {b.csrf()}})
			if code != http.StatusOK {
				t.Fatalf("%s = %d", decision, code)
			}
			mustContain(t, body, map[string]string{"confirm": "Confirmed: the held deletes are carried out", "restore": "the deleted contacts are put back"}[decision])
			for _, h := range held {
				if d := e.heldDoc(t, id, h); d == nil || d.Decision != decision || d.RetryAt.IsZero() {
					t.Errorf("held delete after %s: %+v", decision, d)
				}
			}
			if c, _ := e.Store.GetConnection(ctx, id); !c.BrakeTrippedAt.IsZero() {
				t.Error("the brake is still tripped")
			}
			if strings.Contains(body, `id="brake-`+id+`"`) {
				t.Error("the answered deletes are still asked about")
			}
		})
	}
}

// TestEmptySideGuardInWords: a pause by the empty-side guard says what it
// means and offers Confirm and Restore; either resumes the sync.
func TestEmptySideGuardInWords(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	id := b.liveBoth().ID
	ctx := context.Background()
	for i := range 12 {
		e.link(t, id, strconv.Itoa(100+i), "people/c"+strconv.Itoa(100+i), contact.Contact{Given: "P" + strconv.Itoa(i)}, nil)
	}
	e.hold(t, id, store.HeldChange{Side: "google", ObjectID: "people/c100", ChangeKind: "delete", Kind: store.HeldBrake, Code: "empty_side"})
	if _, err := e.Store.UpdateConnection(ctx, id, func(c *store.Connection) error {
		c.Status, c.PauseReason, c.BrakeTrippedAt, c.PollDueAt = store.StatusPaused, store.PauseEmptyGoogle, time.Now().UTC(), time.Time{}
		c.StatusReason = "Paused: the Google group lists no contacts while 12 are linked, so nothing was deleted in Pipedrive. " +
			"If the group was emptied on purpose, confirm the deletes on the settings page; otherwise restore them."
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, body := b.get("/")
	mustContain(t, body, "Paused by a safety check", "The Google group suddenly lists no contacts while 12 are linked", "nothing was deleted in Pipedrive",
		"Nothing was deleted: the sync is paused", "P0", "deleted in Google", "Choose this only if you emptied that side on purpose")
	_, body = b.getLang("/", "de")
	mustContain(t, body, "Die Google-Gruppe enthält plötzlich keine Kontakte mehr, obwohl 12 verknüpft sind", "Es wurde nichts gelöscht: Die Synchronisierung ist angehalten")
	if strings.Contains(body, `lang="en">Paused: the Google group`) {
		t.Error("the guard's reason is shown in English on the German page")
	}
	if code, _ := b.post("/connections/"+id+"/brake-restore", url.Values{"csrf": {b.csrf()}}); code != http.StatusOK {
		t.Fatalf("restore = %d", code)
	}
	if c, _ := e.Store.GetConnection(ctx, id); c.Status != store.StatusLive || !c.BrakeTrippedAt.IsZero() {
		t.Errorf("after restore: %s, tripped %v", c.Status, c.BrakeTrippedAt)
	}
}

// TestReauthBannerKeepsGoogle: with both accounts to connect again, both
// banners show their one button; signing in with Pipedrive leaves
// Google's.
func TestReauthBannerKeepsGoogle(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	c := b.liveBoth()
	if _, err := e.Store.UpdateConnection(context.Background(), c.ID, func(c *store.Connection) error {
		c.Status, c.ReauthGoogle, c.ReauthPipedrive = store.StatusNeedsReauth, true, true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, body := b.get("/")
	mustContain(t, body, `id="reauth-google-`+c.ID+`"`, "Sign in with Pipedrive again", `id="pd-signin-`+c.ID+`"`)
	code, body := b.post("/connect/pipedrive/token", url.Values{"csrf": {b.csrf()}, "conn": {c.ID}, "token": {e.APIToken}})
	if code != http.StatusOK {
		t.Fatalf("Pipedrive again = %d", code)
	}
	mustContain(t, body, `id="reauth-google-`+c.ID+`"`, "Google needs you to sign in again")
	if strings.Contains(body, "Sign in with Pipedrive again") {
		t.Error("the Pipedrive banner stays after signing in with Pipedrive")
	}
}

// TestCountsAndLastWebhook: the counters are summed from the links, the
// connection's delete count and the held changes, and the last webhook's
// time is shown.
func TestCountsAndLastWebhook(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	id := b.connected()
	ctx := context.Background()
	for i, l := range []struct {
		created            string
		updates, conflicts int64
	}{{"google", 2, 1}, {"google", 0, 0}, {"pipedrive", 3, 2}, {"", 0, 0}} {
		e.link(t, id, strconv.Itoa(i+1), "people/c"+strconv.Itoa(i+1), contact.Contact{Given: "P"}, func(k *store.Link) {
			k.CreatedOn, k.Updates, k.Conflicts = l.created, l.updates, l.conflicts
		})
	}
	e.hold(t, id, store.HeldChange{Side: "google", ObjectID: "people/c20", ChangeKind: "upsert", Kind: store.HeldReview, Code: "ambiguous", Candidates: []string{"1", "2"}})
	e.hold(t, id, store.HeldChange{Side: "pipedrive", ObjectID: "21", ChangeKind: "upsert", Kind: store.HeldFailed, Code: "permanent"})
	e.hold(t, id, store.HeldChange{Side: "pipedrive", ObjectID: "22", ChangeKind: "upsert", Kind: store.HeldDeferred, Code: "paused"})
	hook := time.Date(2026, 5, 6, 7, 8, 0, 0, time.UTC)
	if _, err := e.Store.UpdateConnection(ctx, id, func(c *store.Connection) error {
		c.Counts, c.LastWebhookAt = map[string]int64{"deleted": 4}, hook
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, body := b.get("/")
	mustContain(t, body, "4 contacts", "2 created in Google", "1 created in Pipedrive", "5 updated", "4 deleted", "3 conflicts merged",
		"1 waits for your review", "2 held changes", "Last change from Pipedrive", `<time datetime="2026-05-06T07:08:00Z"`)
	_, body = b.getLang("/", "de")
	mustContain(t, body, "2 in Google angelegt", "1 in Pipedrive angelegt", "3 Konflikte zusammengeführt", "1 wartet auf Ihre Prüfung", "2 zurückgehaltene Änderungen")
	noMissingText(t, body)
}

// TestErrorsInTheUsersLanguage: recorded errors are shown by their key in
// the page's language, with their values; an unknown key, an entry whose
// values do not fit, and an entry from before keys are shown as stored.
func TestErrorsInTheUsersLanguage(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	id := b.connected()
	at := time.Now().UTC()
	if _, err := e.Store.UpdateConnection(context.Background(), id, func(c *store.Connection) error {
		c.AddErrorKey(at, "brake", "The safety brake holds deletes: more than 10 of 50 …", 10, 50, 30)
		c.AddErrorKey(at, store.PauseEmptyPipedrive, "Paused: you own no Pipedrive persons any more while 12 are linked …", 12)
		c.AddErrorKey(at, "reauth_google", "Google access was revoked or has expired; …")
		c.AddErrorKey(at, "something_new", "Something the page has no words for yet.")
		c.AddErrorKey(at, "brake", "A brake entry with too few values.", 10)
		c.AddError(at, "Pipedrive's webhooks could not be checked or registered again; changes made in Pipedrive may reach Google only every few minutes until this works.")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, body := b.getLang("/", "de")
	mustContain(t, body, "Die Löschbremse hält Löschungen zurück: Mehr als 10 von 50 verknüpften Kontakten wurden innerhalb von 30 Minuten",
		"Ihnen gehörten plötzlich keine Pipedrive-Personen mehr, obwohl 12 verknüpft waren", "Der Zugriff auf Google wurde widerrufen",
		`lang="en">Something the page has no words for yet.`, `lang="en">A brake entry with too few values.`,
		"Die Webhooks in Pipedrive konnten nicht geprüft")
	noMissingText(t, body)
	if strings.Contains(body, "%!") {
		t.Error("a text was formatted with values that do not fit")
	}
	_, body = b.getLang("/", "en")
	mustContain(t, body, "The safety brake holds deletes: more than 10 of 50 linked contacts were deleted or removed within 30 minutes")
}

// TestContactHistorySearch: a contact is found by name, e-mail address or
// phone number; its history tells what changed on which side and what was
// written where, in the page's language, the sync's note as written; the
// closest matches come first; another session finds nothing.
func TestContactHistorySearch(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	id := b.connected()
	at := time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)
	e.link(t, id, "1", "people/c1", ada(), func(l *store.Link) {
		l.CreatedOn, l.Updates, l.Conflicts = "google", 2, 1
		l.History = []store.HistoryEntry{
			{At: at, Side: "pipedrive", Action: "create google", Fields: []string{"given", "family", "emails"}, Detail: "new in Pipedrive: created in Google (via webhook)"},
			{At: at.Add(time.Hour), Side: "google", Action: "update pipedrive", Fields: []string{"phones", "org"}, Conflict: true,
				Detail: "updated phones, org in Pipedrive; 1 conflict(s), later change won (via poll)"},
			{At: at.Add(2 * time.Hour), Side: "google", Action: "skip", Detail: "skipped: a second Google address is not synced (via poll)"},
		}
	})
	e.link(t, id, "2", "people/c2", contact.Contact{Given: "Ada", Family: "Byron"}, nil)

	for _, q := range []string{"Ada Lovelace", "ada@EXAMPLE.com", "+49 30 123 4567", "lovelace"} {
		_, body := b.get("/?conn=" + id + "&q=" + url.QueryEscape(q))
		mustContain(t, body, `id="contact-`+id+`-p-1"`, "Ada Lovelace", "Analytical Engines · ada@example.com",
			"Created in Google by the sync · 2 updates · 1 conflict merged",
			"New in Pipedrive (first name, last name, e-mail addresses) → created in Google",
			"Changed in Google (phone numbers, organization) → updated in Pipedrive", "Conflict: both sides changed the same field; the later change won.",
			"Changed in Google → nothing written", "skipped: a second Google address is not synced (via poll)")
		if strings.Contains(body, "Ada Byron") {
			t.Errorf("search %q shows a contact that matches less of it", q)
		}
	}
	_, body := b.get("/?conn=" + id + "&q=Ada")
	mustContain(t, body, "Ada Lovelace", "Ada Byron")
	_, body = b.getLang("/?conn="+id+"&q=Lovelace", "de")
	mustContain(t, body, "Neu in Pipedrive (Vorname, Nachname, E-Mail-Adressen) → in Google angelegt", "In Google geändert → nichts geschrieben",
		"Von der Synchronisierung in Google angelegt · 2 Aktualisierungen", `lang="en">skipped: a second Google address is not synced (via poll)`)
	noMissingText(t, body)
	_, body = b.get("/?conn=" + id + "&q=Nobody")
	mustContain(t, body, "No synced contact matches this search.")

	mallory := e.browser(t)
	mallory.get("/")
	if _, body := mallory.get("/?conn=" + id + "&q=Lovelace"); strings.Contains(body, "Lovelace") {
		t.Error("another session finds the connection's contacts")
	}
}

func ptr[T any](v T) *T { return &v }
