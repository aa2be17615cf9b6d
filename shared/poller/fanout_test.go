package poller_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/emulator/emulatortest"
	"github.com/contactsync/contactsync/shared/poller"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

// makeConnections stores n connections due at due (zero: not scheduled),
// with a BulkWriter; it returns their ids.
func (e *env) makeConnections(n int, due time.Time) []string {
	e.t.Helper()
	bw := e.st.Client().BulkWriter(e.ctx)
	ids := make([]string, n)
	jobs := make([]*firestore.BulkWriterJob, n)
	for i := range n {
		ids[i] = store.NewID()
		c := store.Connection{Status: store.StatusLive, PollDueAt: due, CreatedAt: e.clock.Now()}
		j, err := bw.Create(e.st.Client().Collection("connections").Doc(ids[i]), c)
		if err != nil {
			e.t.Fatal(err)
		}
		jobs[i] = j
	}
	bw.End()
	for _, j := range jobs {
		if _, err := j.Results(); err != nil {
			e.t.Fatal(err)
		}
	}
	return ids
}

// pollRequests drains the polls topic: connection id → times published.
func (e *env) pollRequests() map[string]int {
	e.t.Helper()
	out := map[string]int{}
	for _, b := range e.pull(pollsTopic) {
		r, err := queue.DecodePollRequest(b)
		if err != nil {
			e.t.Fatal(err)
		}
		out[r.ConnectionID]++
	}
	return out
}

func TestFanOutPublishesEachDueConnectionOnce(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	due := e.makeConnections(30, now.Add(-time.Minute))
	dueNow := e.makeConnections(2, now) // due exactly now counts
	e.makeConnections(5, now.Add(30*time.Second))
	e.makeConnections(5, time.Time{}) // paused, needs re-auth...: never polled

	n, err := e.p.FanOut(e.ctx)
	if err != nil || n != 32 {
		t.Fatalf("FanOut = %d, %v; want 32", n, err)
	}
	got := e.pollRequests()
	if len(got) != 32 {
		t.Fatalf("%d connections published, want 32", len(got))
	}
	for _, id := range append(due, dueNow...) {
		if got[id] != 1 {
			t.Fatalf("connection %s published %d times", id, got[id])
		}
		c, err := e.st.GetConnection(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !c.PollDueAt.Equal(now.Add(30 * time.Second)) {
			t.Fatalf("due time %v, want %v", c.PollDueAt, now.Add(30*time.Second))
		}
	}
	// A duplicate tick right away polls nothing twice.
	if n, err := e.p.FanOut(e.ctx); err != nil || n != 0 {
		t.Fatalf("second FanOut = %d, %v", n, err)
	}
	// The next tick, even a little early, polls every connection again.
	e.clock.Advance(time.Minute - 2*time.Second)
	if n, err := e.p.FanOut(e.ctx); err != nil || n != 37 {
		t.Fatalf("FanOut at the next (early) tick = %d, %v; want 37", n, err)
	}
}

// opCounter counts Firestore document reads and writes on the wire.
type opCounter struct{ reads, writes, rpcs atomic.Int64 }

func (o *opCounter) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	o.rpcs.Add(1)
	err := invoker(ctx, method, req, reply, cc, opts...)
	switch r := req.(type) {
	case *firestorepb.BatchWriteRequest:
		o.writes.Add(int64(len(r.Writes)))
	case *firestorepb.CommitRequest:
		o.writes.Add(int64(len(r.Writes)))
	}
	if r, ok := reply.(*firestorepb.BatchGetDocumentsResponse); ok && r.GetFound() != nil {
		o.reads.Add(1)
	}
	return err
}

type countingStream struct {
	grpc.ClientStream
	o *opCounter
}

func (s countingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err == nil {
		switch r := m.(type) {
		case *firestorepb.RunQueryResponse:
			if r.Document != nil {
				s.o.reads.Add(1)
			}
		case *firestorepb.BatchGetDocumentsResponse:
			if r.GetFound() != nil {
				s.o.reads.Add(1)
			}
		}
	}
	return err
}

func (o *opCounter) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	o.rpcs.Add(1)
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return countingStream{ClientStream: s, o: o}, nil
}

type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}
func (emulatorOwner) RequireTransportSecurity() bool { return false }

// countingStore opens a second store on the env's project whose gRPC
// connection counts document operations.
func (e *env) countingStore() (*store.Store, *opCounter) {
	e.t.Helper()
	host := emulatortest.Require(e.t, emulator.Firestore)
	o := &opCounter{}
	conn, err := grpc.NewClient(host, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorOwner{}),
		grpc.WithChainUnaryInterceptor(o.unary), grpc.WithChainStreamInterceptor(o.stream))
	if err != nil {
		e.t.Fatal(err)
	}
	fc, err := firestore.NewClient(e.ctx, e.project, option.WithGRPCConn(conn))
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := store.NewFromClient(fc)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s, o
}

// TestFanOutScale measures the fan-out on the emulators: 2,000 due
// connections (several pages), all published exactly once and all moved,
// with the publish rate and the Firestore operations per connection,
// extrapolated to 10,000. The emulators are far slower than the real
// services, so the figure is a floor.
func TestFanOutScale(t *testing.T) {
	if testing.Short() {
		t.Skip("scale measurement skipped in -short mode")
	}
	const n = 2000
	e := newEnv(t)
	ids := e.makeConnections(n, e.clock.Now().Add(-time.Second))
	cs, ops := e.countingStore()
	p := e.newPoller(func(cfg *poller.Config) { cfg.Store = cs })

	start := time.Now()
	queued, err := p.FanOut(e.ctx)
	took := time.Since(start)
	if err != nil || queued != n {
		t.Fatalf("FanOut = %d, %v; want %d", queued, err, n)
	}
	got := e.pollRequests()
	for _, id := range ids {
		if got[id] != 1 {
			t.Fatalf("connection %s published %d times", id, got[id])
		}
	}
	if len(got) != n {
		t.Fatalf("%d distinct connections published, want %d", len(got), n)
	}
	rate := float64(n) / took.Seconds()
	t.Logf("fan-out of %d connections: %v, %.0f publishes/s; Firestore: %d document reads (%.2f per connection), %d writes (%.2f per connection), %d RPCs",
		n, took.Round(time.Millisecond), rate, ops.reads.Load(), float64(ops.reads.Load())/n, ops.writes.Load(), float64(ops.writes.Load())/n, ops.rpcs.Load())
	t.Logf("extrapolated to 10,000 connections: %.1f s (%.0f%% of the one-minute budget)", 10000/rate, 10000/rate/60*100)
	if tenK := time.Duration(float64(10000) / rate * float64(time.Second)); tenK > time.Minute {
		t.Errorf("10,000 connections would take %v, more than the minute", tenK)
	}
	if n, err := p.FanOut(e.ctx); err != nil || n != 0 {
		t.Fatalf("FanOut after = %d, %v: due times not moved", n, err)
	}
}
