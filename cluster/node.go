package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

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
	// TLS, when set, is used to reach etcd (see Etcd.TLS).
	TLS *tls.Config
	// Username and Password authenticate to an etcd with auth enabled;
	// the user's role needs readwrite on the prefix. The password is
	// never logged nor put into an error.
	Username, Password string
	// Logger receives the node's log; nil discards it.
	Logger *slog.Logger
}

func (c *Config) check() error {
	if err := c.etcd().Check(); err != nil {
		return err
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

// etcd is how the node reaches etcd.
func (c *Config) etcd() Etcd {
	return Etcd{Endpoints: c.Endpoints, TLS: c.TLS, Username: c.Username, Password: c.Password}
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
	etcd    Etcd
	cli     atomic.Pointer[clientv3.Client] // set by Run once etcd was reached
	log     *slog.Logger
	leader  atomic.Pointer[string]
	leading atomic.Bool
}

// New checks cfg; Run connects to etcd.
func New(cfg Config) (*Node, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return &Node{cfg: cfg, etcd: cfg.etcd(), log: cfg.Logger.With("node", cfg.Node)}, nil
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
func (n *Node) Close() error {
	if cli := n.cli.Load(); cli != nil {
		return cli.Close()
	}
	return nil
}

// Run takes part in the cluster until ctx is done: it connects to etcd,
// registers the node, campaigns, runs lead while elected, and starts over
// when it loses its lease or lead fails. While etcd cannot be reached it
// retries. It returns an error wrapping ErrEtcdAccess, having done
// nothing, when etcd refuses the node (TLS, user, password or
// permissions) before it could register once: settings to fix, not an
// outage to wait out. On return the node has resigned and its keys are
// gone (when etcd could be reached).
func (n *Node) Run(ctx context.Context, lead Lead) error {
	cli, err := n.connect(ctx)
	if cli == nil {
		return err
	}
	n.cli.Store(cli)
	// A cancelled campaign resigns on the client's own context, which
	// waits for etcd; closing the client after a grace period unblocks it
	// when etcd is gone.
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(2*n.cfg.TTL, func() { cli.Close() }) })
	defer stop()
	registered := false
	for attempt := 0; ctx.Err() == nil; attempt++ {
		s, err := n.session(ctx)
		if err != nil {
			if !registered && errors.Is(err, ErrEtcdAccess) {
				return err
			}
			if ctx.Err() == nil {
				n.log.Warn("cluster: etcd unreachable; retrying", "err", err, "attempt", attempt)
				pause(ctx, time.Second)
			}
			continue
		}
		attempt, registered = 0, true
		n.term(ctx, s, lead)
	}
	return nil
}

// connect returns a client that reached etcd, retrying while etcd cannot
// be reached; nil and an error wrapping ErrEtcdAccess when etcd refused
// the node; nil and nil when ctx ended first.
func (n *Node) connect(ctx context.Context) (*clientv3.Client, error) {
	for attempt := 0; ; attempt++ {
		cli, err := n.etcd.Connect(ctx, clientv3.Config{DialTimeout: n.cfg.TTL,
			DialKeepAliveTime: n.cfg.TTL, DialKeepAliveTimeout: n.cfg.TTL})
		switch {
		case err == nil:
			return cli, nil
		case errors.Is(err, ErrEtcdAccess):
			return nil, err
		case ctx.Err() != nil:
			return nil, nil
		}
		n.log.Warn("cluster: etcd unreachable; retrying", "err", err, "attempt", attempt)
		pause(ctx, time.Second)
	}
}

// session opens a lease and registers the node's address under it.
func (n *Node) session(ctx context.Context) (*concurrency.Session, error) {
	gctx, cancel := context.WithTimeout(ctx, n.cfg.TTL)
	defer cancel()
	s, err := concurrency.NewSession(n.cli.Load(), concurrency.WithTTL(int(n.cfg.TTL/time.Second)), concurrency.WithContext(ctx))
	if err != nil {
		return nil, n.etcd.Explain(err)
	}
	if _, err := n.cli.Load().Put(gctx, NodeKey(n.cfg.Prefix, n.cfg.Node), n.cfg.Addr, clientv3.WithLease(s.Lease())); err != nil {
		n.closeSession(s)
		return nil, n.etcd.Explain(err)
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
