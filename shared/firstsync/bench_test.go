package firstsync_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/emulator/emulatortest"
	"github.com/contactsync/contactsync/shared/firstsync"
	"github.com/contactsync/contactsync/shared/firstsync/firstsynctest"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/seal"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/store/storetest"
)

var (
	benchN         = flag.Int("firstsync.n", 10000, "records on each side of BenchmarkFirstSync")
	benchOverlap   = flag.Float64("firstsync.overlap", 0.3, "share of records that are twins")
	benchAmbiguous = flag.Int("firstsync.ambiguous", 50, "Pipedrive persons matching a contact ambiguously (two per contact)")
)

// BenchmarkFirstSync runs SPEC section 7's first sync: n Pipedrive persons
// and n Google contacts, 30 % twins formatted differently on each side
// (e-mail case, "+49 (0)30 …" against "030 …"), ambiguous candidates,
// through the real first-sync code, the store on the Firestore emulator
// and the first-sync topic's push subscription on the Pub/Sub emulator,
// against the fakes with the real quotas in virtual time (Google's
// per-user minute quotas, Pipedrive's burst window and daily budget of
// the plan). It prints the figures and the quota-bound minimum for the
// same work; the simulation is deterministic, so it runs once however
// large b.N is.
func BenchmarkFirstSync(b *testing.B) {
	for _, c := range []struct {
		name string
		plan pipedrivefake.Plan
	}{
		{"lite_1_seat", pipedrivefake.Lite},
		{"premium_1_seat", pipedrivefake.Premium},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := runFirstSyncBench(b, c.plan)
			b.ReportMetric(r.ratio, "ratio")
			b.ReportMetric(float64(r.duplicates), "duplicates")
			for range b.N {
			}
		})
	}
}

type benchResult struct {
	ratio                            float64
	duplicates, unmatched, ambiguous int
}

// benchPublisher publishes through Pub/Sub and counts each published step
// as a worker of the virtual clock until its delivery is handled.
type benchPublisher struct {
	*queue.Publisher
	sched   *firstsynctest.Sched
	mu      sync.Mutex
	pending map[string]int
	changes int
}

func stepKey(s queue.FirstSyncStep) string { return fmt.Sprintf("%s/%s/%d", s.Job, s.Chain, s.Chunk) }

func (p *benchPublisher) PublishFirstSync(ctx context.Context, topic string, steps ...queue.FirstSyncStep) error {
	p.mu.Lock()
	for _, s := range steps {
		p.pending[stepKey(s)]++
		p.sched.Enter()
	}
	p.mu.Unlock()
	return p.Publisher.PublishFirstSync(ctx, topic, steps...)
}

func (p *benchPublisher) PublishChanges(ctx context.Context, topic string, cs ...queue.Change) error {
	p.mu.Lock()
	p.changes += len(cs)
	p.mu.Unlock()
	return p.Publisher.PublishChanges(ctx, topic, cs...)
}

// handled ends a step's count once its delivery succeeded (a duplicate
// delivery of a handled step counts nothing).
func (p *benchPublisher) handled(s queue.FirstSyncStep) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending[stepKey(s)] > 0 {
		p.pending[stepKey(s)]--
		p.sched.Exit()
	}
}

// benchData is what was seeded, to check the outcome against.
type benchData struct {
	pairs      map[int64]string // person id → its twin's resource name
	onlyP      int
	onlyG      int
	ambiguousP int
	persons    int
	contacts   int
}

func seedBench(b *testing.B, pd *pipedrivefake.Server, g *googlefake.Server, user int64, email, group string) benchData {
	b.Helper()
	n := *benchN
	overlap := int(float64(n) * *benchOverlap)
	amb := *benchAmbiguous / 2 * 2
	d := benchData{pairs: map[int64]string{}, ambiguousP: amb, persons: n, contacts: n}
	orgIDs := make([]int64, 100)
	orgNames := make([]string, 150) // the last 50 exist in Google only
	for i := range orgNames {
		orgNames[i] = fmt.Sprintf("Firma %03d GmbH", i)
		if i < len(orgIDs) {
			id, err := pd.AddOrganization(user, orgNames[i])
			if err != nil {
				b.Fatal(err)
			}
			orgIDs[i] = id
		}
	}
	person := func(name, email, phone string, org int) int64 {
		in := pipedrive.PersonInput{Name: &name}
		es := []pipedrive.Field{{Value: email, Label: "work", Primary: true}}
		ps := []pipedrive.Field{{Value: phone, Label: "work", Primary: true}}
		in.Emails, in.Phones = &es, &ps
		if org >= 0 {
			id := orgIDs[org]
			in.SetOrg, in.OrgID = true, &id
		}
		id, err := pd.SeedPerson(user, in)
		if err != nil {
			b.Fatal(err)
		}
		return id
	}
	contact := func(given, family, addr, phone, org string) string {
		p := &people.Person{Names: []*people.Name{{GivenName: given, FamilyName: family}},
			EmailAddresses: []*people.EmailAddress{{Value: addr, Type: "work"}},
			Memberships: []*people.Membership{
				{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: "contactGroups/myContacts"}},
				{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: group}}}}
		if phone != "" {
			p.PhoneNumbers = []*people.PhoneNumber{{Value: phone, Type: "work"}}
		}
		if org != "" {
			p.Organizations = []*people.Organization{{Name: org}}
		}
		out, err := g.SeedContact(email, p)
		if err != nil {
			b.Fatal(err)
		}
		return out.ResourceName
	}
	// twins: the same person typed differently on each side
	for i := range overlap {
		org := -1
		orgName := ""
		if i%2 == 0 {
			org = i % len(orgIDs)
			orgName = orgNames[org]
		}
		pid := person(fmt.Sprintf("Anna%d Beispiel%d", i, i), fmt.Sprintf("Anna%d.Beispiel%d@Example.COM", i, i),
			fmt.Sprintf("+49 (0)30 %07d", 1000000+i), org)
		rn := contact(fmt.Sprintf("Anna%d", i), fmt.Sprintf("Beispiel%d", i), fmt.Sprintf("anna%d.beispiel%d@example.com", i, i),
			fmt.Sprintf("030 %07d", 1000000+i), orgName)
		d.pairs[pid] = rn
	}
	// ambiguous: two persons share the e-mail of one contact
	for k := range amb / 2 {
		e := fmt.Sprintf("team%d@example.com", k)
		person(fmt.Sprintf("Team%d Eins", k), e, fmt.Sprintf("+49 89 %07d", 2000000+2*k), -1)
		person(fmt.Sprintf("Team%d Zwei", k), e, fmt.Sprintf("+49 89 %07d", 2000001+2*k), -1)
		contact(fmt.Sprintf("Team%d", k), "", e, "", "")
	}
	// one side only
	d.onlyP = n - overlap - amb
	for i := range d.onlyP {
		org := -1
		if i%3 == 0 {
			org = i % len(orgIDs)
		}
		person(fmt.Sprintf("Paul%d Pipedrive%d", i, i), fmt.Sprintf("paul%d@example.com", i), fmt.Sprintf("+49 40 %07d", 3000000+i), org)
	}
	d.onlyG = n - overlap - amb/2
	for i := range d.onlyG {
		org := ""
		if i%3 == 0 {
			org = orgNames[i%len(orgNames)]
		}
		contact(fmt.Sprintf("Greta%d", i), fmt.Sprintf("Google%d", i), fmt.Sprintf("greta%d@example.com", i), fmt.Sprintf("040 %07d", 4000000+i), org)
	}
	return d
}

var benchRuns sync.Map // plan → benchResult: one simulation per plan and process

func runFirstSyncBench(b *testing.B, plan pipedrivefake.Plan) benchResult {
	if r, ok := benchRuns.Load(plan); ok {
		return r.(benchResult)
	}
	b.Helper()
	emulatortest.Require(b, emulator.Firestore)
	emulatortest.Require(b, emulator.PubSub)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	sched := firstsynctest.NewSched(start)
	st, fsc := storetest.Counting(b)

	gf, gURL := googlefake.NewTestServer(b, googlefake.WithQuota(googlefake.DefaultQuota), googlefake.WithClock(sched), googlefake.WithPhoneRegion("DE"))
	const email = googlefake.DemoUser
	group, err := gf.CreateGroup(email, "Pipedrive")
	if err != nil {
		b.Fatal(err)
	}
	tok, err := gf.IssueToken(email, "client-1")
	if err != nil {
		b.Fatal(err)
	}
	pd := pipedrivefake.New(pipedrivefake.WithRateLimits(pipedrivefake.DefaultRateLimits()), pipedrivefake.WithClock(sched))
	b.Cleanup(pd.Close)
	psrv := httptest.NewServer(pd)
	b.Cleanup(psrv.Close)
	pd.SetBaseURL(psrv.URL)
	company := pd.CreateCompany(pipedrivefake.CompanyOptions{Name: "Acme", Plan: plan, Seats: 1})
	user, apiToken, err := pd.CreateUser(company, "Pat", "pat@acme.example")
	if err != nil {
		b.Fatal(err)
	}
	data := seedBench(b, pd, gf, user, email, group)
	pd.ResetCounters()
	gf.ResetStats()

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, err := seal.NewLocal(base64.StdEncoding.EncodeToString(key))
	if err != nil {
		b.Fatal(err)
	}
	accts, err := account.New(st, sealer, account.Config{
		GoogleClientID: "client-1", GoogleClientSecret: "s", GoogleBaseURL: gURL,
		GoogleOptions:    []google.Option{google.WithQuota(google.DefaultQuota), google.WithClock(sched)},
		PipedriveOptions: []pipedrive.Option{pipedrive.WithSleep(sched.Sleep), pipedrive.WithClock(sched.Now)},
	})
	if err != nil {
		b.Fatal(err)
	}
	conn := &store.Connection{Status: store.StatusSetup, PipedriveUserID: user, PipedriveCompanyID: company,
		PipedriveAuth: account.PipedriveAPIToken, PipedriveAPIDomain: psrv.URL, GoogleGroup: group, WebhookIDs: []int64{1}}
	if _, err := st.CreateConnection(ctx, conn); err != nil {
		b.Fatal(err)
	}
	if err := accts.Put(ctx, conn.ID, store.SecretGoogle, tok.RefreshToken); err != nil {
		b.Fatal(err)
	}
	if err := accts.Put(ctx, conn.ID, store.SecretPipedrive, apiToken); err != nil {
		b.Fatal(err)
	}

	// The queue: the first-sync topic pushes to the runner as in
	// production; the changes topic keeps what the job hands the applier.
	ps, err := pubsub.NewClient(ctx, emulatortest.Project())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ps.Close() })
	for _, t := range []string{queue.FirstSyncTopic, queue.ChangesTopic} {
		if _, err := ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + ps.Project() + "/topics/" + t}); err != nil {
			b.Fatal(err)
		}
	}
	pub := &benchPublisher{Publisher: queue.NewPublisher(ps), sched: sched, pending: map[string]int{}}
	b.Cleanup(pub.Stop)
	runner, err := firstsync.New(firstsync.Config{Store: st, Accounts: accts, Publisher: pub,
		Topic: queue.FirstSyncTopic, ChangesTopic: queue.ChangesTopic, Mapper: contact.Mapper{DefaultRegion: "DE"},
		Now: sched.Now, Sleep: sched.Sleep})
	if err != nil {
		b.Fatal(err)
	}
	var (
		failMu   sync.Mutex
		failures []string
	)
	push := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := queue.FromPush(r, 1<<20)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s, err := queue.DecodeFirstSyncStep(d.Data)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := runner.Handle(r.Context(), s); err != nil {
			failMu.Lock()
			failures = append(failures, err.Error())
			failMu.Unlock()
			http.Error(w, "retry", http.StatusInternalServerError)
			return
		}
		pub.handled(s)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(push.Close)
	if _, err := ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name:  "projects/" + ps.Project() + "/subscriptions/first-sync-apply",
		Topic: "projects/" + ps.Project() + "/topics/" + queue.FirstSyncTopic, AckDeadlineSeconds: 600,
		PushConfig: &pubsubpb.PushConfig{PushEndpoint: push.URL + "/projects/" + ps.Project() + "/topics/" + queue.FirstSyncTopic},
	}); err != nil {
		b.Fatal(err)
	}

	// The poller's look at the job every minute (Kick), until it is done.
	done := make(chan *store.Connection, 1)
	var tick func()
	tick = func() {
		c, err := st.GetConnection(ctx, conn.ID)
		if err != nil {
			b.Error(err)
			return
		}
		if c.FirstSync != nil && c.FirstSync.Phase == store.PhaseDone {
			done <- c
			return
		}
		if err := firstsync.Kick(ctx, st, pub, queue.FirstSyncTopic, queue.ChangesTopic, c, sched.Now(), 0); err != nil {
			b.Error(err)
		}
		sched.AfterFunc(time.Minute, tick)
	}
	sched.AfterFunc(time.Minute, tick)

	wall := time.Now()
	fsReads, fsWrites := fsc.Reads(), fsc.Writes()
	if _, err := firstsync.Start(ctx, st, pub, queue.FirstSyncTopic, conn.ID, store.FirstSyncRun, sched.Now()); err != nil {
		b.Fatal(err)
	}
	sched.Exit() // this goroutine only waits from now on
	var final *store.Connection
	select {
	case final = <-done:
	case <-ctx.Done():
		c, _ := st.GetConnection(context.Background(), conn.ID)
		js, _ := json.Marshal(c.FirstSync)
		b.Fatalf("first sync not done in %v of wall time; job %s; failures %v", time.Since(wall), js, failures)
	}
	fs := final.FirstSync
	simulated := fs.FinishedAt.Sub(start)
	fsReads, fsWrites = fsc.Reads()-fsReads, fsc.Writes()-fsWrites // the job's, not the checks'

	// Check the outcome: every twin paired, nothing twice, the ambiguous held.
	links, err := st.AllLinks(ctx, conn.ID)
	if err != nil {
		b.Fatal(err)
	}
	byP := map[string]*store.Link{}
	ambiguous := 0
	for _, l := range links {
		if l.Review != "" {
			if l.PipedriveID != "" {
				ambiguous++
			}
			continue
		}
		byP[l.PipedriveID] = l
	}
	unmatched := 0
	for pid, rn := range data.pairs {
		if l := byP[fmt.Sprint(pid)]; l == nil || l.GoogleID != rn {
			unmatched++
		}
	}
	persons := 0
	for _, p := range pd.Persons(company) {
		if !p.IsDeleted && p.OwnerID == user {
			persons++
		}
	}
	members, err := gf.GroupMembers(email, group)
	if err != nil {
		b.Fatal(err)
	}
	duplicates := max(persons-(data.persons+data.onlyG), 0) + max(len(members)-(data.contacts+data.onlyP), 0)
	missing := max(data.persons+data.onlyG-persons, 0) + max(data.contacts+data.onlyP-len(members), 0)

	// The quota-bound minimum of the same work: what the quotas allow at
	// best, computed from them, not from the run.
	pv := fs.Preview
	limits := firstsync.Limits{Burst: fs.PipedriveBurst, Daily: fs.PipedriveDaily, Allowance: fs.PipedriveAllowance,
		GoogleWrites: google.DefaultQuota.CriticalWritesPerMinute}
	batches := ceil(pv.CreateInGoogle, google.MaxBatchCreate) + ceil(pv.UpdateInGoogle, google.MaxBatchUpdate)
	listing := (ceil(data.persons, 500) + 1) * 10
	pdRequests := pv.CreateInPipedrive + 2*pv.UpdateInPipedrive + pv.OrgsToCreate + ceil(data.persons, 500) + 1
	pdTokens := (pv.CreateInPipedrive+pv.OrgsToCreate)*5 + pv.UpdateInPipedrive*6
	minimum := firstsync.Estimate(limits, start, batches, pdRequests, pdTokens, listing, 0)
	ratio := simulated.Seconds() / minimum.Seconds()
	g429, p429 := gf.Stats(email).RateLimited, 0
	for _, c := range pd.CallLog() {
		if c.Status == http.StatusTooManyRequests {
			p429++
		}
	}
	gCalls := 0
	for _, n := range gf.Stats(email).Calls {
		gCalls += n
	}
	records := float64(data.persons + data.contacts)
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	binds := "Google's per-user write quota binds"
	if pdMin := firstsync.Estimate(firstsync.Limits{Burst: limits.Burst, Daily: limits.Daily, Allowance: limits.Allowance}, start, 0, pdRequests, pdTokens, listing, 0); pdMin >= minimum {
		binds = "Pipedrive binds (burst window and daily budget)"
	}
	fmt.Printf("firstsync[%s, 1 seat, API token]: %d persons + %d contacts, %d twins, %d ambiguous persons\n",
		plan, data.persons, data.contacts, len(data.pairs), data.ambiguousP)
	fmt.Printf("simulated duration: %v (wall %v)\n", simulated.Round(time.Second), time.Since(wall).Round(time.Second))
	fmt.Printf("quota-bound minimum: %v (%s; %d Google batches of 200 at 6 critical writes against %d a minute; %d Pipedrive requests at %d per 2 s, %d tokens against the first sync's %d a day of the %d budget)\n",
		minimum.Round(time.Second), binds, batches, limits.GoogleWrites, pdRequests, limits.Burst, pdTokens+listing, limits.Allowance, limits.Daily)
	fmt.Printf("ratio to the minimum: %.3f (target ≤ 1.05: %s)\n", ratio, met(ratio <= 1.05))
	fmt.Printf("google api calls: %d (%v)\n", gCalls, gf.Stats(email).Calls)
	fmt.Printf("pipedrive api calls: %d\n", len(pd.CallLog()))
	fmt.Printf("429 answers: google %d, pipedrive %d\n", g429, p429)
	fmt.Printf("firestore per contact: %.2f reads, %.2f writes\n", float64(fsReads)/records, float64(fsWrites)/records)
	fmt.Printf("duplicates: %d (must be 0: %s); records missing: %d\n", duplicates, met(duplicates == 0), missing)
	fmt.Printf("unmatched twins: %d (must be 0: %s)\n", unmatched, met(unmatched == 0))
	fmt.Printf("ambiguous held: %d (must be %d: %s)\n", ambiguous, data.ambiguousP, met(ambiguous == data.ambiguousP))
	// What the run did against what its plan (the preview's counts, the
	// same listing and matching) said it would do.
	planned := pv != nil && fs.GoogleDone == pv.CreateInGoogle+pv.UpdateInGoogle && fs.PipedriveDone == pv.CreateInPipedrive+pv.UpdateInPipedrive
	fmt.Printf("written as planned: google %d of %d, pipedrive %d of %d (%s)\n", fs.GoogleDone, pv.CreateInGoogle+pv.UpdateInGoogle,
		fs.PipedriveDone, pv.CreateInPipedrive+pv.UpdateInPipedrive, met(planned))
	if !planned {
		b.Errorf("the run wrote google %d, pipedrive %d; its plan said %+v", fs.GoogleDone, fs.PipedriveDone, pv)
	}
	fmt.Printf("changes handed to the applier: %d; step failures retried: %d\n", pub.changes, len(failures))
	fmt.Printf("firstsync: ratio=%.3f duplicates=%d unmatched=%d ambiguous=%d\n", ratio, duplicates, unmatched, ambiguous)
	if duplicates != 0 || unmatched != 0 || missing != 0 || ambiguous != data.ambiguousP {
		b.Errorf("first sync outcome wrong: duplicates %d, unmatched %d, missing %d, ambiguous %d", duplicates, unmatched, missing, ambiguous)
	}
	if len(failures) > 0 {
		b.Logf("failures: %s", strings.Join(failures[:min(len(failures), 5)], "; "))
	}
	r := benchResult{ratio: ratio, duplicates: duplicates, unmatched: unmatched, ambiguous: ambiguous}
	benchRuns.Store(plan, r)
	return r
}

func ceil(a, b int) int { return (a + b - 1) / b }
