package client

import (
	"context"
	"errors"
	"slices"
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

// Conn is a multiplexed connection to one coordinator. It is safe for
// concurrent use by any number of goroutines; a process needs only one.
type Conn struct {
	opts   options
	target string
	cc     *grpc.ClientConn
	rpc    txcv1.CoordinatorClient

	// ctx is the root of the Conn's own goroutines: derived from Dial's
	// context without its cancellation, cancelled by Close.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // sessions' reader and writer, the redialer, command handlers

	nextID atomic.Uint64
	node   atomic.Pointer[string]
	cur    atomic.Pointer[session] // fast path copy of sess

	mu        sync.Mutex
	sess      *session      // the live session, nil during an outage
	ready     chan struct{} // closed when sess becomes non-nil
	closed    bool
	resources []string // announced resources, in announcement order
	resVer    uint64   // bumped whenever resources grows

	hmu      sync.RWMutex
	work     chan commandJob // unbuffered: idle command workers receive here
	handlers map[string]CommandHandler

	closeOnce sync.Once
	closeErr  error
}

// Dial connects to the coordinator at target (see the package doc for its
// forms: "127.0.0.1:8091", a list "host:port,host:port", an etcd target
// "etcd://127.0.0.1:2379/txc", or any gRPC target), opens the Session stream
// and exchanges Hello. It retries with the configured backoff until ctx is
// done (a ctx without deadline: until DefaultDialTimeout has passed) or
// the WithDialTimeout bound passes, then fails with an error wrapping
// txc.ErrUnavailable that names the target. A
// Hello the coordinator refuses for another reason fails Dial at once with
// that typed error. The returned Conn lives until Close; ctx only bounds
// Dial.
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
	grpcTarget, err := clusterresolver.Canonical(target)
	if err == nil {
		err = o.checkEtcd(grpcTarget)
	}
	if err != nil {
		return nil, invalid("client: dial %q: %v", target, err)
	}
	cc, err := grpc.NewClient(grpcTarget, dialOptions(o)...)
	if err != nil {
		return nil, invalid("client: dial %q: %v", target, err)
	}
	root, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c := &Conn{
		opts:     o,
		target:   target,
		cc:       cc,
		rpc:      txcv1.NewCoordinatorClient(cc),
		ctx:      root,
		cancel:   cancel,
		ready:    make(chan struct{}),
		handlers: make(map[string]CommandHandler),
		work:     make(chan commandJob),
	}
	start := time.Now()
	for attempt := 0; ; attempt++ {
		s, node, ver, permanent, err := c.connect(ctx)
		if err == nil {
			c.install(s, node, ver)
			break
		}
		if permanent || ctx.Err() != nil {
			c.shutdown()
			if permanent {
				return nil, err
			}
			return nil, unavailable(err, "client: dial %s: no coordinator answered in %s", target, time.Since(start).Round(time.Millisecond))
		}
		c.opts.log.Debug("client: connect attempt failed", "target", target, "attempt", attempt, "err", err)
		if !sleep(ctx, c.opts.backoff.Delay(attempt)) {
			c.shutdown()
			return nil, unavailable(err, "client: dial %s: no coordinator answered in %s", target, time.Since(start).Round(time.Millisecond))
		}
	}
	c.wg.Add(2)
	go c.redial()
	go c.followChannel()
	return c, nil
}

// dialOptions are the gRPC options of a Conn's channel.
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
		// The list and etcd target forms, on this channel only (nothing is
		// registered globally); the etcd resolver logs to the Conn's logger.
		grpc.WithResolvers(clusterresolver.NewListBuilder(), clusterresolver.NewEtcdBuilder(o.etcdOptions()...)),
	}
	if o.tls != nil && o.tls.ServerName != "" {
		// The name to verify set by the caller wins over the per-address
		// names the list and etcd resolvers give (each node's own host).
		dopts = append(dopts, grpc.WithAuthority(o.tls.ServerName))
	}
	if o.token != "" {
		dopts = append(dopts, grpc.WithPerRPCCredentials(bearer(o.token)))
	}
	return append(dopts, o.dialOpts...)
}

// Node returns the name of the coordinator node serving the current (or
// last) stream, from its HelloReply.
func (c *Conn) Node() string {
	if p := c.node.Load(); p != nil {
		return *p
	}
	return ""
}

// Close fails every request in flight with an error wrapping both
// txc.ErrUnavailable and ErrClosed, stops reconnecting, waits for the
// Conn's goroutines (including running command handlers, whose context it
// cancels) and closes the gRPC connection. Close is idempotent; later
// calls return the first call's result.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.shutdown() })
	return c.closeErr
}

func (c *Conn) shutdown() error {
	c.mu.Lock()
	c.closed = true
	s := c.sess
	c.mu.Unlock()
	c.cancel()
	if s != nil {
		s.fail(ErrClosed)
	}
	c.wg.Wait()
	return c.cc.Close()
}

// connect opens a stream and exchanges Hello with every announced
// resource. The session's goroutines run from here on; the session is not
// yet used for requests (see install). permanent reports a refusal that
// retrying cannot fix.
func (c *Conn) connect(ctx context.Context) (s *session, node string, ver uint64, permanent bool, err error) {
	actx, cancel := context.WithTimeout(ctx, c.opts.connectTimeout)
	defer cancel()

	sctx, scancel := context.WithCancelCause(c.ctx)
	// Opening the stream may wait for the transport; bound that by actx
	// without tying the stream's life to it.
	stop := context.AfterFunc(actx, func() { scancel(context.Cause(actx)) })
	stream, err := c.rpc.Session(sctx)
	if !stop() || err != nil {
		scancel(err)
		if err == nil {
			err = context.Cause(actx)
		}
		return nil, "", 0, false, err
	}

	c.mu.Lock()
	res := slices.Clone(c.resources)
	ver = c.resVer
	c.mu.Unlock()

	s = newSession(c, stream, sctx, scancel)
	hello := helloMessage(c.opts.name, res)
	size, err := c.checkSize("hello", hello)
	if err != nil {
		s.fail(err)
		return nil, "", 0, true, err
	}
	cl := getCall()
	id := c.nextID.Add(1)
	hello.Id = id
	if !s.start(id, cl, hello, size) {
		putCall(cl)
		return nil, "", 0, false, s.cause()
	}
	var r result
	select {
	case r = <-cl.ch:
	case <-actx.Done():
		s.fail(context.Cause(actx))
		r = <-cl.ch
	}
	putCall(cl)
	if r.lost != nil {
		s.fail(r.lost)
		return nil, "", 0, false, r.lost
	}
	if err := txcv1.ErrorFromProto(r.reply.GetError()); err != nil {
		s.fail(err)
		return nil, "", 0, !errors.Is(err, txc.ErrUnavailable), err
	}
	hr := r.reply.GetHello()
	if hr == nil {
		err := malformed("hello")
		s.fail(err)
		return nil, "", 0, false, err
	}
	if hr.GetVersion() != protocolVersion {
		c.opts.log.Warn("client: coordinator speaks another protocol version", "version", hr.GetVersion(), "want", protocolVersion)
	}
	return s, hr.GetNode(), ver, false, nil
}

// install makes s the session requests use. If resources were announced
// after connect read them, they are announced on s now.
func (c *Conn) install(s *session, node string, ver uint64) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		s.fail(ErrClosed)
		return
	}
	if s.cause() != nil { // died between Hello and now
		c.mu.Unlock()
		return
	}
	c.sess = s
	c.cur.Store(s)
	close(c.ready)
	var extra []string
	if c.resVer != ver {
		extra = slices.Clone(c.resources)
	}
	c.mu.Unlock()
	c.node.Store(&node)
	if extra != nil {
		c.announce(s, extra)
	}
}

// redial watches the live session and, when it dies, reconnects with
// capped exponential backoff until Close.
func (c *Conn) redial() {
	defer c.wg.Done()
	for {
		c.mu.Lock()
		s := c.sess
		c.mu.Unlock()
		// s is nil only if a session died between Hello and install.
		if s != nil {
			select {
			case <-s.done:
			case <-c.ctx.Done():
				return
			}
			c.opts.log.Warn("client: stream to coordinator lost; reconnecting", "target", c.target, "err", s.cause())
		}
		for attempt := 0; ; attempt++ {
			if !sleep(c.ctx, c.opts.backoff.Delay(attempt)) {
				return
			}
			ns, node, ver, _, err := c.connect(c.ctx)
			if err == nil {
				c.install(ns, node, ver)
				c.opts.log.Info("client: reconnected to coordinator", "target", c.target, "node", node)
				break
			}
			if c.ctx.Err() != nil {
				return
			}
			c.opts.log.Warn("client: reconnect failed", "target", c.target, "attempt", attempt, "err", err)
		}
	}
}

// current returns the live session, waiting for a reconnect until ctx is
// done.
func (c *Conn) current(ctx context.Context, op string) (*session, error) {
	if s := c.cur.Load(); s != nil {
		return s, nil
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, notSent(ErrClosed, "client: %s", op)
		}
		s, ready := c.sess, c.ready
		c.mu.Unlock()
		if s != nil {
			return s, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, notSent(ctx.Err(), "client: %s: not sent: coordinator unreachable", op)
		case <-c.ctx.Done():
			return nil, notSent(ErrClosed, "client: %s", op)
		}
	}
}

// sessionLost is called by a dying session: requests stop using it.
func (c *Conn) sessionLost(s *session) {
	c.mu.Lock()
	if c.sess == s {
		c.sess = nil
		c.cur.Store(nil)
		c.ready = make(chan struct{})
	}
	c.mu.Unlock()
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
