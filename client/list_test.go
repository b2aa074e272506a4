package client_test

import (
	"context"
	"errors"
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
// connections (a dead node, a standby), Dial reaches the one that serves.
func TestDialListFirstDead(t *testing.T) {
	st := memstore.New()
	dead, standby, leader := newNode(t, "dead", st), newNode(t, "standby", st), newNode(t, "leader", st)
	leader.up()
	conn, _ := dialList(t, list(dead, standby, leader))
	if conn.Node() != "leader" {
		t.Fatalf("connected to %q, want leader", conn.Node())
	}
	roundTrip(t, conn)
}

// TestListFollowsLeader: the leader of a static list dies and another
// node starts serving on the same store; the same Conn's next requests
// reach it without a new Dial, including the Commit of a transaction begun
// on the old leader. Then that one dies and the first address serves
// again: a pass over the list after a failure starts from the top, never
// stuck on the address that went away.
func TestListFollowsLeader(t *testing.T) {
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

// TestDialListInvalid: a list with an entry that is not host:port fails
// Dial at once with an invalid-argument error naming the entry.
func TestDialListInvalid(t *testing.T) {
	for _, target := range []string{"127.0.0.1:8091,,127.0.0.1:8092", "127.0.0.1:8091,tc2", "127.0.0.1:8091,tc2:"} {
		_, err := client.Dial(context.Background(), target, client.WithDialTimeout(time.Second))
		if !errors.Is(err, txc.ErrInvalidArgument) {
			t.Errorf("Dial %q: %v, want ErrInvalidArgument", target, err)
		}
	}
}
