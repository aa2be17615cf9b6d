package googlefake_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/google/googlefake"
)

const fields = "names,emailAddresses,phoneNumbers,memberships,metadata,clientData"

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

type env struct {
	s    *googlefake.Server
	base string
	svc  *people.Service
	clk  *googlefake.ManualClock
}

// newEnv starts a validating fake on a manual clock and an official People
// client signed in as the demo user.
func newEnv(t *testing.T, opts ...googlefake.Option) *env {
	t.Helper()
	clk := googlefake.NewManualClock(t0)
	s, base := googlefake.NewTestServer(t, append([]googlefake.Option{googlefake.WithClock(clk), googlefake.WithAccessTokenTTL(365 * 24 * time.Hour)}, opts...)...)
	return &env{s: s, base: base, clk: clk, svc: serviceFor(t, s, base, googlefake.DemoUser)}
}

func serviceFor(t *testing.T, s *googlefake.Server, base, email string, scopes ...string) *people.Service {
	t.Helper()
	tok, err := s.IssueToken(email, "test-client", scopes...)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := people.NewService(context.Background(), option.WithEndpoint(base+"/"),
		option.WithHTTPClient(oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(tok))))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func person(given, family, email string) *people.Person {
	p := &people.Person{Names: []*people.Name{{GivenName: given, FamilyName: family}}}
	if email != "" {
		p.EmailAddresses = []*people.EmailAddress{{Value: email, Type: "work"}}
	}
	return p
}

func seed(t *testing.T, s *googlefake.Server, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		p, err := s.SeedContact(googlefake.DemoUser, person(fmt.Sprint("G", i), "F", fmt.Sprintf("p%d@example.com", i)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.ResourceName)
	}
	return out
}

func apiErr(t *testing.T, err error) *googleapi.Error {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("want *googleapi.Error, got %T %v", err, err)
	}
	return ge
}

func hasReason(ge *googleapi.Error, reason string) bool {
	for _, d := range ge.Details {
		if m, ok := d.(map[string]any); ok && m["reason"] == reason {
			return true
		}
	}
	return false
}

func (e *env) list(pageSize int64, syncToken, pageToken string) (*people.ListConnectionsResponse, error) {
	c := e.svc.People.Connections.List("people/me").PersonFields(fields).
		Sources("READ_SOURCE_TYPE_CONTACT").RequestSyncToken(true).PageSize(pageSize)
	if syncToken != "" {
		c = c.SyncToken(syncToken)
	}
	if pageToken != "" {
		c = c.PageToken(pageToken)
	}
	return c.Do()
}

// listAll pages to the end and returns the people and the sync token.
func (e *env) listAll(t *testing.T, pageSize int64, syncToken string) ([]*people.Person, string, int) {
	t.Helper()
	var all []*people.Person
	pt, pages := "", 0
	for {
		r, err := e.list(pageSize, syncToken, pt)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, r.Connections...)
		if r.NextPageToken == "" {
			if r.NextSyncToken == "" {
				t.Fatal("last page has no nextSyncToken")
			}
			return all, r.NextSyncToken, pages
		}
		if r.NextSyncToken != "" {
			t.Fatal("nextSyncToken on a middle page")
		}
		pt = r.NextPageToken
	}
}

func TestSyncPagingAndTombstones(t *testing.T) {
	e := newEnv(t)
	rns := seed(t, e.s, 25)
	all, st, pages := e.listAll(t, 10, "")
	if len(all) != 25 || pages != 3 {
		t.Fatalf("full sync: %d people in %d pages, want 25 in 3", len(all), pages)
	}
	if len(all[0].Memberships) != 1 || all[0].Memberships[0].ContactGroupMembership.ContactGroupResourceName != "contactGroups/myContacts" {
		t.Errorf("memberships = %+v, want myContacts", all[0].Memberships)
	}
	if src := all[0].Metadata.Sources; len(src) != 1 || src[0].Type != "CONTACT" || src[0].Etag == "" || src[0].UpdateTime == "" {
		t.Errorf("metadata.sources = %+v", src)
	}

	// Nothing changed: empty delta, new token.
	delta, st2, _ := e.listAll(t, 10, st)
	if len(delta) != 0 {
		t.Fatalf("empty delta has %d people", len(delta))
	}

	if _, err := e.s.EditContact(googlefake.DemoUser, rns[3], func(p *people.Person) { p.Names[0].GivenName = "Changed" }); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteContact(googlefake.DemoUser, rns[5]); err != nil {
		t.Fatal(err)
	}
	created, err := e.svc.People.CreateContact(person("New", "One", "")).Do()
	if err != nil {
		t.Fatal(err)
	}
	delta, _, _ = e.listAll(t, 10, st2)
	got := map[string]string{}
	for _, p := range delta {
		switch {
		case p.Metadata != nil && p.Metadata.Deleted:
			got[p.ResourceName] = "deleted"
		default:
			got[p.ResourceName] = p.Names[0].GivenName
		}
	}
	want := map[string]string{rns[3]: "Changed", rns[5]: "deleted", created.ResourceName: "New"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delta = %v, want %v", got, want)
	}
}

func TestSyncParamsMustMatch(t *testing.T) {
	e := newEnv(t)
	seed(t, e.s, 3)
	first, err := e.list(2, "", "")
	if err != nil {
		t.Fatal(err)
	}
	_, st, _ := e.listAll(t, 2, "")
	tests := []struct {
		name string
		call *people.PeopleConnectionsListCall
	}{
		{"page token, other personFields", e.svc.People.Connections.List("people/me").PersonFields("names").Sources("READ_SOURCE_TYPE_CONTACT").RequestSyncToken(true).PageSize(2).PageToken(first.NextPageToken)},
		{"page token, other pageSize", e.svc.People.Connections.List("people/me").PersonFields(fields).Sources("READ_SOURCE_TYPE_CONTACT").RequestSyncToken(true).PageSize(3).PageToken(first.NextPageToken)},
		{"sync token, no requestSyncToken", e.svc.People.Connections.List("people/me").PersonFields(fields).Sources("READ_SOURCE_TYPE_CONTACT").PageSize(2).SyncToken(st)},
		{"sync token, other sources", e.svc.People.Connections.List("people/me").PersonFields(fields).RequestSyncToken(true).PageSize(2).SyncToken(st)},
		{"malformed sync token", e.svc.People.Connections.List("people/me").PersonFields(fields).Sources("READ_SOURCE_TYPE_CONTACT").RequestSyncToken(true).PageSize(2).SyncToken("garbage")},
		{"missing personFields", e.svc.People.Connections.List("people/me").PageSize(2)},
		{"unknown personFields", e.svc.People.Connections.List("people/me").PersonFields("names,nope")},
		{"pageSize too big", e.svc.People.Connections.List("people/me").PersonFields("names").PageSize(1001)},
		{"not people/me", e.svc.People.Connections.List("people/c1").PersonFields("names")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.call.Do()
			ge := apiErr(t, err)
			if ge.Code != 400 || !strings.Contains(ge.Body, "INVALID_ARGUMENT") {
				t.Errorf("got %d %s, want 400 INVALID_ARGUMENT", ge.Code, ge.Body)
			}
		})
	}
}

func TestExpiredSyncToken(t *testing.T) {
	tests := []struct {
		name   string
		opts   []googlefake.Option
		expire func(e *env)
		legacy bool
	}{
		{"7 days after the full sync", nil, func(e *env) { e.clk.Advance(7*24*time.Hour + time.Second) }, true},
		{"forced by hook", nil, func(e *env) { _ = e.s.ExpireSyncTokens(googlefake.DemoUser) }, true},
		{"without legacy errors", []googlefake.Option{googlefake.WithoutLegacyErrors()}, func(e *env) { _ = e.s.ExpireSyncTokens(googlefake.DemoUser) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts...)
			seed(t, e.s, 2)
			_, st, _ := e.listAll(t, 100, "")
			e.clk.Advance(6 * 24 * time.Hour)
			_, st2, _ := e.listAll(t, 100, st) // still valid after 6 days
			tt.expire(e)
			_, err := e.list(100, st2, "")
			ge := apiErr(t, err)
			if ge.Code != 400 || !hasReason(ge, "EXPIRED_SYNC_TOKEN") || !strings.HasPrefix(ge.Message, "Sync token is expired") {
				t.Fatalf("got %d %q details %v", ge.Code, ge.Message, ge.Details)
			}
			if legacy := len(ge.Errors) == 1 && ge.Errors[0].Reason == "failedPrecondition"; legacy != tt.legacy {
				t.Errorf("legacy errors[] = %v, want %v", ge.Errors, tt.legacy)
			}
			// A full sync works again.
			if all, _, _ := e.listAll(t, 100, ""); len(all) != 2 {
				t.Errorf("full sync after expiry: %d people", len(all))
			}
		})
	}
}

func TestPropagationDelay(t *testing.T) {
	e := newEnv(t, googlefake.WithPropagationDelay(3*time.Minute))
	_, st, _ := e.listAll(t, 100, "")
	p, err := e.svc.People.CreateContact(person("Fresh", "Contact", "")).Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.People.Get(p.ResourceName).PersonFields("names").Do(); err != nil {
		t.Fatalf("get right after create: %v", err)
	}
	delta, st2, _ := e.listAll(t, 100, st)
	full, _, _ := e.listAll(t, 100, "")
	if len(delta) != 0 || len(full) != 0 {
		t.Fatalf("write visible to sync at once: delta %d full %d", len(delta), len(full))
	}
	e.clk.Advance(3 * time.Minute)
	delta, _, _ = e.listAll(t, 100, st2)
	if len(delta) != 1 || delta[0].ResourceName != p.ResourceName {
		t.Fatalf("after the delay: %d people", len(delta))
	}
}

func TestUpdateContact(t *testing.T) {
	e := newEnv(t)
	p, err := e.svc.People.CreateContact(&people.Person{
		Names:          []*people.Name{{GivenName: "Ada", FamilyName: "Lovelace"}},
		PhoneNumbers:   []*people.PhoneNumber{{Value: "+44 20 7946 0018", Type: "work"}},
		EmailAddresses: []*people.EmailAddress{{Value: "ada@example.com"}},
	}).PersonFields(fields).Do()
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Names[0].DisplayName; got != "Ada Lovelace" {
		t.Errorf("displayName = %q", got)
	}
	if got := p.PhoneNumbers[0].CanonicalForm; got != "+442079460018" {
		t.Errorf("canonicalForm = %q", got)
	}
	stale := p.Etag

	// Replace phones whole, leave emails alone (not listed).
	p.PhoneNumbers = []*people.PhoneNumber{{Value: "+1 650 253 0000", Type: "mobile"}}
	p.EmailAddresses = nil
	up, err := e.svc.People.UpdateContact(p.ResourceName, p).UpdatePersonFields("phoneNumbers").PersonFields(fields).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(up.PhoneNumbers) != 1 || up.PhoneNumbers[0].Value != "+1 650 253 0000" || len(up.EmailAddresses) != 1 {
		t.Errorf("after update: phones %+v emails %+v", up.PhoneNumbers, up.EmailAddresses)
	}
	if up.Etag == stale {
		t.Error("etag unchanged by update")
	}

	tests := []struct {
		name   string
		p      *people.Person
		mask   string
		code   int
		status string
		msg    string
	}{
		{"stale etag", &people.Person{Etag: stale, Metadata: src(up)}, "names", 400, "FAILED_PRECONDITION", "Request person.etag is different than the current person.etag. Clear local cache and get the latest person."},
		{"stale source etag", &people.Person{Metadata: &people.PersonMetadata{Sources: []*people.Source{{Type: "CONTACT", Etag: p.Metadata.Sources[0].Etag}}}}, "names", 400, "FAILED_PRECONDITION", ""},
		// Discovery, updateContact: "returns a 400 error if
		// person.metadata.sources is not specified"; a current top-level
		// etag alone is not enough.
		{"top-level etag alone", &people.Person{Etag: up.Etag}, "names", 400, "INVALID_ARGUMENT", "person.metadata.sources"},
		{"no etag", &people.Person{}, "names", 400, "INVALID_ARGUMENT", "person.metadata.sources"},
		{"contact source without etag", &people.Person{Metadata: &people.PersonMetadata{Sources: []*people.Source{{Type: "CONTACT"}}}}, "names", 400, "INVALID_ARGUMENT", "person.metadata.sources.etag"},
		{"profile source only", &people.Person{Metadata: &people.PersonMetadata{Sources: []*people.Source{{Type: "PROFILE", Etag: up.Metadata.Sources[0].Etag}}}}, "names", 400, "INVALID_ARGUMENT", "person.metadata.sources"},
		{"no updatePersonFields", &people.Person{Metadata: src(up)}, "", 400, "INVALID_ARGUMENT", "updatePersonFields mask is required"},
		{"output-only field", &people.Person{Metadata: src(up)}, "photos", 400, "INVALID_ARGUMENT", "Invalid updatePersonFields mask path"},
		{"two names", &people.Person{Metadata: src(up), Names: []*people.Name{{GivenName: "A"}, {GivenName: "B"}}}, "names", 400, "INVALID_ARGUMENT", "Cannot have more than one person.names per source."},
		{"memberships without a group", &people.Person{Metadata: src(up)}, "memberships", 400, "INVALID_ARGUMENT", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.People.UpdateContact(p.ResourceName, tt.p).UpdatePersonFields(tt.mask).Do()
			ge := apiErr(t, err)
			if ge.Code != tt.code || !strings.Contains(ge.Body, tt.status) || !strings.HasPrefix(ge.Message, tt.msg) {
				t.Errorf("got %d %q %s", ge.Code, ge.Message, ge.Body)
			}
			if tt.status == "FAILED_PRECONDITION" && (len(ge.Errors) != 1 || ge.Errors[0].Reason != "failedPrecondition") {
				t.Errorf("errors[] = %+v", ge.Errors)
			}
		})
	}

	// The source etag alone is accepted; a listed field with no value is cleared.
	cur, _ := e.s.Contact(googlefake.DemoUser, p.ResourceName)
	only := &people.Person{Metadata: &people.PersonMetadata{Sources: []*people.Source{{Type: "CONTACT", Etag: cur.Metadata.Sources[0].Etag}}}}
	cleared, err := e.svc.People.UpdateContact(p.ResourceName, only).UpdatePersonFields("emailAddresses").PersonFields(fields).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(cleared.EmailAddresses) != 0 || len(cleared.Names) != 1 {
		t.Errorf("clear emails: %+v", cleared)
	}

	if _, err := e.svc.People.DeleteContact(p.ResourceName).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.People.Get(p.ResourceName).PersonFields("names").Do()
	if ge := apiErr(t, err); ge.Code != 404 {
		t.Errorf("get deleted: %d", ge.Code)
	}
}

func TestBatches(t *testing.T) {
	e := newEnv(t, googlefake.WithoutQuota())
	many := func(n int) []*people.ContactToCreate {
		out := make([]*people.ContactToCreate, n)
		for i := range out {
			out[i] = &people.ContactToCreate{ContactPerson: person(fmt.Sprint("B", i), "", "")}
		}
		return out
	}
	resp, err := e.svc.People.BatchCreateContacts(&people.BatchCreateContactsRequest{Contacts: many(200), ReadMask: "names,metadata"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	var rns []string
	upd := map[string]people.Person{}
	for _, r := range resp.CreatedPeople {
		rns = append(rns, r.Person.ResourceName)
		upd[r.Person.ResourceName] = people.Person{Metadata: src(r.Person), Names: []*people.Name{{GivenName: "U"}}}
	}
	if len(rns) != 200 {
		t.Fatalf("created %d", len(rns))
	}
	ur, err := e.svc.People.BatchUpdateContacts(&people.BatchUpdateContactsRequest{Contacts: upd, UpdateMask: "names", ReadMask: "names"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(ur.UpdateResult) != 200 || ur.UpdateResult[rns[0]].Person.Names[0].GivenName != "U" {
		t.Fatalf("batch update result: %d", len(ur.UpdateResult))
	}
	// A stale etag anywhere fails the whole batch.
	_, err = e.svc.People.BatchUpdateContacts(&people.BatchUpdateContactsRequest{Contacts: upd, UpdateMask: "names", ReadMask: "names"}).Do()
	if ge := apiErr(t, err); ge.Code != 400 || !strings.Contains(ge.Body, "FAILED_PRECONDITION") {
		t.Errorf("stale batch: %d %s", ge.Code, ge.Message)
	}
	names := make([]string, 501)
	for i := range names {
		names[i] = rns[i%len(rns)]
	}
	tooMany := []struct {
		name string
		do   func() error
	}{
		{"batchCreate 201", func() error {
			_, err := e.svc.People.BatchCreateContacts(&people.BatchCreateContactsRequest{Contacts: many(201), ReadMask: "names"}).Do()
			return err
		}},
		{"batchUpdate 201", func() error {
			m := map[string]people.Person{}
			for i := range 201 {
				m[fmt.Sprint("people/c", i)] = people.Person{Etag: "x"}
			}
			_, err := e.svc.People.BatchUpdateContacts(&people.BatchUpdateContactsRequest{Contacts: m, UpdateMask: "names", ReadMask: "names"}).Do()
			return err
		}},
		{"batchDelete 501", func() error {
			_, err := e.svc.People.BatchDeleteContacts(&people.BatchDeleteContactsRequest{ResourceNames: names}).Do()
			return err
		}},
		{"batchGet 201", func() error {
			_, err := e.svc.People.GetBatchGet().ResourceNames(names[:201]...).PersonFields("names").Do()
			return err
		}},
		{"members.modify 1001", func() error {
			_, err := e.svc.ContactGroups.Members.Modify("contactGroups/starred", &people.ModifyContactGroupMembersRequest{
				ResourceNamesToAdd: names, ResourceNamesToRemove: names[:500]}).Do()
			return err
		}},
	}
	for _, tt := range tooMany {
		t.Run(tt.name, func(t *testing.T) {
			if ge := apiErr(t, tt.do()); ge.Code != 400 {
				t.Errorf("got %d", ge.Code)
			}
		})
	}
	gr, err := e.svc.People.GetBatchGet().ResourceNames(rns[0], "people/c404").PersonFields("names").Do()
	if err != nil || len(gr.Responses) != 2 || gr.Responses[1].HttpStatusCode != 404 || gr.Responses[0].Person == nil {
		t.Errorf("batchGet with a missing name: %v %+v", err, gr)
	}
	if _, err := e.svc.People.BatchDeleteContacts(&people.BatchDeleteContactsRequest{ResourceNames: rns}).Do(); err != nil {
		t.Fatal(err)
	}
	if left, _ := e.s.Contacts(googlefake.DemoUser); len(left) != 0 {
		t.Errorf("%d contacts left after batch delete", len(left))
	}
	if st := e.s.Stats(googlefake.DemoUser); st.ContactWrites != 600 {
		t.Errorf("ContactWrites = %d, want 600", st.ContactWrites)
	}
}

func TestQuota(t *testing.T) {
	e := newEnv(t)
	p, _ := e.s.SeedContact(googlefake.DemoUser, person("Q", "", ""))
	md := src(p)
	for i := range 31 {
		up, err := e.svc.People.UpdateContact(p.ResourceName, &people.Person{Metadata: md, Names: []*people.Name{{GivenName: fmt.Sprint(i)}}}).UpdatePersonFields("names").Do()
		if i < 30 {
			if err != nil {
				t.Fatalf("update %d: %v", i, err)
			}
			md = src(up)
			continue
		}
		ge := apiErr(t, err)
		if ge.Code != 429 || !hasReason(ge, "RATE_LIMIT_EXCEEDED") || !strings.Contains(ge.Message, "Critical write requests") || !strings.Contains(ge.Body, "RESOURCE_EXHAUSTED") {
			t.Fatalf("31st write: %d %q", ge.Code, ge.Message)
		}
	}
	if st := e.s.Stats(googlefake.DemoUser); st.RateLimited != 1 || st.Calls[googlefake.MethodUpdateContact] != 31 {
		t.Errorf("stats = %+v", st)
	}
	// The 30 updates that went through spent a critical read and write
	// and a daily contact write each; the refused one spent nothing.
	if sp, want := e.s.Stats("").Spent, (googlefake.QuotaSpent{CriticalReads: 30, CriticalWrites: 30, DailyContactWrites: 30}); sp != want {
		t.Errorf("spent %+v, want %+v", sp, want)
	}
	e.clk.Advance(time.Minute)
	if _, err := e.svc.People.UpdateContact(p.ResourceName, &people.Person{Metadata: md}).UpdatePersonFields("names").Do(); err != nil {
		t.Errorf("next minute: %v", err)
	}

	// Full-sync first pages have their own small quota; later pages do not spend it.
	e2 := newEnv(t, googlefake.WithQuota(googlefake.Quota{FullSyncFirstPagesPerMinute: 2}))
	seed(t, e2.s, 3)
	for i := range 3 {
		r, err := e2.list(1, "", "")
		if i == 2 {
			if ge := apiErr(t, err); ge.Code != 429 {
				t.Errorf("third full sync: %d", ge.Code)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e2.list(1, "", r.NextPageToken); err != nil {
			t.Fatalf("second page: %v", err)
		}
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, googlefake.WithAccessTokenTTL(time.Hour))
	call := func(svc *people.Service) error {
		_, err := svc.People.Connections.List("people/me").PersonFields("names").Do()
		return err
	}
	foreign, _ := people.NewService(context.Background(), option.WithEndpoint(e.base+"/"),
		option.WithHTTPClient(oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ya29.not-ours"}))))
	noAuth, _ := people.NewService(context.Background(), option.WithEndpoint(e.base+"/"), option.WithoutAuthentication())
	readonly := serviceFor(t, e.s, e.base, googlefake.DemoUser, "https://www.googleapis.com/auth/contacts.readonly")
	for _, tt := range []struct {
		name string
		err  error
		code int
	}{
		{"foreign token", call(foreign), 401},
		{"no token", call(noAuth), 401},
		{"read-only scope writes", func() error { _, err := readonly.People.CreateContact(person("x", "", "")).Do(); return err }(), 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if ge := apiErr(t, tt.err); ge.Code != tt.code {
				t.Errorf("got %d, want %d", ge.Code, tt.code)
			}
		})
	}
	if err := call(readonly); err != nil {
		t.Errorf("read-only scope reads: %v", err)
	}
	e.clk.Advance(time.Hour)
	if ge := apiErr(t, call(e.svc)); ge.Code != 401 {
		t.Errorf("expired access token: %d", ge.Code)
	}
}

func TestOAuthFlow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cfg := &oauth2.Config{
		ClientID: "web-client", ClientSecret: "s", RedirectURL: "http://127.0.0.1:9/cb",
		Endpoint: oauth2.Endpoint{AuthURL: e.base + "/o/oauth2/v2/auth", TokenURL: e.base + "/token", AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{people.ContactsScope, people.UserinfoEmailScope},
	}
	authorize := func(t *testing.T, verifier string, opts ...oauth2.AuthCodeOption) url.Values {
		t.Helper()
		opts = append(opts, oauth2.AccessTypeOffline, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("login_hint", "ann@example.com"))
		resp, err := noFollow.Get(cfg.AuthCodeURL("st4te", opts...))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), cfg.RedirectURL) {
			t.Fatalf("authorize: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if loc.Query().Get("state") != "st4te" {
			t.Fatalf("state lost: %v", loc.Query())
		}
		return loc.Query()
	}

	v := oauth2.GenerateVerifier()
	q := authorize(t, v)
	if _, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption("wrong")); !isGrantError(err, "invalid_grant") {
		t.Errorf("wrong verifier: %v", err)
	}
	q = authorize(t, v, oauth2.SetAuthURLParam("prompt", "consent")) // the failed exchange used up the first consent
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(v))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v, refresh token %q", err, tok.RefreshToken)
	}
	if _, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(v)); !isGrantError(err, "invalid_grant") {
		t.Errorf("code reused: %v", err)
	}
	// Signed in as the login_hint user: the API sees ann's (empty) book.
	svc, _ := people.NewService(ctx, option.WithEndpoint(e.base+"/"), option.WithHTTPClient(cfg.Client(ctx, tok)))
	me, err := svc.People.Get("people/me").PersonFields("emailAddresses").Do()
	if err != nil || len(me.EmailAddresses) == 0 || me.EmailAddresses[0].Value != "ann@example.com" {
		t.Fatalf("people/me: %v %+v", err, me)
	}
	// The account's e-mail is private profile data: the contacts scope
	// alone does not show it.
	contactsOnly := serviceFor(t, e.s, e.base, "ann@example.com")
	if me, err := contactsOnly.People.Get("people/me").PersonFields("emailAddresses,names").Do(); err != nil || len(me.EmailAddresses) != 0 || me.ResourceName == "" {
		t.Errorf("people/me with the contacts scope only: %v %+v", err, me)
	}

	// Consent already given: no refresh token unless prompt=consent.
	q = authorize(t, v)
	if t2, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(v)); err != nil || t2.RefreshToken != "" {
		t.Errorf("second consent: %v, refresh token %q", err, t2.RefreshToken)
	}
	q = authorize(t, v, oauth2.SetAuthURLParam("prompt", "consent"))
	if t3, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(v)); err != nil || t3.RefreshToken == "" {
		t.Errorf("prompt=consent: %v, refresh token %q", err, t3.RefreshToken)
	}

	// Refresh, then revoke: refresh fails with invalid_grant.
	old := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
	if nt, err := cfg.TokenSource(ctx, old).Token(); err != nil || nt.AccessToken == "" || nt.AccessToken == tok.AccessToken {
		t.Fatalf("refresh: %v", err)
	}
	resp, err := http.PostForm(e.base+"/revoke", url.Values{"token": {tok.RefreshToken}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", err, resp)
	}
	resp.Body.Close()
	_, err = cfg.TokenSource(ctx, old).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.ErrorDescription != "Token has been expired or revoked." || re.Response.StatusCode != 400 {
		t.Errorf("refresh after revoke: %v", err)
	}
	if _, err := svc.People.Get("people/me").PersonFields("names").Do(); apiErr(t, err).Code != 401 {
		t.Error("access token still valid after revoke")
	}

	// Only loopback redirect URIs.
	bad := *cfg
	bad.RedirectURL = "https://evil.example.com/cb"
	resp, err = noFollow.Get(bad.AuthCodeURL("x"))
	if err != nil || resp.StatusCode != 400 {
		t.Errorf("non-loopback redirect: %v %v", err, resp.StatusCode)
	}
	resp.Body.Close()
}

func isGrantError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

func TestRefreshTokenTTL(t *testing.T) {
	e := newEnv(t, googlefake.WithRefreshTokenTTL(7*24*time.Hour))
	tok, _ := e.s.IssueToken(googlefake.DemoUser, "c")
	cfg := &oauth2.Config{ClientID: "c", Endpoint: oauth2.Endpoint{TokenURL: e.base + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	old := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
	if _, err := cfg.TokenSource(context.Background(), old).Token(); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(7 * 24 * time.Hour)
	if _, err := cfg.TokenSource(context.Background(), old).Token(); !isGrantError(err, "invalid_grant") {
		t.Errorf("after 7 days: %v", err)
	}
}

func TestGroups(t *testing.T) {
	e := newEnv(t)
	rns := seed(t, e.s, 3)
	g, err := e.svc.ContactGroups.Create(&people.CreateContactGroupRequest{ContactGroup: &people.ContactGroup{Name: "Pipedrive"}}).Do()
	if err != nil || g.GroupType != "USER_CONTACT_GROUP" {
		t.Fatalf("create group: %v %+v", err, g)
	}
	_, err = e.svc.ContactGroups.Create(&people.CreateContactGroupRequest{ContactGroup: &people.ContactGroup{Name: "Pipedrive"}}).Do()
	if ge := apiErr(t, err); ge.Code != 409 {
		t.Errorf("duplicate name: %d", ge.Code)
	}
	before, _ := e.s.Contact(googlefake.DemoUser, rns[0])
	mr, err := e.svc.ContactGroups.Members.Modify(g.ResourceName, &people.ModifyContactGroupMembersRequest{
		ResourceNamesToAdd: []string{rns[0], rns[1], "people/c404"}}).Do()
	if err != nil || len(mr.NotFoundResourceNames) != 1 {
		t.Fatalf("modify: %v %+v", err, mr)
	}
	after, _ := e.s.Contact(googlefake.DemoUser, rns[0])
	if after.Etag == before.Etag || len(after.Memberships) != 2 {
		t.Errorf("membership change: etag same=%v memberships %d", after.Etag == before.Etag, len(after.Memberships))
	}
	got, err := e.svc.ContactGroups.Get(g.ResourceName).MaxMembers(1).Do()
	if err != nil || got.MemberCount != 2 || len(got.MemberResourceNames) != 1 {
		t.Errorf("get maxMembers=1: %v %+v", err, got)
	}
	if got, _ := e.svc.ContactGroups.Get(g.ResourceName).Do(); len(got.MemberResourceNames) != 0 {
		t.Error("default maxMembers returned members")
	}
	// Removing the last group is refused.
	if _, err := e.svc.ContactGroups.Members.Modify("contactGroups/myContacts", &people.ModifyContactGroupMembersRequest{ResourceNamesToRemove: []string{rns[0]}}).Do(); err != nil {
		t.Fatal(err)
	}
	mr, err = e.svc.ContactGroups.Members.Modify(g.ResourceName, &people.ModifyContactGroupMembersRequest{ResourceNamesToRemove: []string{rns[0], rns[1]}}).Do()
	if err != nil || fmt.Sprint(mr.CanNotRemoveLastContactGroupResourceNames) != fmt.Sprint([]string{rns[0]}) {
		t.Errorf("last-group refusal: %v %+v", err, mr)
	}
	list, err := e.svc.ContactGroups.List().Do()
	if err != nil || len(list.ContactGroups) != 3 || list.NextSyncToken == "" {
		t.Fatalf("list: %v %+v", err, list)
	}
	// Membership changes show in the connection delta.
	members, _ := e.s.GroupMembers(googlefake.DemoUser, g.ResourceName)
	if fmt.Sprint(members) != fmt.Sprint([]string{rns[0]}) {
		t.Errorf("members = %v", members)
	}
	if _, err := e.svc.ContactGroups.Get("contactGroups/nope").Do(); apiErr(t, err).Code != 404 {
		t.Error("unknown group not 404")
	}
	// Group sync: a rename shows up since the last token.
	if _, err := e.svc.ContactGroups.Update(g.ResourceName, &people.UpdateContactGroupRequest{ContactGroup: &people.ContactGroup{Name: "Renamed"}}).Do(); err != nil {
		t.Fatal(err)
	}
	d, err := e.svc.ContactGroups.List().SyncToken(list.NextSyncToken).Do()
	if err != nil || len(d.ContactGroups) != 1 || d.ContactGroups[0].Name != "Renamed" {
		t.Errorf("group delta: %v %+v", err, d)
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t)
	get := func(ctx context.Context) error {
		_, err := e.svc.People.Get("people/me").PersonFields("names").Context(ctx).Do()
		return err
	}
	for _, tt := range []struct {
		kind googlefake.FaultKind
		code int
	}{{googlefake.Fault429, 429}, {googlefake.Fault500, 500}, {googlefake.Fault503, 503}} {
		e.s.InjectFault(googlefake.Fault{Kind: tt.kind, Method: googlefake.MethodGet, Times: 2})
		for range 2 {
			if ge := apiErr(t, get(context.Background())); ge.Code != tt.code {
				t.Errorf("fault %v: got %d", tt.kind, ge.Code)
			}
		}
		if err := get(context.Background()); err != nil {
			t.Errorf("after fault %v: %v", tt.kind, err)
		}
	}
	// A fault for another method leaves this one alone.
	e.s.InjectFault(googlefake.Fault{Kind: googlefake.Fault500, Method: googlefake.MethodCreateContact})
	if err := get(context.Background()); err != nil {
		t.Errorf("unmatched fault fired: %v", err)
	}
	e.s.ClearFaults()

	// Timeout: hangs until the caller gives up.
	e.s.InjectFault(googlefake.Fault{Kind: googlefake.FaultTimeout})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := get(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout fault: %v", err)
	}

	// Dropped response: the client fails, but the write happened.
	e.s.InjectFault(googlefake.Fault{Kind: googlefake.FaultDropResponse, Method: googlefake.MethodCreateContact})
	if _, err := e.svc.People.CreateContact(person("Ghost", "", "")).Do(); err == nil {
		t.Error("dropped response: no error")
	}
	if cs, _ := e.s.Contacts(googlefake.DemoUser); len(cs) != 1 || cs[0].Names[0].GivenName != "Ghost" {
		t.Errorf("dropped response: write not committed: %d contacts", len(cs))
	}
	if n := e.s.PendingFaults(); n != 0 {
		t.Errorf("%d faults left", n)
	}
}

func TestValidatorRejectsUnknownFields(t *testing.T) {
	sch, err := googlefake.LoadSchemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, method, body string
		status             int
		ok                 bool
	}{
		{"valid person", googlefake.MethodGet, `{"resourceName":"people/c1","etag":"%x","names":[{"givenName":"A","metadata":{"primary":true}}]}`, 200, true},
		{"misspelled field", googlefake.MethodGet, `{"resourceName":"people/c1","name":[{"givenName":"A"}]}`, 200, false},
		{"nested unknown field", googlefake.MethodConnectionsList, `{"connections":[{"names":[{"givenNam":"A"}]}]}`, 200, false},
		{"wrong type", googlefake.MethodConnectionsList, `{"totalItems":"3"}`, 200, false},
		{"bad enum", googlefake.MethodGroupsGet, `{"groupType":"FRIENDS"}`, 200, false},
		{"error shape", googlefake.MethodGet, `{"error":{"code":404,"message":"x","status":"NOT_FOUND"}}`, 404, true},
		{"bad error shape", googlefake.MethodGet, `{"error":{"code":404,"msg":"x","status":"NOT_FOUND"}}`, 404, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := sch.ValidateResponse(tt.method, tt.status, []byte(tt.body))
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, googlefake.ErrSchema)) {
				t.Errorf("ValidateResponse = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestManualClock(t *testing.T) {
	c := googlefake.NewManualClock(t0)
	ch := c.After(time.Minute)
	c.Advance(59 * time.Second)
	select {
	case <-ch:
		t.Fatal("fired early")
	default:
	}
	c.Advance(time.Second)
	if got := <-ch; !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("fired at %v", got)
	}
	c.SetAutoAdvance(true)
	<-c.After(time.Hour)
	if got := c.Now(); !got.Equal(t0.Add(time.Hour + time.Minute)) {
		t.Errorf("auto-advance: now %v", got)
	}
}

// src is p's CONTACT source with its etag, as updateContact needs it.
func src(p *people.Person) *people.PersonMetadata {
	for _, s := range p.Metadata.Sources {
		if s.Type == "CONTACT" {
			return &people.PersonMetadata{Sources: []*people.Source{{Type: "CONTACT", Id: s.Id, Etag: s.Etag}}}
		}
	}
	panic("no contact source")
}

// TestRequestValidationPerMethod: each method checks its own masks and
// query parameters as the discovery document lists them (the tables are
// checked against the document in TestMaskRulesMatchDiscovery).
func TestRequestValidationPerMethod(t *testing.T) {
	e := newEnv(t, googlefake.WithoutQuota())
	ctx := context.Background()
	g, err := e.svc.ContactGroups.Create(&people.CreateContactGroupRequest{ContactGroup: &people.ContactGroup{Name: "Masks"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	// Create's default read mask is metadata, groupType, name: no memberCount.
	if g.Name != "Masks" || g.GroupType == "" || g.Metadata == nil {
		t.Errorf("create default mask: %+v", g)
	}
	cases := []struct {
		name string
		do   func() error
		ok   bool
	}{
		{"create: readGroupFields memberCount (not valid for create)", func() error {
			_, err := e.svc.ContactGroups.Create(&people.CreateContactGroupRequest{ContactGroup: &people.ContactGroup{Name: "Other"},
				ReadGroupFields: "metadata,memberCount"}).Do()
			return err
		}, false},
		{"create: readGroupFields without memberCount", func() error {
			_, err := e.svc.ContactGroups.Create(&people.CreateContactGroupRequest{ContactGroup: &people.ContactGroup{Name: "Third"},
				ReadGroupFields: "metadata,groupType,name,clientData"}).Do()
			return err
		}, true},
		{"get: groupFields memberCount", func() error {
			_, err := e.svc.ContactGroups.Get(g.ResourceName).GroupFields("memberCount").Do()
			return err
		}, true},
		{"update: readGroupFields memberCount (valid for update)", func() error {
			_, err := e.svc.ContactGroups.Update(g.ResourceName, &people.UpdateContactGroupRequest{
				ContactGroup: &people.ContactGroup{Name: "Masks 2"}, ReadGroupFields: "memberCount"}).Do()
			return err
		}, true},
		{"update: updateGroupFields groupType (not updatable)", func() error {
			_, err := e.svc.ContactGroups.Update(g.ResourceName, &people.UpdateContactGroupRequest{
				ContactGroup: &people.ContactGroup{Name: "Masks 3"}, UpdateGroupFields: "groupType"}).Do()
			return err
		}, false},
		{"get person: personFields missing", func() error {
			_, err := e.svc.People.Get("people/c1").Do()
			return err
		}, false},
		{"createContact: personFields skills (readable)", func() error {
			_, err := e.svc.People.CreateContact(person("M", "", "")).PersonFields("skills").Do()
			return err
		}, true},
		{"createContact: personFields foo", func() error {
			_, err := e.svc.People.CreateContact(person("M", "", "")).PersonFields("foo").Do()
			return err
		}, false},
		{"batchUpdate: updateMask photos (output only)", func() error {
			_, err := e.svc.People.BatchUpdateContacts(&people.BatchUpdateContactsRequest{
				Contacts: map[string]people.Person{"people/c1": {}}, UpdateMask: "photos", ReadMask: "names"}).Do()
			return err
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok {
				if ge := apiErr(t, err); ge.Code != 400 || !strings.Contains(ge.Body, "INVALID_ARGUMENT") {
					t.Fatalf("got %d %s", ge.Code, ge.Body)
				}
			}
		})
	}
	// A query parameter the method does not take is refused, as Google
	// does; the discovery document's global parameters are fine.
	tok, err := e.s.IssueToken(googlefake.DemoUser, "test-client")
	if err != nil {
		t.Fatal(err)
	}
	hc := oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok))
	for path, want := range map[string]int{
		"/v1/" + g.ResourceName + "?groupFields=name&alt=json&prettyPrint=false": 200,
		"/v1/" + g.ResourceName + "?groupFields=name&personFields=names":         400,
		"/v1/people/me/connections?personFields=names&maxMembers=3":              400,
	} {
		resp, err := hc.Get(e.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}
