package cluster

import (
	"context"
	"errors"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// eachLease opens a lease after another and uses each until use returns,
// until ctx is done, retrying while etcd cannot be reached. Unless
// registered, an error wrapping ErrEtcdAccess before the first lease is
// returned: etcd refuses the node, which retrying does not mend. Retries
// are logged to log.
func (n *Node) eachLease(ctx context.Context, log *slog.Logger, open func(context.Context) (*concurrency.Session, error), registered bool, use func(*concurrency.Session)) error {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		s, err := open(ctx)
		if err != nil {
			if !registered && errors.Is(err, ErrEtcdAccess) {
				return err
			}
			if ctx.Err() == nil {
				log.Warn("cluster: etcd unreachable; retrying", "err", err, "attempt", attempt)
				pause(ctx, time.Second)
			}
			continue
		}
		attempt, registered = 0, true
		use(s)
	}
	return nil
}

// redial makes the client try etcd again at least every second after
// losing it (gRPC's default backs off up to two minutes): a node back in
// touch renews its registration before its old lease runs out, so that
// no other node takes its partition for a dead one's.
var redial = []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
	MinConnectTimeout: time.Second})}

// register opens a lease and registers the node's address under it, in
// one transaction with also.
func (n *Node) register(ctx context.Context, also ...clientv3.Op) (*concurrency.Session, error) {
	s, err := n.lease(ctx)
	if err != nil {
		return nil, err
	}
	gctx, cancel := context.WithTimeout(ctx, n.cfg.TTL)
	defer cancel()
	put := clientv3.OpPut(NodeKey(n.cfg.Prefix, n.cfg.Node), n.cfg.Addr, clientv3.WithLease(s.Lease()))
	if _, err := n.cli.Load().Txn(gctx).Then(append([]clientv3.Op{put}, also...)...).Commit(); err != nil {
		n.closeSession(s)
		return nil, n.etcd.Explain(err)
	}
	return s, nil
}

// lease opens a lease of the node's TTL, kept alive while ctx lasts.
func (n *Node) lease(ctx context.Context) (*concurrency.Session, error) {
	s, err := concurrency.NewSession(n.cli.Load(), concurrency.WithTTL(int(n.cfg.TTL/time.Second)), concurrency.WithContext(ctx))
	if err != nil {
		return nil, n.etcd.Explain(err)
	}
	return s, nil
}

// closeSession revokes s's lease (deleting the node's keys) within a
// bounded time.
func (n *Node) closeSession(s *concurrency.Session) {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.TTL)
	defer cancel()
	_, _ = n.cli.Load().Revoke(ctx, s.Lease())
	s.Orphan()
}

func (n *Node) resign(e *concurrency.Election) {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.TTL)
	defer cancel()
	if err := e.Resign(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		n.log.Warn("cluster: resign failed; the lease will expire", "err", err)
	}
}

// pause waits d or until ctx is done.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
