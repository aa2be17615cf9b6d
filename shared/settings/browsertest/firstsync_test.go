package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/store"
)

// The first sync as a newcomer sees it: both accounts hold contacts
// already (seeded through the sandbox's Pipedrive REST API and People API
// with the demo's tokens), the preview says what Save will do, and the
// page shows the first sync's progress while it runs and what it did.

// What a run seeds: persons with a twin in the group (found by e-mail; the
// twin carries a phone number the person lacks, and a few spell the last
// name differently), persons only in Pipedrive and contacts only in the
// group. The contacts only in the group are the Pipedrive creates that
// pace the first sync to a few seconds (20 requests per 2 s for an API
// token, 80 with OAuth); more would make the brake step later in the run
// (20 % of the linked contacts, paced by Google's write quota) slow.
const (
	seedTwins         = 8
	seedConflicts     = 3 // of the twins, with another last name in Google
	seedPipedriveOnly = 6
	seedGoogleOnly    = 30
)

// seedTag marks a run's seeded records (and the persons the first sync
// creates from its contacts) so that they can be removed after the run.
func (r *run) seedTag() string { return strings.ToUpper(r.lang) + strconv.Itoa(r.width) }

// seedPersons adds the run's persons through Pipedrive's REST API.
func (r *run) seedPersons() {
	r.t.Helper()
	tag := r.seedTag()
	add := func(name, email string) {
		var p struct {
			ID int64 `json:"id"`
		}
		body := map[string]any{"name": name, "owner_id": r.st.demo.PipedriveUserID,
			"emails": []map[string]any{{"value": email, "label": "work", "primary": true}}}
		if err := json.Unmarshal(r.pd(http.MethodPost, "/api/v2/persons", body), &p); err != nil || p.ID == 0 {
			r.t.Fatalf("create person %s: %v", name, err)
		}
	}
	for i := range seedTwins {
		add(fmt.Sprintf("Olive Twin %s %02d", tag, i), fmt.Sprintf("olive.%s.%02d@twins.example", strings.ToLower(tag), i))
	}
	for i := range seedPipedriveOnly {
		add(fmt.Sprintf("Paula Solo %s %02d", tag, i), fmt.Sprintf("paula.%s.%02d@solo.example", strings.ToLower(tag), i))
	}
}

// seedContacts adds the run's contacts to group through the People API,
// in one batch.
func (r *run) seedContacts(group string) {
	r.t.Helper()
	tag := r.seedTag()
	in := []*people.Membership{{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: group}}}
	var cs []*people.ContactToCreate
	for i := range seedTwins {
		family := fmt.Sprintf("Twin %s %02d", tag, i)
		if i < seedConflicts {
			family = fmt.Sprintf("Twin-Lovelace %s %02d", tag, i)
		}
		cs = append(cs, &people.ContactToCreate{ContactPerson: &people.Person{
			Names:          []*people.Name{{GivenName: "Olive", FamilyName: family}},
			EmailAddresses: []*people.EmailAddress{{Value: fmt.Sprintf("olive.%s.%02d@twins.example", strings.ToLower(tag), i), Type: "work"}},
			PhoneNumbers:   []*people.PhoneNumber{{Value: fmt.Sprintf("+1 202 555 01%02d", i), Type: "mobile"}},
			Memberships:    in,
		}})
	}
	for i := range seedGoogleOnly {
		cs = append(cs, &people.ContactToCreate{ContactPerson: &people.Person{
			Names:          []*people.Name{{GivenName: "Greta", FamilyName: fmt.Sprintf("Contact %s %02d", tag, i)}},
			EmailAddresses: []*people.EmailAddress{{Value: fmt.Sprintf("greta.%s.%02d@contacts.example", strings.ToLower(tag), i), Type: "work"}},
			Memberships:    in,
		}})
	}
	if _, err := r.people().People.BatchCreateContacts(&people.BatchCreateContactsRequest{Contacts: cs, ReadMask: "names"}).Do(); err != nil {
		r.t.Fatalf("create contacts: %v", err)
	}
}

// removeSeeded deletes the run's seeded persons, and those the first sync
// created from its contacts, in the Pipedrive sandbox once the connection
// is gone: the next run's first sync and brake then have as many contacts
// to handle as this one had.
func (r *run) removeSeeded() {
	r.t.Helper()
	var persons []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	path := "/api/v2/persons?limit=500&owner_id=" + strconv.FormatInt(r.st.demo.PipedriveUserID, 10)
	if err := json.Unmarshal(r.pd(http.MethodGet, path, nil), &persons); err != nil {
		r.t.Fatal(err)
	}
	for _, p := range persons {
		if strings.Contains(p.Name, " "+r.seedTag()+" ") {
			if err := r.st.s.Pipedrive.UIDeletePerson(r.st.demo.PipedriveUserID, p.ID); err != nil {
				r.t.Errorf("remove %s: %v", p.Name, err)
			}
		}
	}
}

// previewCount reads one of the preview's counts.
func (r *run) previewCount(id, name string) int {
	return eval[int](r.b, fmt.Sprintf(`Number((document.querySelector('#preview-%s [data-count=%s]') || {dataset: {n: -1}}).dataset.n)`, id, name))
}

// firstSync: the preview (the button creates the group; previewed again
// once the group holds contacts), then Save, the progress while the first
// sync runs (the page updates itself; a user may reload it too), and the
// line that says what it did.
func (r *run) firstSync(base, id string) {
	t, b := r.t, r.b
	ctx := context.Background()
	ready := fmt.Sprintf("document.querySelector('#preview-%s .preview-counts')", id)

	r.seedPersons()
	b.click("#preview-button-"+id, r.has("done.preview"))
	b.waitLoaded(0, ready, 90*time.Second)
	conn, err := r.st.store.GetConnection(ctx, id)
	b.must(err)
	if conn.GoogleGroup == "" || conn.Status != store.StatusSetup {
		t.Fatalf("after the preview: group %q, status %s", conn.GoogleGroup, conn.Status)
	}
	if n := r.previewCount(id, "to_google"); n < seedTwins+seedPipedriveOnly {
		t.Errorf("the preview of the empty group adds %d persons to it, want at least %d", n, seedTwins+seedPipedriveOnly)
	}

	r.seedContacts(conn.GoogleGroup)
	b.click("#preview-button-"+id, r.has("done.preview"))
	b.waitLoaded(0, fmt.Sprintf("%s && Number(document.querySelector('#preview-%s [data-count=to_pipedrive]').dataset.n) === %d", ready, id, seedGoogleOnly), 90*time.Second)
	for name, want := range map[string]int{"matched": seedTwins, "to_pipedrive": seedGoogleOnly, "update_pipedrive": seedTwins} {
		if got := r.previewCount(id, name); got != want {
			t.Errorf("the preview counts %s = %d, want %d", name, got, want)
		}
	}
	if n := r.previewCount(id, "to_google"); n < seedPipedriveOnly {
		t.Errorf("the preview adds %d persons to the group, want at least %d", n, seedPipedriveOnly)
	}
	if n := eval[int](b, fmt.Sprintf(`Number(document.querySelector('#preview-conflicts-%s [data-count=conflicts]').dataset.n)`, id)); n < seedConflicts {
		t.Errorf("the preview shows %d conflicts, want at least %d", n, seedConflicts)
	}
	got := eval[string](b, fmt.Sprintf("document.querySelector('#preview-%s').innerText", id))
	for _, want := range []string{r.txt["preview.title"], r.text("preview.estimate"), r.text("preview.listed"), "Twin-Lovelace " + r.seedTag() + " 00",
		r.txt["rule.by.email"]} {
		if !strings.Contains(got, want) {
			t.Errorf("the preview does not say %q:\n%s", want, got)
		}
	}
	if !strings.Contains(got, r.text("preview.plan")) && !strings.Contains(got, r.txt["preview.plan_unknown"]) {
		t.Errorf("the preview does not name Pipedrive's plan:\n%s", got)
	}
	b.must(chromedp.Do(b.ctx, chromedp.ScrollIntoView(chromedp.CSS("#preview-"+id))))
	b.shot("preview")
	b.checkA11y(base)

	// Save: the first sync runs; its progress is on the page meanwhile.
	origin := b.timeOrigin()
	b.must(chromedp.Do(b.ctx, chromedp.ScrollIntoView(chromedp.CSS("#save-"+id))))
	b.must(chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS("#save-"+id), chromedp.NodeVisible)))
	b.waitLoaded(origin, r.has("done.live"), 30*time.Second)
	progress := fmt.Sprintf("document.querySelector('#progress-%s')", id)
	seen := map[string]bool{}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		c, err := r.st.store.GetConnection(ctx, id)
		b.must(err)
		if c.Status != store.StatusFirstSync {
			break
		}
		phase := ""
		if fs := c.FirstSync; fs != nil {
			phase = fs.Phase
		}
		if (phase == store.PhaseWriting || phase == store.PhaseWaiting) && !seen["writing"] || phase == store.PhaseListing && !seen["listing"] {
			b.open(base, "document.querySelector('#conn-"+id+"')") // as a user reloads
			shown := eval[string](b, progress+" ? "+progress+".dataset.phase : ''")
			kind := "writing"
			if shown == store.PhaseListing {
				kind = "listing"
			}
			if shown != "" && !seen[kind] {
				seen[kind] = true
				r.checkProgress(id, shown)
				if kind == "listing" {
					b.shotViewport("first-sync-listing")
				} else {
					b.shotViewport("first-sync-progress") // the README's picture of the progress
				}
			}
		}
		if time.Now().After(deadline) {
			b.shot("timeout")
			t.Fatalf("the first sync did not finish within 3 minutes (phase %q)", phase)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the first sync's progress was seen while listing: %v, while writing: %v", seen["listing"], seen["writing"])

	// Done: the page updates itself to the live state and says what the
	// first sync did.
	finished := fmt.Sprintf("document.querySelector('#finished-%s')", id)
	b.waitLoaded(0, "document.querySelector('#conn-"+id+"').dataset.state === 'live' && !document.body.dataset.refresh && "+finished, 30*time.Second)
	conn, err = r.st.store.GetConnection(ctx, id)
	b.must(err)
	pv := conn.FirstSync.Preview
	if pv == nil || pv.CreateInPipedrive != seedGoogleOnly || pv.Matched != seedTwins {
		t.Fatalf("the first sync's counts: %+v", pv)
	}
	held := r.txt["finished.held.other"]
	if pv.Ambiguous == 1 {
		held = r.txt["finished.held.one"]
	}
	want := fmt.Sprintf(r.txt["finished.counts"], pv.CreateInGoogle, pv.CreateInPipedrive, pv.Matched, fmt.Sprintf(held, pv.Ambiguous))
	if got := eval[string](b, finished+".innerText"); !strings.HasPrefix(got, r.txt["finished.first"]) || !strings.HasSuffix(got, want) {
		t.Errorf("the finished line reads %q, want %q … %q", got, r.txt["finished.first"], want)
	}
	if n, err := r.st.store.CountLinks(ctx, id); err != nil || n < seedTwins+seedPipedriveOnly+seedGoogleOnly {
		t.Errorf("%d links after the first sync (%v)", n, err)
	}
}

// checkProgress: the progress of the first sync as the page shows it in
// phase.
func (r *run) checkProgress(id, phase string) {
	t, b := r.t, r.b
	sel := fmt.Sprintf("#progress-%s", id)
	got := eval[string](b, "document.querySelector('"+sel+"').innerText")
	want := []string{r.txt["progress."+phase]}
	if phase == store.PhaseWaiting {
		want = []string{r.txt["progress.waiting"]}
	}
	if phase != store.PhaseListing {
		want = append(want, r.text("progress.pipedrive"))
		if n := eval[int](b, "document.querySelectorAll('"+sel+" progress').length"); n < 2 {
			t.Errorf("the progress shows %d bars while %s", n, phase)
		}
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("the progress while %s does not say %q:\n%s", phase, w, got)
		}
	}
	if !eval[bool](b, "document.body.dataset.refresh === '5' && document.querySelector('#conn-"+id+"').dataset.state === 'first_sync'") {
		t.Errorf("the page does not update itself while the first sync is %s", phase)
	}
}
