package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/txcio/txc"
)

// DefaultTTL is the lease of a node's keys: a node that stops renewing it
// (killed, or cut off from etcd) loses its keys this long after its last
// renewal, and a standby may then win the election.
const DefaultTTL = 5 * time.Second

// Config says how a node takes part in the cluster.
type Config struct {
	// Endpoints are etcd's client addresses (host:port or URLs). Required.
	Endpoints []string
	// Prefix is the root of the cluster's keys; default DefaultPrefix.
	Prefix string
	// Node is this node's name (see txc.ValidNodeName). Required.
	Node string
	// Addr is the gRPC address clients reach this node at. Required.
	Addr string
	// TTL is the lease of the node's keys, whole seconds, at least 2s;
	// default DefaultTTL.
	TTL time.Duration
	// TLS, when set, is used to reach etcd.
	TLS *tls.Config
	// Logger receives the node's log; nil discards it.
	Logger *slog.Logger
}

func (c *Config) check() error {
	if len(c.Endpoints) == 0 {
		return txc.Errorf(txc.CodeInvalidArgument, "cluster: no etcd endpoints")
	}
	if !txc.ValidNodeName(c.Node) {
		return txc.Errorf(txc.CodeInvalidArgument, "cluster: node name %q must be 1..63 characters of [A-Za-z0-9._-]", c.Node)
	}
	if c.Addr == "" || strings.ContainsAny(c.Addr, " \n") {
		return txc.Errorf(txc.CodeInvalidArgument, "cluster: node %s needs the gRPC address clients reach it at", c.Node)
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.TTL < 2*time.Second || c.TTL%time.Second != 0 {
		return txc.Errorf(txc.CodeInvalidArgument, "cluster: lease TTL %v must be whole seconds, at least 2s", c.TTL)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Prefix = clean(c.Prefix)
	return nil
}

// Lead is what a node does while it is the leader. Its context is
// cancelled when the node must step down; Lead returns once it has
// stopped deciding (its store closed). A Lead that returns by itself (its
// store failed) makes the node resign, so that another node can take
// over, and campaign again after a pause.
type Lead func(ctx context.Context) error

// Node is one coordinator process's membership in the cluster.
type Node struct {
	cfg     Config
	cli     *clientv3.Client
	log     *slog.Logger
	leader  atomic.Pointer[string]
	leading atomic.Bool
}

// New connects to etcd (lazily: an unreachable etcd is retried by Run).
func New(cfg Config) (*Node, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: cfg.Endpoints, DialTimeout: cfg.TTL, TLS: cfg.TLS,
		DialKeepAliveTime: cfg.TTL, DialKeepAliveTimeout: cfg.TTL,
		Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: etcd client: %w", err)
	}
	return &Node{cfg: cfg, cli: cli, log: cfg.Logger.With("node", cfg.Node)}, nil
}

// Leading reports whether this node is the leader now.
func (n *Node) Leading() bool { return n.leading.Load() }

// Leader returns the gRPC address of the leader as last seen in etcd, or
// "" when none was seen.
func (n *Node) Leader() string {
	if p := n.leader.Load(); p != nil {
		return *p
	}
	return ""
}

// Close closes the etcd client. Call it after Run has returned.
func (n *Node) Close() error { return n.cli.Close() }

// Run takes part in the cluster until ctx is done: it registers the node,
// campaigns, runs lead while elected, and starts over when it loses its
// lease or lead fails. On return the node has resigned and its keys are
// gone (when etcd could be reached).
func (n *Node) Run(ctx context.Context, lead Lead) error {
	// A cancelled campaign resigns on the client's own context, which
	// waits for etcd; closing the client after a grace period unblocks it
	// when etcd is gone.
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(2*n.cfg.TTL, func() { n.cli.Close() }) })
	defer stop()
	for attempt := 0; ctx.Err() == nil; attempt++ {
		s, err := n.session(ctx)
		if err != nil {
			if ctx.Err() == nil {
				n.log.Warn("cluster: etcd unreachable; retrying", "err", err, "attempt", attempt)
				pause(ctx, time.Second)
			}
			continue
		}
		attempt = 0
		n.term(ctx, s, lead)
	}
	return nil
}

// session opens a lease and registers the node's address under it.
func (n *Node) session(ctx context.Context) (*concurrency.Session, error) {
	gctx, cancel := context.WithTimeout(ctx, n.cfg.TTL)
	defer cancel()
	s, err := concurrency.NewSession(n.cli, concurrency.WithTTL(int(n.cfg.TTL/time.Second)), concurrency.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	if _, err := n.cli.Put(gctx, NodeKey(n.cfg.Prefix, n.cfg.Node), n.cfg.Addr, clientv3.WithLease(s.Lease())); err != nil {
		n.closeSession(s)
		return nil, err
	}
	return s, nil
}

// term campaigns with s and leads when elected, until s or ctx ends or
// the node steps down.
func (n *Node) term(ctx context.Context, s *concurrency.Session, lead Lead) {
	e := concurrency.NewElection(s, ElectionPrefix(n.cfg.Prefix))
	octx, stopObserve := context.WithCancel(ctx)
	defer stopObserve()
	go n.observe(octx, e)
	cctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.Ctx(), cancel)
	err := e.Campaign(cctx, n.cfg.Addr)
	stop()
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			n.log.Warn("cluster: campaign ended without winning; starting over", "err", err)
		}
		n.closeSession(s)
		return
	}
	n.log.Info("cluster: elected leader", "addr", n.cfg.Addr)
	n.lead(ctx, s, e, lead)
}

// observe keeps n.leader up to date while ctx lasts.
func (n *Node) observe(ctx context.Context, e *concurrency.Election) {
	for r := range e.Observe(ctx) {
		if len(r.Kvs) > 0 {
			v := string(r.Kvs[0].Value)
			n.leader.Store(&v)
		}
	}
}

// closeSession revokes s's lease (deleting the node's keys) within a
// bounded time.
func (n *Node) closeSession(s *concurrency.Session) {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.TTL)
	defer cancel()
	_, _ = n.cli.Revoke(ctx, s.Lease())
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
