package connect_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/connect"
	"github.com/contactsync/contactsync/shared/connect/connecttest"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/intake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

const owner = "owner-hash-1"

func TestConnectWithAPITokenAndGoLive(t *testing.T) {
	e := connecttest.New(t)
	ctx := context.Background()
	svc := e.Service

	c, err := svc.ConnectPipedriveToken(ctx, owner, "", e.APIToken)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != store.StatusSetup || c.OwnerHash != owner || c.PipedriveUserID != e.UserID ||
		c.PipedriveCompanyID != e.CompanyID || c.PipedriveAuth != account.PipedriveAPIToken || c.PipedriveAPIDomain != e.PipedriveURL {
		t.Fatalf("after Pipedrive connect: %+v", c)
	}
	sealed, err := e.Store.GetSecret(ctx, c.ID, store.SecretPipedrive)
	if err != nil || strings.Contains(string(sealed), e.APIToken) {
		t.Fatalf("Pipedrive token not stored sealed: %v", err)
	}
	if _, err := svc.GoLive(ctx, c.ID); !errors.Is(err, connect.ErrNotReady) {
		t.Fatalf("GoLive without Google: %v", err)
	}

	if c, err = svc.ConnectGoogle(ctx, owner, c.ID, e.GoogleToken(t, googlefake.DemoUser)); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.GoogleAccount, "people/") {
		t.Fatalf("Google account = %q", c.GoogleAccount)
	}
	if c, err = svc.CreateGroup(ctx, c.ID, ""); err != nil {
		t.Fatal(err)
	}
	groups, err := e.Google.Groups(googlefake.DemoUser)
	if err != nil || !slices.ContainsFunc(groups, func(g *people.ContactGroup) bool {
		return g.ResourceName == c.GoogleGroup && g.Name == connect.RecommendedGroup
	}) {
		t.Fatalf("group %q not created as %q: %v", c.GoogleGroup, connect.RecommendedGroup, err)
	}
	if c, err = svc.SetDeletePolicy(ctx, c.ID, "unlink"); err != nil || c.DeletePolicy != "unlink" {
		t.Fatalf("SetDeletePolicy: %+v, %v", c, err)
	}
	if _, err = svc.SetDeletePolicy(ctx, c.ID, "nuke"); !errors.Is(err, connect.ErrInvalidPolicy) {
		t.Fatalf("bad policy: %v", err)
	}

	before := time.Now()
	if c, err = svc.GoLive(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if c.Status != store.StatusLive || c.PollDueAt.Before(before.Add(-time.Second)) || c.PollDueAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("after GoLive: status %s, poll due %v", c.Status, c.PollDueAt)
	}
	pw, err := e.Accounts.Secret(ctx, c.ID, store.SecretWebhook)
	if err != nil || len(pw) < 43 {
		t.Fatalf("webhook secret: %d chars, %v", len(pw), err)
	}
	if string(intake.SecretHash(pw)) != string(c.WebhookSecretHash) {
		t.Fatal("WebhookSecretHash is not SHA-256 of the stored password")
	}
	checkHooks(t, e, c, pw)

	// A UI edit in Pipedrive reaches the intake with the right Basic auth.
	pid, err := e.Pipedrive.SeedPerson(e.UserID, pipedrive.PersonInput{Name: ptr("Ada Lovelace")})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Pipedrive.UIEditPerson(e.UserID, pid, pipedrive.PersonInput{Name: ptr("Ada King")}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.Pipedrive.WaitDeliveries(wctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range e.Pipedrive.Deliveries() {
		if d.Status != http.StatusOK {
			t.Errorf("delivery answered %d: %+v", d.Status, d)
		}
	}
	got := e.Published.Changes()
	if len(got) != 1 || got[0].ConnectionID != c.ID || got[0].Side != queue.Pipedrive || got[0].ObjectID != fmt.Sprint(pid) {
		t.Fatalf("published %+v", got)
	}

	// Save again: the same webhooks, nothing new.
	ids := c.WebhookIDs
	if c, err = svc.GoLive(ctx, c.ID); err != nil || !slices.Equal(c.WebhookIDs, ids) || len(e.Hooks()) != 3 {
		t.Fatalf("second GoLive: ids %v → %v, %d hooks, %v", ids, c.WebhookIDs, len(e.Hooks()), err)
	}
}

func checkHooks(t *testing.T, e *connecttest.Env, c *store.Connection, pw string) {
	t.Helper()
	hooks := e.Hooks()
	var actions []string
	for _, h := range hooks {
		if h.EventObject != "person" || h.Version != "2.0" || h.HTTPAuthUser != c.ID || h.HTTPPassword != pw || h.UserID != e.UserID {
			t.Errorf("webhook %+v", h)
		}
		actions = append(actions, h.EventAction)
		if !slices.Contains(c.WebhookIDs, h.ID) {
			t.Errorf("webhook %d not recorded in %v", h.ID, c.WebhookIDs)
		}
	}
	slices.Sort(actions)
	if !slices.Equal(actions, []string{"change", "create", "delete"}) || len(c.WebhookIDs) != 3 {
		t.Fatalf("webhook actions %v, ids %v", actions, c.WebhookIDs)
	}
}

func ptr[T any](v T) *T { return &v }

// follow runs an authorization request through the fake's redirect and
// returns the callback's query.
func follow(t *testing.T, authURL string, callback *httptest.Server, got chan url.Values) url.Values {
	t.Helper()
	resp, err := callback.Client().Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case q := <-got:
		return q
	default:
		t.Fatalf("the provider did not redirect to the callback (HTTP %d)", resp.StatusCode)
		return nil
	}
}

func TestOAuthBothProviders(t *testing.T) {
	e := connecttest.New(t)
	ctx := context.Background()
	got := make(chan url.Values, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Query()
		_, _ = w.Write([]byte("ok"))
	}))
	defer cb.Close()

	// Pipedrive: authorization code flow of a confidential client.
	pcfg := e.Service.PipedriveOAuth(cb.URL + "/oauth/pipedrive/callback")
	q := follow(t, pcfg.AuthCodeURL("st-1"), cb, got)
	if q.Get("state") != "st-1" || q.Get("code") == "" {
		t.Fatalf("Pipedrive callback query %v", q)
	}
	ptok, err := pcfg.Exchange(ctx, q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.Service.CompletePipedriveOAuth(ctx, owner, "", ptok)
	if err != nil {
		t.Fatal(err)
	}
	if c.PipedriveAuth != account.PipedriveOAuth || c.PipedriveUserID != e.UserID || c.PipedriveAPIDomain != e.PipedriveURL {
		t.Fatalf("after Pipedrive OAuth: %+v", c)
	}

	// Google: offline access, consent, PKCE S256.
	gcfg := e.Service.GoogleOAuth(cb.URL + "/oauth/google/callback")
	verifier := oauth2.GenerateVerifier()
	q = follow(t, gcfg.AuthCodeURL("st-2", oauth2.AccessTypeOffline, oauth2.ApprovalForce, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("login_hint", "pat@gmail.example")), cb, got)
	if _, err := gcfg.Exchange(ctx, q.Get("code")); err == nil {
		t.Fatal("a code was exchanged without its PKCE verifier")
	}
	q = follow(t, gcfg.AuthCodeURL("st-3", oauth2.AccessTypeOffline, oauth2.ApprovalForce, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("login_hint", "pat@gmail.example")), cb, got)
	gtok, err := gcfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || gtok.RefreshToken == "" {
		t.Fatalf("Google exchange: refresh token %v, %v", gtok.RefreshToken != "", err)
	}
	if c, err = e.Service.ConnectGoogle(ctx, owner, c.ID, gtok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if c, err = e.Service.CreateGroup(ctx, c.ID, "Work"); err != nil {
		t.Fatal(err)
	}
	// Who is connected, in words: Pipedrive's users/me at connect time,
	// the Google account's e-mail (the e-mail scope is asked for), the
	// group's name; and the connection's own history.
	want := store.AccountNames{PipedriveUserName: "Pat", PipedriveUserEmail: "pat@acme.example", PipedriveCompanyName: "Acme",
		GoogleEmail: "pat@gmail.example", GoogleGroupName: "Work"}
	if c.AccountNames != want {
		t.Errorf("account names = %+v, want %+v", c.AccountNames, want)
	}
	if !slices.Contains(gcfg.Scopes, connect.GoogleEmailScope) {
		t.Errorf("Google scopes %v lack the e-mail scope", gcfg.Scopes)
	}
	var kinds []string
	for _, ev := range c.Events {
		kinds = append(kinds, ev.Kind)
	}
	if !slices.Equal(kinds, []string{store.EventPipedriveConnected, store.EventGoogleConnected}) {
		t.Errorf("events = %v", kinds)
	}
	if c, err = e.Service.GoLive(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	pw, _ := e.Accounts.Secret(ctx, c.ID, store.SecretWebhook)
	checkHooks(t, e, c, pw)

	// The sync paths open both accounts from what was stored.
	cl, err := e.Accounts.Open(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if me, err := cl.Pipedrive.Me(ctx); err != nil || me.ID != e.UserID {
		t.Fatalf("Pipedrive Me via OAuth: %+v, %v", me, err)
	}
	if _, err := cl.Google.ListGroups(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestReconnectGoogle(t *testing.T) {
	e := connecttest.New(t)
	ctx := context.Background()
	c := e.Live(t, owner, googlefake.DemoUser)

	// The poller saw invalid_grant: needs re-auth, polling stopped.
	e.Google.RevokeTokens(googlefake.DemoUser)
	c, err := e.Store.UpdateConnection(ctx, c.ID, func(c *store.Connection) error {
		c.GoogleSyncToken = "sync-token-1"
		c.Status, c.StatusReason, c.PollDueAt = store.StatusNeedsReauth, "Google access was revoked.", time.Time{}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.Resume(ctx, c.ID); !errors.Is(err, connect.ErrNotAllowed) {
		t.Fatalf("Resume while needing re-auth: %v", err)
	}
	if _, err := e.Service.ListGroups(ctx, c.ID); !errors.Is(err, connect.ErrInvalidCredentials) {
		t.Fatalf("ListGroups with a revoked grant: %v", err)
	}

	tests := []struct {
		name    string
		token   func() string
		wantErr error
	}{
		{"revoked token", func() string {
			tok := e.GoogleToken(t, googlefake.DemoUser)
			e.Google.RevokeTokens(googlefake.DemoUser)
			return tok
		}, connect.ErrInvalidCredentials},
		{"another Google account", func() string { return e.GoogleToken(t, "someone@else.example") }, connect.ErrAccountMismatch},
		{"empty token", func() string { return "" }, connect.ErrInvalidCredentials},
		{"same account again", func() string { return e.GoogleToken(t, googlefake.DemoUser) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.Service.ConnectGoogle(ctx, owner, c.ID, tt.token())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if connect.Message(err) == "" || strings.Contains(connect.Message(err), "@") {
					t.Errorf("message %q", connect.Message(err))
				}
				return
			}
			if got.GoogleSyncToken != "sync-token-1" {
				t.Errorf("sync token %q lost on reconnect", got.GoogleSyncToken)
			}
			if got.Status != store.StatusLive || got.StatusReason != "" || got.PollDueAt.IsZero() {
				t.Errorf("after reconnect: %s %q %v", got.Status, got.StatusReason, got.PollDueAt)
			}
			if got.GoogleGroup != c.GoogleGroup {
				t.Errorf("group changed: %q", got.GoogleGroup)
			}
		})
	}
	// Another session cannot attach its Google account to this connection.
	if _, err := e.Service.ConnectGoogle(ctx, "intruder", c.ID, e.GoogleToken(t, googlefake.DemoUser)); !errors.Is(err, connect.ErrNotFound) {
		t.Fatalf("foreign owner: %v", err)
	}
}

func TestPipedriveOwnership(t *testing.T) {
	e := connecttest.New(t)
	ctx := context.Background()
	c, err := e.Service.ConnectPipedriveToken(ctx, owner, "", e.APIToken)
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.Service.Create(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.ConnectPipedriveToken(ctx, owner, other.ID, e.APIToken); !errors.Is(err, connect.ErrAlreadyConnected) {
		t.Fatalf("same user on a second connection: %v", err)
	}
	if _, err := e.Service.ConnectPipedriveToken(ctx, owner, "", "wrong-token"); !errors.Is(err, connect.ErrInvalidCredentials) {
		t.Fatalf("wrong token: %v", err)
	}
	uid2, tok2, err := e.Pipedrive.CreateUser(e.CompanyID, "Sam", "sam@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.ConnectPipedriveToken(ctx, owner, c.ID, tok2); !errors.Is(err, connect.ErrAccountMismatch) {
		t.Fatalf("another user on a connection: %v", err)
	}
	if _, err := e.Service.ConnectPipedriveToken(ctx, "intruder", other.ID, tok2); !errors.Is(err, connect.ErrNotFound) {
		t.Fatalf("another session's connection: %v", err)
	}
	if c2, err := e.Service.ConnectPipedriveToken(ctx, owner, other.ID, tok2); err != nil || c2.PipedriveUserID != uid2 {
		t.Fatalf("second user: %+v, %v", c2, err)
	}
	// Whoever holds the user's credentials takes the user's connection
	// over (a lost session gets it back); no second connection appears.
	taken, err := e.Service.ConnectPipedriveToken(ctx, "new-session", "", e.APIToken)
	if err != nil || taken.ID != c.ID || taken.OwnerHash != "new-session" {
		t.Fatalf("take over: %+v, %v", taken, err)
	}
	if ev := taken.Events; len(ev) == 0 || ev[len(ev)-1].Kind != store.EventTakenOver {
		t.Errorf("the takeover is not in the connection's history: %+v", ev)
	}
	// A connection without a browser (signed out) is signed in, not taken over.
	if _, err := e.Store.SignOut(ctx, "new-session", time.Now()); err != nil {
		t.Fatal(err)
	}
	back, err := e.Service.ConnectPipedriveToken(ctx, "third-session", "", e.APIToken)
	if err != nil || back.ID != c.ID || back.OwnerHash != "third-session" {
		t.Fatalf("sign in after sign-out: %+v, %v", back, err)
	}
	if ev := back.Events; len(ev) < 2 || ev[len(ev)-2].Kind != store.EventSignedOut || ev[len(ev)-1].Kind != store.EventSignedIn {
		t.Errorf("history after sign-out and sign-in: %+v", ev)
	}
	if mine, _ := e.Store.ConnectionsByOwner(ctx, owner); len(mine) != 1 || mine[0].ID != other.ID {
		t.Fatalf("old session still sees %d connections", len(mine))
	}
}

func TestGroups(t *testing.T) {
	e := connecttest.New(t)
	ctx := context.Background()
	mine, err := e.Google.CreateGroup(googlefake.DemoUser, "Clients")
	if err != nil {
		t.Fatal(err)
	}
	existing, err := e.Google.CreateGroup(googlefake.DemoUser, connect.RecommendedGroup)
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.Service.Create(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.ListGroups(ctx, c.ID); !errors.Is(err, connect.ErrNotReady) {
		t.Fatalf("groups without Google: %v", err)
	}
	if c, err = e.Service.ConnectGoogle(ctx, owner, c.ID, e.GoogleToken(t, googlefake.DemoUser)); err != nil {
		t.Fatal(err)
	}
	groups, err := e.Service.ListGroups(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range groups {
		names = append(names, g.Name)
	}
	if !slices.Equal(names, []string{"Clients", "Pipedrive"}) {
		t.Fatalf("groups %v: want the user groups only", names)
	}
	for _, bad := range []string{"contactGroups/myContacts", "contactGroups/starred", "contactGroups/nope"} {
		if _, err := e.Service.ChooseGroup(ctx, c.ID, bad); !errors.Is(err, connect.ErrBadGroup) {
			t.Errorf("ChooseGroup(%s): %v", bad, err)
		}
	}
	// 409: the recommended group exists already, so it is chosen.
	if c, err = e.Service.CreateGroup(ctx, c.ID, ""); err != nil || c.GoogleGroup != existing {
		t.Fatalf("CreateGroup over an existing one: %q, %v", c.GoogleGroup, err)
	}
	if c, err = e.Service.ChooseGroup(ctx, c.ID, mine); err != nil || c.GoogleGroup != mine {
		t.Fatalf("ChooseGroup: %q, %v", c.GoogleGroup, err)
	}
	// Another connection of the same Google account cannot take the group.
	c2, err := e.Service.ConnectGoogle(ctx, owner, "", e.GoogleToken(t, googlefake.DemoUser))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.ChooseGroup(ctx, c2.ID, mine); !errors.Is(err, connect.ErrBadGroup) {
		t.Fatalf("group of another connection: %v", err)
	}
	// Once live, the group is fixed.
	if c, err = e.Service.ConnectPipedriveToken(ctx, owner, c.ID, e.APIToken); err != nil {
		t.Fatal(err)
	}
	if _, err = e.Service.GoLive(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.ChooseGroup(ctx, c.ID, existing); !errors.Is(err, connect.ErrNotAllowed) {
		t.Fatalf("group change after go-live: %v", err)
	}
}

func TestWebhookLimit(t *testing.T) {
	tests := []struct {
		name      string
		others    int // webhooks of the user to other URLs
		orphans   int // ours, for a connection that no longer exists
		wantErr   error
		wantHooks int // ours afterwards
	}{
		{name: "room left", others: 37, wantHooks: 3},
		{name: "full", others: 40, wantErr: connect.ErrWebhookLimit},
		{name: "two slots: nothing left behind", others: 38, wantErr: connect.ErrWebhookLimit},
		{name: "orphans of a deleted connection are replaced", others: 37, orphans: 3, wantHooks: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := connecttest.New(t)
			ctx := context.Background()
			pd, err := pipedrive.New(ctx, e.PipedriveURL, pipedrive.WithAPIToken(e.APIToken))
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.others + tt.orphans {
				in := pipedrive.WebhookInput{SubscriptionURL: fmt.Sprintf("https://elsewhere.example/%d", i),
					EventAction: "*", EventObject: "deal", Name: "other", Version: "2.0"}
				if i >= tt.others {
					in = pipedrive.WebhookInput{SubscriptionURL: e.IntakeURL, EventAction: "change", EventObject: "person",
						Name: "contactsync person change (deadbeef)", UserID: e.UserID, HTTPAuthUser: "deadbeef", HTTPAuthPassword: "x", Version: "2.0"}
				}
				if _, err := pd.CreateWebhook(ctx, in); err != nil {
					t.Fatal(err)
				}
			}
			c, err := e.Service.ConnectPipedriveToken(ctx, owner, "", e.APIToken)
			if err != nil {
				t.Fatal(err)
			}
			if c, err = e.Service.ConnectGoogle(ctx, owner, c.ID, e.GoogleToken(t, googlefake.DemoUser)); err != nil {
				t.Fatal(err)
			}
			if c, err = e.Service.CreateGroup(ctx, c.ID, ""); err != nil {
				t.Fatal(err)
			}
			live, err := e.Service.GoLive(ctx, c.ID)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("GoLive: %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if msg := connect.Message(err); !strings.Contains(msg, "40 webhooks") {
					t.Errorf("message %q", msg)
				}
				got, _ := e.Store.GetConnection(ctx, c.ID)
				if got.Status != store.StatusSetup || !got.PollDueAt.IsZero() {
					t.Errorf("failed GoLive left status %s, poll due %v", got.Status, got.PollDueAt)
				}
			} else if live.Status != store.StatusLive {
				t.Errorf("status %s", live.Status)
			}
			var ours int
			for _, h := range e.Hooks() {
				if h.HTTPAuthUser == c.ID {
					ours++
				} else if h.HTTPAuthUser == "deadbeef" && err == nil {
					t.Errorf("orphan webhook %d kept", h.ID)
				}
			}
			if ours != tt.wantHooks {
				t.Errorf("%d of our webhooks registered, want %d", ours, tt.wantHooks)
			}
		})
	}
}

func TestEnsureWebhooksAfterPipedriveDeletedThem(t *testing.T) {
	e := connecttest.New(t)
	ctx := context.Background()
	c := e.Live(t, owner, googlefake.DemoUser)
	pd, err := pipedrive.New(ctx, e.PipedriveURL, pipedrive.WithAPIToken(e.APIToken))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.Service.EnsureWebhooks(ctx, c); err != nil || n != 0 {
		t.Fatalf("nothing missing: created %d, %v", n, err)
	}
	for _, id := range c.WebhookIDs[:2] {
		if err := pd.DeleteWebhook(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	n, err := e.Service.EnsureWebhooks(ctx, c)
	if err != nil || n != 2 {
		t.Fatalf("created %d, %v; want 2", n, err)
	}
	got, _ := e.Store.GetConnection(ctx, c.ID)
	pw, _ := e.Accounts.Secret(ctx, c.ID, store.SecretWebhook)
	checkHooks(t, e, got, pw)
	if !slices.Equal(got.WebhookIDs, c.WebhookIDs) {
		t.Errorf("caller's connection not updated: %v vs %v", c.WebhookIDs, got.WebhookIDs)
	}
}

// TestEnsureWebhooksTrustsIDsNotTheListing: Pipedrive's listing shows
// http_auth_user null and event_action "added" (PV1's example), which the
// fake reproduces; our webhooks are known by their recorded ids, so ten
// safety-net rounds create nothing.
func TestEnsureWebhooksTrustsIDsNotTheListing(t *testing.T) {
	e := connecttest.New(t)
	ctx := context.Background()
	c := e.Live(t, owner, googlefake.DemoUser)
	pd, err := pipedrive.New(ctx, e.PipedriveURL, pipedrive.WithAPIToken(e.APIToken))
	if err != nil {
		t.Fatal(err)
	}
	listed, err := pd.ListWebhooks(ctx)
	if err != nil || len(listed) != 3 {
		t.Fatalf("listing: %v %+v", err, listed)
	}
	for _, h := range listed {
		if h.HTTPAuthUser != "" || h.EventAction == "create" || h.EventAction == "change" || h.EventAction == "delete" {
			t.Fatalf("the fake echoes what was sent, unlike PV1's example: %+v", h)
		}
	}
	ids := slices.Clone(c.WebhookIDs)
	before := e.Pipedrive.Writes(pipedrivefake.RouteCreateHook, pipedrivefake.RouteDeleteHook)
	for round := range 10 {
		n, err := e.Service.EnsureWebhooks(ctx, c)
		if err != nil || n != 0 {
			t.Fatalf("round %d: created %d, %v", round, n, err)
		}
	}
	if w := e.Pipedrive.Writes(pipedrivefake.RouteCreateHook, pipedrivefake.RouteDeleteHook) - before; w != 0 || len(e.Hooks()) != 3 || !slices.Equal(c.WebhookIDs, ids) {
		t.Errorf("%d webhook writes, %d webhooks, ids %v → %v", w, len(e.Hooks()), ids, c.WebhookIDs)
	}
	// One deleted by Pipedrive: exactly that action is registered again.
	if err := pd.DeleteWebhook(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	if n, err := e.Service.EnsureWebhooks(ctx, c); err != nil || n != 1 {
		t.Fatalf("after a delete: created %d, %v", n, err)
	}
	var actions []string
	for _, h := range e.Hooks() {
		actions = append(actions, h.EventAction)
	}
	slices.Sort(actions)
	if !slices.Equal(actions, []string{"change", "create", "delete"}) || c.WebhookIDs[0] != ids[0] || c.WebhookIDs[1] != ids[1] {
		t.Errorf("actions %v, ids %v → %v", actions, ids, c.WebhookIDs)
	}
	// A duplicate of ours (a lost concurrent registration) is removed.
	pw, _ := e.Accounts.Secret(ctx, c.ID, store.SecretWebhook)
	dup, err := pd.CreateWebhook(ctx, pipedrive.WebhookInput{SubscriptionURL: e.IntakeURL, EventAction: "change", EventObject: "person",
		Name: "contactsync person change (" + c.ID + ")", UserID: e.UserID, HTTPAuthUser: c.ID, HTTPAuthPassword: pw, Version: "2.0"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.Service.EnsureWebhooks(ctx, c); err != nil || n != 0 {
		t.Fatalf("with a duplicate: created %d, %v", n, err)
	}
	for _, h := range e.Hooks() {
		if h.ID == dup.ID {
			t.Errorf("duplicate %d kept", dup.ID)
		}
	}
}

func TestPauseResume(t *testing.T) {
	e := connecttest.New(t)
	ctx := context.Background()
	c := e.Live(t, owner, googlefake.DemoUser)
	c, err := e.Service.Pause(ctx, c.ID)
	if err != nil || c.Status != store.StatusPaused || !c.PollDueAt.IsZero() {
		t.Fatalf("Pause: %+v, %v", c, err)
	}
	due, _, err := e.Store.DuePage(ctx, time.Now().Add(time.Hour), 10, nil)
	if err != nil || len(due) != 0 {
		t.Fatalf("a paused connection is due: %d, %v", len(due), err)
	}
	if c, err = e.Service.Resume(ctx, c.ID); err != nil || c.Status != store.StatusLive || c.PollDueAt.IsZero() {
		t.Fatalf("Resume: %+v, %v", c, err)
	}
	if due, _, _ := e.Store.DuePage(ctx, time.Now().Add(time.Second), 10, nil); len(due) != 1 {
		t.Fatalf("a resumed connection is not due: %d", len(due))
	}
	fresh, err := e.Service.Create(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.Pause(ctx, fresh.ID); !errors.Is(err, connect.ErrNotAllowed) {
		t.Fatalf("Pause in setup: %v", err)
	}
	if _, err := e.Service.Resume(ctx, fresh.ID); !errors.Is(err, connect.ErrNotAllowed) {
		t.Fatalf("Resume in setup: %v", err)
	}
}

func TestDisconnect(t *testing.T) {
	e := connecttest.New(t)
	ctx := context.Background()
	c := e.Live(t, owner, googlefake.DemoUser)
	rt, err := e.Accounts.Secret(ctx, c.ID, store.SecretGoogle)
	if err != nil {
		t.Fatal(err)
	}
	// A synced pair exists on both sides, with a link.
	pid, err := e.Pipedrive.SeedPerson(e.UserID, pipedrive.PersonInput{Name: ptr("Grace Hopper")})
	if err != nil {
		t.Fatal(err)
	}
	gp, err := e.Google.SeedContact(googlefake.DemoUser, &people.Person{
		Names:       []*people.Name{{GivenName: "Grace", FamilyName: "Hopper"}},
		Memberships: []*people.Membership{{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: c.GoogleGroup}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.Client().Collection("connections").Doc(c.ID).Collection("links").Doc("l1").
		Set(ctx, map[string]any{"pipedrive_id": pid, "google": gp.ResourceName}); err != nil {
		t.Fatal(err)
	}

	if err := e.Service.Disconnect(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if hooks := e.Hooks(); len(hooks) != 0 {
		t.Errorf("%d webhooks left", len(hooks))
	}
	_, err = e.Service.GoogleOAuth("").TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("Google token still works after disconnect: %v", err)
	}
	if _, err := e.Store.GetConnection(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("connection kept: %v", err)
	}
	for _, name := range []string{store.SecretGoogle, store.SecretPipedrive, store.SecretWebhook} {
		if _, err := e.Store.GetSecret(ctx, c.ID, name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("secret %s kept: %v", name, err)
		}
	}
	links, err := e.Store.Client().Collection("connections").Doc(c.ID).Collection("links").Documents(ctx).GetAll()
	if err != nil || len(links) != 0 {
		t.Errorf("%d links kept, %v", len(links), err)
	}
	if p, ok := e.Pipedrive.Person(pid); !ok || p.IsDeleted {
		t.Error("the Pipedrive person was deleted")
	}
	if _, err := e.Google.Contact(googlefake.DemoUser, gp.ResourceName); err != nil {
		t.Errorf("the Google contact was deleted: %v", err)
	}
	if err := e.Service.Disconnect(ctx, c.ID); !errors.Is(err, connect.ErrNotFound) {
		t.Errorf("second disconnect: %v", err)
	}
}

// pipedriveCode runs the Pipedrive authorization without a callback server:
// it reads the code from the fake's redirect.
func pipedriveCode(t *testing.T, cfg *oauth2.Config) string {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(cfg.AuthCodeURL("st"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || u.Query().Get("code") == "" {
		t.Fatalf("no code in redirect (HTTP %d): %v", resp.StatusCode, err)
	}
	return u.Query().Get("code")
}

func TestDisconnectWithDeadCredentials(t *testing.T) {
	e := connecttest.New(t)
	ctx := context.Background()
	pcfg := e.Service.PipedriveOAuth("http://127.0.0.1:1/oauth/pipedrive/callback")
	tok, err := pcfg.Exchange(ctx, pipedriveCode(t, pcfg))
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.Service.CompletePipedriveOAuth(ctx, owner, "", tok)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = e.Service.ConnectGoogle(ctx, owner, c.ID, e.GoogleToken(t, googlefake.DemoUser)); err != nil {
		t.Fatal(err)
	}
	if c, err = e.Service.CreateGroup(ctx, c.ID, ""); err != nil {
		t.Fatal(err)
	}
	if c, err = e.Service.GoLive(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	// The user uninstalled the app and revoked Google's access.
	e.Pipedrive.RevokeOAuth(e.UserID)
	e.Google.RevokeTokens(googlefake.DemoUser)
	if _, err := e.Service.EnsureWebhooks(ctx, c); !errors.Is(err, connect.ErrInvalidCredentials) {
		t.Fatalf("EnsureWebhooks with a revoked grant: %v", err)
	}
	if err := e.Service.Disconnect(ctx, c.ID); err != nil {
		t.Fatalf("Disconnect with dead credentials: %v", err)
	}
	if _, err := e.Store.GetConnection(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("connection kept: %v", err)
	}
}

func TestConcurrentGoLive(t *testing.T) {
	e := connecttest.New(t)
	ctx := context.Background()
	c, err := e.Service.ConnectPipedriveToken(ctx, owner, "", e.APIToken)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = e.Service.ConnectGoogle(ctx, owner, c.ID, e.GoogleToken(t, googlefake.DemoUser)); err != nil {
		t.Fatal(err)
	}
	if c, err = e.Service.CreateGroup(ctx, c.ID, ""); err != nil {
		t.Fatal(err)
	}
	// A double-clicked Save: both runs must agree on one password.
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := e.Service.GoLive(ctx, c.ID)
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	c, _ = e.Store.GetConnection(ctx, c.ID)
	if _, err := e.Service.EnsureWebhooks(ctx, c); err != nil {
		t.Fatal(err)
	}
	pw, err := e.Accounts.Secret(ctx, c.ID, store.SecretWebhook)
	if err != nil {
		t.Fatal(err)
	}
	c, _ = e.Store.GetConnection(ctx, c.ID)
	if string(intake.SecretHash(pw)) != string(c.WebhookSecretHash) {
		t.Fatal("stored password and hash disagree")
	}
	checkHooks(t, e, c, pw) // exactly three, all with the stored password
}
