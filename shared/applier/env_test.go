package applier_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/applier"
	"github.com/contactsync/contactsync/shared/connect"
	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/intake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/seal"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/store/storetest"
)

// env is one connection between a Pipedrive fake user and the Google fake's
// demo user, with an applier on a manual clock.
type env struct {
	t       testing.TB
	ctx     context.Context
	st      *store.Store
	fs      *storetest.Counter
	g       *googlefake.Server
	pd      *pipedrivefake.Server
	group   string
	company int64
	user    int64 // the connected Pipedrive user
	other   int64 // another user of the company
	conn    *store.Connection
	app     *applier.Applier
	m       contact.Mapper
	mu      sync.Mutex
	now     time.Time
	hook    atomic.Pointer[func(applier.Step) error]
	gTamper atomic.Pointer[func(*http.Request)] // runs before a Google request
	pAfter  atomic.Pointer[func(*http.Request)] // runs after a Pipedrive answer
	msgs    int
	accts   *account.Accounts
	svc     *connect.Service
	vclock  *googlefake.ManualClock // with envOptions.quotas
	acctCfg account.Config
	sealer  seal.Sealer
}

// accts2 opens another accounts cache on the env's store and services: what
// another function instance has.
func (e *env) accts2() *account.Accounts {
	e.t.Helper()
	a, err := account.New(e.st, e.sealer, e.acctCfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

type envOptions struct {
	policy      string
	contactSync bool
	// quotas: Google's real per-user quotas, in the fake and in the client,
	// on a virtual clock that every wait moves forward (the applier's clock
	// too), so minutes of quota-bound traffic run in milliseconds.
	quotas bool
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, ctx: ctx, now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), m: contact.Mapper{DefaultRegion: "DE"}}
	e.st, e.fs = storetest.Counting(t)

	var gURL string
	gopts := []googlefake.Option{googlefake.WithoutQuota(), googlefake.WithPhoneRegion("DE")}
	clientQuota := []google.Option{google.WithQuota(google.Quota{})}
	if o.quotas {
		e.vclock = googlefake.NewManualClock(e.now)
		e.vclock.SetAutoAdvance(true)
		gopts = append(gopts, googlefake.WithQuota(googlefake.DefaultQuota), googlefake.WithClock(e.vclock))
		clientQuota = []google.Option{google.WithQuota(google.DefaultQuota), google.WithClock(e.vclock)}
	}
	e.g, gURL = googlefake.NewTestServer(t, gopts...)
	group, err := e.g.CreateGroup(googlefake.DemoUser, "Pipedrive")
	if err != nil {
		t.Fatal(err)
	}
	e.group = group
	tok, err := e.g.IssueToken(googlefake.DemoUser, "client-1")
	if err != nil {
		t.Fatal(err)
	}

	e.pd = pipedrivefake.New(pipedrivefake.WithRateLimits(pipedrivefake.RateLimits{}))
	t.Cleanup(e.pd.Close)
	psrv := httptest.NewServer(e.pd)
	t.Cleanup(psrv.Close)
	e.pd.SetBaseURL(psrv.URL)
	company := e.pd.CreateCompany(pipedrivefake.CompanyOptions{Name: "Acme", ContactSync: o.contactSync})
	e.company = company
	var apiToken string
	if e.user, apiToken, err = e.pd.CreateUser(company, "Pat", "pat@acme.example"); err != nil {
		t.Fatal(err)
	}
	if e.other, _, err = e.pd.CreateUser(company, "Sam", "sam@acme.example"); err != nil {
		t.Fatal(err)
	}

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, err := seal.NewLocal(base64.StdEncoding.EncodeToString(key))
	if err != nil {
		t.Fatal(err)
	}
	tamper := &tamperTransport{e: e, base: http.DefaultTransport}
	e.acctCfg = account.Config{
		GoogleClientID: "client-1", GoogleClientSecret: "s", GoogleBaseURL: gURL,
		GoogleOptions: append(clientQuota,
			google.WithRetry(google.Retry{MaxAttempts: 3, Initial: time.Millisecond, Max: 5 * time.Millisecond}),
			google.WithHTTPClient(&http.Client{Transport: tamper, Timeout: 10 * time.Second})),
		PipedriveOptions: []pipedrive.Option{pipedrive.WithRetry(2, 10*time.Millisecond),
			pipedrive.WithHTTPClient(&http.Client{Transport: &afterTransport{e: e, base: http.DefaultTransport}, Timeout: 10 * time.Second}),
			pipedrive.WithSleep(func(context.Context, time.Duration) error { return nil })},
	}
	e.sealer = sealer
	accts := e.accts2()
	e.accts = accts
	e.conn = &store.Connection{Status: store.StatusLive, PipedriveUserID: e.user, PipedriveCompanyID: company,
		PipedriveAuth: account.PipedriveAPIToken, PipedriveAPIDomain: psrv.URL, GoogleGroup: group, DeletePolicy: o.policy,
		WebhookIDs: []int64{1}, WebhookSecretHash: intake.SecretHash("the webhooks' password")}
	if _, err := e.st.CreateConnection(ctx, e.conn); err != nil {
		t.Fatal(err)
	}
	if err := accts.Put(ctx, e.conn.ID, store.SecretGoogle, tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if err := accts.Put(ctx, e.conn.ID, store.SecretPipedrive, apiToken); err != nil {
		t.Fatal(err)
	}
	// the Google account's id, as the connect flow stores it
	fresh, err := e.st.GetConnection(ctx, e.conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := accts.Open(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	me, err := cl.Google.Service().People.Get("people/me").PersonFields("metadata").Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateConnection(ctx, e.conn.ID, func(c *store.Connection) error {
		c.GoogleAccount = me.ResourceName
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.svc, err = connect.New(e.st, accts, connect.Config{IntakeURL: "http://127.0.0.1:9/intake", GoogleBaseURL: gURL,
		PipedriveAPIURL: psrv.URL, Now: e.clock, GoogleOptions: []google.Option{google.WithQuota(google.Quota{})}})
	if err != nil {
		t.Fatal(err)
	}
	e.app, err = applier.New(applier.Config{
		Store: e.st, Accounts: accts, Mapper: e.m, Now: e.clock, PendingGrace: time.Minute,
		Hook: func(_ context.Context, s applier.Step) error {
			if h := e.hook.Load(); h != nil {
				return (*h)(s)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// afterTransport runs e.pAfter once a Pipedrive request was answered.
type afterTransport struct {
	e    *env
	base http.RoundTripper
}

func (at *afterTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := at.base.RoundTrip(r)
	if f := at.e.pAfter.Load(); f != nil && err == nil {
		(*f)(r)
	}
	return resp, err
}

type tamperTransport struct {
	e    *env
	base http.RoundTripper
}

func (tt *tamperTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if f := tt.e.gTamper.Load(); f != nil {
		(*f)(r)
	}
	return tt.base.RoundTrip(r)
}

func (e *env) clock() time.Time {
	if e.vclock != nil {
		return e.vclock.Now()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	if e.vclock != nil {
		e.vclock.Advance(d)
		return
	}
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

// webhooksSeen records that webhooks arrived just now, as the applier does
// at most once a minute: a test counting the sync's own writes leaves
// that one out.
func (e *env) webhooksSeen() {
	e.t.Helper()
	if err := e.st.SetLastWebhook(e.ctx, e.conn.ID, e.clock()); err != nil {
		e.t.Fatal(err)
	}
}

// crashAt makes the applier stop at step s once, as a crash would.
func (e *env) crashAt(s applier.Step) {
	var once atomic.Bool
	f := func(got applier.Step) error {
		if got == s && once.CompareAndSwap(false, true) {
			return errors.New("killed at " + string(s))
		}
		return nil
	}
	e.hook.Store(&f)
}

// deliver applies a change as a Pub/Sub delivery and returns the error the
// function would answer.
func (e *env) deliver(side queue.Side, id string, kind queue.Kind) error {
	e.t.Helper()
	e.msgs++
	ch := queue.Change{ConnectionID: e.conn.ID, Side: side, ObjectID: id, Kind: kind, Source: queue.FromWebhook, OccurredAt: e.clock()}
	if side == queue.Google {
		ch.Source = queue.FromPoll
	}
	return e.app.Handle(e.ctx, queue.Delivery{MessageID: "m" + strconv.Itoa(e.msgs), Data: mustJSON(e.t, ch)})
}

// apply delivers and fails the test on an error.
func (e *env) apply(side queue.Side, id string, kind queue.Kind) {
	e.t.Helper()
	if err := e.deliver(side, id, kind); err != nil {
		e.t.Fatalf("apply %s %s %s: %v", side, id, kind, err)
	}
}

func (e *env) pdAdd(in pipedrive.PersonInput) string {
	e.t.Helper()
	id, err := e.pd.UIAddPerson(e.user, in)
	if err != nil {
		e.t.Fatal(err)
	}
	return strconv.FormatInt(id, 10)
}

func (e *env) pdEdit(id string, in pipedrive.PersonInput) {
	e.t.Helper()
	n, _ := strconv.ParseInt(id, 10, 64)
	if err := e.pd.UIEditPerson(e.user, n, in); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) pdPerson(id string) (pipedrive.Person, bool) {
	n, _ := strconv.ParseInt(id, 10, 64)
	p, ok := e.pd.Person(n)
	return p, ok && !p.IsDeleted
}

// pdLive returns the company's persons that are not deleted.
func (e *env) pdLive() []pipedrive.Person {
	var out []pipedrive.Person
	for _, p := range e.pd.Persons(e.companyID()) {
		if !p.IsDeleted {
			out = append(out, p)
		}
	}
	return out
}

func (e *env) companyID() int64 { return e.company }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *env) gSeed(p *people.Person) string {
	e.t.Helper()
	p.Memberships = append(p.Memberships, membership(e.group), membership("contactGroups/myContacts"))
	out, err := e.g.SeedContact(googlefake.DemoUser, p)
	if err != nil {
		e.t.Fatal(err)
	}
	return out.ResourceName
}

func (e *env) gContact(rn string) (*people.Person, bool) {
	p, err := e.g.Contact(googlefake.DemoUser, rn)
	return p, err == nil
}

func (e *env) gMembers() []string {
	e.t.Helper()
	ms, err := e.g.GroupMembers(googlefake.DemoUser, e.group)
	if err != nil {
		e.t.Fatal(err)
	}
	return ms
}

func (e *env) gStats() googlefake.Stats { return e.g.Stats(googlefake.DemoUser) }

func (e *env) link(side queue.Side, id string) (*store.Link, bool) {
	e.t.Helper()
	var l *store.Link
	var err error
	if side == queue.Pipedrive {
		l, err = e.st.LinkByPipedrive(e.ctx, e.conn.ID, id)
	} else {
		l, err = e.st.LinkByGoogle(e.ctx, e.conn.ID, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return l, true
}

func (e *env) connection() *store.Connection {
	e.t.Helper()
	c, err := e.st.GetConnection(e.ctx, e.conn.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// traffic is a snapshot of every counter.
type traffic struct {
	fsReads, fsWrites      int64
	gReads, gWrites, pCall int
	pWrites                int
}

func (e *env) traffic() traffic {
	st := e.gStats()
	return traffic{
		fsReads: e.fs.Reads(), fsWrites: e.fs.Writes(),
		gReads: st.TotalCalls() - st.Writes, gWrites: st.Writes,
		pCall: len(e.pd.CallLog()), pWrites: e.pd.Writes(),
	}
}

func (a traffic) sub(b traffic) traffic {
	return traffic{a.fsReads - b.fsReads, a.fsWrites - b.fsWrites, a.gReads - b.gReads, a.gWrites - b.gWrites, a.pCall - b.pCall, a.pWrites - b.pWrites}
}

func membership(group string) *people.Membership {
	return &people.Membership{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: group}}
}

func ptr[T any](v T) *T { return &v }

func emails(vs ...string) *[]pipedrive.Field {
	var out []pipedrive.Field
	for i, v := range vs {
		out = append(out, pipedrive.Field{Value: v, Label: "work", Primary: i == 0})
	}
	return &out
}

func phones(vs ...string) *[]pipedrive.Field {
	var out []pipedrive.Field
	for i, v := range vs {
		out = append(out, pipedrive.Field{Value: v, Label: "mobile", Primary: i == 0})
	}
	return &out
}

// held returns the connection's held changes of kind ("" = all).
func (e *env) held(kind string) []store.HeldChange {
	e.t.Helper()
	hs, err := e.st.HeldChanges(e.ctx, e.conn.ID, kind, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return hs
}

// setStatus sets the connection's status (and which account needs re-auth).
func (e *env) setStatus(st store.Status) {
	e.t.Helper()
	if _, err := e.st.UpdateConnection(e.ctx, e.conn.ID, func(c *store.Connection) error {
		c.Status = st
		c.ReauthGoogle = st == store.StatusNeedsReauth
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

// republish does what the poller does with a syncing connection's held
// changes that are due: it delivers each again (with the user's decision)
// and forgets those Pub/Sub would have stored. It returns how many.
func (e *env) republish() int {
	e.t.Helper()
	due, err := e.st.DueHeld(e.ctx, e.conn.ID, e.clock(), 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.ForgetPublished(e.ctx, e.conn.ID, due); err != nil {
		e.t.Fatal(err)
	}
	for _, h := range due {
		e.msgs++
		ch := queue.Change{ConnectionID: e.conn.ID, Side: queue.Side(h.Side), ObjectID: h.ObjectID, Kind: queue.Kind(h.ChangeKind),
			Decision: queue.Decision(h.Decision), Twin: h.Twin, Source: queue.FromHeld, OccurredAt: h.FirstAt} // as the poller sends it
		if err := e.app.Handle(e.ctx, queue.Delivery{MessageID: "m" + strconv.Itoa(e.msgs), Data: mustJSON(e.t, ch)}); err != nil {
			e.t.Fatalf("held change %s %s: %v", h.Side, h.ObjectID, err)
		}
	}
	return len(due)
}
