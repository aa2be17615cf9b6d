package pipedrive_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/pipedrive/webhook"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

type env struct {
	fake    *pipedrivefake.Server
	srv     *httptest.Server
	clock   *pipedrivefake.VirtualClock
	company int64
	user    int64
	token   string
	c       *pipedrive.Client
}

func setup(t *testing.T, contactSync bool, opts ...pipedrivefake.Option) *env {
	t.Helper()
	clock := pipedrivefake.NewVirtualClock(t0)
	f := pipedrivefake.New(append([]pipedrivefake.Option{pipedrivefake.WithClock(clock)}, opts...)...)
	srv := httptest.NewServer(f)
	t.Cleanup(func() { srv.Close(); f.Close() })
	f.SetBaseURL(srv.URL)
	co := f.CreateCompany(pipedrivefake.CompanyOptions{Name: "Acme", ContactSync: contactSync})
	uid, tok, err := f.CreateUser(co, "Ann Owner", "ann@example.test")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{fake: f, srv: srv, clock: clock, company: co, user: uid, token: tok}
	e.c = e.client(t, tok)
	return e
}

func (e *env) client(t *testing.T, tok string, opts ...pipedrive.Option) *pipedrive.Client {
	t.Helper()
	c, err := pipedrive.New(context.Background(), e.srv.URL, append([]pipedrive.Option{
		pipedrive.WithAPIToken(tok), pipedrive.WithSleep(e.clock.Sleep),
		pipedrive.WithHTTPClient(&http.Client{Timeout: 5 * time.Second})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func name(n string) pipedrive.PersonInput { return pipedrive.PersonInput{Name: &n} }

// receiver is a webhook subscriber that records bodies and can fail.
type receiver struct {
	mu     sync.Mutex
	srv    *httptest.Server
	bodies [][]byte
	auths  []string
	status int // answer; 0 = 200
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		u, p, _ := req.BasicAuth()
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		r.auths = append(r.auths, u+":"+p)
		st := r.status
		r.mu.Unlock()
		if st == 0 {
			st = 200
		}
		w.WriteHeader(st)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) events(t *testing.T) []webhook.Event {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []webhook.Event
	for _, b := range r.bodies {
		ev, err := webhook.Parse(b)
		if err != nil {
			t.Fatalf("fake sent a payload our parser rejects: %v\n%s", err, b)
		}
		out = append(out, ev)
	}
	return out
}

func (r *receiver) setStatus(s int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = s
}

func (e *env) wait(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.fake.WaitDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestMeAndAuth(t *testing.T) {
	e := setup(t, false)
	u, err := e.c.Me(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != e.user || u.CompanyID != e.company {
		t.Errorf("Me = %+v", u)
	}
	_, err = e.client(t, "bogus").Me(context.Background())
	var ae *pipedrive.APIError
	if !errors.Is(err, pipedrive.ErrUnauthorized) || !errors.As(err, &ae) || ae.Message != "unauthorized access" {
		t.Errorf("bad token: %v", err)
	}
	// ?api_token= works too (legacy).
	resp, err := http.Get(e.srv.URL + "/api/v1/users/me?api_token=" + e.token)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("api_token query: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestListPaginationAndFilters(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	other, _, _ := e.fake.CreateUser(e.company, "Bob", "bob@example.test")
	org, _ := e.fake.AddOrganization(e.user, "Org")
	var mine []int64
	for i := range 250 {
		in := name(fmt.Sprintf("Person %03d", i))
		if i%50 == 0 {
			in.SetOrg, in.OrgID = true, &org
		}
		id, err := e.fake.SeedPerson(e.user, in)
		if err != nil {
			t.Fatal(err)
		}
		mine = append(mine, id)
		if i == 199 {
			e.clock.Advance(time.Minute)
		}
	}
	for i := range 7 {
		if _, err := e.fake.SeedPerson(other, name(fmt.Sprintf("Other %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	e.fake.ResetCounters()
	var got []int64
	for p, err := range e.c.Persons(ctx, pipedrive.ListPersonsOptions{OwnerID: e.user}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.ID)
	}
	if diff := cmp.Diff(mine, got); diff != "" {
		t.Errorf("owner listing (-want +got):\n%s", diff)
	}
	if n := e.fake.Calls(pipedrivefake.RouteListPersons); n != 3 {
		t.Errorf("pages = %d, want 3 (limit default 100)", n)
	}
	count := func(o pipedrive.ListPersonsOptions) int {
		n := 0
		for _, err := range e.c.Persons(ctx, o) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	cases := []struct {
		name string
		opts pipedrive.ListPersonsOptions
		want int
	}{
		{"all", pipedrive.ListPersonsOptions{Limit: 500}, 257},
		{"org", pipedrive.ListPersonsOptions{OrgID: org}, 5},
		{"ids", pipedrive.ListPersonsOptions{IDs: mine[:3]}, 3},
		{"since inclusive", pipedrive.ListPersonsOptions{UpdatedSince: t0.Add(time.Minute)}, 57},
		{"until exclusive", pipedrive.ListPersonsOptions{UpdatedUntil: t0.Add(time.Minute)}, 200},
		{"owner+since", pipedrive.ListPersonsOptions{OwnerID: e.user, UpdatedSince: t0.Add(time.Minute), Limit: 7}, 50},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := count(tc.opts); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
	page, next, err := e.c.ListPersonsPage(ctx, pipedrive.ListPersonsOptions{SortBy: "id", SortDirection: "desc", Limit: 2}, "")
	if err != nil || len(page) != 2 || page[0].ID < page[1].ID || next == "" {
		t.Errorf("desc page: %v %v %q", err, page, next)
	}
	if _, _, err := e.c.ListPersonsPage(ctx, pipedrive.ListPersonsOptions{Limit: 501}, ""); !errors.Is(err, pipedrive.ErrBadRequest) {
		t.Errorf("limit 501: %v", err)
	}
}

func TestCreateAndPatchSemantics(t *testing.T) {
	e := setup(t, true)
	ctx := context.Background()
	p, err := e.c.CreatePerson(ctx, pipedrive.PersonInput{
		Name:   ptr("Mary Jane Watson"),
		Emails: &[]pipedrive.Field{{Value: "mj@example.test"}, {Value: "w@example.test", Label: "home"}},
		Phones: &[]pipedrive.Field{{Value: "+1 555", Primary: true}, {Value: "+1 666", Primary: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []pipedrive.Field{{Value: "mj@example.test", Label: "work", Primary: true}, {Value: "w@example.test", Label: "home"}}
	if diff := cmp.Diff(want, p.Emails); diff != "" {
		t.Errorf("emails: label default work, first primary (-want +got):\n%s", diff)
	}
	if p.Phones[1].Primary {
		t.Errorf("two primaries kept: %+v", p.Phones)
	}
	if p.FirstName != "Mary" || p.LastName != "Jane Watson" || p.OwnerID != e.user {
		t.Errorf("split: %+v", p)
	}
	if err := e.fake.UISetCustomField(e.user, p.ID, strings.Repeat("a", 40), "keep me"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Second)
	up, err := e.c.UpdatePerson(ctx, p.ID, pipedrive.PersonInput{FirstName: ptr("Mary"), LastName: ptr("Parker"),
		Emails: &[]pipedrive.Field{{Value: "new@example.test", Label: "other"}}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Name != "Mary Parker" || up.FirstName != "Mary" {
		t.Errorf("concat: %q %q", up.Name, up.FirstName)
	}
	if len(up.Emails) != 1 || up.Emails[0].Value != "new@example.test" || !up.Emails[0].Primary {
		t.Errorf("arrays replaced: %+v", up.Emails)
	}
	if len(up.Phones) != 2 {
		t.Errorf("phones not sent must stay: %+v", up.Phones)
	}
	if string(up.CustomFields[strings.Repeat("a", 40)]) != `"keep me"` {
		t.Errorf("custom field touched: %v", up.CustomFields)
	}
	if !up.UpdateTime.Equal(t0.Add(5*time.Second)) || !up.AddTime.Equal(t0) {
		t.Errorf("times: add %v update %v", up.AddTime, up.UpdateTime)
	}
	// Org set and cleared through PersonInput.SetOrg.
	org, err := e.c.CreateOrganization(ctx, "Daily Bugle", 0)
	if err != nil {
		t.Fatal(err)
	}
	up, err = e.c.UpdatePerson(ctx, p.ID, pipedrive.PersonInput{SetOrg: true, OrgID: &org.ID})
	if err != nil || up.OrgID == nil || *up.OrgID != org.ID {
		t.Fatalf("set org: %v %+v", err, up)
	}
	up, err = e.c.UpdatePerson(ctx, p.ID, pipedrive.PersonInput{SetOrg: true})
	if err != nil || up.OrgID != nil {
		t.Fatalf("clear org: %v %+v", err, up.OrgID)
	}
	bad := []struct{ name, method, path, body string }{
		{"no name", "POST", "/api/v2/persons", `{"emails":[{"value":"x@y"}]}`},
		{"string owner", "POST", "/api/v2/persons", `{"name":"A","owner_id":"1"}`},
		{"bool as string", "POST", "/api/v2/persons", `{"name":"A","emails":[{"value":"x","primary":"true"}]}`},
		{"empty value", "POST", "/api/v2/persons", `{"name":"A","phones":[{"label":"work"}]}`},
		{"update_time", "PATCH", fmt.Sprintf("/api/v2/persons/%d", p.ID), `{"update_time":"2020-01-01T00:00:00Z"}`},
		{"empty name", "PATCH", fmt.Sprintf("/api/v2/persons/%d", p.ID), `{"name":""}`},
		{"not json", "PATCH", fmt.Sprintf("/api/v2/persons/%d", p.ID), `{`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("x-api-token", e.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var env struct {
				Success bool   `json:"success"`
				Error   string `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&env)
			if resp.StatusCode != 400 || env.Success || env.Error == "" {
				t.Errorf("status %d body %+v, want 400 envelope", resp.StatusCode, env)
			}
		})
	}
}

func TestSoftDelete(t *testing.T) {
	for _, visible := range []bool{false, true} {
		t.Run(fmt.Sprint("visible=", visible), func(t *testing.T) {
			e := setup(t, false, pipedrivefake.WithDeletedPersonsVisible(visible))
			ctx := context.Background()
			p, err := e.c.CreatePerson(ctx, name("Gone Soon"))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.c.DeletePerson(ctx, p.ID); err != nil {
				t.Fatal(err)
			}
			got, err := e.c.GetPerson(ctx, p.ID)
			gone := errors.Is(err, pipedrive.ErrNotFound) || err == nil && got.IsDeleted
			if !gone || visible != (err == nil) {
				t.Errorf("get deleted: %v %+v", err, got)
			}
			for q, err := range e.c.Persons(ctx, pipedrive.ListPersonsOptions{}) {
				t.Errorf("deleted person listed: %v %v", q, err)
			}
			if st, ok := e.fake.Person(p.ID); !ok || !st.IsDeleted {
				t.Errorf("stored state: %+v %v", st, ok)
			}
			if err := e.c.DeletePerson(ctx, p.ID); !errors.Is(err, pipedrive.ErrNotFound) {
				t.Errorf("second delete: %v", err)
			}
			e.clock.Advance(31 * 24 * time.Hour)
			if _, err := e.c.GetPerson(ctx, p.ID); !errors.Is(err, pipedrive.ErrNotFound) {
				t.Errorf("after purge: %v", err)
			}
		})
	}
}

func TestContactSyncSwitch(t *testing.T) {
	in := name("Ima Handle")
	in.IM = &[]pipedrive.Field{{Value: "ima", Label: "skype"}}
	in.PostalAddress = &pipedrive.Address{Value: "1 Main St", Locality: "Tartu"}
	// Writing contact-sync fields without contact sync is undocumented
	// ("only created when contact sync is set up", PHP 17.5.0): refused by
	// default, so our client is caught sending them.
	ctx := context.Background()
	strict := setup(t, false)
	for _, f := range []func(*pipedrive.PersonInput){
		func(in *pipedrive.PersonInput) { in.IM = &[]pipedrive.Field{{Value: "ima"}} },
		func(in *pipedrive.PersonInput) { in.PostalAddress = &pipedrive.Address{Value: "x"} },
		func(in *pipedrive.PersonInput) { in.JobTitle = ptr("CTO") },
	} {
		body := name("Cs Off")
		f(&body)
		if _, err := strict.c.CreatePerson(ctx, body); !errors.Is(err, pipedrive.ErrBadRequest) {
			t.Errorf("contact-sync field without contact sync: %v", err)
		}
	}
	// Switched off, the fake ignores them instead (the sandbox shows both).
	e := setup(t, false, pipedrivefake.WithContactSyncFieldsRefused(false))
	p, err := e.c.CreatePerson(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if p.HasContactSyncFields || p.IM != nil || p.PostalAddress != nil {
		t.Errorf("contact sync off but fields present: %+v", p)
	}
	e.fake.SetContactSync(e.company, true)
	p, err = e.c.GetPerson(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasContactSyncFields || len(p.IM) != 0 {
		t.Errorf("contact sync on: fields must exist (empty: writes while off were ignored): %+v", p)
	}
	p, err = e.c.UpdatePerson(ctx, p.ID, in)
	if err != nil || len(p.IM) != 1 || p.IM[0].Label != "skype" || p.PostalAddress == nil || p.PostalAddress.Locality != "Tartu" {
		t.Errorf("contact sync on, write: %v %+v", err, p)
	}
}

func TestSearchAndOrgs(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	org, err := e.c.CreateOrganization(ctx, "Wayne Enterprises", 0)
	if err != nil {
		t.Fatal(err)
	}
	in := name("Bruce Wayne")
	in.Emails = &[]pipedrive.Field{{Value: "Bruce@Wayne.test"}}
	in.Phones = &[]pipedrive.Field{{Value: "+1 (555) 0100"}}
	in.SetOrg, in.OrgID = true, &org.ID
	p, err := e.c.CreatePerson(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.CreatePerson(ctx, name("Bruce Banner")); err != nil {
		t.Fatal(err)
	}
	hits, err := e.c.FindPersonsByEmail(ctx, "bruce@wayne.test")
	if err != nil || len(hits) != 1 || hits[0].ID != p.ID || hits[0].OrgName != "Wayne Enterprises" || hits[0].OwnerID != e.user {
		t.Errorf("by email: %v %+v", err, hits)
	}
	hits, err = e.c.FindPersonsByPhone(ctx, "555) 01")
	if err != nil || len(hits) != 1 {
		t.Errorf("by phone (raw substring): %v %+v", err, hits)
	}
	hits, err = e.c.FindPersonsByName(ctx, "bruce wayne")
	if err != nil || len(hits) != 1 {
		t.Errorf("by name exact: %v %+v", err, hits)
	}
	hits, err = e.c.SearchPersons(ctx, "bruce", pipedrive.SearchName, false)
	if err != nil || len(hits) != 2 {
		t.Errorf("by name fuzzy: %v %+v", err, hits)
	}
	if _, err := e.c.SearchPersons(ctx, "b", pipedrive.SearchName, false); !errors.Is(err, pipedrive.ErrBadRequest) {
		t.Errorf("short term: %v", err)
	}
	o, err := e.c.FindOrganizationByName(ctx, "wayne enterprises")
	if err != nil || o.ID != org.ID {
		t.Errorf("org by name: %v %+v", err, o)
	}
	if _, err := e.c.FindOrganizationByName(ctx, "LexCorp"); !errors.Is(err, pipedrive.ErrNotFound) {
		t.Errorf("missing org: %v", err)
	}
	got, err := e.c.GetOrganization(ctx, org.ID)
	if err != nil || got.Name != "Wayne Enterprises" || got.OwnerID != e.user {
		t.Errorf("get org: %v %+v", err, got)
	}
}

func TestWebhookManagement(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	if _, err := e.c.CreateWebhook(ctx, pipedrive.WebhookInput{SubscriptionURL: "http://127.0.0.1:1/x", EventAction: "*", EventObject: "person"}); err == nil {
		t.Error("nameless webhook accepted by client")
	}
	var first *pipedrive.Webhook
	for i := range 40 {
		w, err := e.c.CreateWebhook(ctx, pipedrive.WebhookInput{SubscriptionURL: "http://127.0.0.1:1/x",
			EventAction: "*", EventObject: "person", Name: fmt.Sprint("h", i), HTTPAuthUser: "u", HTTPAuthPassword: "p"})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = w
		}
	}
	// PV1's examples: http_auth_user null whatever was sent, v1 action names.
	if first.Version != "2.0" || !first.IsActive || first.HTTPAuthUser != "" || first.EventAction != "*" {
		t.Errorf("defaults: %+v", first)
	}
	_, err := e.c.CreateWebhook(ctx, pipedrive.WebhookInput{SubscriptionURL: "http://127.0.0.1:1/x", EventAction: "*", EventObject: "person", Name: "41st"})
	if !errors.Is(err, pipedrive.ErrWebhookLimit) {
		t.Errorf("41st webhook: %v", err)
	}
	ws, err := e.c.ListWebhooks(ctx)
	if err != nil || len(ws) != 40 {
		t.Fatalf("list: %v %d", err, len(ws))
	}
	if err := e.c.DeleteWebhook(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.c.DeleteWebhook(ctx, first.ID); !errors.Is(err, pipedrive.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	var ae *pipedrive.APIError
	_, err = e.c.CreateWebhook(ctx, pipedrive.WebhookInput{SubscriptionURL: "not a url", EventAction: "*", EventObject: "person", Name: "x"})
	if !errors.Is(err, pipedrive.ErrBadRequest) || !errors.As(err, &ae) || len(ae.Fields["subscription_url"]) == 0 {
		t.Errorf("bad url: %v", err)
	}
}

func (e *env) hook(t *testing.T, r *receiver, version string) {
	t.Helper()
	if _, err := e.c.CreateWebhook(context.Background(), pipedrive.WebhookInput{SubscriptionURL: r.srv.URL,
		EventAction: "*", EventObject: "*", Name: "contactsync", HTTPAuthUser: "hookuser",
		HTTPAuthPassword: "s3cret", Version: version}); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookPayloadsFromAPIAndUI(t *testing.T) {
	for _, version := range []string{"2.0", "1.0"} {
		t.Run(version, func(t *testing.T) {
			e := setup(t, true)
			ctx := context.Background()
			r := newReceiver(t)
			e.hook(t, r, version)
			p, err := e.c.CreatePerson(ctx, name("Api Made"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.c.UpdatePerson(ctx, p.ID, name("Apis Made")); err != nil {
				t.Fatal(err)
			}
			ui, err := e.fake.UIAddPerson(e.user, name("Ui Made"))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.fake.UIDeletePerson(e.user, ui); err != nil {
				t.Fatal(err)
			}
			e.wait(t)
			evs := r.events(t)
			type row struct {
				Action  webhook.Action
				Raw     string
				ID      string
				Source  string
				HasData bool
				Version int
			}
			var got []row
			for _, ev := range evs {
				got = append(got, row{ev.Action, ev.RawAction, ev.PersonID, ev.ChangeSource, ev.Person != nil, ev.Version})
			}
			v := 2
			raw := []string{"create", "change", "create", "delete"}
			if version == "1.0" {
				v, raw = 1, []string{"added", "updated", "added", "deleted"}
			}
			pid, uid := fmt.Sprint(p.ID), fmt.Sprint(ui)
			want := []row{
				{webhook.Upsert, raw[0], pid, "api", true, v}, {webhook.Upsert, raw[1], pid, "api", true, v},
				{webhook.Upsert, raw[2], uid, "app", true, v}, {webhook.Delete, raw[3], uid, "app", false, v},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if evs[1].Person.FirstName != "Apis" || evs[1].Person.Name != "Apis Made" {
				t.Errorf("change data: %+v", evs[1].Person)
			}
			if version == "2.0" {
				if diff := cmp.Diff([]string{"first_name", "name"}, sorted(evs[1].Changed)); diff != "" {
					t.Errorf("previous = changed fields only:\n%s", diff)
				}
				if evs[0].DeliveryID == "" || evs[0].DeliveryID == evs[1].DeliveryID {
					t.Errorf("meta.id: %q %q", evs[0].DeliveryID, evs[1].DeliveryID)
				}
			}
			for _, a := range r.auths {
				if a != "hookuser:s3cret" {
					t.Errorf("basic auth = %q", a)
				}
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestMergeSendsDeleteAndChange(t *testing.T) {
	e := setup(t, false)
	ctx := context.Background()
	r := newReceiver(t)
	e.hook(t, r, "2.0")
	loserIn := name("Lo Ser")
	loserIn.Emails = &[]pipedrive.Field{{Value: "lo@example.test"}}
	loser, _ := e.fake.SeedPerson(e.user, loserIn)
	survIn := name("Sur Vivor")
	survIn.Phones = &[]pipedrive.Field{{Value: "+372 5555"}}
	surv, _ := e.fake.SeedPerson(e.user, survIn)
	got, err := e.c.MergePersons(ctx, loser, surv)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != surv || got.Name != "Sur Vivor" || len(got.Emails) != 1 || len(got.Phones) != 1 || got.OwnerID != e.user {
		t.Errorf("survivor (v1 shape decoded): %+v", got)
	}
	e.wait(t)
	evs := r.events(t)
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2", len(evs))
	}
	if evs[0].Action != webhook.Delete || evs[0].PersonID != fmt.Sprint(loser) || evs[0].MergedToID != fmt.Sprint(surv) {
		t.Errorf("delete: %+v", evs[0])
	}
	if evs[1].Action != webhook.Upsert || evs[1].PersonID != fmt.Sprint(surv) || evs[1].MergedFromID != fmt.Sprint(loser) {
		t.Errorf("change: %+v", evs[1])
	}
	if _, err := e.c.MergePersons(ctx, surv, surv); !errors.Is(err, pipedrive.ErrBadRequest) {
		t.Errorf("self merge: %v", err)
	}
}

func TestWebhookRetriesBanAndDeletion(t *testing.T) {
	e := setup(t, false)
	r := newReceiver(t)
	e.hook(t, r, "2.0")
	r.setStatus(500)
	id, _ := e.fake.UIAddPerson(e.user, name("Retry Me"))
	e.wait(t)
	for _, step := range []time.Duration{3 * time.Second, 30 * time.Second, 150 * time.Second} {
		e.clock.Advance(step - time.Millisecond)
		e.wait(t)
		before := len(e.fake.Deliveries())
		e.clock.Advance(time.Millisecond)
		e.wait(t)
		if len(e.fake.Deliveries()) != before+1 {
			t.Fatalf("no retry exactly %v after the previous attempt", step)
		}
	}
	e.clock.Advance(time.Hour)
	e.wait(t)
	ds := e.fake.Deliveries()
	if len(ds) != 4 {
		t.Fatalf("attempts = %d, want 4", len(ds))
	}
	for i, d := range ds {
		if d.Attempt != i+1 || d.PersonID != id || d.Status != 500 || d.MetaID != ds[0].MetaID {
			t.Errorf("attempt %d: %+v", i, d)
		}
	}
	if ev := r.events(t)[3]; ev.Attempt != 4 {
		t.Errorf("meta.attempt = %d", ev.Attempt)
	}
	// 9 more first-attempt failures make 10: banned for 30 minutes.
	for range 9 {
		_ = e.fake.UIEditPerson(e.user, id, pipedrive.PersonInput{LastName: ptr(fmt.Sprint(time.Now().UnixNano()))})
	}
	e.wait(t)
	if hs := e.fake.Webhooks(e.company); len(hs) != 1 || !hs[0].Banned {
		t.Fatalf("not banned: %+v", hs)
	}
	r.setStatus(200)
	n := len(e.fake.Deliveries())
	_ = e.fake.UIEditPerson(e.user, id, pipedrive.PersonInput{LastName: ptr("During Ban")})
	e.wait(t)
	if ds := e.fake.Deliveries(); !ds[len(ds)-1].Lost || len(ds) != n+1 {
		t.Errorf("event during ban not lost: %+v", ds[len(ds)-1])
	}
	e.clock.Advance(31 * time.Minute)
	e.wait(t)
	_ = e.fake.UIEditPerson(e.user, id, pipedrive.PersonInput{LastName: ptr("After Ban")})
	e.wait(t)
	if ds := e.fake.Deliveries(); ds[len(ds)-1].Status != 200 {
		t.Errorf("after ban: %+v", ds[len(ds)-1])
	}
	// Three days without a success: the webhook is deleted.
	r.setStatus(503)
	e.clock.Advance(72 * time.Hour)
	_ = e.fake.UIEditPerson(e.user, id, pipedrive.PersonInput{LastName: ptr("Doomed")})
	e.wait(t)
	if hs := e.fake.Webhooks(e.company); len(hs) != 0 {
		t.Errorf("webhook not deleted after 3 days of failures: %+v", hs)
	}
}

func TestWebhookTimeoutDuplicateReorder(t *testing.T) {
	e := setup(t, false, pipedrivefake.WithDeliveryTimeout(100*time.Millisecond))
	r := newReceiver(t)
	slow := make(chan struct{})
	var mu sync.Mutex
	hang := true
	r.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		h := hang
		mu.Unlock()
		if h {
			select {
			case <-slow:
			case <-time.After(time.Second):
			}
			// the sender gave up on this delivery: not recorded, or its
			// late body would land among the later checks' bodies
			return
		}
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		r.mu.Unlock()
	})
	e.hook(t, r, "2.0")
	a, _ := e.fake.UIAddPerson(e.user, name("Time Out"))
	e.wait(t)
	if d := e.fake.Deliveries(); len(d) != 1 || d[0].Err == "" {
		t.Fatalf("timeout not a failure: %+v", d)
	}
	mu.Lock()
	hang = false
	mu.Unlock()
	close(slow)
	e.clock.Advance(3 * time.Second)
	e.wait(t)
	if d := e.fake.Deliveries(); len(d) != 2 || d[1].Status != 200 {
		t.Fatalf("retry after timeout: %+v", d)
	}
	r.mu.Lock()
	r.bodies = nil
	r.mu.Unlock()
	e.fake.DuplicateNext(1)
	_ = e.fake.UIEditPerson(e.user, a, pipedrive.PersonInput{LastName: ptr("Dup")})
	e.wait(t)
	evs := r.events(t)
	if len(evs) != 2 || evs[0].DeliveryID != evs[1].DeliveryID {
		t.Errorf("duplicate: %+v", evs)
	}
	r.mu.Lock()
	r.bodies = nil
	r.mu.Unlock()
	e.fake.HoldDeliveries()
	_ = e.fake.UIEditPerson(e.user, a, pipedrive.PersonInput{LastName: ptr("One")})
	_ = e.fake.UIEditPerson(e.user, a, pipedrive.PersonInput{LastName: ptr("Two")})
	e.fake.ReleaseDeliveries(true)
	e.wait(t)
	evs = r.events(t)
	if len(evs) != 2 || evs[0].Person.LastName != "Two" || evs[1].Person.LastName != "One" {
		t.Errorf("reorder: %+v", evs)
	}
}

func TestRateLimits(t *testing.T) {
	rl := pipedrivefake.DefaultRateLimits()
	rl.DailyBase = 200
	e := setup(t, false, pipedrivefake.WithRateLimits(rl))
	ctx := context.Background()
	id, _ := e.fake.SeedPerson(e.user, name("Rate Limited"))
	// Growth, API token: 40 requests per 2 s. The client backs off (virtual
	// clock) and every call succeeds.
	start := e.clock.Now()
	for range 60 {
		if _, err := e.c.GetPerson(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if e.clock.Now().Sub(start) < 2*time.Second {
		t.Errorf("client did not wait for the burst window")
	}
	if n := e.fake.Calls(pipedrivefake.RouteGetPerson); n <= 60 {
		t.Errorf("no 429 was seen (%d calls)", n)
	}
	// Headers on a normal response.
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v2/persons/%d", e.srv.URL, id), nil)
	req.Header.Set("x-api-token", e.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("x-ratelimit-limit") != "40" || resp.Header.Get("x-ratelimit-remaining") == "" || resp.Header.Get("x-ratelimit-reset") == "" {
		t.Errorf("headers: %v", resp.Header)
	}
	// Daily budget (200 × 2 × 1 = 400 tokens, ~62 spent): lists cost 10.
	var err2 error
	for range 40 {
		if _, _, err2 = e.c.ListPersonsPage(ctx, pipedrive.ListPersonsOptions{}, ""); err2 != nil {
			break
		}
	}
	// Classified as the daily budget, at once, without a made-up reset.
	var ae *pipedrive.APIError
	if !errors.Is(err2, pipedrive.ErrDailyBudget) || !errors.Is(err2, pipedrive.ErrRateLimited) || !errors.As(err2, &ae) || ae.RateLimit.Reset != 0 {
		t.Fatalf("daily budget: %v", err2)
	}
	req, _ = http.NewRequest("GET", e.srv.URL+"/api/v2/persons", nil)
	req.Header.Set("x-api-token", e.token)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("x-ratelimit-reset") != "" {
		t.Errorf("daily-budget 429: %d, x-ratelimit-reset %q (undocumented for the daily budget)", resp.StatusCode, resp.Header.Get("x-ratelimit-reset"))
	}
	e.clock.Advance(24 * time.Hour)
	if _, err := e.c.GetPerson(ctx, id); err != nil {
		t.Errorf("after midnight: %v", err)
	}
	// Switched off.
	rl.Enabled = false
	e.fake.SetRateLimits(rl)
	for range 100 {
		if _, err := e.c.GetPerson(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFaultInjection(t *testing.T) {
	e := setup(t, false, pipedrivefake.WithHang(2*time.Second))
	ctx := context.Background()
	id, _ := e.fake.SeedPerson(e.user, name("Faulty"))
	t.Run("500 on GET is retried", func(t *testing.T) {
		e.fake.FailNext(2, pipedrivefake.Fault{Kind: pipedrivefake.Fault500, Method: "GET", Path: "/api/v2/persons"})
		if _, err := e.c.GetPerson(ctx, id); err != nil {
			t.Error(err)
		}
	})
	t.Run("500 on PATCH is not retried", func(t *testing.T) {
		e.fake.FailNext(1, pipedrivefake.Fault{Kind: pipedrivefake.Fault500, Method: "PATCH"})
		_, err := e.c.UpdatePerson(ctx, id, name("X Y"))
		if !errors.Is(err, pipedrive.ErrUnavailable) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("429 on POST is retried", func(t *testing.T) {
		e.fake.FailNext(3, pipedrivefake.Fault{Kind: pipedrivefake.Fault429, Method: "POST"})
		if _, err := e.c.CreatePerson(ctx, name("After Four Tries")); err != nil {
			t.Error(err)
		}
	})
	t.Run("retries are bounded", func(t *testing.T) {
		c := e.client(t, e.token, pipedrive.WithRetry(2, time.Minute))
		e.fake.FailNext(5, pipedrivefake.Fault{Kind: pipedrivefake.Fault429})
		if _, err := c.Me(ctx); !errors.Is(err, pipedrive.ErrRateLimited) {
			t.Errorf("err = %v", err)
		}
		e.fake.ClearFaults()
	})
	t.Run("timeout", func(t *testing.T) {
		c := e.client(t, e.token, pipedrive.WithHTTPClient(&http.Client{Timeout: 100 * time.Millisecond}), pipedrive.WithRetry(0, 0))
		e.fake.FailNext(1, pipedrivefake.Fault{Kind: pipedrivefake.FaultTimeout})
		if _, err := c.Me(ctx); err == nil {
			t.Error("no error on timeout")
		}
	})
	t.Run("write committed, response dropped", func(t *testing.T) {
		e.fake.ResetCounters()
		e.fake.FailNext(1, pipedrivefake.Fault{Kind: pipedrivefake.FaultDropResponse, Method: "POST", Path: "/api/v2/persons"})
		_, err := e.c.CreatePerson(ctx, name("Ghost Write"))
		if err == nil {
			t.Fatal("client saw success")
		}
		hits, err := e.c.FindPersonsByName(ctx, "Ghost Write")
		if err != nil || len(hits) != 1 {
			t.Errorf("the write did not happen: %v %+v", err, hits)
		}
		if w := e.fake.Writes(pipedrivefake.RouteCreatePerson); w != 1 {
			t.Errorf("writes = %d", w)
		}
	})
}

func TestOAuth(t *testing.T) {
	e := setup(t, false, pipedrivefake.WithOAuthClient("cid", "csecret"))
	ctx := context.Background()
	cfg := oauthConfig(e.srv.URL)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(cfg.AuthCodeURL("st4te"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := resp.Location()
	if resp.StatusCode != http.StatusFound || loc.Query().Get("state") != "st4te" || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %v", resp.StatusCode, loc)
	}
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if pipedrive.APIDomain(tok) != e.srv.URL || tok.RefreshToken == "" {
		t.Errorf("token: %+v domain %q", tok, pipedrive.APIDomain(tok))
	}
	if _, err := cfg.Exchange(ctx, loc.Query().Get("code")); err == nil {
		t.Error("code reused")
	}
	c, err := pipedrive.New(ctx, "", pipedrive.WithTokenSource(cfg.TokenSource(ctx, tok)))
	if err != nil {
		t.Fatal(err)
	}
	if u, err := c.Me(ctx); err != nil || u.ID != e.user {
		t.Fatalf("me over oauth: %v %+v", err, u)
	}
	// Expired access token: x/oauth2 refreshes; the refresh token is unchanged.
	e.fake.ExpireAccessTokens()
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	ts := cfg.TokenSource(ctx, &expired)
	c, _ = pipedrive.New(ctx, e.srv.URL, pipedrive.WithTokenSource(ts))
	if _, err := c.Me(ctx); err != nil {
		t.Fatalf("after refresh: %v", err)
	}
	if nt, _ := ts.Token(); nt.RefreshToken != tok.RefreshToken {
		t.Errorf("refresh token changed")
	}
	e.fake.RevokeOAuth(e.user)
	expired.Expiry = time.Now().Add(-time.Minute)
	c, _ = pipedrive.New(ctx, e.srv.URL, pipedrive.WithTokenSource(cfg.TokenSource(ctx, &expired)))
	if _, err := c.Me(ctx); !errors.Is(err, pipedrive.ErrInvalidGrant) {
		t.Errorf("revoked: %v", err)
	}
	resp, err = noRedirect.Get(e.srv.URL + "/oauth/authorize?client_id=cid&redirect_uri=https://evil.example/cb")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("non-loopback redirect: %d", resp.StatusCode)
		}
	}
}
