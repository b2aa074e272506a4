package server

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
)

// beginOn runs a coordinator named n1 on st, begins one transaction
// through a client and stops the coordinator.
func beginOn(t *testing.T, st store.Store) txc.XID {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := New(ctx, Config{Core: tc.Config{Node: "n1"}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	defer func() { cancel(); <-done }()
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	conn, err := client.Dial(dctx, lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	xid, err := conn.Begin(dctx, "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	return xid
}

// TestWipedStoreNeverRepeatsXIDs: a coordinator on a fresh store, then
// one with the same node name on another fresh store (the first one
// wiped), never hand out the same XID, and the second one's are higher;
// a coordinator restarted on a used store continues its sequence.
func TestWipedStoreNeverRepeatsXIDs(t *testing.T) {
	first := beginOn(t, memstore.New())
	time.Sleep(2 * time.Millisecond) // the clock moves on, as it does between two deployments
	second := beginOn(t, memstore.New())
	_, a, _ := first.Parse()
	_, b, _ := second.Parse()
	if a == 1 || b <= a {
		t.Fatalf("XIDs of two fresh stores: %s then %s; want the second above the first", first, second)
	}
	used := memstore.New()
	x := beginOn(t, used)
	used.Reopen()
	y := beginOn(t, used)
	_, c, _ := x.Parse()
	_, d, _ := y.Parse()
	if d <= c {
		t.Fatalf("restart on a used store: %s then %s", x, y)
	}
	if got := firstSequence(&store.State{NextID: 7}, time.Now()); got != 0 {
		t.Fatalf("a used store's sequence moved to %d", got)
	}
}
