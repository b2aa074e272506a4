package cluster

import (
	"context"
	"log/slog"

	"go.etcd.io/etcd/client/v3/concurrency"
)

// candidacy is one partition election this node stands in (its own
// partition's, or that of a node that is gone) and what it does while it
// wins it: host the partition. The rules of hold.go apply to it.
type candidacy struct {
	election string // the election's prefix
	log      *slog.Logger
	// lease opens a lease to campaign with.
	lease func(context.Context) (*concurrency.Session, error)
	// serve is what the node does while elected (see Host).
	serve func(context.Context) error
}

// stand campaigns in c's election until ctx is done, serving while
// elected, with a new lease each time it loses its lease or stops
// serving. See eachLease for registered and the error.
func (n *Node) stand(ctx context.Context, c *candidacy, registered bool) error {
	return n.eachLease(ctx, c.log, c.lease, registered, func(s *concurrency.Session) { n.term(ctx, s, c) })
}

// term campaigns with s and serves when elected, until s or ctx ends or
// the node steps down.
func (n *Node) term(ctx context.Context, s *concurrency.Session, c *candidacy) {
	e := concurrency.NewElection(s, c.election)
	cctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.Ctx(), cancel)
	err := e.Campaign(cctx, n.cfg.Addr)
	stop()
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("cluster: campaign ended without winning; starting over", "err", err)
		}
		n.closeSession(s)
		return
	}
	c.log.Info("cluster: elected", "election", c.election, "addr", n.cfg.Addr)
	n.hold(ctx, s, e, c)
}
