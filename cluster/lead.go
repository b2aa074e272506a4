package cluster

import (
	"context"
	"errors"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"
)

// Who decides. The store's owner lock, not etcd, keeps two nodes from
// deciding for the same transactions: a leader has the lock from the
// moment it loads the store until it closes it, and no other node can load
// the store before. etcd says who should try. So a leader whose lease
// lapses (etcd down, or this node cut off from it) keeps serving — nobody
// else can take the store from it — and, as soon as it reaches etcd again,
// campaigns with a new lease: if another node was elected meanwhile, it
// steps down (closes the store) and that node takes over. A leader that
// loses its store resigns at once, so that another node can take over.

// lead runs fn while this node leads with session s.
func (n *Node) lead(ctx context.Context, s *concurrency.Session, e *concurrency.Election, fn Lead) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(lctx) }()
	n.leading.Store(true)
	defer n.leading.Store(false)
	for {
		select {
		case err := <-done:
			n.stepDown(ctx, s, e, err)
			return
		case <-ctx.Done():
			<-done
			n.resign(e)
			n.closeSession(s)
			return
		case <-s.Done():
			n.log.Warn("cluster: lease lost while leading; confirming leadership with a new lease")
			s2, e2, err := n.reconfirm(ctx, done)
			switch {
			case errors.Is(err, errLeadEnded):
				n.stepDown(ctx, s2, e2, err)
				return
			case err != nil:
				cancel()
				<-done
				n.log.Warn("cluster: stepped down", "why", err)
				n.stepDown(ctx, s2, e2, nil)
				return
			}
			s, e = s2, e2
		}
	}
}

// stepDown gives up leadership after fn returned (with err, when it
// failed) and, unless the node is stopping, waits a lease's time so that
// another candidate wins the next election.
func (n *Node) stepDown(ctx context.Context, s *concurrency.Session, e *concurrency.Election, err error) {
	if e != nil {
		n.resign(e)
	}
	if s != nil {
		n.closeSession(s)
	}
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		n.log.Error("cluster: stopped leading; resigned so that another node takes over", "err", err)
	}
	pause(ctx, n.cfg.TTL)
}

var (
	errLeadEnded  = errors.New("cluster: leading ended while the lease was being renewed")
	errOtherLeads = errors.New("cluster: another node was elected while this node's lease had lapsed")
)

// reconfirm gets a new lease and campaigns with it, retrying while etcd
// cannot be reached (the node keeps leading meanwhile). It returns the new
// session and election when this node is still the leader; errOtherLeads
// when another node leads; errLeadEnded (with whatever session it holds)
// when fn returned meanwhile; ctx's error when the node stops.
func (n *Node) reconfirm(ctx context.Context, done <-chan error) (*concurrency.Session, *concurrency.Election, error) {
	for {
		select {
		case err := <-done:
			return nil, nil, errors.Join(errLeadEnded, err)
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		default:
		}
		s, err := n.session(ctx)
		if err != nil {
			n.log.Warn("cluster: etcd unreachable; still leading (the store's owner lock keeps others out)", "err", err)
			pause(ctx, time.Second)
			continue
		}
		e := concurrency.NewElection(s, ElectionPrefix(n.cfg.Prefix))
		// Our old key, if etcd still has it, goes within one lease; a
		// campaign still waiting after two means another node is ahead.
		cctx, cancel := context.WithTimeout(ctx, 2*n.cfg.TTL)
		err = e.Campaign(cctx, n.cfg.Addr)
		cancel()
		if err == nil {
			n.log.Info("cluster: leadership confirmed with a new lease")
			return s, e, nil
		}
		n.closeSession(s)
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, nil, errOtherLeads
		}
		pause(ctx, time.Second)
	}
}
