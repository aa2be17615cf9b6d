// Package storetest opens stores for tests on the Firestore emulator, with
// a counter of the document reads and writes Firestore would bill and of
// the documents the requests name.
package storetest

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/emulator/emulatortest"
	"github.com/contactsync/contactsync/shared/store"
)

// Counter counts Firestore document reads and writes as Firestore bills
// them, from the gRPC traffic: one read per document a lookup or query
// returns (a query that returns none still costs one), one write per
// write in a commit. It also keeps the names of the documents (and query
// parents) every request names, sent or refused, so a test can show that
// a value never reached Firestore.
type Counter struct {
	reads, writes atomic.Int64
	mu            sync.Mutex
	names         []string
}

// Reads and Writes are the counts so far.
func (c *Counter) Reads() int64  { return c.reads.Load() }
func (c *Counter) Writes() int64 { return c.writes.Load() }

// Names are the document names (projects/…/documents/connections/ID, …)
// and query parents the requests so far named, in order, with a prefix
// saying how: "get ", "query ", "write ".
func (c *Counter) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.names...)
}

func (c *Counter) name(how string, names ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range names {
		c.names = append(c.names, how+" "+n)
	}
}

func (c *Counter) writeNames(ws []*firestorepb.Write) {
	for _, w := range ws {
		c.name("write", w.GetUpdate().GetName()+w.GetDelete()+w.GetTransform().GetDocument())
	}
}

func (c *Counter) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, inv grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	switch r := req.(type) {
	case *firestorepb.CommitRequest:
		c.writeNames(r.Writes)
	case *firestorepb.BatchWriteRequest:
		c.writeNames(r.Writes)
	}
	err := inv(ctx, method, req, reply, cc, opts...)
	if err == nil {
		switch r := req.(type) {
		case *firestorepb.CommitRequest:
			c.writes.Add(int64(len(r.Writes)))
		case *firestorepb.BatchWriteRequest: // BulkWriter
			c.writes.Add(int64(len(r.Writes)))
		}
	}
	return err
}

func (c *Counter) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &countStream{ClientStream: s, c: c}, nil
}

type countStream struct {
	grpc.ClientStream
	c       *Counter
	docs    int
	isQuery bool
	done    bool
}

func (s *countStream) SendMsg(m any) error {
	switch r := m.(type) {
	case *firestorepb.BatchGetDocumentsRequest:
		s.c.name("get", r.Documents...)
	case *firestorepb.RunQueryRequest:
		from := ""
		for _, f := range r.GetStructuredQuery().GetFrom() {
			from += "/" + f.GetCollectionId()
		}
		s.c.name("query", r.Parent+from)
	case *firestorepb.RunAggregationQueryRequest:
		from := ""
		for _, f := range r.GetStructuredAggregationQuery().GetStructuredQuery().GetFrom() {
			from += "/" + f.GetCollectionId()
		}
		s.c.name("query", r.Parent+from)
	}
	return s.ClientStream.SendMsg(m)
}

func (s *countStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err == nil {
		switch r := m.(type) {
		case *firestorepb.BatchGetDocumentsResponse:
			if r.GetFound() != nil || r.GetMissing() != "" {
				s.c.reads.Add(1)
			}
		case *firestorepb.RunQueryResponse:
			s.isQuery = true
			if r.Document != nil {
				s.docs++
				s.c.reads.Add(1)
			}
		case *firestorepb.RunAggregationQueryResponse:
			if r.Result != nil {
				s.c.reads.Add(1)
			}
		}
	}
	if errors.Is(err, io.EOF) && s.isQuery && s.docs == 0 && !s.done {
		s.done = true
		s.c.reads.Add(1) // an empty query result is billed one read
	}
	return err
}

type emulatorCreds struct{}

func (emulatorCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}
func (emulatorCreds) RequireTransportSecurity() bool { return false }

// Counting opens a store on a fresh emulator project whose traffic
// the returned counter sees.
func Counting(t testing.TB) (*store.Store, *Counter) {
	t.Helper()
	host := emulatortest.Require(t, emulator.Firestore)
	c := &Counter{}
	conn, err := grpc.NewClient(strings.TrimPrefix(host, "http://"),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorCreds{}),
		grpc.WithUnaryInterceptor(c.unary), grpc.WithStreamInterceptor(c.stream))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := firestore.NewClient(context.Background(), emulatortest.Project(), option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.NewFromClient(fs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(); conn.Close() })
	return st, c
}
