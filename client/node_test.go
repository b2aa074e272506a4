package client_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/internal/logtest"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/server"
	"github.com/txcio/txc/tc/store/memstore"
)

// node is a real single coordinator on a fixed loopback address that a
// test starts and kills: nothing listens on the address while the node is
// down. Nodes given the same store share their state, as a node restarted
// elsewhere on the same SQL store does (it answers for every XID of its
// store).
type node struct {
	t     *testing.T
	name  string
	addr  string
	store *memstore.Store
	tls   *tls.Config
	kill  func() // nil while down
}

func newNode(t *testing.T, name string, store *memstore.Store) *node {
	n := &node{t: t, name: name, addr: closedAddr(t), store: store}
	t.Cleanup(n.down)
	return n
}

// up starts serving on the node's address.
func (n *node) up() {
	n.t.Helper()
	n.store.Reopen()
	_, n.kill = serveOn(n.t, n.addr, server.Config{Core: tc.Config{Node: n.name}, Store: n.store, TLS: n.tls})
}

// serveOn runs a coordinator with cfg (short retries and ticks added) on
// addr until kill.
func serveOn(t *testing.T, addr string, cfg server.Config) (srv *server.Server, kill func()) {
	t.Helper()
	cfg.Core.RetryMin, cfg.Core.RetryMax, cfg.TickInterval = 20*time.Millisecond, 200*time.Millisecond, 10*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	return srv, func() { cancel(); <-done }
}

// down stops the node: its listener and every connection to it close.
func (n *node) down() {
	if n.kill != nil {
		n.kill()
		n.kill = nil
	}
}

// list is the comma-separated addresses of nodes.
func list(nodes ...*node) string {
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.addr
	}
	return strings.Join(addrs, ",")
}

// roundTrip begins and commits a transaction on conn.
func roundTrip(t *testing.T, conn *client.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	xid, err := conn.Begin(ctx, "cluster", 0)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if _, err := conn.Commit(ctx, xid); err != nil {
		t.Fatalf("Commit %s: %v", xid, err)
	}
}

// failover begins a transaction on conn, lets change replace the node
// serving it and checks that the same Conn, with no new Dial, commits that
// transaction and runs another through the new node, named next.
func failover(t *testing.T, conn *client.Conn, logs *logtest.Buffer, change func(), next string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	xid, err := conn.Begin(ctx, "failover", 0)
	if err != nil {
		t.Fatal(err)
	}
	lost := strings.Count(logs.String(), "stream to coordinator lost")
	change()
	// The request after the loss: one made before the Conn notices would
	// fail with an unknown outcome.
	waitLog(t, logs, "stream to coordinator lost", lost+1)
	if st, err := conn.Commit(ctx, xid); err != nil || st != txc.GlobalCommitted {
		t.Fatalf("Commit through the new node: %v %v", st, err)
	}
	if conn.Node() != next {
		t.Fatalf("connected to %q, want %s", conn.Node(), next)
	}
	roundTrip(t, conn)
}

// waitLog waits until buf holds want at least n times.
func waitLog(t *testing.T, buf *logtest.Buffer, want string, n int) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("log line %q %d times", want, n), func() bool { return strings.Count(buf.String(), want) >= n })
}

// waitUntil checks cond every 10 ms and fails the test when it is still
// false after 10 s (a failover waits for gRPC's reconnect backoff).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}
