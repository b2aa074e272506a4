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

// TestEtcdTarget: active nodes a and b registered in etcd as the cluster
// layout says, each the owner of its own partition; a client dialed with
// an etcd target (default prefix) begins transactions on both. a dies (its
// lease with it) and b adopts a's partition (wins its election, hosts its
// store): the same Conn commits the transaction begun on a, through b,
// with no new Dial.
func TestEtcdTarget(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client(t)
	locks := memstore.NewLocks()
	stA, stB := memstore.New(), memstore.New()
	a, b := startActive(t, "a", locks), startActive(t, "b", locks)
	a.host("a", stA)
	b.host("b", stB)
	ma, mb := etcdtest.Join(t, cli, "", "a", a.addr), etcdtest.Join(t, cli, "", "b", b.addr)
	conn, logs := dialList(t, "etcd://"+etcd.Endpoint)
	xids := beginOnEach(t, conn, "a", "b")

	a.stop()
	ma.End()
	waitLog(t, logs, "coordinator node left; closing its link", 1)
	mb.Adopt("a")
	b.host("a", stA)
	for _, xid := range xids {
		if st, err := conn.Commit(t.Context(), xid); err != nil || st != txc.GlobalCommitted {
			t.Fatalf("Commit of %s after b adopted a: %v %v", xid, st, err)
		}
	}
	roundTrip(t, conn)
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
	etcdtest.Join(t, etcd.Client(t), "", "a", a.addr)
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
