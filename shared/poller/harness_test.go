package poller_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/emulator/emulatortest"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/poller"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/seal"
	"github.com/contactsync/contactsync/shared/store"
)

const (
	googleClientID = "client-poller-test"
	groupName      = "Pipedrive"
	changesTopic   = "changes"
	pollsTopic     = "polls"
	firstSyncTopic = "first-sync"
)

// env is one test's world: a fresh project on both emulators, the two
// fakes, and a poller wired to all of them.
type env struct {
	t       *testing.T
	ctx     context.Context
	project string
	st      *store.Store
	ps      *pubsub.Client
	pub     *flakyPublisher
	gfake   *googlefake.Server
	gURL    string
	pfake   *pipedrivefake.Server
	pURL    string
	company int64
	accts   *account.Accounts
	hooks   *recordingWebhooks
	clock   *clock
	p       *poller.Poller
	nUsers  int
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// flakyPublisher fails the next n change publishes, to show that state is
// advanced only after a publish succeeded; onHeld, if set, runs once when
// held changes are published again (what another instance does meanwhile).
type flakyPublisher struct {
	*queue.Publisher
	failChanges atomic.Int32
	onHeld      atomic.Pointer[func()]
}

func (f *flakyPublisher) PublishChanges(ctx context.Context, topic string, cs ...queue.Change) error {
	if len(cs) > 0 && cs[0].Source == queue.FromHeld {
		if fn := f.onHeld.Swap(nil); fn != nil {
			(*fn)()
		}
	}
	if f.failChanges.Load() > 0 {
		f.failChanges.Add(-1)
		return errors.New("injected publish failure")
	}
	return f.Publisher.PublishChanges(ctx, topic, cs...)
}

type recordingWebhooks struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (r *recordingWebhooks) EnsureWebhooks(_ context.Context, conn *store.Connection) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, conn.ID)
	return 0, r.err
}

func (r *recordingWebhooks) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func newEnv(t *testing.T, gopts ...googlefake.Option) *env {
	t.Helper()
	emulatortest.Require(t, emulator.Firestore)
	emulatortest.Require(t, emulator.PubSub)
	ctx := context.Background()
	e := &env{t: t, ctx: ctx, project: emulatortest.Project(), hooks: &recordingWebhooks{},
		clock: &clock{now: time.Now().UTC().Truncate(time.Millisecond)}}
	var err error
	if e.st, err = store.New(ctx, e.project, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	if e.ps, err = pubsub.NewClient(ctx, e.project); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.ps.Close() })
	for _, topic := range []string{changesTopic, pollsTopic, firstSyncTopic} {
		if _, err := e.ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: e.topicName(topic)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name: e.subName(topic), Topic: e.topicName(topic), AckDeadlineSeconds: 60,
		}); err != nil {
			t.Fatal(err)
		}
	}
	qp := queue.NewPublisher(e.ps)
	t.Cleanup(qp.Stop)
	e.pub = &flakyPublisher{Publisher: qp}

	e.gfake, e.gURL = googlefake.NewTestServer(t, append([]googlefake.Option{googlefake.WithoutQuota()}, gopts...)...)
	e.pfake = pipedrivefake.New()
	t.Cleanup(e.pfake.Close)
	psrv := httptest.NewServer(e.pfake)
	t.Cleanup(psrv.Close)
	e.pfake.SetBaseURL(psrv.URL)
	e.pURL = psrv.URL
	e.company = e.pfake.CreateCompany(pipedrivefake.CompanyOptions{Name: "Acme"})

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, err := seal.NewLocal(base64.StdEncoding.EncodeToString(key))
	if err != nil {
		t.Fatal(err)
	}
	e.accts, err = account.New(e.st, sealer, account.Config{
		GoogleClientID: googleClientID, GoogleClientSecret: "secret", GoogleBaseURL: e.gURL,
		GoogleOptions: []google.Option{
			google.WithQuota(google.Quota{}),
			google.WithRetry(google.Retry{MaxAttempts: 2, Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}),
		},
		PipedriveOptions: []pipedrive.Option{pipedrive.WithRetry(1, 20*time.Millisecond)},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.p = e.newPoller(nil)
	return e
}

// newPoller wires a poller to the env; mod may change the config.
func (e *env) newPoller(mod func(*poller.Config)) *poller.Poller {
	e.t.Helper()
	cfg := poller.Config{
		Store: e.st, Publisher: e.pub, Accounts: e.accts, Webhooks: e.hooks,
		PollsTopic: pollsTopic, ChangesTopic: changesTopic, FirstSyncTopic: firstSyncTopic,
		PollInterval: time.Minute, SafetyNetInterval: 10 * time.Minute, Now: e.clock.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := poller.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) topicName(id string) string { return "projects/" + e.project + "/topics/" + id }
func (e *env) subName(id string) string {
	return "projects/" + e.project + "/subscriptions/" + id + "-test"
}

// conn is one connection under test, with its own Google and Pipedrive users.
type conn struct {
	*store.Connection
	email  string
	group  string
	pdUser int64
}

// newConn makes a live connection with both accounts and a group.
func (e *env) newConn() *conn {
	e.t.Helper()
	e.nUsers++
	email := fmt.Sprintf("user%d@example.com", e.nUsers)
	if err := e.gfake.AddUser(email); err != nil {
		e.t.Fatal(err)
	}
	group, err := e.gfake.CreateGroup(email, groupName)
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := e.gfake.IssueToken(email, googleClientID)
	if err != nil {
		e.t.Fatal(err)
	}
	uid, apiToken, err := e.pfake.CreateUser(e.company, fmt.Sprintf("User %d", e.nUsers), fmt.Sprintf("pd%d@example.com", e.nUsers))
	if err != nil {
		e.t.Fatal(err)
	}
	c := &store.Connection{
		Status: store.StatusLive, GoogleGroup: group, PipedriveUserID: uid,
		PipedriveAuth: account.PipedriveAPIToken, PipedriveAPIDomain: e.pURL,
		PollDueAt: e.clock.Now().Add(-time.Second),
		// The safety net has run just now unless a test says otherwise.
		LastSafetyNetAt: e.clock.Now(),
	}
	if _, err := e.st.CreateConnection(e.ctx, c); err != nil {
		e.t.Fatal(err)
	}
	if err := e.accts.Put(e.ctx, c.ID, store.SecretGoogle, tok.RefreshToken); err != nil {
		e.t.Fatal(err)
	}
	if err := e.accts.Put(e.ctx, c.ID, store.SecretPipedrive, apiToken); err != nil {
		e.t.Fatal(err)
	}
	// As a first sync leaves it: the sync token of a listing of now.
	fresh, err := e.st.GetConnection(e.ctx, c.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	cl, err := e.accts.Open(e.ctx, fresh)
	if err != nil {
		e.t.Fatal(err)
	}
	next, err := cl.Google.List(e.ctx, "", func(*google.Page) error { return nil })
	if err != nil {
		e.t.Fatal(err)
	}
	if c, err = e.st.UpdateConnection(e.ctx, c.ID, func(c *store.Connection) error {
		c.GoogleSyncToken = cl.Google.StoreSyncToken(next)
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return &conn{Connection: c, email: email, group: group, pdUser: uid}
}

func (e *env) get(c *conn) *store.Connection {
	e.t.Helper()
	got, err := e.st.GetConnection(e.ctx, c.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

func (e *env) poll(c *conn) error {
	return e.p.PollOne(e.ctx, queue.PollRequest{ConnectionID: c.ID})
}

func (e *env) mustPoll(c *conn) {
	e.t.Helper()
	if err := e.poll(c); err != nil {
		e.t.Fatalf("PollOne: %v", err)
	}
}

// seed creates a contact; inGroup adds it to the connection's group as
// well as to My Contacts (so it can later leave the group).
func (e *env) seed(c *conn, given string, inGroup bool) *people.Person {
	e.t.Helper()
	ms := []*people.Membership{{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: "contactGroups/myContacts"}}}
	if inGroup {
		ms = append(ms, &people.Membership{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: c.group}})
	}
	p, err := e.gfake.SeedContact(c.email, &people.Person{Names: []*people.Name{{GivenName: given}}, Memberships: ms})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) edit(c *conn, rn, given string) *people.Person {
	e.t.Helper()
	p, err := e.gfake.EditContact(c.email, rn, func(p *people.Person) { p.Names = []*people.Name{{GivenName: given}} })
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// link stores a link as the applier would after syncing p.
func (e *env) link(c *conn, p *people.Person, pdID string) {
	e.t.Helper()
	if err := e.st.CreateLink(e.ctx, c.ID, &store.Link{
		ID: store.LinkIDForGoogle(p.ResourceName), GoogleID: p.ResourceName, PipedriveID: pdID, GoogleVersion: p.Etag,
	}); err != nil {
		e.t.Fatal(err)
	}
}

// pull drains a test subscription: every message published so far (the
// publisher waits until Pub/Sub stored them), acknowledged.
func (e *env) pull(topic string) [][]byte {
	e.t.Helper()
	var out [][]byte
	for {
		ctx, cancel := context.WithTimeout(e.ctx, 2*time.Second)
		// ReturnImmediately (deprecated, honoured by the emulator) makes
		// an empty subscription answer at once.
		resp, err := e.ps.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{
			Subscription: e.subName(topic), MaxMessages: 1000, ReturnImmediately: true,
		})
		cancel()
		if err != nil {
			e.t.Fatalf("pull %s: %v", topic, err)
		}
		if len(resp.ReceivedMessages) == 0 {
			return out
		}
		ids := make([]string, 0, len(resp.ReceivedMessages))
		for _, m := range resp.ReceivedMessages {
			out = append(out, m.Message.Data)
			ids = append(ids, m.AckId)
		}
		if err := e.ps.SubscriptionAdminClient.Acknowledge(e.ctx, &pubsubpb.AcknowledgeRequest{Subscription: e.subName(topic), AckIds: ids}); err != nil {
			e.t.Fatalf("ack: %v", err)
		}
	}
}

// changes drains the changes topic, as "kind side object" lines sorted.
func (e *env) changes() []string {
	e.t.Helper()
	var out []string
	for _, b := range e.pull(changesTopic) {
		c, err := queue.DecodeChange(b)
		if err != nil {
			e.t.Fatalf("bad change message: %v", err)
		}
		out = append(out, fmt.Sprintf("%s %s %s %s", c.Kind, c.Side, c.ObjectID, c.Source))
	}
	sort.Strings(out)
	return out
}

func want(lines ...string) []string {
	out := append([]string{}, lines...)
	sort.Strings(out)
	return out
}
