package etcdtest

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/txcio/txc/cluster"
)

// Client returns a client of the server, closed when the test ends.
func (s *Server) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.Endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcdtest: client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Member is a node's presence in etcd done by hand, in the layout of
// package cluster, for tests of what reads it (clients): on a lease of its
// own, the node's gRPC address registered under its name, its partition
// recorded, and a campaign with that address in the owner election of its
// own partition (and of those it adopts).
type Member struct {
	t       testing.TB
	cli     *clientv3.Client
	prefix  string
	addr    string
	session *concurrency.Session
}

// Join registers node with its gRPC address addr under prefix, records its
// partition and waits (up to 10 s) until it owns it. The membership ends
// with the test at the latest.
func Join(t testing.TB, cli *clientv3.Client, prefix, node, addr string) *Member {
	t.Helper()
	s, err := concurrency.NewSession(cli, concurrency.WithTTL(30))
	if err != nil {
		t.Fatalf("etcdtest: session: %v", err)
	}
	t.Cleanup(func() {
		// Not s.Close: with the server stopped it would wait out the TTL.
		s.Orphan()
		rctx, rcancel := context.WithTimeout(context.Background(), time.Second)
		defer rcancel()
		cli.Revoke(rctx, s.Lease())
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = cli.Txn(ctx).Then(clientv3.OpPut(cluster.NodeKey(prefix, node), addr, clientv3.WithLease(s.Lease())),
		clientv3.OpPut(cluster.PartitionsPrefix(prefix)+node, addr)).Commit()
	if err != nil {
		t.Fatalf("etcdtest: register %s: %v", node, err)
	}
	m := &Member{t: t, cli: cli, prefix: prefix, addr: addr, session: s}
	m.Adopt(node)
	return m
}

// Adopt campaigns for partition p (its own, or that of a node that is
// gone) and waits (up to 10 s) until the member owns it.
func (m *Member) Adopt(p string) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := concurrency.NewElection(m.session, cluster.OwnerElection(m.prefix, p)).Campaign(ctx, m.addr); err != nil {
		m.t.Fatalf("etcdtest: %s did not become the owner of partition %s in 10 s: %v", m.addr, p, err)
	}
}

// End ends the membership as a dying node's lease ends: its node key and
// election keys go at once; the partition's record stays.
func (m *Member) End() {
	m.t.Helper()
	if err := m.session.Close(); err != nil {
		m.t.Fatalf("etcdtest: end membership: %v", err)
	}
}
