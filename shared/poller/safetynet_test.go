package poller_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/syncplan"
)

func pdUp(id int64) string { return "upsert pipedrive " + strconv.FormatInt(id, 10) + " safety-net" }

// safetyNetDue makes the connection's safety net due now.
func (e *env) safetyNetDue(c *conn) {
	e.t.Helper()
	if _, err := e.st.UpdateConnection(e.ctx, c.ID, func(x *store.Connection) error {
		x.LastSafetyNetAt = time.Time{}
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

func TestSafetyNetPublishesChangesWithoutWebhook(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	e.safetyNetDue(c)
	// Created in Pipedrive with no webhook delivered (lost, banned, ...).
	lost, err := e.pfake.SeedPerson(c.pdUser, pipedrive.PersonInput{Name: ptr("Lost Webhook")})
	if err != nil {
		t.Fatal(err)
	}
	otherUser, _, err := e.pfake.CreateUser(e.company, "Colleague", "colleague@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.pfake.SeedPerson(otherUser, pipedrive.PersonInput{Name: ptr("Not ours")}); err != nil {
		t.Fatal(err)
	}

	e.mustPoll(c)
	if d := cmp.Diff(want(pdUp(lost)), e.changes()); d != "" {
		t.Fatalf("changes (-want +got):\n%s", d)
	}
	per, _ := e.pfake.Person(lost)
	got := e.get(c)
	if !got.PipedriveCheckpoint.Equal(per.UpdateTime) {
		t.Fatalf("checkpoint %v, want the person's update_time %v", got.PipedriveCheckpoint, per.UpdateTime)
	}
	if !got.LastSafetyNetAt.Equal(e.clock.Now()) {
		t.Fatalf("last safety net %v, want %v", got.LastSafetyNetAt, e.clock.Now())
	}
	if calls := e.hooks.Calls(); len(calls) != 1 || calls[0] != c.ID {
		t.Fatalf("EnsureWebhooks calls %v, want one for the connection", calls)
	}

	// Not due again before the interval.
	e.clock.Advance(time.Minute)
	e.mustPoll(c)
	if got := e.changes(); len(got) != 0 {
		t.Fatalf("safety net ran before its interval: %v", got)
	}
	if n := len(e.hooks.Calls()); n != 1 {
		t.Fatalf("EnsureWebhooks called %d times", n)
	}

	// Due again: the overlap sees the person again, but the link already
	// holds that version (the applier synced it), so nothing is published;
	// a person whose newer version the link lacks is published. (The
	// link is written after the version's second: see the next test.)
	time.Sleep(time.Until(per.UpdateTime.Add(time.Second + pipedrive.ClockSkew)))
	if err := e.st.CreateLink(e.ctx, c.ID, &store.Link{ID: store.LinkIDForPipedrive(strconv.FormatInt(lost, 10)),
		PipedriveID: strconv.FormatInt(lost, 10), PipedriveVersion: per.UpdateTime.Format(time.RFC3339)}); err != nil {
		t.Fatal(err)
	}
	stale, err := e.pfake.SeedPerson(c.pdUser, pipedrive.PersonInput{Name: ptr("Stale Link")})
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := e.pfake.Person(stale)
	if err := e.st.CreateLink(e.ctx, c.ID, &store.Link{ID: store.LinkIDForPipedrive(strconv.FormatInt(stale, 10)),
		PipedriveID: strconv.FormatInt(stale, 10), PipedriveVersion: sp.UpdateTime.Add(-time.Hour).Format(time.RFC3339)}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * time.Minute)
	e.mustPoll(c)
	if d := cmp.Diff(want(pdUp(stale)), e.changes()); d != "" {
		t.Fatalf("second run (-want +got):\n%s", d)
	}
	if n := len(e.hooks.Calls()); n != 2 {
		t.Fatalf("EnsureWebhooks called %d times, want 2", n)
	}
}

// Pipedrive's update_time has whole seconds: an edit made in the second
// the sync wrote a person keeps that update_time. A link written within
// its version's second (and the clock skew) does not vouch for the
// person's content, so the safety net sends the person to be read (the
// applier compares content); written later, it does.
func TestSafetyNetChecksALinkWrittenInItsVersionsSecond(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	id, err := e.pfake.SeedPerson(c.pdUser, pipedrive.PersonInput{Name: ptr("Same Second")})
	if err != nil {
		t.Fatal(err)
	}
	per, _ := e.pfake.Person(id)
	l := &store.Link{ID: store.LinkIDForPipedrive(strconv.FormatInt(id, 10)), PipedriveID: strconv.FormatInt(id, 10),
		PipedriveVersion: per.UpdateTime.Format(time.RFC3339)}
	if err := e.st.CreateLink(e.ctx, c.ID, l); err != nil {
		t.Fatal(err)
	}
	if !syncplan.VersionSettled(per.UpdateTime, time.Now()) {
		e.safetyNetDue(c)
		e.mustPoll(c)
		if d := cmp.Diff(want(pdUp(id)), e.changes()); d != "" {
			t.Fatalf("link written in its version's second (-want +got):\n%s", d)
		}
	}
	time.Sleep(time.Until(per.UpdateTime.Add(time.Second + pipedrive.ClockSkew)))
	got, err := e.st.LinkByPipedrive(e.ctx, c.ID, l.PipedriveID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.UpdateLink(e.ctx, c.ID, got); err != nil { // written again, after the second
		t.Fatal(err)
	}
	e.safetyNetDue(c)
	e.mustPoll(c)
	if got := e.changes(); len(got) != 0 {
		t.Fatalf("a settled link's person was sent: %v", got)
	}
}

func TestSafetyNetCheckpointOnlyAfterPublish(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	e.safetyNetDue(c)
	id, err := e.pfake.SeedPerson(c.pdUser, pipedrive.PersonInput{Name: ptr("Lost")})
	if err != nil {
		t.Fatal(err)
	}
	e.pub.failChanges.Store(1)
	if err := e.poll(c); err == nil {
		t.Fatal("failed publish not reported")
	}
	got := e.get(c)
	if !got.PipedriveCheckpoint.IsZero() || !got.LastSafetyNetAt.IsZero() {
		t.Fatalf("checkpoint %v, last run %v advanced although the publish failed", got.PipedriveCheckpoint, got.LastSafetyNetAt)
	}
	e.mustPoll(c) // the redelivered poll message
	if d := cmp.Diff(want(pdUp(id)), e.changes()); d != "" {
		t.Fatalf("retry (-want +got):\n%s", d)
	}
}

func TestSafetyNetWebhookFailureIsNotFatal(t *testing.T) {
	e := newEnv(t)
	e.hooks.err = errors.New("pipedrive: webhook limit reached")
	c := e.newConn()
	e.safetyNetDue(c)
	e.mustPoll(c)
	got := e.get(c)
	if got.LastSafetyNetAt.IsZero() || len(got.LastErrors) == 0 || !strings.Contains(got.LastErrors[0].Message, "webhooks") {
		t.Fatalf("last run %v, errors %+v", got.LastSafetyNetAt, got.LastErrors)
	}
	if k := got.LastErrors[0].Key; k != "webhooks_unchecked" {
		t.Errorf("error key %q, want webhooks_unchecked", k)
	}
}

func TestSafetyNetRevokedPipedriveNeedsReauth(t *testing.T) {
	e := newEnv(t)
	c := e.newConn()
	e.safetyNetDue(c)
	if err := e.accts.Put(e.ctx, c.ID, store.SecretPipedrive, "revoked-token"); err != nil {
		t.Fatal(err)
	}
	e.mustPoll(c)
	got := e.get(c)
	if got.Status != store.StatusNeedsReauth || !got.PollDueAt.IsZero() || !strings.Contains(got.StatusReason, "Pipedrive") {
		t.Fatalf("status %s, due %v, reason %q", got.Status, got.PollDueAt, got.StatusReason)
	}
}

func ptr[T any](v T) *T { return &v }
