package localstack_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/emulator/emulatortest"
	"github.com/contactsync/contactsync/shared/intake"
	"github.com/contactsync/contactsync/shared/localstack"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/seal"
	"github.com/contactsync/contactsync/shared/store"
)

// schemaCheck returns a reporter for Options.GoogleSchemaErrors that fails
// t, at cleanup, if any Google fake response left the discovery schema.
func schemaCheck(t testing.TB) func(error) {
	var mu sync.Mutex
	var errs []error
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, err := range errs {
			t.Errorf("Google fake response off the discovery schema: %v", err)
		}
	})
	return func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
}

// launch starts the stack on the test's emulators, in a fresh project,
// with what every end-to-end test sets (the repository root, the Google
// schema check, the process log in o.Dir, t.TempDir() unless set). It
// returns the stack and its project; the caller stops it.
func launch(t *testing.T, o localstack.Options) (*localstack.Stack, string) {
	t.Helper()
	o.FirestoreHost = emulatortest.Require(t, emulator.Firestore)
	o.PubSubHost = emulatortest.Require(t, emulator.PubSub)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	o.Root, o.Project, o.GoogleSchemaErrors = root, emulatortest.Project(), schemaCheck(t)
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Log == nil {
		o.Log = processLog(t, o.Dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := localstack.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	return s, o.Project
}

// startStack runs the functions on the test's emulators, in a fresh project.
func startStack(t *testing.T) (*localstack.Stack, string) {
	t.Helper()
	dir := t.TempDir()
	s, project := launch(t, localstack.Options{Dir: dir, PollInterval: time.Hour})
	t.Cleanup(func() { scanSuiteLogs(t, s, dir, logScope{}) })
	t.Cleanup(s.Stop)
	return s, project
}

// TestWebhookReachesApplier follows one webhook through the real pieces:
// intake function → Pub/Sub emulator topic → push subscription → the
// applier as a CloudEvent → the Google fake. The person ends up in the
// connection's Google group; the same Pub/Sub message pushed twice (as
// after a lost ack) writes Google once.
func TestWebhookReachesApplier(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	tokenKey := base64.StdEncoding.EncodeToString(key)
	dir := t.TempDir()
	s, project := launch(t, localstack.Options{Dir: dir, PollInterval: time.Hour, Env: map[string]string{"TOKEN_KEY": tokenKey}})
	t.Cleanup(s.Stop)
	ctx := context.Background()
	st, err := store.New(ctx, project, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// A connection of its own: a Pipedrive user and a Google account with a
	// group, their credentials sealed with the functions' key.
	const gUser = "e2e@example.com"
	if err := s.Google.AddUser(gUser); err != nil {
		t.Fatal(err)
	}
	group, err := s.Google.CreateGroup(gUser, "Pipedrive")
	if err != nil {
		t.Fatal(err)
	}
	gTok, err := s.Google.IssueToken(gUser, localstack.SandboxGoogleClientID)
	if err != nil {
		t.Fatal(err)
	}
	company := s.Pipedrive.CreateCompany(pipedrivefake.CompanyOptions{Name: "E2E Company"})
	userID, apiToken, err := s.Pipedrive.CreateUser(company, "E2E User", "e2e@company.example")
	if err != nil {
		t.Fatal(err)
	}
	name := "Ada Lovelace"
	personID, err := s.Pipedrive.SeedPerson(userID, pipedrive.PersonInput{Name: &name,
		Emails: &[]pipedrive.Field{{Value: "ada@example.com", Label: "work", Primary: true}}})
	if err != nil {
		t.Fatal(err)
	}
	conn := &store.Connection{Status: store.StatusLive, WebhookSecretHash: intake.SecretHash("pw"),
		PipedriveUserID: userID, PipedriveAuth: account.PipedriveAPIToken, PipedriveAPIDomain: s.Endpoints.Pipedrive,
		GoogleAccount: gUser, GoogleGroup: group}
	connID, err := st.CreateConnection(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.NewLocal(tokenKey)
	if err != nil {
		t.Fatal(err)
	}
	accts, err := account.New(st, sealer, account.Config{GoogleClientID: localstack.SandboxGoogleClientID})
	if err != nil {
		t.Fatal(err)
	}
	if err := accts.Put(ctx, connID, store.SecretGoogle, gTok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if err := accts.Put(ctx, connID, store.SecretPipedrive, apiToken); err != nil {
		t.Fatal(err)
	}
	// Ada and this connection's tokens are in no log (the sandbox's own
	// are looked for anyway).
	t.Cleanup(func() {
		scanSuiteLogs(t, s, dir, logScope{companies: []int64{company}, googleUsers: []string{gUser},
			secrets: []probe{{"Pipedrive API token", apiToken}, {"Google refresh token", gTok.RefreshToken}}})
	})

	webhookBody := fmt.Sprintf(`{"meta":{"action":"change","entity":"person","entity_id":"%[1]d","id":"0b9a7e0c-5d2b-4b8e-9d5c-7f7d8e6a0001","company_id":"%[2]d","user_id":"%[3]d","timestamp":"2026-11-24T15:18:35.616Z","version":"2.0","change_source":"app","attempt":1},
 "data":{"id":%[1]d,"name":"Ada Lovelace","owner_id":%[3]d,"emails":[{"value":"ada@example.com","primary":true,"label":"work"}],"phones":[],"update_time":"2026-11-24T15:18:35Z"},
 "previous":{"name":"Ada"}}`, personID, company, userID)
	req, _ := http.NewRequest(http.MethodPost, s.Endpoints.Intake, strings.NewReader(webhookBody))
	req.SetBasicAuth(connID, "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("intake answered %d", resp.StatusCode)
	}

	members := waitMembers(t, s, gUser, group, 1)
	ada, err := s.Google.Contact(gUser, members[0])
	if err != nil || len(ada.Names) == 0 || ada.Names[0].GivenName != "Ada" || ada.Names[0].FamilyName != "Lovelace" {
		t.Fatalf("Google contact %+v, %v", ada, err)
	}
	if l, err := st.LinkByPipedrive(ctx, connID, strconv.FormatInt(personID, 10)); err != nil || l.GoogleID != members[0] {
		t.Fatalf("link %+v, %v", l, err)
	}

	// An edit, then its Pub/Sub message pushed twice (as after a lost
	// ack): Google is written once. The body is Pub/Sub's push format, at
	// the path the production subscription uses.
	family := "King"
	if err := s.Pipedrive.UIEditPerson(userID, personID, pipedrive.PersonInput{LastName: &family, FirstName: ptrTo("Ada")}); err != nil {
		t.Fatal(err)
	}
	writes := s.Google.Stats(gUser).Writes
	change := fmt.Sprintf(`{"connection_id":%q,"side":"pipedrive","object_id":"%d","kind":"upsert","source":"webhook","occurred_at":"2026-11-24T15:20:35Z"}`, connID, personID)
	push := fmt.Sprintf(`{"message":{"data":%q,"messageId":"dup-1","publishTime":"2026-11-24T15:20:36Z"},"subscription":"projects/%s/subscriptions/changes-apply"}`,
		base64.StdEncoding.EncodeToString([]byte(change)), project)
	for range 2 {
		resp, err := http.Post(strings.TrimSuffix(s.Endpoints.Applier, "/")+"/projects/"+project+"/topics/changes", "application/json", strings.NewReader(push))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("applier answered %d to a push", resp.StatusCode)
		}
	}
	if got := s.Google.Stats(gUser).Writes - writes; got != 1 {
		t.Fatalf("an edit delivered twice wrote Google %d times, want 1", got)
	}
	ada, _ = s.Google.Contact(gUser, members[0])
	if ada.Names[0].FamilyName != "King" {
		t.Fatalf("family name %q after the edit, want King", ada.Names[0].FamilyName)
	}
	if got := waitMembers(t, s, gUser, group, 1); len(got) != 1 {
		t.Fatalf("group members %v after a duplicate delivery", got)
	}
}

func ptrTo[T any](v T) *T { return &v }

// waitMembers waits until the group has n members and returns them.
func waitMembers(t *testing.T, s *localstack.Stack, user, group string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ms, err := s.Google.GroupMembers(user, group)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) >= n {
			// Give a duplicate the chance to show up before judging.
			time.Sleep(500 * time.Millisecond)
			ms, _ = s.Google.GroupMembers(user, group)
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("group has %d members, want %d", len(ms), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestEndpointsFileLifecycle(t *testing.T) {
	s, _ := startStack(t)
	b, err := os.ReadFile(s.EndpointsPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"settings"`, `"intake"`, `"poll"`, `"applier"`, `"google"`, `"pipedrive"`, `"firestore"`, `"pubsub"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("endpoints.json lacks %s: %s", key, b)
		}
	}
	resp, err := http.Get(s.Endpoints.Settings)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("settings page answered %d", resp.StatusCode)
	}
	s.Stop()
	if _, err := os.Stat(s.EndpointsPath()); !os.IsNotExist(err) {
		t.Fatalf("endpoints.json still there after Stop: %v", err)
	}
}
