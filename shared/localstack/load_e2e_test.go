package localstack_test

// The intake's load test (issue 14): a bounded burst of webhooks against
// the local stack on loopback, every webhook the one Pipedrive sends for
// an edit of one of a bounded set of persons, so that convergence is
// checkable: at the end Google holds each person's last edit. It counts
// what the intake accepted, what reached the changes topic and what the
// applier acknowledged (the three must be equal), the intake's latency,
// the time until the sync has converged, and the quota the sync spent,
// against the time those quotas allow at the least.
//
// CI runs a small burst (the flags' defaults); scripts/bench load runs
// the full one: 20,000 webhooks over 60 s about 200 persons.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/contactsync/contactsync/shared/localstack"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

var (
	loadWebhooks    = flag.Int("load.webhooks", 500, "webhooks in TestIntakeLoad's burst (scripts/bench load: 20000)")
	loadOver        = flag.Duration("load.over", 5*time.Second, "how long TestIntakeLoad's burst lasts (scripts/bench load: 60s)")
	loadConcurrency = flag.Int("load.concurrency", 50, "webhooks in flight at most (at most 50)")
	loadPersons     = flag.Int("load.persons", 10, "persons the webhooks are about (scripts/bench load: 200)")
)

// maxConcurrency bounds the webhooks in flight: the "concurrency ≤ 50".
const maxConcurrency = 50

// TestIntakeLoad: Pipedrive persons already synced to Google (seeded, then
// connected on the settings page: the first sync links them) are edited
// in a bounded burst, round robin, each edit followed by its webhook; the
// burst stops by itself. Every webhook is accepted, published once and
// acknowledged by the applier once; the sync converges (Google holds each
// person's last edit) with nothing held. The figures are logged (go test
// -v); timing is not asserted.
func TestIntakeLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the whole stack")
	}
	b := burst{webhooks: *loadWebhooks, over: *loadOver, concurrency: *loadConcurrency}
	if b.webhooks < 1 || b.over <= 0 || b.concurrency < 1 || b.concurrency > maxConcurrency || *loadPersons < 1 || *loadPersons > b.webhooks {
		t.Fatalf("load flags: %d webhooks over %v, concurrency %d (1 to %d), %d persons (1 to the webhooks)",
			b.webhooks, b.over, b.concurrency, maxConcurrency, *loadPersons)
	}
	// The production poll interval (the scheduler's default), so that the
	// quota the polls spend is production's share.
	h := startSeededStackEvery(t, localstack.Seed{Persons: *loadPersons}, time.Minute)
	u := newPageUser(t, h.s.Endpoints.Settings)
	h.watchFirstSync(t, u, u.connectAndSave(t, h), 2*time.Minute+time.Duration(*loadPersons)*time.Minute/1000)
	persons := h.s.Seeded.Persons
	links, _ := h.linksOf(t)
	if len(links) != len(persons) {
		t.Fatalf("the first sync linked %d of %d persons", len(links), len(persons))
	}
	conn := h.connection(t)
	if conn.FirstSync == nil || conn.FirstSync.PipedriveBurst == 0 {
		t.Fatalf("the first sync recorded no Pipedrive burst limit: %+v", conn.FirstSync)
	}

	published := h.watchPublished(t)
	applied := h.countApplied(t)
	h.s.Google.ResetStats()
	calls, daily := len(h.s.Pipedrive.CallLog()), h.s.Pipedrive.DailyUsage(h.company)

	r := h.sendBurst(t, b, persons, nil)
	limit := 3*time.Minute + time.Duration(len(persons))*5*time.Second
	var converged time.Duration
	var gStats = h.s.Google.Stats(h.demo.GoogleUser)
	waitFor(t, "the sync converged: every webhook applied, Google holding each person's last edit", limit, func() bool {
		if applied.count() < r.accepted || h.lastEditsInGoogle(t, persons, links) < len(persons) {
			return false
		}
		converged, gStats = time.Since(r.began), h.s.Google.Stats(h.demo.GoogleUser)
		return true
	})
	until := r.began.Add(converged)
	// The API requests the burst limit counted (the sync's: the test
	// edits through the fake's helpers).
	var pdCalls int
	for _, c := range h.s.Pipedrive.CallLog()[calls:] {
		if strings.Contains(c.Route, " /api/") && c.Status != http.StatusTooManyRequests && !c.At.After(until) {
			pdCalls++
		}
	}
	tokens := h.s.Pipedrive.DailyUsage(h.company) - daily
	// The watch subscription may trail the applier's.
	for wait := time.Now(); published.count() < r.accepted && time.Since(wait) < 30*time.Second; {
		time.Sleep(100 * time.Millisecond)
	}

	equal := r.accepted == r.sent && published.count() == r.accepted && applied.count() == r.accepted
	verdict := "equal"
	if !equal {
		verdict = "NOT equal"
		t.Errorf("sent %d webhooks: accepted %d, published %d, applied %d; want all equal", r.sent, r.accepted, published.count(), applied.count())
	}
	for what, n := range r.refused {
		t.Errorf("%d webhooks answered %s", n, what)
	}
	if dup := published.duplicates() + applied.duplicates(); dup > 0 {
		t.Logf("redelivered (counted once): %d on the watch subscription, %d to the applier", published.duplicates(), applied.duplicates())
	}
	if held, err := h.st.CountHeld(context.Background(), conn.ID, ""); err != nil || held != 0 {
		t.Errorf("%d changes held (%v), want none", held, err)
	}

	q := h.s.Google.Quota()
	sp := gStats.Spent
	perMin := func(spent, limit int) time.Duration {
		if limit <= 0 {
			return 0
		}
		return time.Duration(float64(spent) / float64(limit) * float64(time.Minute))
	}
	gBound := max(perMin(sp.CriticalReads, q.CriticalReadsPerMinute), perMin(sp.CriticalWrites, q.CriticalWritesPerMinute),
		perMin(sp.Writes, q.WritesPerMinute), perMin(sp.GroupReads, q.GroupReadsPerMinute))
	pdBound := time.Duration(float64(pdCalls) / float64(conn.FirstSync.PipedriveBurst) * float64(2*time.Second))
	bound, binds := gBound, "Google's per-user quota"
	if pdBound > gBound {
		bound, binds = pdBound, "Pipedrive's burst limit"
	}
	lat := r.latencies
	t.Logf("intake load: %d webhooks about %d persons sent over %v (%v planned), at most %d in flight: accepted %d, published %d, applied %d: %s",
		r.sent, len(persons), r.ended.Sub(r.began).Round(time.Millisecond), b.over, b.concurrency, r.accepted, published.count(), applied.count(), verdict)
	t.Logf("intake latency: p50 %v, p95 %v, p99 %v, max %v",
		pct(lat, 0.50), pct(lat, 0.95), pct(lat, 0.99), lat[len(lat)-1])
	t.Logf("converged %v after the burst began (%v after its last webhook): Google holds every person's last edit, nothing held",
		converged.Round(100*time.Millisecond), until.Sub(r.ended).Round(100*time.Millisecond))
	t.Logf("Google quota used: %d critical reads (%d/min), %d critical writes (%d/min), %d writes (%d/min), %d group reads (%d/min); %d contact writes for %d edits; %d calls refused with 429",
		sp.CriticalReads, q.CriticalReadsPerMinute, sp.CriticalWrites, q.CriticalWritesPerMinute, sp.Writes, q.WritesPerMinute,
		sp.GroupReads, q.GroupReadsPerMinute, gStats.ContactWrites, r.accepted, gStats.RateLimited)
	t.Logf("Pipedrive: %d requests (burst limit %d per 2 s, plan %s), %d daily-budget tokens",
		pdCalls, conn.FirstSync.PipedriveBurst, conn.FirstSync.PipedrivePlan, tokens)
	t.Logf("quota-bound time %v (Google %v, Pipedrive %v; %s binds): converged in %.2f× the quota-bound time",
		bound.Round(100*time.Millisecond), gBound.Round(100*time.Millisecond), pdBound.Round(100*time.Millisecond), binds,
		converged.Seconds()/bound.Seconds())
}

// pct is the p-quantile of sorted ds.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(p*float64(len(ds))))].Round(10 * time.Microsecond)
}

// burst is a bounded burst of webhooks: webhooks in all, webhook i sent
// at i×over/webhooks after the start (later if every sender is busy), at
// most concurrency in flight.
type burst struct {
	webhooks    int
	over        time.Duration
	concurrency int
}

// burstResult is what the intake answered.
type burstResult struct {
	sent, accepted int
	refused        map[string]int  // other answers, by status or error
	latencies      []time.Duration // of every answer, sorted
	began, ended   time.Time       // the first webhook sent, the last answered
}

// sendBurst edits persons round robin in the Pipedrive fake as their
// owner would in the app (the family name gets the webhook's number), and
// sends for each edit the webhook Pipedrive renders for it, itself: the
// fake's own deliveries are held for the rest of the test (its deliverer
// sends one at a time). One person's edit and webhook wait for its
// previous ones, so its last webhook follows its last edit. at, if set,
// is called from the pacer as each webhook's time comes (the outage test
// kills the applier from there).
func (h *harness) sendBurst(t *testing.T, b burst, persons []int64, at func(i int, since time.Duration)) burstResult {
	t.Helper()
	h.s.Pipedrive.HoldDeliveries()
	family := map[int64]string{}
	locks := map[int64]*sync.Mutex{}
	for _, id := range persons {
		p, ok := h.s.Pipedrive.Person(id)
		if !ok {
			t.Fatalf("no person %d", id)
		}
		family[id], locks[id] = p.LastName, &sync.Mutex{}
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxConnsPerHost: b.concurrency, MaxIdleConnsPerHost: b.concurrency}}
	defer hc.CloseIdleConnections()

	var (
		mu  sync.Mutex
		res = burstResult{refused: map[string]int{}}
	)
	send := func(i int) {
		id := persons[i%len(persons)]
		locks[id].Lock()
		defer locks[id].Unlock()
		last := fmt.Sprintf("%s-%d", family[id], i)
		if err := h.s.Pipedrive.UIEditPerson(h.demo.PipedriveUserID, id, pipedrive.PersonInput{LastName: &last}); err != nil {
			t.Errorf("edit person %d: %v", id, err)
			return
		}
		ds := h.s.Pipedrive.TakeHeldDeliveries(id)
		if len(ds) != 1 || ds[0].Action != "change" {
			t.Errorf("the edit of person %d made %d webhooks, want 1 change", id, len(ds))
		}
		for _, d := range ds {
			req, err := http.NewRequest(http.MethodPost, d.URL, bytes.NewReader(d.Body))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", "Pipedrive Webhooks")
			req.SetBasicAuth(d.User, d.Password)
			start := time.Now()
			resp, err := hc.Do(req)
			var answer string
			if err == nil {
				var body struct {
					Message string `json:"message"`
				}
				_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&body)
				resp.Body.Close()
				answer = strconv.Itoa(resp.StatusCode) + " " + body.Message
			}
			took := time.Since(start)
			mu.Lock()
			res.sent++
			res.latencies = append(res.latencies, took)
			switch {
			case err != nil:
				res.refused["a transport error"]++
			case answer == "200 accepted":
				res.accepted++
			default:
				res.refused[answer]++
			}
			res.ended = time.Now()
			mu.Unlock()
		}
	}

	jobs := make(chan int)
	res.began = time.Now()
	go func() {
		defer close(jobs)
		for i := range b.webhooks {
			due := time.Duration(i) * b.over / time.Duration(b.webhooks)
			time.Sleep(time.Until(res.began.Add(due)))
			if at != nil {
				at(i, time.Since(res.began))
			}
			jobs <- i
		}
	}()
	var wg sync.WaitGroup
	for range b.concurrency {
		wg.Go(func() {
			for i := range jobs {
				send(i)
			}
		})
	}
	wg.Wait()
	slices.Sort(res.latencies)
	if len(res.latencies) == 0 {
		t.Fatal("no webhook was sent")
	}
	return res
}

// lastEditsInGoogle counts the persons whose Google contact (the one
// linked to them; links is refreshed for persons without one) has the
// names the person has now in Pipedrive.
func (h *harness) lastEditsInGoogle(t *testing.T, persons []int64, links map[string]*store.Link) int {
	t.Helper()
	same := 0
	for _, id := range persons {
		p, ok := h.s.Pipedrive.Person(id)
		l := links[strconv.FormatInt(id, 10)]
		if !ok || l == nil || l.GoogleID == "" {
			continue
		}
		c, err := h.s.Google.Contact(h.demo.GoogleUser, l.GoogleID)
		if err == nil && len(c.Names) > 0 && c.Names[0].GivenName == p.FirstName && c.Names[0].FamilyName == p.LastName {
			same++
		}
	}
	return same
}

// pubsubClient is a Pub/Sub client on the stack's emulator.
func (h *harness) pubsubClient(t *testing.T) *pubsub.Client {
	t.Helper()
	ps, err := pubsub.NewClient(context.Background(), h.project,
		option.WithEndpoint(h.s.Endpoints.PubSub), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	return ps
}

// messageSet counts distinct message ids, and the deliveries of one it
// had seen.
type messageSet struct {
	mu   sync.Mutex
	ids  map[string]bool
	dups int
}

func (m *messageSet) add(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ids[id] {
		m.dups++
	}
	m.ids[id] = true
}

func (m *messageSet) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.ids)
}

func (m *messageSet) duplicates() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dups
}

// watchPublished counts the webhooks' changes published to the changes
// topic, through a pull subscription of its own made now.
func (h *harness) watchPublished(t *testing.T) *messageSet {
	t.Helper()
	ps := h.pubsubClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	sub := "projects/" + h.project + "/subscriptions/load-watch-changes"
	if _, err := ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: sub, Topic: "projects/" + h.project + "/topics/" + queue.ChangesTopic, AckDeadlineSeconds: 60,
	}); err != nil {
		t.Fatal(err)
	}
	set := &messageSet{ids: map[string]bool{}}
	done := make(chan error, 1)
	go func() {
		done <- ps.Subscriber(sub).Receive(ctx, func(_ context.Context, m *pubsub.Message) {
			m.Ack()
			if c, err := queue.DecodeChange(m.Data); err == nil && c.Source == queue.FromWebhook {
				set.add(m.ID)
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("watch the changes topic: %v", err)
		}
		// The emulator may be shared by the whole test run.
		_ = ps.SubscriptionAdminClient.DeleteSubscription(context.Background(), &pubsubpb.DeleteSubscriptionRequest{Subscription: sub})
	})
	return set
}

// countApplied puts a forwarding proxy between Pub/Sub and the Apply
// function on the changes subscription (its push endpoint is changed to
// the proxy's, the path kept) and counts the webhooks' changes the
// applier acknowledged (2xx). The proxy changes nothing of the push or the
// answer; at cleanup the subscription pushes to Apply again.
func (h *harness) countApplied(t *testing.T) *messageSet {
	t.Helper()
	set := &messageSet{ids: map[string]bool{}}
	target := strings.TrimSuffix(h.s.Endpoints.Applier, "/")
	// An apply may wait for the user's quota: Pub/Sub's ack deadline (600 s)
	// bounds it, not this client.
	fwd := &http.Client{Timeout: 15 * time.Minute}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := fwd.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		var push struct {
			Message struct {
				Data      []byte `json:"data"`
				MessageID string `json:"messageId"`
			} `json:"message"`
		}
		if resp.StatusCode/100 != 2 || json.Unmarshal(body, &push) != nil {
			return
		}
		if c, err := queue.DecodeChange(push.Message.Data); err == nil && c.Source == queue.FromWebhook {
			set.add(push.Message.MessageID)
		}
	}))
	ps := h.pubsubClient(t)
	sub := "projects/" + h.project + "/subscriptions/changes-apply"
	path := "/projects/" + h.project + "/topics/" + queue.ChangesTopic
	pushTo := func(base string) error {
		return ps.SubscriptionAdminClient.ModifyPushConfig(context.Background(), &pubsubpb.ModifyPushConfigRequest{
			Subscription: sub, PushConfig: &pubsubpb.PushConfig{PushEndpoint: base + path}})
	}
	if err := pushTo(proxy.URL); err != nil {
		proxy.Close()
		t.Fatalf("push the changes to the counting proxy: %v", err)
	}
	t.Cleanup(func() {
		if err := pushTo(target); err != nil {
			t.Errorf("push the changes to Apply again: %v", err)
		}
		proxy.Close()
	})
	return set
}
