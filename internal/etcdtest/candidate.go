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

// Candidate is a node's presence in etcd done by hand, in the layout of
// package cluster: on a session (a lease) of its own, the node's gRPC
// address registered under the node's name and a campaign with that
// address in the leader election.
type Candidate struct {
	t       testing.TB
	session *concurrency.Session
	leads   chan struct{}
}

// Campaign registers node with its gRPC address addr under prefix and
// makes it campaign. The candidacy ends with the test at the latest.
func Campaign(t testing.TB, cli *clientv3.Client, prefix, node, addr string) *Candidate {
	t.Helper()
	s, err := concurrency.NewSession(cli, concurrency.WithTTL(30))
	if err != nil {
		t.Fatalf("etcdtest: session: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		// Not s.Close: with the server stopped it would wait out the TTL.
		cancel()
		s.Orphan()
		rctx, rcancel := context.WithTimeout(context.Background(), time.Second)
		defer rcancel()
		cli.Revoke(rctx, s.Lease())
	})
	if _, err := cli.Put(ctx, cluster.NodeKey(prefix, node), addr, clientv3.WithLease(s.Lease())); err != nil {
		t.Fatalf("etcdtest: register %s: %v", node, err)
	}
	c := &Candidate{t: t, session: s, leads: make(chan struct{})}
	go func() {
		if concurrency.NewElection(s, cluster.ElectionPrefix(prefix)).Campaign(ctx, addr) == nil {
			close(c.leads)
		}
	}()
	return c
}

// WaitLeader waits (up to 10 s) until the candidate leads.
func (c *Candidate) WaitLeader() {
	c.t.Helper()
	select {
	case <-c.leads:
	case <-time.After(10 * time.Second):
		c.t.Fatal("etcdtest: the candidate did not lead in 10 s")
	}
}

// End ends the candidacy as a dying node's lease ends: its node key and
// election key go at once.
func (c *Candidate) End() {
	c.t.Helper()
	if err := c.session.Close(); err != nil {
		c.t.Fatalf("etcdtest: end candidacy: %v", err)
	}
}
