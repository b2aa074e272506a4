package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/server"
	"github.com/txcio/txc/tc/store/memstore"
)

// activeNode is a real coordinator in cluster mode on a loopback address:
// it serves only the partitions it is told to host, and answers
// NotServedHere about the others.
type activeNode struct {
	t    *testing.T
	srv  *server.Server
	addr string
	stop func()
}

func startActive(t *testing.T, name string, locks *memstore.Locks) *activeNode {
	t.Helper()
	n := &activeNode{t: t, addr: closedAddr(t)}
	srv, kill := serveOn(t, n.addr, server.Config{Core: tc.Config{Node: name}, Locks: locks})
	n.srv = srv
	n.stop = func() { kill(); n.stop = func() {} }
	t.Cleanup(func() { n.stop() })
	return n
}

// host makes the node host partition p from st (reopened: a store its
// previous host closed), until the node stops.
func (n *activeNode) host(p string, st *memstore.Store) {
	st.Reopen()
	go n.srv.Host(context.Background(), p, st) //nolint:errcheck // ends when the node stops
}

// TestAdoptedPartitionReached: two active nodes a and b; a stops, and its
// transactions are refused by b (NotServedHere) until b adopts a's
// partition: then the same Conn, over a static list, reaches them on b.
func TestAdoptedPartitionReached(t *testing.T) {
	locks := memstore.NewLocks()
	stA, stB := memstore.New(), memstore.New()
	a, b := startActive(t, "a", locks), startActive(t, "b", locks)
	a.host("a", stA)
	b.host("b", stB)
	conn, logs := dialList(t, a.addr+","+b.addr)
	xids := beginOnEach(t, conn, "a", "b")
	if _, err := conn.Register(t.Context(), client.Branch{XID: xids["a"], Type: txc.BranchAT, ResourceID: "db",
		LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"1"}}}}); err != nil {
		t.Fatal(err)
	}

	a.stop()
	waitLog(t, logs, "stream to coordinator lost", 1)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := conn.Status(ctx, xids["a"]); !errors.Is(err, txc.ErrUnavailable) || !strings.Contains(err.Error(), `no node serves partition "a"`) {
		t.Fatalf("Status of %s before b adopts a: %v", xids["a"], err)
	}
	b.host("a", stA)
	if st, err := conn.Commit(t.Context(), xids["a"]); err != nil || st != txc.GlobalCommitted {
		t.Fatalf("Commit of %s on b after it adopted a: %v %v", xids["a"], st, err)
	}
	if st, err := conn.Commit(t.Context(), xids["b"]); err != nil || st != txc.GlobalCommitted {
		t.Fatalf("Commit of %s: %v %v", xids["b"], st, err)
	}
}
