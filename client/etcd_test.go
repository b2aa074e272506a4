package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"

	"github.com/txcio/txc/internal/etcdtest"
	"github.com/txcio/txc/tc/store/memstore"
)

// TestEtcdTarget: nodes registered in etcd as the cluster layout says, one
// leading and serving, one standing by without listening; a client dialed
// with an etcd target (default prefix) reaches the leader. The leader dies
// (its lease with it), the standby wins the election and starts serving on
// the same store: the same Conn commits the transaction it began on the
// old leader, with no new Dial.
func TestEtcdTarget(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client(t)
	st := memstore.New()
	a, b := newNode(t, "a", st), newNode(t, "b", st)
	ca := etcdtest.Campaign(t, cli, "", "a", a.addr)
	ca.WaitLeader()
	a.up()
	cb := etcdtest.Campaign(t, cli, "", "b", b.addr)

	conn, logs := dialList(t, "etcd://"+etcd.Endpoint)
	if conn.Node() != "a" {
		t.Fatalf("connected to %q, want the leader a", conn.Node())
	}
	failover(t, conn, logs, func() {
		a.down()
		ca.End()
		cb.WaitLeader()
		b.up()
	}, "b")
}

// TestEtcdTargetFollowsLeaderKey: when etcd names another leader the
// client moves to it, even while the old one still accepts connections.
func TestEtcdTargetFollowsLeaderKey(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client(t)
	a, b := newNode(t, "a", memstore.New()), newNode(t, "b", memstore.New())
	a.up()
	b.up()
	ca := etcdtest.Campaign(t, cli, "/shop/txc", "a", a.addr)
	ca.WaitLeader()
	cb := etcdtest.Campaign(t, cli, "/shop/txc", "b", b.addr)

	conn, _ := dialList(t, "etcd://"+etcd.Endpoint+"/shop/txc")
	if conn.Node() != "a" {
		t.Fatalf("connected to %q, want the leader a", conn.Node())
	}
	ca.End()
	cb.WaitLeader()
	waitUntil(t, "the client to move to b", func() bool { return conn.Node() == "b" })
	roundTrip(t, conn)
}

// TestEtcdStoppedKeepsAddresses: with etcd stopped, a client keeps
// working, and reconnects with the last addresses it knew after its
// coordinator restarts.
func TestEtcdStoppedKeepsAddresses(t *testing.T) {
	etcd := etcdtest.Start(t)
	a := newNode(t, "a", memstore.New())
	etcdtest.Campaign(t, etcd.Client(t), "", "a", a.addr).WaitLeader()
	a.up()
	conn, logs := dialList(t, "etcd://"+etcd.Endpoint)

	etcd.Stop()
	waitLog(t, logs, "etcd unreachable; keeping the last known coordinator addresses", 1)
	roundTrip(t, conn)
	a.down()
	waitLog(t, logs, "stream to coordinator lost", 1)
	a.up()
	roundTrip(t, conn)
}

// TestEtcdTargetNoNode: Dial through an etcd where no node registered
// gives up with an unavailable error that says so.
func TestEtcdTargetNoNode(t *testing.T) {
	etcd := etcdtest.Start(t)
	_, err := client.Dial(context.Background(), "etcd://"+etcd.Endpoint, client.WithDialTimeout(time.Second))
	if !errors.Is(err, txc.ErrUnavailable) || !strings.Contains(err.Error(), "no txc-server node registered in etcd") {
		t.Fatalf("Dial: %v", err)
	}
}
