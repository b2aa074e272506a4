package cluster

import (
	"context"
	"log/slog"

	"go.etcd.io/etcd/client/v3/concurrency"
)

// candidacy is one election this node stands in and what it does while
// it wins it: the leader election in leader mode (Run), one election per
// partition in partition mode (RunPartitions). Both modes share the rules
// of lead.go through it.
type candidacy struct {
	election string // the election's prefix
	log      *slog.Logger
	// lease opens a lease to campaign with (and registers whatever else
	// goes under it).
	lease func(context.Context) (*concurrency.Session, error)
	// serve is what the node does while elected (see Lead and Host).
	serve func(context.Context) error
	// observe, when set, follows the election while the node campaigns.
	observe func(context.Context, *concurrency.Election)
}

// leaderCandidacy is the single election of leader mode.
func (n *Node) leaderCandidacy(lead Lead) *candidacy {
	return &candidacy{election: ElectionPrefix(n.cfg.Prefix), log: n.log, lease: n.session, observe: n.observe,
		serve: func(ctx context.Context) error {
			n.leading.Store(true)
			defer n.leading.Store(false)
			return lead(ctx)
		}}
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
	if c.observe != nil {
		octx, stopObserve := context.WithCancel(ctx)
		defer stopObserve()
		go c.observe(octx, e)
	}
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
