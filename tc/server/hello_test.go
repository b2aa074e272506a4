package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store/memstore"
)

// One stream announcing hundreds of thousands of resources in a frame (or
// a little more in each of many Hellos) used to cost the stream and every
// core a quadratic scan, stalling every other client for minutes. Past
// txc.MaxResourcesPerStream the Hello is refused and nothing changes.
func TestHelloWithTooManyResourcesIsRefusedAndStallsNothing(t *testing.T) {
	r := startWith(t, Config{Core: tc.Config{}, Store: memstore.New(), MaxMessageSize: 8 << 20})
	s := rawStream(t, r.addr)
	many := make([]string, 300000)
	for i := range many {
		many[i] = fmt.Sprintf("r%07d", i)
	}
	hello := func(id uint64, res []string) {
		t.Helper()
		if err := s.Send(&txcv1.ClientFrame{Messages: []*txcv1.ClientMessage{{Id: id, Body: &txcv1.ClientMessage_Hello{Hello: &txcv1.Hello{Version: 1, ResourceIds: res}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	frames := make(chan *txcv1.ServerFrame, 16)
	go func() {
		for {
			f, err := s.Recv()
			if err != nil {
				close(frames)
				return
			}
			frames <- f
		}
	}()
	reply := func(id uint64) *txcv1.Reply {
		t.Helper()
		select {
		case f, ok := <-frames:
			if !ok || len(f.Messages) != 1 || f.Messages[0].Id != id {
				t.Fatalf("waiting for the reply to %d: %v", id, f)
			}
			return f.Messages[0].GetReply()
		case <-time.After(5 * time.Second):
			t.Fatalf("no reply to Hello %d in 5 s: the stream is stalled", id)
		}
		return nil
	}
	hello(1, []string{"first"})
	if err := reply(1).GetError(); err != nil {
		t.Fatalf("a Hello of one resource: %v", err)
	}
	hello(2, many)
	if got := reply(2).GetError().GetCode(); got != txcv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT {
		t.Fatalf("a Hello of %d resources: code %v, want INVALID_ARGUMENT", len(many), got)
	}
	conn := dial(t, r.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := conn.Begin(ctx, "not stalled", 0); err != nil {
		t.Fatalf("another client's Begin after a Hello of %d resources: %v", len(many), err)
	}
	// Nothing of the refused Hello was taken: the stream still serves
	// "first" and up to the limit more.
	hello(3, append(many[:txc.MaxResourcesPerStream-1:txc.MaxResourcesPerStream-1], "first"))
	if err := reply(3).GetError(); err != nil {
		t.Fatalf("a Hello up to the limit: %v", err)
	}
	hello(4, []string{"one too many"})
	if got := reply(4).GetError().GetCode(); got != txcv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT {
		t.Fatalf("a Hello over the limit: code %v, want INVALID_ARGUMENT", got)
	}
}

// The client refuses to serve more resources than a coordinator takes,
// before announcing any of them.
func TestServeOverTheResourceLimitIsRefusedByTheClient(t *testing.T) {
	r := start(t, memstore.New(), tc.Config{})
	conn := dial(t, r.addr)
	ids := make([]string, txc.MaxResourcesPerStream+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%d", i)
	}
	noop := func(context.Context, client.Command) (txc.BranchStatus, string) { return 0, "" }
	if err := conn.Serve(ids, noop); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("Serve of %d resources: %v, want ErrInvalidArgument", len(ids), err)
	}
	if err := conn.Serve(ids[:txc.MaxResourcesPerStream], noop); err != nil {
		t.Fatalf("Serve of %d resources: %v", txc.MaxResourcesPerStream, err)
	}
}

// A client name is logged with every refusal and kept per stream: one of
// a frame's size (16 MiB by default), sent before any credential is
// checked, made each refusal a log line that large.
func TestHelloWithAHugeClientNameIsRefused(t *testing.T) {
	r := start(t, memstore.New(), tc.Config{})
	s := rawStream(t, r.addr)
	name := strings.Repeat("n", txc.MaxClientNameLen+1)
	s.Send(&txcv1.ClientFrame{Messages: []*txcv1.ClientMessage{{Id: 1, Body: &txcv1.ClientMessage_Hello{Hello: &txcv1.Hello{Version: 1, ClientName: name}}}}})
	if _, err := s.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a Hello with a client name of %d bytes: %v, want InvalidArgument", len(name), err)
	}
	s = rawStream(t, r.addr)
	s.Send(&txcv1.ClientFrame{Messages: []*txcv1.ClientMessage{{Id: 1, Body: &txcv1.ClientMessage_Hello{Hello: &txcv1.Hello{Version: 1, ClientName: name[1:]}}}}})
	if f, err := s.Recv(); err != nil || f.Messages[0].GetReply().GetError() != nil {
		t.Fatalf("a Hello with a client name of %d bytes: %v %v", len(name)-1, f, err)
	}
	// The client says so at Dial.
	if _, err := client.Dial(context.Background(), r.addr, client.WithName(name)); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("Dial with a name of %d bytes: %v, want ErrInvalidArgument", len(name), err)
	}
}
