// Package connecttest wires a connect.Service for tests: a fresh project on
// the Firestore emulator, the Google and Pipedrive fakes on loopback
// servers (with OAuth clients registered), a Pipedrive company with one
// user, and a real intake handler whose published changes are recorded.
package connecttest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/connect"
	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/emulator/emulatortest"
	"github.com/contactsync/contactsync/shared/firstsync"
	"github.com/contactsync/contactsync/shared/firstsync/firstsynctest"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/intake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/seal"
	"github.com/contactsync/contactsync/shared/store"
)

// OAuth clients registered with the fakes.
const (
	GoogleClientID        = "google-client"
	GoogleClientSecret    = "google-secret"
	PipedriveClientID     = "pipedrive-client"
	PipedriveClientSecret = "pipedrive-secret"
)

// Env is a wired service with its fakes.
type Env struct {
	Store    *store.Store
	Accounts *account.Accounts
	Service  *connect.Service
	Config   connect.Config

	Google    *googlefake.Server
	GoogleURL string

	Pipedrive    *pipedrivefake.Server
	PipedriveURL string
	CompanyID    int64
	UserID       int64 // the company's first user (the OAuth default)
	APIToken     string

	IntakeURL string
	Published *Recorder
	// FirstSync runs the first syncs GoLive starts, within the call.
	FirstSync *firstsynctest.Direct
}

// Recorder records what the intake published.
type Recorder struct {
	mu  sync.Mutex
	got []queue.Change
}

// PublishChanges implements intake.Publisher.
func (r *Recorder) PublishChanges(_ context.Context, _ string, cs ...queue.Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, cs...)
	return nil
}

// Changes returns what was published so far.
func (r *Recorder) Changes() []queue.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]queue.Change(nil), r.got...)
}

// New builds an Env; it skips or fails t without the Firestore emulator.
func New(t testing.TB) *Env {
	t.Helper()
	emulatortest.Require(t, emulator.Firestore)
	st, err := store.New(context.Background(), emulatortest.Project(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return NewWithStore(t, st)
}

// NewWithStore builds an Env on st, e.g. a store whose operations a test
// counts (storetest.Counting).
func NewWithStore(t testing.TB, st *store.Store) *Env {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, err := seal.NewLocal(base64.StdEncoding.EncodeToString(key))
	if err != nil {
		t.Fatal(err)
	}

	e := &Env{Store: st, Published: &Recorder{}}
	e.Google, e.GoogleURL = googlefake.NewTestServer(t, googlefake.WithoutQuota())

	e.Pipedrive = pipedrivefake.New(pipedrivefake.WithOAuthClient(PipedriveClientID, PipedriveClientSecret),
		pipedrivefake.WithDeliveryTimeout(5*time.Second), pipedrivefake.WithRateLimits(pipedrivefake.RateLimits{}))
	psrv := httptest.NewServer(e.Pipedrive)
	t.Cleanup(func() {
		e.Pipedrive.Close()
		psrv.CloseClientConnections()
		psrv.Close()
	})
	e.PipedriveURL = psrv.URL
	e.Pipedrive.SetBaseURL(psrv.URL)
	e.CompanyID = e.Pipedrive.CreateCompany(pipedrivefake.CompanyOptions{Name: "Acme"})
	e.UserID, e.APIToken, err = e.Pipedrive.CreateUser(e.CompanyID, "Pat", "pat@acme.example")
	if err != nil {
		t.Fatal(err)
	}

	in, err := intake.New(st, e.Published, "changes", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	isrv := httptest.NewServer(in)
	t.Cleanup(isrv.Close)
	e.IntakeURL = isrv.URL + "/"

	e.Accounts, err = account.New(st, sealer, account.Config{
		GoogleClientID: GoogleClientID, GoogleClientSecret: GoogleClientSecret, GoogleBaseURL: e.GoogleURL,
		PipedriveClientID: PipedriveClientID, PipedriveClientSecret: PipedriveClientSecret, PipedriveOAuthURL: e.PipedriveURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.FirstSync = &firstsynctest.Direct{Changes: e.Published}
	e.FirstSync.Runner, err = firstsync.New(firstsync.Config{Store: st, Accounts: e.Accounts, Publisher: e.FirstSync,
		Topic: queue.FirstSyncTopic, ChangesTopic: "changes"})
	if err != nil {
		t.Fatal(err)
	}
	e.Config = connect.Config{
		IntakeURL: e.IntakeURL, PipedriveAPIURL: e.PipedriveURL, GoogleBaseURL: e.GoogleURL,
		PipedriveOptions: []pipedrive.Option{pipedrive.WithRetry(1, time.Second)},
		FirstSync:        e.FirstSync,
	}
	e.Service, err = connect.New(st, e.Accounts, e.Config)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// GoogleToken signs email in at the Google fake and returns a refresh token.
func (e *Env) GoogleToken(t testing.TB, email string) string {
	t.Helper()
	tok, err := e.Google.IssueToken(email, GoogleClientID)
	if err != nil {
		t.Fatal(err)
	}
	return tok.RefreshToken
}

// Live makes a live connection owned by owner for the default Pipedrive
// user (API token) and email's Google group "Pipedrive".
func (e *Env) Live(t testing.TB, owner, email string) *store.Connection {
	t.Helper()
	ctx := context.Background()
	c, err := e.Service.ConnectPipedriveToken(ctx, owner, "", e.APIToken)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = e.Service.ConnectGoogle(ctx, owner, c.ID, e.GoogleToken(t, email)); err != nil {
		t.Fatal(err)
	}
	if c, err = e.Service.CreateGroup(ctx, c.ID, connect.RecommendedGroup); err != nil {
		t.Fatal(err)
	}
	if c, err = e.Service.GoLive(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	return c
}

// Hooks returns the fake's webhooks that target the intake.
func (e *Env) Hooks() []pipedrivefake.WebhookState {
	var out []pipedrivefake.WebhookState
	for _, h := range e.Pipedrive.Webhooks(e.CompanyID) {
		if h.SubscriptionURL == e.IntakeURL {
			out = append(out, h)
		}
	}
	return out
}
