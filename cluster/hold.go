package cluster

import (
	"context"
	"errors"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"
)

// Who decides. The store's owner lock, not etcd, keeps two nodes from
// deciding for the same transactions: a node elected owner of a partition
// has the partition store's lock from the moment it loads the store until
// it closes it, and no other node can load the store before. etcd says
// who should try. So an owner whose lease lapses (etcd down, or this node
// cut off from it) keeps hosting — nobody else can take the store from it
// — and, as soon as it reaches etcd again, campaigns with a new lease: if
// another node was elected meanwhile, it steps down (closes the store)
// and that node takes over. A node that loses the store resigns at once,
// so that another node can take over.

// hold runs c.serve while this node holds c's election e with session s.
func (n *Node) hold(ctx context.Context, s *concurrency.Session, e *concurrency.Election, c *candidacy) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.serve(sctx) }()
	for {
		select {
		case err := <-done:
			n.stepDown(ctx, c, s, e, err)
			return
		case <-ctx.Done():
			n.leave(done, s, e)
			return
		case <-s.Done():
			if ctx.Err() != nil {
				// The session ends with ctx: the node is stopping.
				n.leave(done, s, e)
				return
			}
			c.log.Warn("cluster: lease lost while elected; confirming with a new lease")
			s2, e2, err := n.reconfirm(ctx, c, done)
			switch {
			case errors.Is(err, errServeEnded):
				n.stepDown(ctx, c, s2, e2, err)
				return
			case err != nil:
				cancel()
				<-done
				if ctx.Err() == nil {
					c.log.Warn("cluster: stepped down", "why", err)
				}
				n.stepDown(ctx, c, s2, e2, nil)
				return
			}
			s, e = s2, e2
		}
	}
}

// leave ends a term as the node stops or gives the election up: once
// serve has returned (its context is cancelled), it resigns and revokes
// the lease.
func (n *Node) leave(done <-chan error, s *concurrency.Session, e *concurrency.Election) {
	<-done
	n.resign(e)
	n.closeSession(s)
}

// stepDown gives the election up after serve returned (with err, when it
// failed) and, unless the node is stopping, waits a lease's time so that
// another candidate wins the next election.
func (n *Node) stepDown(ctx context.Context, c *candidacy, s *concurrency.Session, e *concurrency.Election, err error) {
	if e != nil {
		n.resign(e)
	}
	if s != nil {
		n.closeSession(s)
	}
	if ctx.Err() != nil {
		return
	}
	switch {
	case errors.Is(err, errHandBack):
		c.log.Info("cluster: elected while the partition's own node is back; resigned for it")
	case err != nil:
		c.log.Error("cluster: stopped serving; resigned so that another node takes over", "err", err)
	}
	pause(ctx, n.cfg.TTL)
}

var (
	errServeEnded   = errors.New("cluster: serving ended while the lease was being renewed")
	errOtherElected = errors.New("cluster: another node was elected while this node's lease had lapsed")
)

// reconfirm gets a new lease and campaigns with it, retrying while etcd
// cannot be reached (the node keeps serving meanwhile). It returns the new
// session and election when this node is still elected; errOtherElected
// when another node is; errServeEnded when serve returned meanwhile;
// ctx's error when the node stops.
func (n *Node) reconfirm(ctx context.Context, c *candidacy, done <-chan error) (*concurrency.Session, *concurrency.Election, error) {
	for {
		select {
		case err := <-done:
			return nil, nil, errors.Join(errServeEnded, err)
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		default:
		}
		s, err := c.lease(ctx)
		if err != nil {
			c.log.Warn("cluster: etcd unreachable; still serving (the store's owner lock keeps others out)", "err", err)
			pause(ctx, time.Second)
			continue
		}
		e := concurrency.NewElection(s, c.election)
		// Our old key, if etcd still has it, goes within one lease; a
		// campaign still waiting after two means another node is ahead.
		cctx, cancel := context.WithTimeout(ctx, 2*n.cfg.TTL)
		err = e.Campaign(cctx, n.cfg.Addr)
		cancel()
		if err == nil {
			c.log.Info("cluster: election confirmed with a new lease")
			return s, e, nil
		}
		n.closeSession(s)
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, nil, errOtherElected
		}
		pause(ctx, time.Second)
	}
}
