package account_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/emulator/emulatortest"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/seal"
	"github.com/contactsync/contactsync/shared/store"
)

func TestOpenBothAccounts(t *testing.T) {
	emulatortest.Require(t, emulator.Firestore)
	ctx := context.Background()
	st, err := store.New(ctx, emulatortest.Project(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, _ := seal.NewLocal(base64.StdEncoding.EncodeToString(key))

	gfake, gURL := googlefake.NewTestServer(t)
	tok, err := gfake.IssueToken(googlefake.DemoUser, "client-1")
	if err != nil {
		t.Fatal(err)
	}
	pfake := pipedrivefake.New()
	defer pfake.Close()
	psrv := httptest.NewServer(pfake)
	defer psrv.Close()
	pfake.SetBaseURL(psrv.URL)
	company := pfake.CreateCompany(pipedrivefake.CompanyOptions{Name: "Acme"})
	userID, apiToken, err := pfake.CreateUser(company, "Pat", "pat@acme.example")
	if err != nil {
		t.Fatal(err)
	}

	accts, err := account.New(st, sealer, account.Config{GoogleClientID: "client-1", GoogleClientSecret: "s", GoogleBaseURL: gURL})
	if err != nil {
		t.Fatal(err)
	}
	conn := &store.Connection{PipedriveAuth: account.PipedriveAPIToken, PipedriveAPIDomain: psrv.URL}
	if _, err := st.CreateConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if _, err := accts.Open(ctx, conn); !errors.Is(err, account.ErrNotConnected) {
		t.Fatalf("open without secrets: %v", err)
	}
	if err := accts.Put(ctx, conn.ID, store.SecretGoogle, tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if err := accts.Put(ctx, conn.ID, store.SecretPipedrive, apiToken); err != nil {
		t.Fatal(err)
	}
	if err := accts.Put(ctx, conn.ID, store.SecretPipedrive, ""); err == nil {
		t.Fatal("an empty token overwrote the stored one")
	}
	sealed, _ := st.GetSecret(ctx, conn.ID, store.SecretPipedrive)
	if string(sealed) == apiToken {
		t.Fatal("token stored in clear")
	}

	c, err := accts.Open(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	me, err := c.Pipedrive.Me(ctx)
	if err != nil || me.ID != userID {
		t.Fatalf("Pipedrive Me = %+v, %v", me, err)
	}
	groups, err := c.Google.ListGroups(ctx)
	if err != nil || len(groups) == 0 {
		t.Fatalf("Google groups = %v, %v", groups, err)
	}
	again, _ := accts.Open(ctx, conn)
	if again != c {
		t.Error("clients not cached per connection")
	}

	// Another instance (the settings function) stores a new Google grant
	// after the old one was revoked: this instance's cached clients are
	// stale as soon as it reads the connection, with no extra read.
	gfake.RevokeTokens(googlefake.DemoUser)
	tok2, err := gfake.IssueToken(googlefake.DemoUser, "client-1")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := account.New(st, sealer, account.Config{GoogleClientID: "client-1", GoogleClientSecret: "s", GoogleBaseURL: gURL})
	if err := other.Put(ctx, conn.ID, store.SecretGoogle, tok2.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if stale, _ := accts.Open(ctx, conn); stale != c {
		t.Fatal("clients rebuilt without a new credentials version")
	}
	fresh, err := st.GetConnection(ctx, conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := accts.Open(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if c2 == c {
		t.Fatal("clients built from revoked credentials were kept after a reconnect")
	}
	if _, err := c2.Google.ListGroups(ctx); err != nil {
		t.Fatalf("the reconnected account does not work: %v", err)
	}
}
