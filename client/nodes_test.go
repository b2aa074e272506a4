package client_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/client/clienttest"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/tc/store/memstore"
)

// partitions starts n real coordinators, each on its own store and named
// p0, p1, …: each drives a partition of its own, as the nodes of a cluster
// whose every node is active.
func partitions(t *testing.T, n int) []*node {
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = newNode(t, "p"+string(rune('0'+i)), memstore.New())
		nodes[i].up()
	}
	return nodes
}

// beginOnEach begins transactions on conn until one was begun on each of
// the nodes named (links come up one by one after Dial), and returns
// them, one per node named.
func beginOnEach(t *testing.T, conn *client.Conn, names ...string) map[string]txc.XID {
	t.Helper()
	got := map[string]txc.XID{}
	waitUntil(t, "a transaction begun on each of "+strings.Join(names, ","), func() bool {
		xid, err := conn.Begin(t.Context(), "spread", 0)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		if node, _, _ := xid.Parse(); slices.Contains(names, node) {
			got[node] = xid
		}
		return len(got) == len(names)
	})
	return got
}

// TestListEveryNodeActive: a Conn over a list of three active nodes
// begins transactions on all three, and the requests about each
// transaction (Register with row locks, Report, LockQuery, Status,
// Commit) reach the node that began it: any other would not know it.
func TestListEveryNodeActive(t *testing.T) {
	nodes := partitions(t, 3)
	conn, _ := dialList(t, list(nodes...))
	ctx := t.Context()
	for node, xid := range beginOnEach(t, conn, "p0", "p1", "p2") {
		bid, err := conn.Register(ctx, client.Branch{XID: xid, Type: txc.BranchAT, ResourceID: "db",
			LockKeys: []txc.LockKey{{Table: "t", Rows: []string{node}}}})
		if err != nil {
			t.Fatalf("Register on %s: %v", xid, err)
		}
		if err := conn.Report(ctx, xid, bid, txc.BranchPhaseOneDone); err != nil {
			t.Fatalf("Report on %s: %v", xid, err)
		}
		if locked, _, err := conn.LockQuery(ctx, xid, "db", []txc.LockKey{{Table: "t", Rows: []string{node}}}); err != nil || locked {
			t.Fatalf("LockQuery of its own lock on %s: %v %v", xid, locked, err)
		}
		if st, err := conn.Status(ctx, xid); err != nil || st != txc.GlobalBegin {
			t.Fatalf("Status of %s: %v %v", xid, st, err)
		}
		if st, err := conn.Commit(ctx, xid); err != nil || !st.Valid() {
			t.Fatalf("Commit of %s: %v %v", xid, st, err)
		}
	}
}

// TestListNodeStopped: with one node stopped, Begins go on on the others;
// restarted on its address and store, the node's transactions are
// reached again.
func TestListNodeStopped(t *testing.T) {
	nodes := partitions(t, 3)
	conn, logs := dialList(t, list(nodes...))
	xids := beginOnEach(t, conn, "p0", "p1", "p2")
	nodes[0].down()
	waitLog(t, logs, "stream to coordinator lost", 1)
	for range 20 {
		xid, err := conn.Begin(t.Context(), "without p0", 0)
		if node, _, _ := xid.Parse(); err != nil || node == "p0" {
			t.Fatalf("Begin with p0 down: %s %v", xid, err)
		}
	}
	// Until its link is up again, the other nodes get the requests about
	// p0's transactions: one of them may have adopted the partition.
	nodes[0].up()
	waitLog(t, logs, "reconnected to coordinator", 1)
	if st, err := conn.Commit(t.Context(), xids["p0"]); err != nil || st != txc.GlobalCommitted {
		t.Fatalf("Commit of %s after p0 restarted: %v %v", xids["p0"], st, err)
	}
}

// notServing is a coordinator that accepts sessions and answers every
// request with NotServedHere, as a node that does not drive the partition
// asked about (nor, yet, its own); it counts the requests by kind.
func notServing(t *testing.T) (*clienttest.Server, *atomic.Int64, *atomic.Int64) {
	srv := clienttest.NewServer(t)
	var begins, others atomic.Int64
	srv.SetHook(func(m *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		switch {
		case m.GetHello() != nil:
			return nil, false
		case m.GetBegin() != nil || m.GetReserve() != nil:
			begins.Add(1)
		default:
			others.Add(1)
		}
		return clienttest.ErrorReply(txc.Errorf(txc.CodeNotServedHere, "clienttest: not served here")), true
	})
	return srv, &begins, &others
}

// TestNotServedHereMovesOn: Begins (plain and pipelined) that a node
// refuses with NotServedHere are taken by the next node; a request about
// a partition whose node is down, refused by every node that is up, fails
// after its ctx with an unavailable error that says no node serves the
// partition, having changed nothing; once the node is back it succeeds.
func TestNotServedHereMovesOn(t *testing.T) {
	ns, begins, others := notServing(t)
	a := partitions(t, 1)[0]
	conn, logs := dialList(t, ns.Addr+","+a.addr)
	xids := beginOnEach(t, conn, "p0")
	waitUntil(t, "a Begin refused by the node not serving", func() bool {
		xid, err := conn.Begin(t.Context(), "refused first", 0)
		if node, _, _ := xid.Parse(); err != nil || node != "p0" {
			t.Fatalf("Begin: %s %v", xid, err)
		}
		return begins.Load() > 0
	})
	for range 5 {
		xid, wait, err := conn.BeginPipelined(t.Context(), "pipelined", 0)
		if err != nil || wait(t.Context()) != nil || !strings.HasPrefix(string(xid), "p0:") {
			t.Fatalf("BeginPipelined: %s %v", xid, err)
		}
	}

	a.down()
	waitLog(t, logs, "stream to coordinator lost", 1)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := conn.Commit(ctx, xids["p0"])
	if !errors.Is(err, txc.ErrUnavailable) || !errors.Is(err, client.ErrNotSent) || !strings.Contains(err.Error(), `no node serves partition "p0"`) {
		t.Fatalf("Commit with p0 down: %v", err)
	}
	if others.Load() < 2 {
		t.Fatalf("the Commit was offered %d times to the node up, want it retried", others.Load())
	}
	a.up()
	if st, err := conn.Status(t.Context(), xids["p0"]); err != nil || st != txc.GlobalBegin {
		t.Fatalf("Status after p0 is back: %v %v (the refused Commit changed something?)", st, err)
	}
}

// TestServeEveryNode: an RM's resources are announced on its link to
// every node, so that a phase-2 command from each of them reaches the
// handler, also from a node that restarted after Serve.
func TestServeEveryNode(t *testing.T) {
	nodes := partitions(t, 3)
	rm, rmLogs := dialList(t, list(nodes...))
	got := make(chan txc.XID, 16)
	if err := rm.Serve([]string{"db"}, func(_ context.Context, cmd client.Command) (txc.BranchStatus, string) {
		got <- cmd.XID
		return txc.BranchRollbacked, ""
	}); err != nil {
		t.Fatal(err)
	}
	tm, tmLogs := dialList(t, list(nodes...))
	rollbackEach := func(xids map[string]txc.XID) {
		t.Helper()
		for _, xid := range xids {
			if _, err := tm.Register(t.Context(), client.Branch{XID: xid, Type: txc.BranchTCC, ResourceID: "db"}); err != nil {
				t.Fatalf("Register on %s: %v", xid, err)
			}
			if _, err := tm.Rollback(t.Context(), xid); err != nil {
				t.Fatalf("Rollback of %s: %v", xid, err)
			}
		}
		waitCommands(t, got, xids)
	}
	rollbackEach(beginOnEach(t, tm, "p0", "p1", "p2"))
	nodes[1].down()
	waitLog(t, tmLogs, "stream to coordinator lost", 1)
	waitLog(t, rmLogs, "stream to coordinator lost", 1)
	nodes[1].up()
	rollbackEach(beginOnEach(t, tm, "p1"))
}

// waitCommands waits until a command for each of xids was handled.
func waitCommands(t *testing.T, got <-chan txc.XID, xids map[string]txc.XID) {
	t.Helper()
	want := map[txc.XID]bool{}
	for _, x := range xids {
		want[x] = true
	}
	deadline := time.After(10 * time.Second)
	for len(want) > 0 {
		select {
		case x := <-got:
			delete(want, x)
		case <-deadline:
			t.Fatalf("no command for %v in 10 s", want)
		}
	}
}
