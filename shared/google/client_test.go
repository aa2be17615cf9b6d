package google_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/google/googlefake"
)

const user = googlefake.DemoUser

type env struct {
	fake *googlefake.Server
	base string
	clk  *googlefake.ManualClock
	c    *google.Client
}

// newEnv runs the fake and the client on one auto-advancing manual clock, so
// backoff and rate-limit waits take no real time.
func newEnv(t *testing.T, fakeOpts []googlefake.Option, opts ...google.Option) *env {
	t.Helper()
	clk := googlefake.NewManualClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	clk.SetAutoAdvance(true)
	fake, base := googlefake.NewTestServer(t, append([]googlefake.Option{googlefake.WithClock(clk), googlefake.WithAccessTokenTTL(365 * 24 * time.Hour)}, fakeOpts...)...)
	tok, err := fake.IssueToken(user, "client")
	if err != nil {
		t.Fatal(err)
	}
	c, err := google.New(context.Background(), oauth2.StaticTokenSource(tok), base, append([]google.Option{google.WithClock(clk)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &env{fake: fake, base: base, clk: clk, c: c}
}

func person(given string) *people.Person {
	return &people.Person{Names: []*people.Name{{GivenName: given}}}
}

func TestListSyncAndExpiry(t *testing.T) {
	for _, legacy := range []bool{true, false} {
		t.Run(fmt.Sprint("legacy errors ", legacy), func(t *testing.T) {
			var fo []googlefake.Option
			if !legacy {
				fo = append(fo, googlefake.WithoutLegacyErrors())
			}
			e := newEnv(t, fo, google.WithPageSize(4))
			for i := range 10 {
				if _, err := e.fake.SeedContact(user, person(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
			}
			ctx := context.Background()
			n, pages := 0, 0
			st, err := e.c.List(ctx, "", func(p *google.Page) error {
				n += len(p.People)
				pages++
				if p.NextPageToken != "" && p.NextSyncToken != "" {
					t.Error("sync token on a middle page")
				}
				return nil
			})
			if err != nil || n != 10 || pages != 3 || st == "" {
				t.Fatalf("full list: err %v, %d people, %d pages, token %q", err, n, pages, st)
			}
			cs, _ := e.fake.Contacts(user)
			_ = e.fake.DeleteContact(user, cs[0].ResourceName)
			var deleted []string
			st2, err := e.c.List(ctx, st, func(p *google.Page) error {
				for _, x := range p.People {
					if x.Metadata != nil && x.Metadata.Deleted {
						deleted = append(deleted, x.ResourceName)
					}
				}
				return nil
			})
			if err != nil || fmt.Sprint(deleted) != fmt.Sprint([]string{cs[0].ResourceName}) {
				t.Fatalf("incremental: %v, deleted %v", err, deleted)
			}
			_ = e.fake.ExpireSyncTokens(user)
			_, err = e.c.ListPage(ctx, st2, "")
			if !errors.Is(err, google.ErrExpiredSyncToken) {
				t.Fatalf("expired token: %v", err)
			}
			var ge *googleapi.Error
			if !errors.As(err, &ge) || ge.Code != 400 {
				t.Errorf("cause not reachable: %v", err)
			}
		})
	}
}

func TestUpdateStaleEtag(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	p, err := e.c.Create(ctx, person("A"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fake.EditContact(user, p.ResourceName, func(q *people.Person) { q.Names[0].GivenName = "UI" }); err != nil {
		t.Fatal(err)
	}
	p.Names[0].GivenName = "B"
	if _, err := e.c.Update(ctx, p, []string{"names"}); !errors.Is(err, google.ErrStaleEtag) {
		t.Fatalf("stale update: %v", err)
	}
	cur, err := e.c.Get(ctx, p.ResourceName)
	if err != nil {
		t.Fatal(err)
	}
	cur.Names[0].GivenName = "B"
	up, err := e.c.Update(ctx, cur, []string{"names"})
	if err != nil || up.Names[0].GivenName != "B" {
		t.Fatalf("fresh update: %v", err)
	}
	m, err := e.c.BatchUpdate(ctx, map[string]*people.Person{p.ResourceName: cur}, []string{"names"})
	if !errors.Is(err, google.ErrStaleEtag) || m != nil {
		t.Errorf("stale batch update: %v", err)
	}
	if err := e.c.Delete(ctx, p.ResourceName); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Get(ctx, p.ResourceName); !errors.Is(err, google.ErrNotFound) {
		t.Errorf("get deleted: %v", err)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		fault    googlefake.Fault
		op       func(ctx context.Context, c *google.Client) error
		wantErr  error
		wantCall int
	}{
		{"429 then success", googlefake.Fault{Kind: googlefake.Fault429, Times: 3, Method: googlefake.MethodGet},
			func(ctx context.Context, c *google.Client) error { _, err := c.Get(ctx, "people/me"); return err }, nil, 4},
		{"500 on read is retried", googlefake.Fault{Kind: googlefake.Fault500, Times: 2, Method: googlefake.MethodGet},
			func(ctx context.Context, c *google.Client) error { _, err := c.Get(ctx, "people/me"); return err }, nil, 3},
		{"429 on create is retried", googlefake.Fault{Kind: googlefake.Fault429, Method: googlefake.MethodCreateContact},
			func(ctx context.Context, c *google.Client) error { _, err := c.Create(ctx, person("x")); return err }, nil, 2},
		{"500 on create is not retried", googlefake.Fault{Kind: googlefake.Fault500, Method: googlefake.MethodCreateContact},
			func(ctx context.Context, c *google.Client) error { _, err := c.Create(ctx, person("x")); return err }, google.ErrUncertain, 1},
		{"bounded", googlefake.Fault{Kind: googlefake.Fault503, Times: 100, Method: googlefake.MethodGet},
			func(ctx context.Context, c *google.Client) error { _, err := c.Get(ctx, "people/me"); return err }, nil, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.fake.InjectFault(tt.fault)
			err := tt.op(context.Background(), e.c)
			if tt.name == "bounded" {
				if err == nil {
					t.Fatal("no error after exhausting retries")
				}
			} else if !errors.Is(err, tt.wantErr) && !(tt.wantErr == nil && err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := e.fake.Stats(user).TotalCalls(); got != tt.wantCall {
				t.Errorf("%d calls, want %d", got, tt.wantCall)
			}
		})
	}
}

func TestDroppedResponses(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	// Create: committed, but the client cannot know; it must not retry.
	e.fake.InjectFault(googlefake.Fault{Kind: googlefake.FaultDropResponse, Method: googlefake.MethodCreateContact})
	if _, err := e.c.Create(ctx, person("Once")); !errors.Is(err, google.ErrUncertain) {
		t.Fatalf("dropped create: %v", err)
	}
	cs, _ := e.fake.Contacts(user)
	if len(cs) != 1 {
		t.Fatalf("%d contacts after a dropped create, want exactly 1", len(cs))
	}
	// Update: the retry finds the etag moved on, and says so.
	e.fake.InjectFault(googlefake.Fault{Kind: googlefake.FaultDropResponse, Method: googlefake.MethodUpdateContact})
	p := cs[0]
	p.Names[0].GivenName = "Twice"
	if _, err := e.c.Update(ctx, p, []string{"names"}); !errors.Is(err, google.ErrStaleEtag) {
		t.Fatalf("dropped update: %v", err)
	}
	if got, _ := e.fake.Contact(user, p.ResourceName); got.Names[0].GivenName != "Twice" {
		t.Error("dropped update not committed")
	}
}

func TestQuotaLimiterAvoids429(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	start := e.clk.Now()
	for i := range 40 {
		if _, err := e.c.Create(ctx, person(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	st := e.fake.Stats(user)
	if st.RateLimited != 0 {
		t.Errorf("%d requests hit the quota", st.RateLimited)
	}
	if el := e.clk.Now().Sub(start); el < time.Minute {
		t.Errorf("40 writes in %v of virtual time: faster than the 30/min quota", el)
	}
}

// A read then an update (a critical read, then a critical read and a
// critical write) over and over, the buckets emptied before each as an
// instance taking over does: the update waits for the write bucket, and
// its read must be counted when the call is made, not before that wait, or
// reads land in a quota minute that is already full.
func TestLimiterCountsEveryBucketAtTheCall(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	p, err := e.c.Create(ctx, person("a"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 90 {
		e.c.Drain()
		got, err := e.c.Get(ctx, p.ResourceName)
		if err != nil {
			t.Fatal(err)
		}
		got.Names = []*people.Name{{GivenName: fmt.Sprint("a", i)}}
		if p, err = e.c.Update(ctx, got, []string{"names"}); err != nil {
			t.Fatal(err)
		}
	}
	if st := e.fake.Stats(user); st.RateLimited != 0 {
		t.Errorf("%d requests hit the quota", st.RateLimited)
	}
}

// Drain: a client taking over a user's calls from another instance starts
// with an empty bucket, so its first call waits for the refill; without
// Drain it would not wait.
func TestDrainEmptiesTheBucket(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	start := e.clk.Now()
	e.c.Drain()
	if _, err := e.c.Create(ctx, person("x")); err != nil {
		t.Fatal(err)
	}
	// critical writes refill at (30 − 6) a minute: one token takes 2.5 s
	if el := e.clk.Now().Sub(start); el < 2*time.Second {
		t.Errorf("a drained client wrote after %v, want a refill's wait", el)
	}
}

// TestLimiterDoesNotDelayAColdStart: a fresh client (a new function
// instance) writes at once; the limiter only paces sustained traffic.
func TestLimiterDoesNotDelayAColdStart(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	start := e.clk.Now()
	for i := range 5 {
		if _, err := e.c.Create(ctx, person(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if el := e.clk.Now().Sub(start); el != 0 {
		t.Errorf("a fresh client's first 5 writes waited %v of virtual time, want none", el)
	}
}

func TestQuotaRetryWithoutLimiter(t *testing.T) {
	e := newEnv(t, nil, google.WithQuota(google.Quota{}))
	ctx := context.Background()
	for i := range 35 {
		if _, err := e.c.Create(ctx, person(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if st := e.fake.Stats(user); st.RateLimited == 0 || st.ContactWrites != 35 {
		t.Errorf("stats %+v: want some 429s and 35 contacts", st)
	}
}

func TestSerializedMutations(t *testing.T) {
	e := newEnv(t, []googlefake.Option{googlefake.WithoutQuota()}, google.WithQuota(google.Quota{}))
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := e.c.Create(ctx, person(fmt.Sprint(i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if st := e.fake.Stats(user); st.OverlappingWrites != 0 || st.Writes != 8 {
		t.Errorf("stats %+v: want 8 writes, none overlapping", st)
	}
}

func TestBatchesAndGroups(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ps := make([]*people.Person, 201)
	for i := range ps {
		ps[i] = person(fmt.Sprint(i))
	}
	if _, err := e.c.BatchCreate(ctx, ps); !errors.Is(err, google.ErrTooMany) {
		t.Errorf("201 creates: %v", err)
	}
	if err := e.c.BatchDelete(ctx, make([]string, 501)); !errors.Is(err, google.ErrTooMany) {
		t.Errorf("501 deletes: %v", err)
	}
	if e.fake.Stats(user).TotalCalls() != 0 {
		t.Error("oversized batch reached the API")
	}
	g, err := e.c.CreateGroup(ctx, "Pipedrive")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.CreateGroup(ctx, "Pipedrive"); !errors.Is(err, google.ErrAlreadyExists) {
		t.Errorf("duplicate group: %v", err)
	}
	for _, p := range ps[:200] {
		p.Memberships = []*people.Membership{
			{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: "contactGroups/myContacts"}},
			{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: g.ResourceName}},
		}
	}
	created, err := e.c.BatchCreate(ctx, ps[:200])
	if err != nil || len(created) != 200 || created[0].ResourceName == "" {
		t.Fatalf("batch create: %v", err)
	}
	if st := e.fake.Stats(user); st.Writes != 3 || st.ContactWrites != 200 {
		t.Errorf("stats %+v", st)
	}
	got, err := e.c.GetGroup(ctx, g.ResourceName, 1000)
	if err != nil || got.MemberCount != 200 || len(got.MemberResourceNames) != 200 {
		t.Fatalf("group: %v %d", err, got.MemberCount)
	}
	resp, err := e.c.ModifyMembers(ctx, g.ResourceName, nil, []string{created[0].ResourceName, "people/c1"})
	if err != nil || len(resp.NotFoundResourceNames) != 1 {
		t.Fatalf("modify: %v %+v", err, resp)
	}
	groups, err := e.c.ListGroups(ctx)
	if err != nil || len(groups) != 3 {
		t.Fatalf("groups: %v %d", err, len(groups))
	}
	rns := []string{created[1].ResourceName, created[2].ResourceName, "people/c404"}
	m, err := e.c.BatchGet(ctx, rns)
	if err != nil || len(m) != 2 {
		t.Fatalf("batch get: %v %d", err, len(m))
	}
	upd := map[string]*people.Person{}
	for _, rn := range rns[:2] {
		p := m[rn]
		p.Names[0].GivenName = "Batch"
		upd[rn] = p
	}
	out, err := e.c.BatchUpdate(ctx, upd, []string{"names"})
	if err != nil || out[rns[0]].Names[0].GivenName != "Batch" {
		t.Fatalf("batch update: %v", err)
	}
	if err := e.c.BatchDelete(ctx, rns[:2]); err != nil {
		t.Fatal(err)
	}
}

func TestRevokedAndForeignTokens(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	tok, _ := e.fake.IssueToken(user, "client")
	cfg := google.OAuthConfig("client", "secret", "http://127.0.0.1/cb", e.base)
	// Functions start from the stored refresh token, so the first call refreshes.
	ts := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken})
	c, err := google.New(ctx, ts, e.base, google.WithClock(e.clk))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "people/me"); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if err := google.Revoke(ctx, nil, e.base, tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	c2, _ := google.New(ctx, cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}), e.base, google.WithClock(e.clk))
	if _, err := c2.Get(ctx, "people/me"); !errors.Is(err, google.ErrRevoked) {
		t.Fatalf("after revoke: %v", err)
	}
	if st := e.fake.Stats(user); st.TotalCalls() != 1 {
		t.Errorf("revoked grant retried or reached the API: %d calls", st.TotalCalls())
	}
	foreign, _ := google.New(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ya29.foreign"}), e.base, google.WithClock(e.clk))
	_, err = foreign.Get(ctx, "people/me")
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != 401 {
		t.Errorf("foreign token: %v", err)
	}
}

func TestOAuthConfig(t *testing.T) {
	for _, tt := range []struct{ base, auth, token string }{
		{"", google.AuthURL, google.TokenURL},
		{"http://127.0.0.1:5/", "http://127.0.0.1:5/o/oauth2/v2/auth", "http://127.0.0.1:5/token"},
	} {
		c := google.OAuthConfig("id", "s", "r", tt.base)
		if c.Endpoint.AuthURL != tt.auth || c.Endpoint.TokenURL != tt.token || c.Scopes[0] != google.Scope {
			t.Errorf("base %q: %+v", tt.base, c.Endpoint)
		}
	}
}
