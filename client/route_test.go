package client

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/txcio/txc/client/clienttest"
	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/internal/etcdtest"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
)

// fakeLink is a link with no connection, up or down as said, for the
// routing decision alone.
func fakeLink(addr, node string, up bool) *link {
	l := &link{addr: addr}
	l.node.Store(&node)
	if up {
		l.cur.Store(&session{})
	}
	return l
}

// TestChoose: a request about a partition goes to the owner's link, else
// to the link of the node named after the partition, if up and not tried;
// otherwise, as a request about no partition, to the first link up and
// not tried from the start index on.
func TestChoose(t *testing.T) {
	a, b, c, d := fakeLink("h1:1", "a", true), fakeLink("h2:1", "b", true), fakeLink("h3:1", "c", true), fakeLink("h4:1", "d", false)
	links := []*link{a, b, c, d}
	for _, tc := range []struct {
		name     string
		p, owner string
		tried    []*link
		start    int
		want     *link
	}{
		{"node named after the partition", "b", "", nil, 0, b},
		{"owner from etcd", "b", "h3:1", nil, 0, c},
		{"owner without a link", "b", "h9:1", nil, 0, b},
		{"home tried", "b", "", []*link{b}, 0, a},
		{"home down", "d", "", nil, 1, b},
		{"owner down", "a", "h4:1", nil, 2, c},
		{"unknown partition", "z", "", nil, 2, c},
		{"no partition", "", "", nil, 5, b},
		{"no partition, wraps past a down link", "", "", []*link{a}, 3, b},
		{"every link up tried", "a", "", []*link{a, b, c}, 0, nil},
	} {
		if got := choose(links, tc.p, tc.owner, tc.tried, tc.start); got != tc.want {
			t.Errorf("%s: chose %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := choose(nil, "a", "", nil, 0); got != nil {
		t.Errorf("no links: chose %v", got)
	}
}

// TestEtcdOwnerRoutes: with nodes and the owner election of partition p in
// etcd, a request about p's transactions goes to the owner's node; when
// the owner's key goes (its lease ended), to the next candidate's.
func TestEtcdOwnerRoutes(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client(t)
	const prefix = "/owner-routes"
	srvs := []*clienttest.Server{clienttest.NewServer(t), clienttest.NewServer(t), clienttest.NewServer(t)}
	var mu sync.Mutex
	statusOn := map[string]int{} // server address → Status requests received
	for i, s := range srvs {
		s.SetHook(func(m *txcv1.ClientMessage) (*txcv1.Reply, bool) {
			if m.GetStatus() != nil {
				mu.Lock()
				statusOn[s.Addr]++
				mu.Unlock()
			}
			return nil, false
		})
		put(t, cli, cluster.NodeKey(prefix, "n"+string(rune('0'+i))), s.Addr)
	}
	first := put(t, cli, cluster.OwnerElection(prefix, "p")+"/1", srvs[1].Addr)
	put(t, cli, cluster.OwnerElection(prefix, "p")+"/2", srvs[2].Addr)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, "etcd://"+etcd.Endpoint+prefix, WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	routesTo := func(want *clienttest.Server) {
		t.Helper()
		waitFor(t, "requests about p to go to "+want.Addr, func() bool {
			l := choose(c.linkSet(), "p", c.owner("p"), nil, 0)
			return len(c.linkSet()) == 3 && l != nil && l.addr == want.Addr
		})
		mu.Lock()
		before := statusOn[want.Addr]
		mu.Unlock()
		if _, err := c.Status(t.Context(), "p:1"); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if statusOn[want.Addr] != before+1 {
			t.Fatalf("Status about p:1 did not reach %s: %v", want.Addr, statusOn)
		}
	}
	routesTo(srvs[1])
	if _, err := cli.Revoke(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	routesTo(srvs[2])
	if !slices.ContainsFunc(c.linkSet(), func(l *link) bool { return l.addr == srvs[1].Addr }) {
		t.Fatal("the link to the node whose owner key went was closed; its node key is still there")
	}
}

// put puts key = value under a lease of its own and returns the lease.
func put(t *testing.T, cli *clientv3.Client, key, value string) clientv3.LeaseID {
	t.Helper()
	lease, err := cli.Grant(t.Context(), 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(t.Context(), key, value, clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	return lease.ID
}
