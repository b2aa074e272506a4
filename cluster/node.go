package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/txcio/txc"
)

// DefaultTTL is the lease of a node's keys: a node that stops renewing it
// (killed, or cut off from etcd) loses its keys this long after its last
// renewal, and another node may then adopt its partition.
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
	// CA, when set, verifies etcd's certificate against a CA file that may
	// change (see Etcd.CA).
	CA *CAFile
	// Username and Password authenticate to an etcd with auth enabled;
	// the user's role needs readwrite on the prefix. The password is
	// never logged nor put into an error.
	Username, Password string
	// Logger receives the node's log; nil discards it.
	Logger *slog.Logger
	// Check tells whether the node can serve now (reach its store). A node whose own partition's Host failed leaves
	// the cluster (its node key goes, so that another node adopts its
	// partition) and registers again once Check returns nil, polled every
	// second. Nil: it registers again at once.
	Check func(ctx context.Context) error
	// Adoptable are partitions other than the node's own that the node
	// records (when no record exists) each time it registers, as every
	// node records its own: the live nodes then adopt each one while no
	// node of its name runs. These are partitions filled from an older
	// store layout (see sqlstore.MoveToPartitions). The node's own name is
	// ignored.
	Adoptable []string
}

// MaxAdoptable bounds Config.Adoptable: with the node's own records they
// go in one etcd transaction, and etcd allows 128 operations in one by
// default.
const MaxAdoptable = 100

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
	c.Adoptable = slices.Compact(slices.Sorted(slices.Values(c.Adoptable)))
	if len(c.Adoptable) > MaxAdoptable {
		return txc.Errorf(txc.CodeInvalidArgument, "cluster: %d adoptable partitions, at most %d: they are recorded in the node's one registration transaction", len(c.Adoptable), MaxAdoptable)
	}
	for _, p := range c.Adoptable {
		if !txc.ValidNodeName(p) {
			return txc.Errorf(txc.CodeInvalidArgument, "cluster: adoptable partition %q is not a node name", p)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Prefix = clean(c.Prefix)
	return nil
}

// etcd is how the node reaches etcd.
func (c *Config) etcd() Etcd {
	return Etcd{Endpoints: c.Endpoints, TLS: c.TLS, CA: c.CA, Username: c.Username, Password: c.Password}
}

// Node is one coordinator process's membership in the cluster.
type Node struct {
	cfg   Config
	etcd  Etcd
	cli   atomic.Pointer[clientv3.Client] // set by RunPartitions once etcd was reached
	log   *slog.Logger
	parts partState // the partitions hosted and their owners
	away  away      // out of the cluster while its own store fails
}

// New checks cfg; RunPartitions connects to etcd.
func New(cfg Config) (*Node, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return &Node{cfg: cfg, etcd: cfg.etcd(), log: cfg.Logger.With("node", cfg.Node)}, nil
}

// Close closes the etcd client. Call it after RunPartitions has returned.
func (n *Node) Close() error {
	if cli := n.cli.Load(); cli != nil {
		return cli.Close()
	}
	return nil
}

// join connects to etcd for the node's whole run; nil and why when it
// could not (see connect). The returned func is to be called on return.
func (n *Node) join(ctx context.Context) (stop func() bool, err error) {
	cli, err := n.connect(ctx)
	if cli == nil {
		return nil, err
	}
	n.cli.Store(cli)
	// A cancelled campaign resigns on the client's own context, which
	// waits for etcd; closing the client after a grace period unblocks it
	// when etcd is gone.
	return context.AfterFunc(ctx, func() { time.AfterFunc(2*n.cfg.TTL, func() { cli.Close() }) }), nil
}

// connect returns a client that reached etcd, retrying while etcd cannot
// be reached; nil and an error wrapping ErrEtcdAccess when etcd refused
// the node; nil and nil when ctx ended first.
func (n *Node) connect(ctx context.Context) (*clientv3.Client, error) {
	for attempt := 0; ; attempt++ {
		cli, err := n.etcd.Connect(ctx, clientv3.Config{DialTimeout: n.cfg.TTL,
			DialKeepAliveTime: n.cfg.TTL, DialKeepAliveTimeout: n.cfg.TTL, DialOptions: redial})
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
