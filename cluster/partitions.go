package cluster

import (
	"context"
	"errors"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Host is what a node does while it owns partition p: open p's store
// (waiting for the store's owner lock), serve p's transactions, return
// once it has stopped deciding for p (store closed). Its ctx is cancelled
// when the node must give p up. A Host that returns by itself (its store
// failed) makes the node resign p, pause a lease's time, and campaign
// again.
type Host func(ctx context.Context, partition string) error

// RunPartitions takes part in the cluster as an active node until ctx is
// done: it registers the node, records its partition, campaigns for it and
// hosts it while elected; it adopts (campaigns for, and hosts while
// elected) every recorded partition whose node is gone, and hands it back
// when that node registers again. It retries while etcd cannot be reached
// and returns an error wrapping ErrEtcdAccess, having done nothing, when
// etcd refuses the node (TLS, user, password or permissions) before it
// could register once: settings to fix, not an outage to wait out. On
// return every host has returned, the node has resigned every partition
// and its keys are gone (when etcd could be reached).
func (n *Node) RunPartitions(ctx context.Context, host Host) error {
	stop, err := n.join(ctx)
	if stop == nil {
		return err
	}
	defer stop()
	ss := newSeats(ctx, n.cfg.Node, func(ctx context.Context, p string) { _ = n.stand(ctx, n.partitionCandidacy(p, host), true) })
	var following sync.WaitGroup
	var once sync.Once
	err = n.eachLease(ctx, n.log, n.registerPartition, false, func(s *concurrency.Session) {
		once.Do(func() {
			ss.see(nil) // the own partition, at once
			following.Go(func() { n.follow(ctx, n.seen(ss)) })
		})
		n.registered(ctx, s, ss)
		if ctx.Err() == nil {
			// Lost (etcd gone, or this node cut off from it): revoking the
			// lease once etcd is back would drop the node's key and let
			// others adopt its partition; the next lease takes the key over.
			s.Orphan()
			return
		}
		following.Wait()
		ss.wait()
		n.closeSession(s)
	})
	following.Wait()
	ss.wait()
	return err
}

// registered waits while the node's registration s lasts, marking the node
// steady once it has lasted a lease's time.
func (n *Node) registered(ctx context.Context, s *concurrency.Session, ss *seats) {
	defer ss.setSteady(false)
	t := time.NewTimer(n.cfg.TTL)
	defer t.Stop()
	select {
	case <-t.C:
		ss.setSteady(true)
	case <-s.Done():
		return
	case <-ctx.Done():
		return
	}
	select {
	case <-s.Done():
	case <-ctx.Done():
	}
}

// registerPartition opens the node's lease, registers its address under it
// and records its partition (no lease: the record outlives the node, so
// that the others adopt the partition while the node is gone), and the
// adoptable partitions not recorded yet.
func (n *Node) registerPartition(ctx context.Context) (*concurrency.Session, error) {
	if err := n.comeBack(ctx); err != nil {
		return nil, err
	}
	ops := []clientv3.Op{clientv3.OpPut(PartitionsPrefix(n.cfg.Prefix)+n.cfg.Node, n.cfg.Addr)}
	for _, p := range n.cfg.Adoptable {
		if key := PartitionsPrefix(n.cfg.Prefix) + p; p != n.cfg.Node {
			ops = append(ops, clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)},
				[]clientv3.Op{clientv3.OpPut(key, "")}, nil))
		}
	}
	s, err := n.register(ctx, ops...)
	if err == nil {
		n.away.registration(s)
	}
	return s, err
}

// seen returns what follow calls with each new view: publish the owners,
// stand for the wanted partitions.
func (n *Node) seen(ss *seats) func(*view) {
	return func(v *view) {
		n.parts.setView(v)
		ss.see(v.orphans(n.cfg.Node))
	}
}

// errHandBack is why a node that won another node's partition while that
// node is back gives it up without hosting it.
var errHandBack = errors.New("cluster: the partition's own node is back")

// errAway is why a node out of the cluster (see away.go) does not host
// its own partition when it wins its election.
var errAway = errors.New("cluster: this node cannot serve now; another node drives its partition")

// partitionCandidacy is the election of partition p: the node's own, or
// one it adopts while p's node is gone.
func (n *Node) partitionCandidacy(p string, host Host) *candidacy {
	log := n.log.With("partition", p)
	return &candidacy{election: OwnerElection(n.cfg.Prefix, p), log: log, lease: n.lease,
		serve: func(ctx context.Context) error {
			own := p == n.cfg.Node
			switch {
			case !own && n.nodeBack(ctx, p):
				return errHandBack
			case own && n.isAway():
				return errAway
			}
			n.parts.hosting(p, true)
			log.Info("cluster: hosting the partition")
			err := host(ctx, p)
			n.parts.hosting(p, false)
			log.Info("cluster: stopped hosting the partition", "err", err)
			if own && err != nil && ctx.Err() == nil {
				n.stepOut()
			}
			return err
		}}
}

// nodeBack reports whether node's key is present, asking etcd: a node
// that wins a partition its node has come back for steps down at once,
// before it opens the store. Not knowing counts as present: the node
// campaigns again after a pause.
func (n *Node) nodeBack(ctx context.Context, node string) bool {
	gctx, cancel := context.WithTimeout(ctx, n.cfg.TTL)
	defer cancel()
	resp, err := n.cli.Load().Get(gctx, NodeKey(n.cfg.Prefix, node), clientv3.WithCountOnly())
	return err != nil || resp.Count > 0
}
