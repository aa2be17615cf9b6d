// Package browsertest drives the settings page in Debian's Chromium,
// headless, against the local stack with the sandbox fakes and no demo
// connection: the newcomer's whole flow as it exists today, in English and
// German, at 1280 px and 390 px, with screenshots of every step in
// test-artifacts/browser/ and accessibility checks in the browser.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/emulator/emulatortest"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/localstack"
	"github.com/contactsync/contactsync/shared/store"
)

// chromiumPath finds Debian's Chromium (scripts/install-chromium installs
// it; scripts/test runs that first).
func chromiumPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	msg := "Chromium is not installed: run scripts/install-chromium (Debian package chromium)"
	if os.Getenv("CONTACTSYNC_REQUIRE_EMULATORS") != "" || os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// texts are the page's texts in one language, read from the same files
// the page uses, so the test asserts what a user of that language reads.
func texts(t *testing.T, lang string) map[string]string {
	b, err := os.ReadFile(filepath.Join("..", "i18n", lang+".json"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

type stack struct {
	s     *localstack.Stack
	store *store.Store
	demo  *localstack.Demo
}

func startStack(t *testing.T) *stack {
	t.Helper()
	fsHost := emulatortest.Require(t, emulator.Firestore)
	psHost := emulatortest.Require(t, emulator.PubSub)
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	project := emulatortest.Project()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := localstack.Start(ctx, localstack.Options{
		Root: root, Dir: t.TempDir(), Project: project, PollInterval: 2 * time.Second, NoDemo: true,
		FirestoreHost: fsHost, PubSubHost: psHost,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	st, err := store.New(context.Background(), project, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &stack{s: s, store: st, demo: s.Endpoints.Demo}
}

// TestNewcomerFlowInChromium is the newcomer's flow in a real browser:
// sign in with Pipedrive (OAuth at 1280 px, the API token form at 390 px),
// connect Google, create a new group, preview the first sync of both
// accounts' contacts, save, watch its progress until it is done, see a
// person added in the Pipedrive sandbox counted and find its history,
// answer a record held for review, trip the mass-delete brake and confirm
// the deletes, lose Google's grant and connect it again, pause, resume,
// disconnect (no contact deleted). In English and German.
func TestNewcomerFlowInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack and Chromium")
	}
	chromium := chromiumPath(t)
	st := startStack(t)
	root, _ := filepath.Abs("../../..")
	artifacts := filepath.Join(root, "test-artifacts", "browser")
	for _, width := range []int{1280, 390} {
		for _, lang := range []string{"en", "de"} {
			name := fmt.Sprintf("%s-%d", lang, width)
			t.Run(name, func(t *testing.T) {
				dir := filepath.Join(artifacts, name)
				_ = os.RemoveAll(dir)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				b := newBrowser(t, chromium, lang, width, dir)
				r := &run{t: t, b: b, st: st, lang: lang, width: width, txt: texts(t, lang), group: "Pipedrive " + strings.ToUpper(name)}
				r.flow()
			})
		}
	}
}

// browser is one Chromium with a fresh profile.
type browser struct {
	t     *testing.T
	ctx   context.Context
	dir   string
	shots int
}

func newBrowser(t *testing.T, path, lang string, width int, dir string) *browser {
	height := 900
	if width < 600 {
		height = 844
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("hide-scrollbars", true), chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 6*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	b := &browser{t: t, ctx: ctx, dir: dir}
	vopts := []chromedp.EmulateViewportOption{}
	if width < 600 {
		vopts = append(vopts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	accept, zone := "en-US,en;q=0.9", "America/New_York"
	if lang == "de" {
		accept, zone = "de-DE,de;q=0.9,en;q=0.5", "Europe/Berlin"
	}
	b.must(chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height), vopts...)))
	_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
	b.must(err)
	_, err = chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": accept}})
	b.must(err)
	_, err = chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone})
	b.must(err)
	return b
}

func (b *browser) must(err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
}

// eval evaluates expr in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	b.must(err)
	return v
}

// timeOrigin identifies the current document.
func (b *browser) timeOrigin() float64 {
	v, _ := chromedp.Run(b.ctx, chromedp.Evaluate[float64]("performance.timeOrigin"))
	return v
}

// waitLoaded waits until a new document (other than the one of origin,
// unless origin is 0) has loaded and cond holds in it.
func (b *browser) waitLoaded(origin float64, cond string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	expr := "document.readyState === 'complete' && !!(" + cond + ")"
	for {
		o, err1 := chromedp.Run(b.ctx, chromedp.Evaluate[float64]("performance.timeOrigin"))
		ok, err2 := chromedp.Run(b.ctx, chromedp.Evaluate[bool](expr, chromedp.EvalIgnoreExceptions))
		if err1 == nil && err2 == nil && ok && (origin == 0 || o != origin) {
			return
		}
		if time.Now().After(deadline) {
			url, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string]("location.href"))
			b.shot("timeout")
			b.t.Fatalf("timed out waiting for %s (at %s)", cond, url)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// click clicks sel and waits for the next page, on which cond holds.
func (b *browser) click(sel, cond string) {
	b.t.Helper()
	origin := b.timeOrigin()
	b.must(chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)))
	b.waitLoaded(origin, cond, 30*time.Second)
}

// open loads url and waits for cond.
func (b *browser) open(url, cond string) {
	b.t.Helper()
	b.must(chromedp.Do(b.ctx, chromedp.Navigate(url)))
	b.waitLoaded(0, cond, 30*time.Second)
}

// reloadUntil reloads url (as a user would) until cond holds.
func (b *browser) reloadUntil(url, cond string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b.must(chromedp.Do(b.ctx, chromedp.Navigate(url)))
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("!!("+cond+")", chromedp.EvalIgnoreExceptions))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.shot("timeout")
			b.t.Fatalf("timed out reloading until %s", cond)
		}
		time.Sleep(time.Second)
	}
}

// shotViewport writes a screenshot of what the window shows (for the
// README: the top of the page).
func (b *browser) shotViewport(step string) {
	b.t.Helper()
	b.must(chromedp.Do(b.ctx, chromedp.Evaluate[chromedp.Void]("window.scrollTo(0, 0)")))
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Errorf("screenshot %s: %v", step, err)
		return
	}
	b.shots++
	if err := os.WriteFile(filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shots, step)), png, 0o644); err != nil {
		b.t.Error(err)
	}
}

// shot writes a full-page screenshot of the step.
func (b *browser) shot(step string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", step, err)
		return
	}
	b.shots++
	name := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shots, step))
	if err := os.WriteFile(name, png, 0o644); err != nil {
		b.t.Error(err)
	}
}

// a11yProblems checks the page as it is: every form control has a label;
// nothing is wider than the viewport; every control is at least 44 px
// tall (a checkbox or radio through its label).
const a11yProblems = `(() => {
  const problems = [];
  const visible = e => e.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true}) &&
    e.getBoundingClientRect().width > 0 && !e.closest('.visually-hidden');
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + String(e.className).split(' ').join('.') : '');
  for (const e of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')) problems.push('no label: ' + name(e));
  }
  const w = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > w) problems.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + ' > ' + w);
  for (const e of document.querySelectorAll('body *')) {
    if (!visible(e)) continue;
    const r = e.getBoundingClientRect();
    if (r.right > w + 0.5 || r.left < -0.5) problems.push('wider than the viewport: ' + name(e) + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
  }
  for (const e of document.querySelectorAll('button, a.button, summary, .langs a, label.choice, input[type=text], input[type=password], input[type=search], select')) {
    if (!visible(e)) continue;
    const h = e.getBoundingClientRect().height;
    if (h < 44) problems.push('smaller than 44 px: ' + name(e) + ' ' + h);
  }
  return problems;
})()`

// markActions numbers every visible action (links, buttons, summaries,
// form controls; of a radio group the checked one, the others are reached
// with the arrow keys) and returns how many there are.
const markActions = `(() => {
  const visible = e => e.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true}) && e.getBoundingClientRect().width > 0;
  const els = [...document.querySelectorAll('a[href], button, summary, input:not([type=hidden]), select, textarea')]
    .filter(e => visible(e) && (e.type !== 'radio' || e.checked));
  els.forEach((e, i) => e.setAttribute('data-tab', String(i)));
  return els.length;
})()`

// checkA11y runs the accessibility checks on the current page, then tabs
// through it from the top: the tab order must reach every action.
func (b *browser) checkA11y(url string) {
	b.t.Helper()
	if p := eval[[]string](b, a11yProblems); len(p) > 0 {
		b.shot("a11y")
		b.t.Errorf("accessibility problems:\n  %s", strings.Join(p, "\n  "))
	}
	b.open(url, "document.body") // focus starts at the top
	n := eval[int](b, markActions)
	seen := map[string]bool{}
	for i := 0; i < n+3; i++ {
		b.must(chromedp.Do(b.ctx, chromedp.KeyEvent(kb.Tab)))
		if idx := eval[string](b, `document.activeElement && document.activeElement.getAttribute('data-tab') || ''`); idx != "" {
			seen[idx] = true
		}
	}
	var missed []string
	for i := range n {
		if !seen[strconv.Itoa(i)] {
			missed = append(missed, eval[string](b, fmt.Sprintf(`(e => e.tagName + ' ' + (e.id || e.textContent.trim().slice(0, 40)))(document.querySelector('[data-tab="%d"]'))`, i)))
		}
	}
	if len(missed) > 0 {
		b.t.Errorf("the tab order does not reach %d of %d actions: %v", len(missed), n, missed)
	}
}

// run is one language at one width.
type run struct {
	t     *testing.T
	b     *browser
	st    *stack
	lang  string
	width int
	txt   map[string]string
	group string
	// search is the page's URL with the history of the person added.
	search string
}

// has is a JS condition: the page shows the text of key.
func (r *run) has(key string) string {
	s, ok := r.txt[key]
	if !ok {
		r.t.Fatalf("no text %q", key)
	}
	if i := strings.Index(s, "%"); i >= 0 { // the part before the first value
		s = s[:i]
	}
	b, _ := json.Marshal(s)
	return "document.body.innerText.includes(" + string(b) + ")"
}

func (r *run) flow() {
	t, b := r.t, r.b
	base := r.st.s.Endpoints.Settings
	demo := r.st.demo

	// The page in the browser's language.
	b.open(base, "document.documentElement.lang === '"+r.lang+"' && "+r.has("new.title"))
	b.shot("start")
	b.checkA11y(base)

	// The language switch is remembered (once, at 390 px in English).
	if r.lang == "en" && r.width < 600 {
		b.click(`.langs a[hreflang="de"]`, "document.documentElement.lang === 'de'")
		b.shot("switched-to-german")
		b.open(base, "document.documentElement.lang === 'de'")
		b.click(`.langs a[hreflang="en"]`, "document.documentElement.lang === 'en'")
	}

	// 1. Pipedrive: OAuth at 1280 px, the API token form at 390 px.
	if r.width >= 600 {
		b.click("#pd-signin-new", "document.querySelector('#notice') && "+r.has("done.pipedrive"))
	} else {
		b.must(chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS("#new details.token summary"), chromedp.NodeVisible)))
		b.must(chromedp.Do(b.ctx, chromedp.SendKeys(chromedp.CSS("#token-new"), demo.PipedriveAPIToken, chromedp.NodeVisible)))
		b.shot("api-token")
		b.click("#new form button[type=submit]", "document.querySelector('#notice') && "+r.has("done.pipedrive"))
	}
	id := eval[string](b, `document.querySelector('section.conn').id.slice(5)`)
	// A run that fails before its last step, disconnect, would leave the
	// next run (same sandbox user) signing in to a connection already set
	// up: that run would fail for this one's reason, hiding its own.
	t.Cleanup(func() {
		if t.Failed() {
			_ = r.st.store.DeleteConnection(context.Background(), id)
		}
	})
	if !strings.Contains(eval[string](b, "document.body.innerText"), "Demo User") {
		t.Error("the page does not name the Pipedrive user")
	}
	b.shot("pipedrive-connected")

	// 2. Google.
	b.click("#google-"+id, r.has("done.google")+" && document.body.innerText.includes('"+googlefake.DemoUser+"')")
	b.shot("google-connected")
	b.checkA11y(base)

	// 3. A new group, the default delete setting; with contacts on both
	// sides, the preview, Save, and the first sync's progress until it is
	// done (firstsync_test.go).
	b.must(chromedp.Do(b.ctx, chromedp.Clear(chromedp.CSS("#group-name-"+id)), chromedp.SendKeys(chromedp.CSS("#group-name-"+id), r.group)))
	b.shot("choose-group")
	r.firstSync(base, id)
	b.shot("live")
	b.checkA11y(base)

	// A person added in the Pipedrive sandbox is counted. (The persons of
	// the runs before, still in the sandbox, may be linked meanwhile by
	// the Pipedrive safety net: the count is read, not assumed.)
	before := eval[int](b, "Number(document.querySelector('#linked-"+id+"').dataset.count)")
	name := "Grace Hopper " + strings.ToUpper(r.lang) + " " + strconv.Itoa(r.width)
	person := r.addPerson(name)
	r.waitLinked(id, person)
	n, err := r.st.store.CountLinks(context.Background(), id)
	b.must(err)
	b.reloadUntil(base, fmt.Sprintf("Number(document.querySelector('#linked-%s').dataset.count) >= %d", id, n), 20*time.Second)
	// (the safety net may link more of the earlier runs' persons meanwhile:
	// the page's number is the one it says in words)
	count := eval[int](b, "Number(document.querySelector('#linked-"+id+"').dataset.count)")
	shown := eval[string](b, "document.querySelector('#linked-"+id+"').textContent")
	if n <= int64(before) || !strings.HasPrefix(shown, strconv.Itoa(count)+" ") {
		t.Errorf("linked count: %d before the person, %d after; the page reads %q", before, n, shown)
	}
	// Times are shown in the browser's zone, relative to now.
	b.reloadUntil(base, "document.querySelector('#status-"+id+" time') && !document.querySelector('#status-"+id+" time').textContent.includes('UTC')", 20*time.Second)
	b.shot("person-linked")

	// The person is counted and has a history; a record held for review is
	// answered "the same"; a mass delete trips the brake and is confirmed.
	// The brake's persons are paced by Google's write quota: it runs once
	// per language and once per width (en-1280, de-390).
	r.history(base, id, person, name)
	r.review(base, id)
	if (r.lang == "en") == (r.width >= 600) {
		r.brake(base, id)
	}

	// The page updates itself while something runs (once, en at 1280 px).
	if r.lang == "en" && r.width >= 600 {
		r.pageRefreshesItself(base, id)
	}

	// Google's grant is revoked; the page says so and the one button fixes it.
	r.st.s.Google.RevokeTokens(googlefake.DemoUser)
	b.reloadUntil(base, "document.querySelector('#conn-"+id+"').dataset.state === 'reauth_google'", 40*time.Second)
	b.shot("google-revoked")
	b.click("#reauth-google-"+id, r.has("done.google")+" && document.querySelector('#conn-"+id+"').dataset.state === 'live'")
	b.shot("google-reconnected")

	// Pause, resume.
	b.click("#pause-"+id, r.has("done.pause")+" && document.querySelector('#conn-"+id+"').dataset.state === 'paused'")
	b.shot("paused")
	b.click("#resume-"+id, r.has("done.resume")+" && document.querySelector('#conn-"+id+"').dataset.state === 'live'")
	b.shot("resumed")

	// Disconnect: said before and after that no contact is deleted.
	b.must(chromedp.Do(b.ctx, chromedp.ScrollIntoView(chromedp.CSS("#disconnect-"+id))))
	if ok := eval[bool](b, r.has("disconnect.before")); !ok {
		t.Error("the page does not say before disconnecting that no contact is deleted")
	}
	b.must(chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS("#confirm-"+id), chromedp.NodeVisible)))
	b.shot("disconnect-confirm")
	b.click("#disconnect-"+id, r.has("done.disconnect")+" && !document.querySelector('#conn-"+id+"')")
	b.shot("disconnected")

	if p, ok := r.st.s.Pipedrive.Person(person); !ok || p.IsDeleted {
		t.Errorf("the Pipedrive person was deleted by disconnecting")
	}
	contacts, err := r.st.s.Google.Contacts(googlefake.DemoUser)
	if err != nil || !googleHas(contacts, name) {
		t.Errorf("the Google contact was deleted by disconnecting (%v)", err)
	}
	r.removeSeeded()
}

// pageRefreshesItself: with the connection in its first sync the page
// marks itself running and, once the sync is live again, shows that
// without a reload.
func (r *run) pageRefreshesItself(base, id string) {
	b := r.b
	ctx := context.Background()
	set := func(s store.Status) {
		if _, err := r.st.store.UpdateConnection(ctx, id, func(c *store.Connection) error {
			c.Status = s
			return nil
		}); err != nil {
			r.t.Fatal(err)
		}
	}
	set(store.StatusFirstSync)
	b.open(base, "document.querySelector('#conn-"+id+"').dataset.state === 'first_sync' && document.body.dataset.refresh === '5'")
	b.shot("first-sync-running")
	origin := b.timeOrigin()
	b.must(chromedp.Do(b.ctx, chromedp.Evaluate[chromedp.Void]("window.__stillHere = true")))
	set(store.StatusLive)
	deadline := time.Now().Add(20 * time.Second)
	for {
		live := eval[bool](b, "document.querySelector('#conn-"+id+"').dataset.state === 'live' && !document.body.dataset.refresh")
		if live {
			break
		}
		if time.Now().After(deadline) {
			b.shot("timeout")
			r.t.Fatal("the page did not update itself when the first sync ended")
		}
		time.Sleep(300 * time.Millisecond)
	}
	if b.timeOrigin() != origin || !eval[bool](b, "window.__stillHere === true") {
		r.t.Error("the page was reloaded instead of updating itself")
	}
	b.shot("updated-itself")
}

func googleHas(contacts []*people.Person, name string) bool {
	for _, c := range contacts {
		for _, n := range c.Names {
			if strings.Contains(n.DisplayName, name) || strings.Contains(n.GivenName+" "+n.FamilyName, name) {
				return true
			}
		}
	}
	return false
}

// waitLinked waits until the person is linked to a Google contact.
func (r *run) waitLinked(connID string, person int64) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := r.st.store.LinkByPipedrive(context.Background(), connID, strconv.FormatInt(person, 10))
		if err == nil && l.GoogleID != "" {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("person %d not linked within 30 s (%v)", person, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// addPerson creates a person through the Pipedrive sandbox's REST API, as
// a script written against Pipedrive's docs would.
func (r *run) addPerson(name string) int64 {
	r.t.Helper()
	demo := r.st.demo
	data := r.pd(http.MethodPost, "/api/v2/persons", map[string]any{"name": name, "owner_id": demo.PipedriveUserID,
		"emails": []map[string]any{{"value": strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@navy.example", "label": "work"}}})
	var out struct {
		ID int64 `json:"id"`
	}
	if json.Unmarshal(data, &out) != nil || out.ID == 0 {
		r.t.Fatalf("create person: %s", data)
	}
	return out.ID
}
