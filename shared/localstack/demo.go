package localstack

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/connect"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/seal"
	"github.com/contactsync/contactsync/shared/store"
)

// Demo is the sandbox accounts (and, unless --no-demo, the demo connection
// between them), written to the "demo" block of endpoints.json: with them anyone can drive both sandbox
// accounts with the official People client or curl, exactly as against the
// real services.
type Demo struct {
	PipedriveAPIToken  string `json:"pipedrive_api_token"`
	PipedriveUserID    int64  `json:"pipedrive_user_id"`
	GoogleClientID     string `json:"google_client_id"`
	GoogleClientSecret string `json:"google_client_secret"`
	GoogleRefreshToken string `json:"google_refresh_token"`
	GoogleGroup        string `json:"google_group"`
	// GoogleUser is the sandbox Google account (login_hint).
	GoogleUser string `json:"google_user"`
	// ConnectionID is the demo connection's id (the webhook's Basic user).
	ConnectionID string `json:"connection_id,omitempty"`
}

// DemoGroupName is the Google group the demo connection syncs.
const DemoGroupName = "Pipedrive"

// seedSandbox creates the sandbox accounts: a Pipedrive company with
// contact sync on and its user, and the Google demo user with a "Pipedrive"
// group and a refresh token for the sandbox OAuth client.
func (s *Stack) seedSandbox() (*Demo, error) {
	company := s.Pipedrive.CreateCompany(pipedrivefake.CompanyOptions{Name: "Sandbox Company", ContactSync: true})
	userID, apiToken, err := s.Pipedrive.CreateUser(company, "Demo User", "demo@sandbox.example")
	if err != nil {
		return nil, fmt.Errorf("localstack: sandbox Pipedrive user: %w", err)
	}
	// "Sign in with Pipedrive" in the sandbox signs in as this user.
	s.Pipedrive.SetDefaultUser(userID)
	group, err := s.Google.CreateGroup(googlefake.DemoUser, DemoGroupName)
	if err != nil {
		return nil, fmt.Errorf("localstack: sandbox Google group: %w", err)
	}
	// The scopes the settings page asks for, as if the user had signed in.
	tok, err := s.Google.IssueToken(googlefake.DemoUser, SandboxGoogleClientID, google.Scope, connect.GoogleEmailScope)
	if err != nil {
		return nil, fmt.Errorf("localstack: sandbox Google token: %w", err)
	}
	return &Demo{
		PipedriveAPIToken: apiToken, PipedriveUserID: userID,
		GoogleClientID: SandboxGoogleClientID, GoogleClientSecret: SandboxGoogleClientSecret,
		GoogleRefreshToken: tok.RefreshToken, GoogleGroup: group, GoogleUser: googlefake.DemoUser,
	}, nil
}

// connectDemo makes the demo connection through the same connect service
// the settings page uses: the sandbox Pipedrive user (API token) and the
// sandbox Google user's "Pipedrive" group, live, with webhooks registered at
// the local intake. It has no browser owner: whoever signs in to the
// settings page as the sandbox Pipedrive user (the fake's default user)
// takes it over, as a real user who lost their cookie would.
func (s *Stack) connectDemo(ctx context.Context, demo *Demo, intakeURL string) error {
	st, err := store.New(ctx, s.opts.Project, "")
	if err != nil {
		return fmt.Errorf("localstack: demo: %w", err)
	}
	defer st.Close()
	sealer, err := seal.NewLocal(s.tokenKey)
	if err != nil {
		return err
	}
	accts, err := account.New(st, sealer, account.Config{
		GoogleClientID: SandboxGoogleClientID, GoogleClientSecret: SandboxGoogleClientSecret, GoogleBaseURL: s.Endpoints.Google,
		PipedriveClientID: SandboxPipedriveClientID, PipedriveClientSecret: SandboxPipedriveClientSecret, PipedriveOAuthURL: s.Endpoints.Pipedrive,
	})
	if err != nil {
		return err
	}
	ps, err := pubsub.NewClient(ctx, s.opts.Project, emulatorOption(s.Endpoints.PubSub)...)
	if err != nil {
		return fmt.Errorf("localstack: demo: %w", err)
	}
	defer ps.Close()
	svc, err := connect.New(st, accts, connect.Config{IntakeURL: intakeURL, PipedriveAPIURL: s.Endpoints.Pipedrive, GoogleBaseURL: s.Endpoints.Google,
		FirstSync: queue.NewPublisher(ps)})
	if err != nil {
		return err
	}
	c, err := svc.ConnectPipedriveToken(ctx, "", "", demo.PipedriveAPIToken)
	if err == nil {
		c, err = svc.ConnectGoogle(ctx, "", c.ID, demo.GoogleRefreshToken)
	}
	if err == nil {
		c, err = svc.ChooseGroup(ctx, c.ID, demo.GoogleGroup)
	}
	if err == nil {
		c, err = svc.GoLive(ctx, c.ID)
	}
	if err != nil {
		return fmt.Errorf("localstack: demo connection: %w", err)
	}
	demo.ConnectionID = c.ID
	// Save ran the first sync of the sandbox accounts (through the Apply
	// function, like any connection's): ready once it is live.
	deadline := time.Now().Add(2 * time.Minute)
	for c.Status != store.StatusLive {
		if time.Now().After(deadline) {
			return fmt.Errorf("localstack: the demo connection's first sync did not finish (status %s; see the apply log)", c.Status)
		}
		time.Sleep(100 * time.Millisecond)
		if c, err = st.GetConnection(ctx, c.ID); err != nil {
			return fmt.Errorf("localstack: demo connection: %w", err)
		}
	}
	s.opts.Log.Info("demo connection live", "connection", c.ID, "pipedrive_user", demo.PipedriveUserID, "google_group", demo.GoogleGroup)
	return nil
}
