package client_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/internal/logtest"
	"github.com/txcio/txc/tc/store/memstore"
)

// dialList dials target with short backoffs and a log the test reads.
func dialList(t *testing.T, target string, opts ...client.Option) (*client.Conn, *logtest.Buffer) {
	t.Helper()
	var buf logtest.Buffer
	opts = append([]client.Option{client.WithBackoff(10*time.Millisecond, 100*time.Millisecond), client.WithLogger(buf.Logger())}, opts...)
	conn, err := client.Dial(context.Background(), target, opts...)
	if err != nil {
		t.Fatalf("Dial %s: %v", target, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, &buf
}

// TestDialListFirstDead: with a list whose first addresses refuse
// connections (nodes dead or not started yet), Dial reaches the one that
// serves.
func TestDialListFirstDead(t *testing.T) {
	st := memstore.New()
	dead, starting, live := newNode(t, "dead", st), newNode(t, "starting", st), newNode(t, "live", st)
	live.up()
	conn, _ := dialList(t, list(dead, starting, live))
	if conn.Node() != "live" {
		t.Fatalf("connected to %q, want live", conn.Node())
	}
	roundTrip(t, conn)
}

// TestDialListFirstHung: a first address that accepts TCP connections but
// never answers (a frozen process) does not hold the client up: pick_first
// tries the next address after a short delay instead of waiting out the
// connect timeout.
func TestDialListFirstHung(t *testing.T) {
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	live := newNode(t, "live", memstore.New())
	live.up()
	start := time.Now()
	conn, _ := dialList(t, hung.Addr().String()+","+live.addr, client.WithConnectTimeout(time.Minute), client.WithDialTimeout(time.Minute))
	if took := time.Since(start); conn.Node() != "live" || took > 5*time.Second {
		t.Fatalf("connected to %q after %v", conn.Node(), took)
	}
	roundTrip(t, conn)
}

// TestListFollowsMovedNode: the only node serving of a static list dies
// and a node starts serving its store on another address of the list
// (under another name: it answers for the store's XIDs all the same); the
// same Conn's next requests reach it without a new Dial, including the
// Commit of a transaction begun before. Then that one dies and the first
// address serves again: a pass over the list after a failure starts from
// the top, never stuck on the address that went away.
func TestListFollowsMovedNode(t *testing.T) {
	st := memstore.New()
	a, b, c := newNode(t, "a", st), newNode(t, "b", st), newNode(t, "c", st)
	a.up()
	conn, logs := dialList(t, list(a, b, c))
	failover(t, conn, logs, func() { a.down(); c.up() }, "c")

	failed := strings.Count(logs.String(), "reconnect failed")
	c.down()
	waitLog(t, logs, "stream to coordinator lost", 2)
	waitLog(t, logs, "reconnect failed", failed+1)
	a.up()
	roundTrip(t, conn)
	if conn.Node() != "a" {
		t.Fatalf("connected to %q, want a", conn.Node())
	}
}

// TestDialListInvalid: a list with an entry that is not host:port, or an
// etcd target without endpoints, fails Dial at once with an
// invalid-argument error.
func TestDialListInvalid(t *testing.T) {
	for _, target := range []string{"127.0.0.1:8091,,127.0.0.1:8092", "127.0.0.1:8091,tc2", "127.0.0.1:8091,tc2:", "etcd:///txc", "etcd://127.0.0.1:2379,e2/txc"} {
		_, err := client.Dial(context.Background(), target, client.WithDialTimeout(time.Second))
		if !errors.Is(err, txc.ErrInvalidArgument) {
			t.Errorf("Dial %q: %v, want ErrInvalidArgument", target, err)
		}
	}
}
