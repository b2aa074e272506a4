package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/cluster"
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

// TestEtcdLinksFollowNodes: a Conn with an etcd target links to every
// node registered (Begins land on each), to a node that registers later,
// and drops the link to a node whose key is gone, even while that node
// still serves.
func TestEtcdLinksFollowNodes(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client(t)
	const prefix = "/shop/txc"
	nodes := partitions(t, 3)
	client.PutLeased(t, cli, cluster.NodeKey(prefix, "p0"), nodes[0].addr)
	p1 := client.PutLeased(t, cli, cluster.NodeKey(prefix, "p1"), nodes[1].addr)
	conn, logs := dialList(t, "etcd://"+etcd.Endpoint+prefix)
	beginOnEach(t, conn, "p0", "p1")
	client.PutLeased(t, cli, cluster.NodeKey(prefix, "p2"), nodes[2].addr)
	beginOnEach(t, conn, "p0", "p1", "p2")

	if _, err := cli.Revoke(t.Context(), p1); err != nil {
		t.Fatal(err)
	}
	waitLog(t, logs, "coordinator node left; closing its link", 1)
	for range 20 {
		xid, err := conn.Begin(t.Context(), "without p1", 0)
		if node, _, _ := xid.Parse(); err != nil || node == "p1" {
			t.Fatalf("Begin after p1 left: %s %v", xid, err)
		}
	}
}

// TestEtcdStaleOwnerMovesOn: etcd names as owner of p0's partition a node
// that does not serve it (its key is stale); a Register about a p0
// transaction goes there first, is refused with NotServedHere, and is
// taken by p0 itself.
func TestEtcdStaleOwnerMovesOn(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client(t)
	ns, begins, others := notServing(t)
	p0 := partitions(t, 1)[0]
	client.PutLeased(t, cli, cluster.NodeKey("", "p0"), p0.addr)
	client.PutLeased(t, cli, cluster.NodeKey("", "ns"), ns.Addr)
	client.PutLeased(t, cli, cluster.OwnerElection("", "p0")+"/1", ns.Addr)
	conn, _ := dialList(t, "etcd://"+etcd.Endpoint)
	var xid txc.XID
	waitUntil(t, "the link to the stale owner up (a Begin refused there)", func() bool {
		var err error
		if xid, err = conn.Begin(t.Context(), "tx", 0); err != nil {
			t.Fatal(err)
		}
		return begins.Load() > 0
	})
	if _, err := conn.Register(t.Context(), client.Branch{XID: xid, Type: txc.BranchTCC, ResourceID: "db"}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if others.Load() != 1 {
		t.Fatalf("the stale owner got %d requests besides Begins, want the Register once", others.Load())
	}
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
