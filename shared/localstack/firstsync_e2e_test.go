package localstack_test

// End-to-end test of the first sync (issue 12): both sandbox accounts are
// seeded before anyone connects them (scripts/dev --no-demo --seed N,M),
// then a user connects them on the settings page and saves the group. The
// fakes' Go helpers only observe.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/localstack"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/store"
)

// firstSyncSeed is the test's seed; FIRST_SYNC_SEED=N,M measures another
// (the README's figure is FIRST_SYNC_SEED=1000,1000).
func firstSyncSeed(t *testing.T) localstack.Seed {
	t.Helper()
	v := os.Getenv("FIRST_SYNC_SEED")
	if v == "" {
		return localstack.Seed{Persons: 60, Contacts: 60}
	}
	s, err := localstack.ParseSeed(v)
	if err != nil {
		t.Fatalf("FIRST_SYNC_SEED: %v", err)
	}
	return s
}

// TestFirstSyncOfSeededAccounts: 60 Pipedrive persons and 60 contacts in
// the Google group, 18 of them the same people typed differently, are
// connected through the settings page as a user would (sign in with
// Pipedrive, connect Google, pick the "Pipedrive" group, save). Once the
// connection is live, every seeded person is in the group and every group
// contact a person, the shared ones matched (no duplicates), and nothing
// moves afterwards.
func TestFirstSyncOfSeededAccounts(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the whole stack")
	}
	seed := firstSyncSeed(t)
	h := startSeededStack(t, seed)
	sd := h.s.Seeded
	if sd == nil || len(sd.Persons) != seed.Persons || len(sd.Contacts) != seed.Contacts {
		t.Fatalf("the stack seeded %+v, want %+v", sd, seed)
	}
	n, m, k := seed.Persons, seed.Contacts, sd.Overlap

	u := newPageUser(t, h.s.Endpoints.Settings)
	start := u.connectAndSave(t, h)
	w := h.watchFirstSync(t, u, start, 2*time.Minute+time.Duration(max(n, m))*time.Minute/1000)
	if st := u.state(t, h.demo.ConnectionID); st != "live" {
		t.Fatalf("the page shows the connection %q once it is live", st)
	}
	c := h.connection(t)
	fs := c.FirstSync
	if c.Status != store.StatusLive || fs == nil || fs.Phase != store.PhaseDone {
		t.Fatalf("connection %s, first sync %+v: want live and done", c.Status, fs)
	}
	t.Logf("first sync of %d persons + %d contacts (%d the same people): live %v after Save "+
		"(Google's %d writes done after %v, Pipedrive's %d after %v; plan %q, burst %d per 2 s; the page, reloaded every 5 s, showed it running %d times)",
		n, m, k, w.live.Round(100*time.Millisecond), fs.GoogleTotal, w.google.Round(100*time.Millisecond),
		fs.PipedriveTotal, w.pipedrive.Round(100*time.Millisecond), fs.PipedrivePlan, fs.PipedriveBurst, w.running)

	persons := h.demoPersons()
	group := h.groupContacts(t)
	if got, want := len(persons), n+m-k; got != want {
		t.Errorf("%d persons of the user, want %d + (%d − %d) = %d", got, n, m, k, want)
	}
	if got, want := len(group), m+n-k; got != want {
		t.Errorf("%d contacts in the group, want %d + (%d − %d) = %d", got, m, n, k, want)
	}
	h.assertLinked(t, persons, group)
	assertNoDuplicates(t, h)
	h.assertSeededPairs(t)
	h.assertOneOrgPerName(t, persons)
	held, err := h.st.HeldChanges(context.Background(), c.ID, store.HeldReview, 10)
	if err != nil || len(held) != 0 {
		t.Errorf("%d records held for review (%v), want none: no seeded person is ambiguous", len(held), err)
	}
	if linked, err := h.st.CountLinks(context.Background(), c.ID); err != nil || linked != int64(n+m-k) {
		t.Errorf("%d links (%v), want %d", linked, err, n+m-k)
	}
	if body := u.page(t); !strings.Contains(body, fmt.Sprintf(`id="linked-%s" data-count="%d"`, c.ID, n+m-k)) {
		t.Errorf("the page does not count %d linked contacts", n+m-k)
	}

	h.settleAfterFirstSync(t, time.Minute+time.Duration(n+m)*time.Minute/1000)
	h.assertQuiet(t, "after the first sync")
}

// settleAfterFirstSync waits until the sync is at rest after its first
// sync: the webhooks of the persons it created are delivered, and two
// polls ran. The first poll lists every contact the job wrote (the job's
// sync token is from its listing, before the writes) and finds each an
// echo; at a thousand contacts that takes longer than settle allows.
func (h *harness) settleAfterFirstSync(t *testing.T, limit time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if err := h.s.Pipedrive.WaitDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	last, seen := h.connection(t).LastPollAt, 0
	waitFor(t, "two polls after the first sync", limit, func() bool {
		if at := h.connection(t).LastPollAt; at.After(last) {
			last, seen = at, seen+1
		}
		return seen >= 2
	})
}

// firstSyncTimes are when, after Save, each side's writes were done and
// the connection went live.
type firstSyncTimes struct {
	google, pipedrive, live time.Duration
	running                 int // page loads that showed the first sync running
}

// watchFirstSync waits until the connection is live, reading its progress
// in the store, and meanwhile loads the page every 5 s as the page itself
// reloads while the first sync runs (not more often: every page load
// reads the user's Google groups, within Google's quota).
func (h *harness) watchFirstSync(t *testing.T, u *pageUser, start time.Time, limit time.Duration) firstSyncTimes {
	t.Helper()
	var w firstSyncTimes
	var loaded time.Time
	waitFor(t, "the connection live after its first sync", limit, func() bool {
		c := h.connection(t)
		since := time.Since(start)
		if fs := c.FirstSync; fs != nil && fs.Phase != store.PhaseListing {
			if w.google == 0 && fs.GoogleDone >= fs.GoogleTotal {
				w.google = since
			}
			if w.pipedrive == 0 && fs.PipedriveDone >= fs.PipedriveTotal {
				w.pipedrive = since
			}
		}
		if c.Status == store.StatusLive {
			w.live = since
			return true
		}
		if time.Since(loaded) >= 5*time.Second {
			loaded = time.Now()
			body := u.page(t)
			switch st := stateIn(body, c.ID); {
			case st == "first_sync" && strings.Contains(body, `data-refresh="5"`):
				w.running++
			case st == "first_sync":
				t.Error("the page does not refresh itself while the first sync runs")
			case st != "live":
				t.Fatalf("the page shows the connection %q during its first sync", st)
			}
		}
		return false
	})
	return w
}

// startSeededStack starts a stack without the demo connection, its
// sandbox accounts seeded, and returns the harness of the sync tests
// around them (the connection id is filled in once the user connects).
// DEFAULT_PHONE_REGION=DE, as a German user would set it: then the
// seeded "030 …" and "+49 (0)30 …" compare as one number.
func startSeededStack(t *testing.T, seed localstack.Seed) *harness {
	t.Helper()
	return startSeededStackEvery(t, seed, pollInterval)
}

// startSeededStackEvery is startSeededStack with the scheduler ticking
// every poll.
func startSeededStackEvery(t *testing.T, seed localstack.Seed, poll time.Duration) *harness {
	t.Helper()
	dir := debugDir(t)
	s, project := launch(t, localstack.Options{Dir: dir, PollInterval: poll, NoDemo: true, Seed: seed,
		Env: map[string]string{"DEFAULT_PHONE_REGION": "DE"}})
	demo := *s.Endpoints.Demo
	h := &harness{s: s, project: project, demo: &demo, dir: dir, hc: &http.Client{Timeout: 30 * time.Second}}
	// The seeded names, e-mail addresses and phone numbers are in no log.
	t.Cleanup(func() { scanSuiteLogs(t, s, dir, logScope{companies: []int64{h.company}}) })
	t.Cleanup(s.Stop)
	var err error
	h.st, err = store.New(context.Background(), project, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.st.Close() })
	var me struct {
		CompanyID int64 `json:"company_id"`
	}
	h.pd(t, demo.PipedriveAPIToken, http.MethodGet, "/api/v1/users/me", nil, &me)
	h.company = me.CompanyID
	return h
}

// pageUser is a browser on the settings page: a cookie jar, following
// every redirect (the sandbox's OAuth consents approve at once).
type pageUser struct {
	base string
	c    *http.Client
}

func newPageUser(t *testing.T, settingsURL string) *pageUser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &pageUser{base: settingsURL, c: &http.Client{Jar: jar, Timeout: time.Minute}}
}

func (u *pageUser) do(t *testing.T, method, path string, form url.Values) string {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = u.c.PostForm(u.base+strings.TrimPrefix(path, "/"), form)
	} else {
		resp, err = u.c.Get(u.base + strings.TrimPrefix(path, "/"))
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s answered %d:\n%s", method, path, resp.StatusCode, b)
	}
	return string(b)
}

func (u *pageUser) page(t *testing.T) string {
	t.Helper()
	return u.do(t, http.MethodGet, "/", nil)
}

var (
	pageConnRE   = regexp.MustCompile(`id="conn-([0-9a-f]+)"`)
	pageCSRFRE   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	pagePolicyRE = regexp.MustCompile(`name="policy" value="([^"]+)"[^>]* checked>`)
)

// pick returns re's first submatch in body, failing the test without one.
func pick(t *testing.T, re *regexp.Regexp, body, what string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the page shows no %s", what)
	}
	return m[1]
}

// connectAndSave is the user's clicks: Sign in with Pipedrive, Connect
// Google, the existing "Pipedrive" group (the page offers it with its
// member count), the delete setting as offered, Save. It returns when
// Save was clicked and notes the connection's id in h.
func (u *pageUser) connectAndSave(t *testing.T, h *harness) time.Time {
	t.Helper()
	if body := u.page(t); !strings.Contains(body, "Sign in with Pipedrive") {
		t.Fatal("the page offers no Pipedrive sign-in")
	}
	body := u.do(t, http.MethodGet, "/connect/pipedrive", nil)
	id := pick(t, pageConnRE, body, "connection")
	body = u.do(t, http.MethodGet, "/connect/google?conn="+id, nil)
	groupRE := regexp.MustCompile(`name="group" value="([^"]+)" id="group-` + id + `-[0-9]+"[^>]*><span>` +
		regexp.QuoteMeta(localstack.DemoGroupName) + `<br><span class="hint">([0-9]+) `)
	g := groupRE.FindStringSubmatch(body)
	if g == nil {
		t.Fatalf("the group picker does not offer %q", localstack.DemoGroupName)
	}
	if g[1] != h.demo.GoogleGroup || g[2] != strconv.Itoa(len(h.s.Seeded.Contacts)) {
		t.Errorf("the picker offers group %s with %s members, want %s with %d", g[1], g[2], h.demo.GoogleGroup, len(h.s.Seeded.Contacts))
	}
	form := url.Values{"csrf": {pick(t, pageCSRFRE, body, "CSRF token")}, "group": {g[1]},
		"policy": {pick(t, pagePolicyRE, body, "delete setting")}}
	h.demo.ConnectionID = id
	start := time.Now()
	body = u.do(t, http.MethodPost, "/connections/"+id+"/save", form)
	if st := stateIn(body, id); st != "first_sync" && st != "live" {
		t.Fatalf("after Save the connection is %q, want first_sync (or live)", st)
	}
	return start
}

// state is the connection's state as the page shows it (data-state).
func (u *pageUser) state(t *testing.T, id string) string {
	t.Helper()
	return stateIn(u.page(t), id)
}

func stateIn(body, id string) string {
	m := regexp.MustCompile(`id="conn-` + id + `"[^>]* data-state="([a-z_]+)"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// linksOf reads the connection's links once, by Pipedrive id and by
// Google resource name (one query per record would scan the links each
// time: minutes at a few thousand).
func (h *harness) linksOf(t *testing.T) (byPerson, byContact map[string]*store.Link) {
	t.Helper()
	links, err := h.st.AllLinks(context.Background(), h.demo.ConnectionID)
	if err != nil {
		t.Fatal(err)
	}
	byPerson, byContact = map[string]*store.Link{}, map[string]*store.Link{}
	for _, l := range links {
		if l.PipedriveID != "" {
			byPerson[l.PipedriveID] = l
		}
		if l.GoogleID != "" {
			byContact[l.GoogleID] = l
		}
	}
	return byPerson, byContact
}

// assertLinked: every seeded person is linked to a contact in the group
// and every group contact to a person of the user.
func (h *harness) assertLinked(t *testing.T, persons []pipedrive.Person, group []*people.Person) {
	t.Helper()
	byPerson, byContact := h.linksOf(t)
	inGroup := map[string]bool{}
	for _, c := range group {
		inGroup[c.ResourceName] = true
	}
	mine := map[string]bool{}
	for _, p := range persons {
		mine[strconv.FormatInt(p.ID, 10)] = true
	}
	missing := 0
	for _, id := range h.s.Seeded.Persons {
		if l := byPerson[strconv.FormatInt(id, 10)]; l == nil || !inGroup[l.GoogleID] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d seeded persons have no contact in the group", missing, len(h.s.Seeded.Persons))
	}
	missing = 0
	for _, c := range group {
		if l := byContact[c.ResourceName]; l == nil || !mine[l.PipedriveID] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d group contacts are no person of the user", missing, len(group))
	}
}

// assertSeededPairs: the people seeded on both sides were matched to each
// other, and the phone typed two ways is one number on each side (not
// both formats on both).
func (h *harness) assertSeededPairs(t *testing.T) {
	t.Helper()
	sd := h.s.Seeded
	byPerson, _ := h.linksOf(t)
	wrong, twice := 0, 0
	for i := range sd.Overlap {
		if l := byPerson[strconv.FormatInt(sd.Persons[i], 10)]; l == nil || l.GoogleID != sd.Contacts[i] {
			wrong++
			continue
		}
		p, _ := h.person(sd.Persons[i])
		c, err := h.s.Google.Contact(h.demo.GoogleUser, sd.Contacts[i])
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Phones) > 1 || len(c.PhoneNumbers) > 1 || len(p.Emails) != 1 || len(c.EmailAddresses) != 1 {
			twice++
		}
	}
	if wrong > 0 {
		t.Errorf("%d of the %d people seeded on both sides were not matched to each other", wrong, sd.Overlap)
	}
	if twice > 0 {
		t.Errorf("%d of the %d matched people have a phone or e-mail twice (once in each format)", twice, sd.Overlap)
	}
}

// assertOneOrgPerName: an organization named on several contacts was
// created in Pipedrive once, and the seeded ones were reused.
func (h *harness) assertOneOrgPerName(t *testing.T, persons []pipedrive.Person) {
	t.Helper()
	ids := map[string]map[int64]bool{}
	for _, p := range persons {
		if p.OrgID == nil {
			continue
		}
		name := h.orgName(t, p.OrgID)
		if ids[name] == nil {
			ids[name] = map[int64]bool{}
		}
		ids[name][*p.OrgID] = true
	}
	if len(ids) == 0 {
		t.Error("no person has an organization")
	}
	for name, set := range ids {
		if len(set) != 1 {
			t.Errorf("organization %q exists %d times in Pipedrive", name, len(set))
		}
	}
}
