// Package servertest runs a real coordinator inside a test process: the
// gRPC server of package server on a loopback port, on a memory store
// (nothing is synced, nothing survives the test), with short retry and
// tick intervals so phase 2 finishes quickly. For tests of packages built
// on the client (datasource, rm/tcc, saga…) that want real coordinator
// behaviour without starting a txc-server process.
package servertest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/txcio/txc/client"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/server"
	"github.com/txcio/txc/tc/store/memstore"
)

// Start runs a coordinator whose node name starts with prefix, and returns
// a Conn to it. Both are stopped when the test ends. The core's retries
// run between 20 and 200 ms.
func Start(t testing.TB, prefix string) *client.Conn {
	t.Helper()
	conn, _ := StartWithAdmin(t, prefix)
	return conn
}

// StartWithAdmin is Start that also returns the coordinator's admin HTTP
// handler (server.AdminHandler, without metrics): to read a transaction's
// state or resume one parked as needing manual action.
func StartWithAdmin(t testing.TB, prefix string) (*client.Conn, http.Handler) {
	t.Helper()
	addr, admin := serve(t, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	conn, err := client.Dial(ctx, addr, client.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, admin
}

// Addr runs a coordinator as Start does and returns its gRPC address, for
// code that dials it itself (a load generator, a second process).
func Addr(t testing.TB, prefix string) string {
	t.Helper()
	addr, _ := serve(t, prefix)
	return addr
}

// serve runs the coordinator until the test ends and returns its address
// and admin handler.
func serve(t testing.TB, prefix string) (string, http.Handler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	node := fmt.Sprintf("%s%d", prefix, rand.Uint32())
	srv, err := server.New(ctx, server.Config{Core: tc.Config{Node: node, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond},
		Store: memstore.New(), TickInterval: 10 * time.Millisecond})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	return lis.Addr().String(), srv.AdminHandler(nil)
}
