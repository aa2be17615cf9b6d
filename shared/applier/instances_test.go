package applier_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/contactsync/contactsync/shared/applier"
	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/emulator/emulatortest"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
)

// Two Apply instances serve one connection through the Pub/Sub emulator's
// ordered push subscription, as in production (the ordering key is the
// connection): the push endpoint hands messages to the instances in turn.
// The subscription must have one message of the connection outstanding at
// a time (Pub/Sub's ordering docs, "Push subscriptions"; proved here on the
// emulator), so no two Google mutations of the user overlap; and each
// instance taking over starts with an empty rate-limit bucket, so the two
// together keep Google's per-user quota (the fake counts 429s).
func TestTwoInstancesOneConnection(t *testing.T) {
	emulatortest.Require(t, emulator.PubSub)
	e := newEnv(t, envOptions{quotas: true})
	pids, rns := e.syncedMany(60)
	e.advance(2 * time.Minute)
	e.g.ResetStats()

	// A second instance: its own clients cache, limiter and instance id.
	second, err := applier.New(applier.Config{Store: e.st, Accounts: e.accts2(), Mapper: e.m, Now: e.clock, PendingGrace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	instances := []*applier.Applier{e.app, second}

	ctx, cancel := context.WithTimeout(e.ctx, 2*time.Minute)
	defer cancel()
	ps, err := pubsub.NewClient(ctx, emulatortest.Project())
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	topic := "projects/" + ps.Project() + "/topics/changes"
	if _, err := ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}

	var (
		turn, inflight, maxInflight, applied atomic.Int64
		mu                                   sync.Mutex
		failures                             []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := queue.FromPush(r, 1<<20)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for m := maxInflight.Load(); n > m && !maxInflight.CompareAndSwap(m, n); m = maxInflight.Load() {
		}
		inst := instances[turn.Add(1)%2]
		if err := inst.Handle(r.Context(), d); err != nil {
			mu.Lock()
			failures = append(failures, err.Error())
			mu.Unlock()
			http.Error(w, "retry", http.StatusInternalServerError)
			return
		}
		applied.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	if _, err := ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: "projects/" + ps.Project() + "/subscriptions/changes-apply", Topic: topic, AckDeadlineSeconds: 600,
		EnableMessageOrdering: true, PushConfig: &pubsubpb.PushConfig{PushEndpoint: srv.URL + "/projects/" + ps.Project() + "/topics/changes"},
	}); err != nil {
		t.Fatal(err)
	}

	// One edit of each of the 60 persons, published as the intake does:
	// 60 Google writes, two minutes of the user's write quota.
	pub := queue.NewPublisher(ps)
	defer pub.Stop()
	var cs []queue.Change
	for k := range 60 {
		pid := pids[k%len(pids)]
		e.pdEdit(pid, pipedrive.PersonInput{Name: ptr(fmt.Sprintf("Instance Edit%d", k))})
		cs = append(cs, queue.Change{ConnectionID: e.conn.ID, Side: pd, ObjectID: pid, Kind: queue.Upsert, Source: queue.FromWebhook, OccurredAt: e.clock()})
	}
	if err := pub.PublishChanges(ctx, "changes", cs...); err != nil {
		t.Fatal(err)
	}
	for applied.Load() < int64(len(cs)) {
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d changes applied; failures %v", applied.Load(), len(cs), failures)
		case <-time.After(50 * time.Millisecond):
		}
	}

	if m := maxInflight.Load(); m != 1 {
		t.Errorf("%d deliveries of the connection were in flight at once, want 1", m)
	}
	st := e.gStats()
	if st.OverlappingWrites != 0 {
		t.Errorf("%d Google mutations of the user overlapped", st.OverlappingWrites)
	}
	if st.RateLimited != 0 {
		t.Errorf("the two instances together went over Google's quota: %d 429s", st.RateLimited)
	}
	for j, pid := range pids {
		p, _ := e.pdPerson(pid)
		gp, _ := e.gContact(rns[j])
		if !strings.EqualFold(gp.Names[0].DisplayName, p.Name) {
			t.Errorf("person %s: Google %q, Pipedrive %q", pid, gp.Names[0].DisplayName, p.Name)
		}
	}
	if c := e.connection(); c.GoogleHolder == "" {
		t.Error("no instance holds the user's Google pacing")
	}
	t.Logf("%d deliveries, %d Google writes, %d critical reads and writes in %v of virtual time, 0 overlapping, 0 over quota",
		applied.Load(), st.Writes, st.TotalCalls(), e.clock().Sub(e.now))
}
