package localstack_test

// The log-privacy test (issue 14, SPEC section 5 "Logs carry ids, never
// tokens, e-mails or phone numbers in clear"): a local stack logging at
// debug level syncs persons and contacts with distinctive names, e-mail
// addresses and phone numbers through creates, edits on both sides at
// once and deletes, receives bad webhooks that carry them, and is searched
// for them on the settings page; then every line of every function's log
// and of the test process's is scanned for those values, for any e-mail
// address, and for the sandbox's tokens and secrets. Every other
// end-to-end test's stack is scanned the same way once it stops
// (scanSuiteLogs), for the records that test left in the fakes: the whole
// suite's logs, the first sync's of seeded accounts included.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/localstack"
)

// probe is one value that must never appear in a log line.
type probe struct{ kind, value string }

// privacyPerson is one contact's distinctive data, before and after an edit.
type privacyPerson struct {
	given, family, email, phone string
}

func (p privacyPerson) probes() []probe {
	return []probe{
		{"name", p.given + " " + p.family}, {"name", p.given}, {"name", p.family},
		{"e-mail", p.email}, {"e-mail", strings.Split(p.email, "@")[0]},
		{"phone", p.phone}, {"phone", digits(p.phone)}, {"phone", "+" + digits(p.phone)},
	}
}

// Distinctive values: none of them can occur in a log line by chance.
var (
	pdPerson   = privacyPerson{"Quintessa", "Vortigern", "quintessa.vortigern@privacy-probe.example", "+49 30 9018 2735"}
	pdEdited   = privacyPerson{"Quintessa", "Blythewood", "q.blythewood@privacy-probe.example", "+49 30 9018 4471"}
	gContact   = privacyPerson{"Barnaby", "Zwicklethorpe", "barnaby.zwicklethorpe@privacy-probe.example", "+1 415 555 0187"}
	gEdited    = privacyPerson{"Barnabus", "Ossoryvale", "b.ossoryvale@privacy-probe.example", "+1 415 555 0164"}
	bystander  = privacyPerson{"Wilhelmina", "Featherstonhaugh", "wilhelmina.f@privacy-probe.example", "+33 1 7098 3312"}
	orgName    = "Vortigern Holdings"
	wrongToken = "c0ffeec0ffeec0ffeec0ffeec0ffeec0ffee4242"
)

func TestLogsKeepPersonalDataOut(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the whole stack")
	}
	h := startSyncStack(t, map[string]string{"LOG_LEVEL": "debug"})
	tok, uid := h.demo.PipedriveAPIToken, h.demo.PipedriveUserID
	pdView := func(p privacyPerson) view {
		return view{Given: p.given, Family: p.family, Phones: []string{digits(p.phone)}, Emails: []string{p.email}}
	}

	// A Pipedrive person: created, edited, then edited on both sides at
	// once (a merge), then deleted.
	org := h.createOrg(t, orgName)
	pid := h.createPerson(t, tok, map[string]any{
		"name": pdPerson.given + " " + pdPerson.family, "owner_id": uid, "org_id": org,
		"phones": []map[string]any{{"value": pdPerson.phone, "label": "work", "primary": true}},
		"emails": []map[string]any{{"value": pdPerson.email, "label": "work", "primary": true}},
	})
	var rn string
	waitFor(t, "the Pipedrive person in Google", 30*time.Second, func() bool {
		c, n := h.googleByEmail(t, pdPerson.email)
		if n == 1 && h.inGroup(c) {
			rn = c.ResourceName
			return true
		}
		return false
	})
	h.pd(t, tok, http.MethodPatch, "/api/v2/persons/"+strconv.FormatInt(pid, 10), map[string]any{
		"name":   pdEdited.given + " " + pdEdited.family,
		"phones": []map[string]any{{"value": pdEdited.phone, "label": "mobile", "primary": true}},
		"emails": []map[string]any{{"value": pdEdited.email, "label": "home", "primary": true}},
	}, nil)
	waitFor(t, "the Pipedrive edit in Google", 30*time.Second, func() bool {
		c, err := h.s.Google.Contact(h.demo.GoogleUser, rn)
		return err == nil && googleView(c).Family == pdEdited.family && len(c.EmailAddresses) == 1 && c.EmailAddresses[0].Value == pdEdited.email
	})
	h.settle(t)
	// Both sides at once: the org in Pipedrive, a second e-mail in Google.
	h.pd(t, tok, http.MethodPatch, "/api/v2/persons/"+strconv.FormatInt(pid, 10), map[string]any{"org_id": nil}, nil)
	h.gUpdate(t, rn, "emailAddresses", func(p *people.Person) {
		p.EmailAddresses = append(p.EmailAddresses, &people.EmailAddress{Value: bystander.email, Type: "other"})
	})
	waitFor(t, "both edits on both sides", 40*time.Second, func() bool {
		p, ok := h.person(pid)
		c, err := h.s.Google.Contact(h.demo.GoogleUser, rn)
		return ok && err == nil && len(p.Emails) == 2 && (p.OrgID == nil || *p.OrgID == 0) && len(c.Organizations) == 0
	})
	h.settle(t)

	// A Google contact: created in the group, edited, deleted.
	created, err := h.people.People.CreateContact(&people.Person{
		Names:          []*people.Name{{GivenName: gContact.given, FamilyName: gContact.family}},
		PhoneNumbers:   []*people.PhoneNumber{{Value: gContact.phone, Type: "mobile"}},
		EmailAddresses: []*people.EmailAddress{{Value: gContact.email, Type: "work"}},
		Memberships: []*people.Membership{
			{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: "contactGroups/myContacts"}},
			{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: h.demo.GoogleGroup}},
		},
	}).PersonFields(syncedFields).Do()
	if err != nil {
		t.Fatal(err)
	}
	var gpid int64
	waitFor(t, "the Google contact in Pipedrive", 40*time.Second, func() bool {
		p, n := h.personByEmail(gContact.email)
		gpid = p.ID
		return n == 1 && sameView(h.pipedriveView(t, p), pdView(gContact))
	})
	h.gUpdate(t, created.ResourceName, syncedFields, func(p *people.Person) {
		p.Names = []*people.Name{{GivenName: gEdited.given, FamilyName: gEdited.family}}
		p.PhoneNumbers = []*people.PhoneNumber{{Value: gEdited.phone, Type: "work"}}
		p.EmailAddresses = []*people.EmailAddress{{Value: gEdited.email, Type: "home"}}
	})
	waitFor(t, "the Google edit in Pipedrive", 40*time.Second, func() bool {
		p, ok := h.person(gpid)
		return ok && sameView(h.pipedriveView(t, p), pdView(gEdited))
	})

	// Bad webhooks carrying personal data: wrong password, bad JSON, an
	// unknown entity, an unknown action, a person that does not exist.
	var user, pass string
	for _, w := range h.s.Pipedrive.Webhooks(h.company) {
		if w.HTTPAuthUser == h.demo.ConnectionID {
			user, pass = w.HTTPAuthUser, w.HTTPPassword
		}
	}
	if pass == "" {
		t.Fatal("no webhook password for the demo connection")
	}
	body := func(entity, action string, id int64) string {
		return fmt.Sprintf(`{"meta":{"action":%q,"entity":%q,"entity_id":"%d","id":"%s","version":"2.0","timestamp":"2026-11-24T15:18:35Z","change_source":%q},`+
			`"data":{"id":%d,"name":%q,"owner_id":%d,"emails":[{"value":%q}],"phones":[{"value":%q}]},"previous":{"name":%q}}`,
			action, entity, id, bystander.email, bystander.phone, id, bystander.given+" "+bystander.family, uid, bystander.email, bystander.phone, bystander.family)
	}
	for _, tc := range []struct {
		name, user, pass, body string
		want                   int
	}{
		{"wrong password", user, bystander.email, body("person", "change", pid), http.StatusUnauthorized},
		{"user naming an e-mail", bystander.email, pass, body("person", "change", pid), http.StatusUnauthorized},
		{"bad JSON", user, pass, `{"meta":{"action":"change","entity":"person","name":"` + bystander.given + `"`, http.StatusBadRequest},
		{"unknown entity", user, pass, body("deal", "change", 5), http.StatusOK},
		{"unknown action", user, pass, body("person", bystander.family, pid), http.StatusOK},
		{"a person that does not exist", user, pass, body("person", "change", 999999), http.StatusOK},
	} {
		req, err := http.NewRequest(http.MethodPost, h.s.Endpoints.Intake, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(tc.user, tc.pass)
		resp, err := h.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: intake answered %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}

	// The settings page: sign in with Pipedrive (the sandbox's user owns
	// the demo connection), search the history by name, e-mail and phone,
	// paste a wrong API token.
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	page := func(method, path string, form url.Values) string {
		t.Helper()
		var resp *http.Response
		var err error
		if method == http.MethodPost {
			resp, err = b.PostForm(h.s.Endpoints.Settings+strings.TrimPrefix(path, "/"), form)
		} else {
			resp, err = b.Get(h.s.Endpoints.Settings + strings.TrimPrefix(path, "/"))
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 {
			t.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
		}
		return string(out)
	}
	if p := page(http.MethodGet, "/connect/pipedrive", nil); !strings.Contains(p, "conn-"+h.demo.ConnectionID) {
		t.Fatalf("signing in with Pipedrive did not bring the demo connection")
	}
	for _, q := range []string{pdEdited.email, gEdited.phone, gEdited.given + " " + gEdited.family, pdPerson.email} {
		page(http.MethodGet, "/?conn="+h.demo.ConnectionID+"&q="+url.QueryEscape(q), nil)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page(http.MethodGet, "/", nil))
	if m == nil {
		t.Fatal("no CSRF token on the page")
	}
	page(http.MethodPost, "/connect/pipedrive/token", url.Values{"csrf": {m[1]}, "token": {wrongToken}})
	page(http.MethodPost, "/connections/"+h.demo.ConnectionID+"/policy", url.Values{"csrf": {m[1]}, "policy": {bystander.email}})

	// Deletes on both sides.
	h.pd(t, tok, http.MethodDelete, "/api/v2/persons/"+strconv.FormatInt(pid, 10), nil, nil)
	if _, err := h.people.People.DeleteContact(created.ResourceName).Do(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both deletes synced", 40*time.Second, func() bool {
		_, gone := h.s.Google.Contact(h.demo.GoogleUser, rn)
		_, ok := h.person(gpid)
		return gone != nil && !ok
	})
	h.settle(t)

	h.s.Stop() // every line written, shutdown's included
	probes := []probe{{"organization", orgName}}
	for _, p := range []privacyPerson{pdPerson, pdEdited, gContact, gEdited, bystander} {
		probes = append(probes, p.probes()...)
	}
	probes = append(probes, sandboxSecrets(h.s)...)
	probes = append(probes, probe{"pasted API token", wrongToken})
	lines, debug := scanLogs(t, filepath.Join(h.dir, "logs"), probes)
	if lines < 30 || debug == 0 {
		t.Errorf("%d log lines, %d at debug level: the scan read next to nothing", lines, debug)
	}
}

// logScope is what a stack's logs must not show besides the sandbox's
// records and secrets: the persons of more Pipedrive companies, the
// contacts of more Google users, more secrets.
type logScope struct {
	companies   []int64
	googleUsers []string
	secrets     []probe
}

// scanSuiteLogs stops s and scans its logs in dir (see scanLogs) for the
// names (in full), e-mail addresses and phone numbers of every person of
// the companies with webhooks and of scope's (deleted ones too, as last
// seen), of every contact of the sandbox Google user and of scope's, and
// for the sandbox's tokens and secrets. Every end-to-end test's stack is
// scanned so: the whole suite's logs are the log-privacy test's input.
func scanSuiteLogs(t *testing.T, s *localstack.Stack, dir string, scope logScope) {
	t.Helper()
	s.Stop()
	var probes []probe
	person := func(name string, emails, phones []string) {
		if strings.Contains(strings.TrimSpace(name), " ") { // a single word may be any word
			probes = append(probes, probe{"name", strings.TrimSpace(name)})
		}
		for _, e := range emails {
			probes = append(probes, probe{"e-mail", e})
		}
		for _, p := range phones {
			probes = append(probes, probe{"phone", p}, probe{"phone", digits(p)})
		}
	}
	companies := map[int64]bool{}
	for _, c := range scope.companies {
		companies[c] = true
	}
	for _, w := range s.Pipedrive.Webhooks(0) {
		companies[w.CompanyID] = true
	}
	for c := range companies {
		for _, p := range s.Pipedrive.Persons(c) {
			var emails, phones []string
			for _, f := range p.Emails {
				emails = append(emails, f.Value)
			}
			for _, f := range p.Phones {
				phones = append(phones, f.Value)
			}
			person(p.Name, emails, phones)
		}
	}
	users := scope.googleUsers
	if d := s.Endpoints.Demo; d != nil {
		users = append(users, d.GoogleUser)
	}
	for _, u := range users {
		cs, err := s.Google.Contacts(u)
		if err != nil {
			t.Errorf("contacts of %s: %v", u, err)
			continue
		}
		for _, c := range cs {
			var name string
			var emails, phones []string
			for _, n := range c.Names {
				name = strings.TrimSpace(n.GivenName + " " + n.FamilyName)
			}
			for _, e := range c.EmailAddresses {
				emails = append(emails, e.Value)
			}
			for _, p := range c.PhoneNumbers {
				phones = append(phones, p.Value)
			}
			person(name, emails, phones)
		}
	}
	probes = append(probes, sandboxSecrets(s)...)
	scanLogs(t, filepath.Join(dir, "logs"), append(probes, scope.secrets...))
}

// sandboxSecrets are the sandbox's tokens and secrets (endpoints.json's
// demo block) and every registered webhook's password.
func sandboxSecrets(s *localstack.Stack) []probe {
	out := []probe{
		{"Google client secret", localstack.SandboxGoogleClientSecret},
		{"Pipedrive client secret", localstack.SandboxPipedriveClientSecret},
	}
	if d := s.Endpoints.Demo; d != nil {
		out = append(out, probe{"Pipedrive API token", d.PipedriveAPIToken},
			probe{"Google refresh token", d.GoogleRefreshToken}, probe{"Google account", d.GoogleUser})
	}
	for _, w := range s.Pipedrive.Webhooks(0) {
		out = append(out, probe{"webhook password", w.HTTPPassword})
	}
	return out
}

var (
	// anyEmail is an e-mail address in clear.
	anyEmail = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`)
	// tokenShapes are what the sandbox's tokens look like: Google's
	// access, refresh and sync tokens and authorization codes, and
	// Pipedrive's API and OAuth tokens (40 and 48 hex digits; ids and
	// trace ids in our logs have 24 and 32).
	tokenShapes = regexp.MustCompile(`ya29\.[A-Za-z0-9_-]{20,}|1//0g[A-Za-z0-9_-]{20,}|4/0A[A-Za-z0-9_-]{20,}|GgYK[A-Za-z0-9_-]{20,}|\b[0-9a-f]{40,}\b`)
)

// minPhoneDigits is the shortest phone number looked for as bare digits:
// shorter runs of digits occur in any log line (times, counts, ids). A
// phone is looked for as written too.
const minPhoneDigits = 10

// scanLogs fails t for every line of every log in dir (the functions' and
// the test process's; not the emulators', which are Google's) that
// carries one of probes, an e-mail address or a token, naming the file,
// the line and what it carries. A name is found as whole words, a phone
// number's digits as a whole run of digits, anything else anywhere, all
// regardless of case. It also fails if a function's log is missing, so
// that it cannot pass by reading nothing, and returns how many lines it
// read and how many of them were at debug level.
func scanLogs(t *testing.T, dir string, probes []probe) (lines, debug int) {
	t.Helper()
	type needle struct {
		probe
		low  string
		edge func(r rune) bool // what may not touch the value on either side; nil: anything may
	}
	var needles []needle
	for _, p := range probes {
		n := needle{probe: p, low: strings.ToLower(p.value)}
		switch {
		case p.kind == "phone" && p.value == digits(p.value):
			if len(p.value) < minPhoneDigits {
				continue
			}
			n.edge = unicode.IsDigit
		case p.kind == "name" || p.kind == "organization":
			n.edge = func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
		}
		if len(p.value) >= 4 {
			needles = append(needles, n)
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	leaks := 0
	for _, f := range files {
		if strings.HasSuffix(f, "-emulator.log") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			seen[filepath.Base(f)]++
			lines++
			if strings.Contains(line, `"severity":"DEBUG"`) {
				debug++
			}
			low := strings.ToLower(line)
			var found []string
			for _, nd := range needles {
				if containsWord(low, nd.low, nd.edge) {
					found = append(found, fmt.Sprintf("%s %q", nd.kind, nd.value))
				}
			}
			if e := anyEmail.FindString(line); e != "" {
				found = append(found, fmt.Sprintf("e-mail address %q", e))
			}
			if tk := tokenShapes.FindString(line); tk != "" {
				found = append(found, fmt.Sprintf("token %.12q…", tk))
			}
			if len(found) > 0 {
				if leaks++; leaks <= 60 {
					t.Errorf("%s:%d carries %s: %.400s", filepath.Base(f), n, strings.Join(found, ", "), line)
				}
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if leaks > 60 {
		t.Errorf("… %d lines in all", leaks)
	}
	for _, name := range []string{"Settings.log", "Intake.log", "Poll.log", "Apply.log"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("no log of the function: %v", err)
		}
	}
	t.Logf("log privacy: scanned %d lines (%d at debug level) for %d values: %v", lines, debug, len(needles), seen)
	return lines, debug
}

// containsWord reports whether s holds v where no rune edge accepts
// touches it on either side (any occurrence if edge is nil).
func containsWord(s, v string, edge func(rune) bool) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], v)
		if j < 0 {
			return false
		}
		j += i
		if edge == nil {
			return true
		}
		before, _ := utf8.DecodeLastRuneInString(s[:j])
		after, _ := utf8.DecodeRuneInString(s[j+len(v):])
		if (j == 0 || !edge(before)) && (j+len(v) == len(s) || !edge(after)) {
			return true
		}
		i = j + 1
	}
}

func TestContainsWord(t *testing.T) {
	name := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	for _, tc := range []struct {
		s, v string
		edge func(rune) bool
		want bool
	}{
		{`"summary":"pipedrive owner changed away"`, "owner change", name, false},
		{`"name":"owner change"`, "owner change", name, true},
		{`owner changed, then owner change.`, "owner change", name, true},
		{`"x":"jürgen müllerin"`, "jürgen müller", name, false},
		{`"x":"jürgen müller"`, "jürgen müller", name, true},
		{`"t":"12:00:01.4930901827351"`, "4930901827", unicode.IsDigit, false},
		{`"phone":"+4930901827"`, "4930901827", unicode.IsDigit, true},
		{`"q":"anna@x.example"`, "anna", nil, true},
		{`nothing here`, "anna", nil, false},
	} {
		if got := containsWord(tc.s, tc.v, tc.edge); got != tc.want {
			t.Errorf("containsWord(%q, %q) = %v, want %v", tc.s, tc.v, got, tc.want)
		}
	}
}
