package firstsync_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/firstsync"
	"github.com/contactsync/contactsync/shared/firstsync/firstsynctest"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/seal"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/store/storetest"
)

// env is one connection between a Pipedrive fake user and a Google fake
// user, with a first-sync runner whose steps run at once (Direct), the
// store on the Firestore emulator.
type env struct {
	t       testing.TB
	ctx     context.Context
	st      *store.Store
	fs      *storetest.Counter
	g       *googlefake.Server
	gURL    string
	pd      *pipedrivefake.Server
	pURL    string
	company int64
	user    int64 // the connected Pipedrive user
	other   int64 // another user of the company
	email   string
	group   string
	conn    *store.Connection
	accts   *account.Accounts
	m       contact.Mapper
	direct  *firstsynctest.Direct
	runner  *firstsync.Runner
	clock   *pipedrivefake.VirtualClock
	hook    func(ctx context.Context, s firstsync.Step) error
	hookMu  sync.Mutex
}

type envOptions struct {
	contactSync bool
	plan        pipedrivefake.Plan
	limits      bool // Pipedrive's rate limits on (on the env's clock)
	gopts       []googlefake.Option
	chunk       int // Pipedrive chunk size (default 100)
	// start is the clock's start (default now); the fakes, the clients and
	// the runner share the clock.
	start time.Time
	// dailyBase is the daily budget of one seat, in the fake and the
	// runner (default Pipedrive's 30,000).
	dailyBase   int
	googleChunk int // Google chunk size (default 200)
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	if o.start.IsZero() {
		o.start = time.Now().UTC().Truncate(time.Second)
	}
	e := &env{t: t, ctx: ctx, m: contact.Mapper{DefaultRegion: "DE"}, email: googlefake.DemoUser,
		clock: pipedrivefake.NewVirtualClock(o.start)}
	e.st, e.fs = storetest.Counting(t)
	gopts := append([]googlefake.Option{googlefake.WithoutQuota(), googlefake.WithPhoneRegion("DE")}, o.gopts...)
	e.g, e.gURL = googlefake.NewTestServer(t, gopts...)
	var err error
	if e.group, err = e.g.CreateGroup(e.email, "Pipedrive"); err != nil {
		t.Fatal(err)
	}
	tok, err := e.g.IssueToken(e.email, "client-1")
	if err != nil {
		t.Fatal(err)
	}
	rl := pipedrivefake.RateLimits{}
	if o.limits {
		rl = pipedrivefake.DefaultRateLimits()
		if o.dailyBase > 0 {
			rl.DailyBase = o.dailyBase
		}
	}
	e.pd = pipedrivefake.New(pipedrivefake.WithRateLimits(rl), pipedrivefake.WithClock(e.clock))
	t.Cleanup(e.pd.Close)
	psrv := httptest.NewServer(e.pd)
	t.Cleanup(psrv.Close)
	e.pd.SetBaseURL(psrv.URL)
	e.pURL = psrv.URL
	e.company = e.pd.CreateCompany(pipedrivefake.CompanyOptions{Name: "Acme", ContactSync: o.contactSync, Plan: o.plan})
	var apiToken string
	if e.user, apiToken, err = e.pd.CreateUser(e.company, "Pat", "pat@acme.example"); err != nil {
		t.Fatal(err)
	}
	if e.other, _, err = e.pd.CreateUser(e.company, "Sam", "sam@acme.example"); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, err := seal.NewLocal(base64.StdEncoding.EncodeToString(key))
	if err != nil {
		t.Fatal(err)
	}
	e.accts, err = account.New(e.st, sealer, account.Config{
		GoogleClientID: "client-1", GoogleClientSecret: "s", GoogleBaseURL: e.gURL,
		GoogleOptions: []google.Option{google.WithQuota(google.Quota{}),
			google.WithRetry(google.Retry{MaxAttempts: 3, Initial: time.Millisecond, Max: 5 * time.Millisecond})},
		PipedriveOptions: []pipedrive.Option{pipedrive.WithRetry(2, 10*time.Millisecond),
			pipedrive.WithSleep(e.clock.Sleep), pipedrive.WithClock(e.clock.Now)},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.conn = &store.Connection{Status: store.StatusSetup, PipedriveUserID: e.user, PipedriveCompanyID: e.company,
		PipedriveAuth: account.PipedriveAPIToken, PipedriveAPIDomain: psrv.URL, GoogleGroup: e.group, WebhookIDs: []int64{1}}
	if _, err := e.st.CreateConnection(ctx, e.conn); err != nil {
		t.Fatal(err)
	}
	if err := e.accts.Put(ctx, e.conn.ID, store.SecretGoogle, tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if err := e.accts.Put(ctx, e.conn.ID, store.SecretPipedrive, apiToken); err != nil {
		t.Fatal(err)
	}
	e.direct = &firstsynctest.Direct{}
	e.runner, err = firstsync.New(firstsync.Config{Store: e.st, Accounts: e.accts, Publisher: e.direct,
		Topic: queue.FirstSyncTopic, ChangesTopic: queue.ChangesTopic, Mapper: e.m,
		Now: e.clock.Now, Sleep: e.clock.Sleep, DailyBase: o.dailyBase,
		PipedriveChunk: o.chunk, GoogleChunk: o.googleChunk,
		Hook: func(ctx context.Context, s firstsync.Step) error {
			e.hookMu.Lock()
			h := e.hook
			e.hookMu.Unlock()
			if h == nil {
				return nil
			}
			return h(ctx, s)
		}})
	if err != nil {
		t.Fatal(err)
	}
	e.direct.Runner = e.runner
	return e
}

func (e *env) setHook(h func(ctx context.Context, s firstsync.Step) error) {
	e.hookMu.Lock()
	e.hook = h
	e.hookMu.Unlock()
}

// start begins a job of mode and runs it as far as it goes.
func (e *env) start(mode string) error {
	_, err := firstsync.Start(e.ctx, e.st, e.direct, queue.FirstSyncTopic, e.conn.ID, mode, e.clock.Now())
	return err
}

// kick is the poller's look at the job.
func (e *env) kick() error {
	return firstsync.Kick(e.ctx, e.st, e.direct, queue.FirstSyncTopic, queue.ChangesTopic, e.get(), e.clock.Now(), 0)
}

func (e *env) get() *store.Connection {
	e.t.Helper()
	c, err := e.st.GetConnection(e.ctx, e.conn.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// person seeds a Pipedrive person owned by owner.
func (e *env) person(owner int64, in pipedrive.PersonInput) int64 {
	e.t.Helper()
	id, err := e.pd.SeedPerson(owner, in)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func pin(name string, emails, phones []string) pipedrive.PersonInput {
	in := pipedrive.PersonInput{Name: &name}
	var es, ps []pipedrive.Field
	for i, v := range emails {
		es = append(es, pipedrive.Field{Value: v, Label: "work", Primary: i == 0})
	}
	for i, v := range phones {
		ps = append(ps, pipedrive.Field{Value: v, Label: "work", Primary: i == 0})
	}
	if es != nil {
		in.Emails = &es
	}
	if ps != nil {
		in.Phones = &ps
	}
	return in
}

// withOrg links a person's input to an organization.
func withOrg(in pipedrive.PersonInput, org int64) pipedrive.PersonInput {
	in.SetOrg, in.OrgID = true, &org
	return in
}

// contact seeds a Google contact, in the group when inGroup (and always in
// My Contacts).
func (e *env) contact(given, family, org string, emails, phones []string, inGroup bool) string {
	e.t.Helper()
	p := &people.Person{Names: []*people.Name{{GivenName: given, FamilyName: family}}}
	if org != "" {
		p.Organizations = []*people.Organization{{Name: org}}
	}
	for _, v := range emails {
		p.EmailAddresses = append(p.EmailAddresses, &people.EmailAddress{Value: v, Type: "work"})
	}
	for _, v := range phones {
		p.PhoneNumbers = append(p.PhoneNumbers, &people.PhoneNumber{Value: v, Type: "work"})
	}
	p.Memberships = []*people.Membership{{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: "contactGroups/myContacts"}}}
	if inGroup {
		p.Memberships = append(p.Memberships, &people.Membership{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: e.group}})
	}
	out, err := e.g.SeedContact(e.email, p)
	if err != nil {
		e.t.Fatal(err)
	}
	return out.ResourceName
}

// world is both sides as the user sees them: the persons the user owns
// and the group's contacts, each rendered as its synced fields, and the
// links.
type world struct {
	persons  map[string]contact.Contact // by id
	contacts map[string]contact.Contact // by resource name
	links    []*store.Link
}

func (e *env) world() world {
	e.t.Helper()
	w := world{persons: map[string]contact.Contact{}, contacts: map[string]contact.Contact{}}
	for _, p := range e.pd.Persons(e.company) {
		if p.IsDeleted || p.OwnerID != e.user {
			continue
		}
		org := ""
		if p.OrgID != nil {
			org, _ = e.pd.OrganizationName(*p.OrgID)
		}
		w.persons[fmt.Sprint(p.ID)] = e.m.FromPipedrive(&p, org)
	}
	cs, err := e.g.Contacts(e.email)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range cs {
		for _, m := range c.Memberships {
			if m.ContactGroupMembership != nil && m.ContactGroupMembership.ContactGroupResourceName == e.group {
				w.contacts[c.ResourceName] = e.m.FromGoogle(c)
			}
		}
	}
	if w.links, err = e.st.AllLinks(e.ctx, e.conn.ID); err != nil {
		e.t.Fatal(err)
	}
	return w
}

// pairs checks the world: every owned person and every group contact is
// in exactly one link (reviews excepted), linked records hold the same
// synced fields; it returns the problems in words.
func (w world) problems(m contact.Mapper) []string {
	var out []string
	pSeen, gSeen := map[string]int{}, map[string]int{}
	for _, l := range w.links {
		if l.Review != "" {
			continue
		}
		pSeen[l.PipedriveID]++
		gSeen[l.GoogleID]++
		pc, pok := w.persons[l.PipedriveID]
		gc, gok := w.contacts[l.GoogleID]
		if !pok || !gok {
			out = append(out, fmt.Sprintf("link %s names a missing record (person %v, contact %v)", l.ID, pok, gok))
			continue
		}
		if d := contact.Diff(contact.AlignPipedriveName(pc, gc), gc) &^ (pc.Unknown | gc.Unknown); d != 0 {
			out = append(out, fmt.Sprintf("link %s: fields differ: %s", l.ID, d))
		}
	}
	for id, n := range pSeen {
		if n > 1 {
			out = append(out, fmt.Sprintf("person %s in %d links", id, n))
		}
	}
	for id, n := range gSeen {
		if n > 1 {
			out = append(out, fmt.Sprintf("contact %s in %d links", id, n))
		}
	}
	reviewed := map[string]bool{}
	for _, l := range w.links {
		if l.Review != "" {
			reviewed[l.PipedriveID], reviewed[l.GoogleID] = true, true
		}
	}
	for id := range w.persons {
		if pSeen[id] == 0 && !reviewed[id] {
			out = append(out, "person "+id+" not linked")
		}
	}
	for id := range w.contacts {
		if gSeen[id] == 0 && !reviewed[id] {
			out = append(out, "contact "+id+" not linked")
		}
	}
	sort.Strings(out)
	return out
}

// duplicates counts records that share an e-mail address with another
// record of the same side (the sign of a twin created twice).
func (w world) duplicates() int {
	n := 0
	for _, side := range []map[string]contact.Contact{w.persons, w.contacts} {
		seen := map[string]bool{}
		for _, c := range side {
			for _, it := range c.Emails {
				k := strings.ToLower(it.Value)
				if seen[k] {
					n++
				}
				seen[k] = true
			}
		}
	}
	return n
}

var errKilled = errors.New("killed by the test")
