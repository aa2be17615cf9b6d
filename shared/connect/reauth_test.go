package connect_test

import (
	"context"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/connect/connecttest"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/store"
)

// Signing in with Pipedrive never clears Google's re-authorization: the
// connection stays in needs_reauth (and the page keeps offering "Connect
// Google again") until Google is connected; then it is live, and the
// changes held meanwhile are due.
func TestSignInWithPipedriveKeepsGoogleReauth(t *testing.T) {
	e := connecttest.New(t)
	ctx := context.Background()
	c := e.Live(t, owner, googlefake.DemoUser)
	e.Google.RevokeTokens(googlefake.DemoUser)
	if _, err := e.Store.UpdateConnection(ctx, c.ID, func(c *store.Connection) error {
		c.Status, c.ReauthGoogle, c.PollDueAt, c.HeldDueAt = store.StatusNeedsReauth, true, time.Time{}, time.Time{}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	got, err := e.Service.ConnectPipedriveToken(ctx, owner, "", e.APIToken)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != c.ID || got.Status != store.StatusNeedsReauth || !got.ReauthGoogle || !got.PollDueAt.IsZero() {
		t.Fatalf("after signing in with Pipedrive: %s, reauth google %v, due %v", got.Status, got.ReauthGoogle, got.PollDueAt)
	}

	got, err = e.Service.ConnectGoogle(ctx, owner, c.ID, e.GoogleToken(t, googlefake.DemoUser))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusLive || got.ReauthGoogle || got.PollDueAt.IsZero() || got.HeldDueAt.IsZero() {
		t.Fatalf("after connecting Google: %s, reauth %v, due %v, held due %v", got.Status, got.ReauthGoogle, got.PollDueAt, got.HeldDueAt)
	}
}

// Both accounts revoked: connecting one leaves the connection waiting for
// the other.
func TestReauthNeedsEveryAccount(t *testing.T) {
	e := connecttest.New(t)
	ctx := context.Background()
	c := e.Live(t, owner, googlefake.DemoUser)
	if _, err := e.Store.UpdateConnection(ctx, c.ID, func(c *store.Connection) error {
		c.Status, c.ReauthGoogle, c.ReauthPipedrive = store.StatusNeedsReauth, true, true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := e.Service.ConnectGoogle(ctx, owner, c.ID, e.GoogleToken(t, googlefake.DemoUser))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusNeedsReauth || got.ReauthGoogle || !got.ReauthPipedrive {
		t.Fatalf("after Google only: %s, google %v, pipedrive %v", got.Status, got.ReauthGoogle, got.ReauthPipedrive)
	}
	if got, err = e.Service.ConnectPipedriveToken(ctx, owner, c.ID, e.APIToken); err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusLive || got.ReauthPipedrive {
		t.Fatalf("after both: %s, pipedrive %v", got.Status, got.ReauthPipedrive)
	}
}

// Confirm and Restore release the held deletes with the user's decision,
// release the brake, and resume a connection the empty-side guard paused;
// held changes of other kinds are left alone.
func TestBrakeDecisions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		decide   func(e *connecttest.Env, id string) (int, error)
		decision string
	}{
		{"confirm", func(e *connecttest.Env, id string) (int, error) {
			return e.Service.ConfirmDeletes(context.Background(), id)
		}, "confirm"},
		{"restore", func(e *connecttest.Env, id string) (int, error) {
			return e.Service.RestoreDeletes(context.Background(), id)
		}, "restore"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := connecttest.New(t)
			ctx := context.Background()
			c := e.Live(t, owner, googlefake.DemoUser)
			now := time.Now().UTC()
			for i, kind := range []string{store.HeldBrake, store.HeldBrake, store.HeldFailed} {
				if err := e.Store.Hold(ctx, c.ID, store.HeldChange{Side: "pipedrive", ObjectID: string(rune('1' + i)), ChangeKind: "delete",
					Kind: kind, Code: "x", Reason: "r", FirstAt: now, LastAt: now}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.Store.UpdateConnection(ctx, c.ID, func(c *store.Connection) error {
				c.Status, c.PauseReason, c.BrakeTrippedAt, c.DeleteWindow = store.StatusPaused, store.PauseEmptyGoogle, now, []time.Time{now}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			n, err := tc.decide(e, c.ID)
			if err != nil || n != 2 {
				t.Fatalf("decided %d, %v; want the 2 braked deletes", n, err)
			}
			due, err := e.Store.DueHeld(ctx, c.ID, time.Now().Add(time.Second), 10)
			if err != nil || len(due) != 2 || due[0].Decision != tc.decision || due[1].Decision != tc.decision {
				t.Fatalf("due %+v, %v", due, err)
			}
			got, _ := e.Store.GetConnection(ctx, c.ID)
			if got.Status != store.StatusLive || !got.BrakeTrippedAt.IsZero() || len(got.DeleteWindow) != 0 {
				t.Fatalf("after %s: %s, tripped %v, window %v", tc.name, got.Status, got.BrakeTrippedAt, got.DeleteWindow)
			}
		})
	}
}
