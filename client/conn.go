package client

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/txcio/txc"
	clusterresolver "github.com/txcio/txc/cluster/resolver"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// protocolVersion is the version of the Session protocol this client speaks.
const protocolVersion = 1

// Conn is a multiplexed connection to the nodes of a coordinator cluster
// (or to the one coordinator). It is safe for concurrent use by any number
// of goroutines; a process needs only one.
type Conn struct {
	opts     options
	target   string
	dialOpts []grpc.DialOption // of every link's gRPC channel

	// ctx is the root of the Conn's own goroutines: derived from Dial's
	// context without its cancellation, cancelled by Close.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // links, sessions' reader and writer, etcd follower, command handlers

	nextID atomic.Uint64
	node   atomic.Pointer[string]
	links  atomic.Pointer[[]*link]           // the current links; replaced whole under mu
	owners atomic.Pointer[map[string]string] // partition → owner's address, from etcd
	rr     atomic.Uint64                     // round robin of requests about no XID
	watch  *clusterresolver.Watcher          // nil unless the target is etcd://

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced when a link comes up or the links change
	closed    bool
	dialing   bool     // Dial has not returned yet
	dialErr   error    // a permanent refusal while dialing
	lastErr   error    // the last failed connection attempt, for Dial's error
	resources []string // announced resources, in announcement order
	resVer    uint64   // bumped whenever resources grows

	hmu      sync.RWMutex
	work     chan commandJob // unbuffered: idle command workers receive here
	handlers map[string]CommandHandler

	closeOnce sync.Once
	closeErr  error
}

// Dial connects to the coordinator nodes of target (see the package doc
// for its forms: "127.0.0.1:8091", a list "host:port,host:port", an etcd
// target "etcd://127.0.0.1:2379/txc", or any gRPC target): a link to each
// node, each opening its Session stream and exchanging Hello. Dial returns
// once one link's Hello succeeded. It retries with the configured backoff
// until ctx is done (a ctx without deadline: until DefaultDialTimeout has
// passed) or the WithDialTimeout bound passes, then fails with an error
// wrapping txc.ErrUnavailable that names the target. A Hello a
// coordinator refuses for another reason fails Dial at once with that
// typed error; so does etcd refusing this client with an etcd target (its
// TLS, user, password or permissions), with an error matching both
// txc.ErrUnavailable and cluster.ErrEtcdAccess, while an etcd that cannot
// be reached is waited for as a coordinator is. The returned Conn lives
// until Close; ctx only bounds Dial.
func Dial(ctx context.Context, target string, opts ...Option) (*Conn, error) {
	o := defaultOptions()
	for _, f := range opts {
		f(&o)
	}
	if _, hasDeadline := ctx.Deadline(); o.dialTimeout > 0 && (o.dialTimeoutSet || !hasDeadline) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.dialTimeout)
		defer cancel()
	}
	if o.token != "" && o.tls == nil {
		return nil, invalid("client: dial %q: a token is sent only over TLS (WithTLS)", target)
	}
	if len(o.name) > txc.MaxClientNameLen {
		return nil, invalid("client: dial %q: a client name of %d bytes, at most %d", target, len(o.name), txc.MaxClientNameLen)
	}
	t, err := clusterresolver.ParseTarget(target)
	if err == nil {
		err = o.prepareEtcd(t)
	}
	if err != nil {
		return nil, invalid("client: dial %q: %v", target, err)
	}
	root, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c := &Conn{opts: o, target: target, dialOpts: dialOptions(o), ctx: root, cancel: cancel,
		changed: make(chan struct{}), dialing: true,
		handlers: make(map[string]CommandHandler), work: make(chan commandJob)}
	c.links.Store(new([]*link))
	if err := c.startLinks(t); err != nil {
		c.shutdown()
		return nil, invalid("client: dial %q: %v", target, err)
	}
	start := time.Now()
	if err := c.waitUp(ctx); err != nil {
		c.shutdown()
		if c.dialErr != nil {
			return nil, c.dialErr
		}
		return nil, unavailable(c.dialCause(), "client: dial %s: no coordinator answered in %s", target, time.Since(start).Round(time.Millisecond))
	}
	return c, nil
}

// startLinks makes the links of a list or single target, or starts
// following etcd for an etcd target.
func (c *Conn) startLinks(t clusterresolver.Target) error {
	if t.Endpoints == nil {
		return c.setLinks(t.Addrs)
	}
	w, err := clusterresolver.Watch(t.Endpoints, t.Prefix, c.opts.etcdOptions()...)
	if err != nil {
		return err
	}
	c.watch = w
	c.wg.Add(1)
	go c.followEtcd()
	return nil
}

// dialOptions are the gRPC options of a Conn's channels.
func dialOptions(o options) []grpc.DialOption {
	creds := insecure.NewCredentials()
	if o.tls != nil {
		creds = credentials.NewTLS(o.tls)
	}
	dopts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		// txcv1.Codec: generated, reflection-free encoding of the protocol's
		// messages, on this connection only.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(o.maxMsg), grpc.MaxCallSendMsgSize(o.maxMsg),
			grpc.ForceCodecV2(txcv1.Codec{})),
		// Fixed windows: no bandwidth-estimation pings (see txcv1.StreamWindow).
		grpc.WithInitialWindowSize(txcv1.StreamWindow),
		grpc.WithInitialConnWindowSize(txcv1.ConnWindow),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: o.backoff.Min, Multiplier: 2, Jitter: 0.2, MaxDelay: o.backoff.Max},
			MinConnectTimeout: o.connectTimeout,
		}),
	}
	if o.tls != nil && o.tls.ServerName != "" {
		// The name to verify set by the caller wins over each link's own
		// host.
		dopts = append(dopts, grpc.WithAuthority(o.tls.ServerName))
	}
	if o.token != "" {
		dopts = append(dopts, grpc.WithPerRPCCredentials(bearer(o.token)))
	}
	return append(dopts, o.dialOpts...)
}

// Node returns the name of the coordinator node whose Hello came last
// (with one node: the node serving the current or last stream).
func (c *Conn) Node() string {
	if p := c.node.Load(); p != nil {
		return *p
	}
	return ""
}

// Close fails every request in flight with an error wrapping both
// txc.ErrUnavailable and ErrClosed, stops reconnecting, waits for the
// Conn's goroutines (including running command handlers, whose context it
// cancels) and closes the gRPC connections. Close is idempotent; later
// calls return the first call's result.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.shutdown() })
	return c.closeErr
}

func (c *Conn) shutdown() error {
	c.mu.Lock()
	c.closed = true
	links := c.linkSet()
	c.changedLocked()
	c.mu.Unlock()
	// The sessions fail with ErrClosed before the context is cancelled:
	// a reader seeing its stream cancelled first would fail the requests
	// in flight as a lost stream instead.
	for _, l := range links {
		if s := l.cur.Load(); s != nil {
			s.fail(ErrClosed)
		}
	}
	c.cancel()
	c.wg.Wait()
	if c.watch != nil {
		c.watch.Close()
	}
	var first error
	for _, l := range links {
		if err := l.cc.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func helloMessage(name string, resources []string) *txcv1.ClientMessage {
	return &txcv1.ClientMessage{Body: &txcv1.ClientMessage_Hello{Hello: &txcv1.Hello{
		Version: protocolVersion, ClientName: name, ResourceIds: resources,
	}}}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
