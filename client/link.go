package client

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"

	"github.com/txcio/txc"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"google.golang.org/grpc"
)

// errLinkGone ends the session of a node that left the cluster (its key in
// etcd is gone).
var errLinkGone = errors.New("client: the node left the cluster")

// link is the Conn's connection to one node (one gRPC target): a gRPC
// ClientConn and, while it is up, one Session stream over it. Each link
// redials on its own (see run) when its stream breaks.
type link struct {
	c      *Conn
	addr   string // the gRPC target
	cc     *grpc.ClientConn
	rpc    txcv1.CoordinatorClient
	ctx    context.Context // cancelled when the link or the Conn closes
	cancel context.CancelFunc
	node   atomic.Pointer[string]  // from the last HelloReply
	cur    atomic.Pointer[session] // the live session, nil while down
	closed bool                    // guarded by c.mu
}

// newLink makes the link to addr; start runs it.
func (c *Conn) newLink(addr string) (*link, error) {
	cc, err := grpc.NewClient(addr, c.dialOpts...)
	if err != nil {
		return nil, invalid("client: dial %q: %v", addr, err)
	}
	ctx, cancel := context.WithCancel(c.ctx)
	return &link{c: c, addr: addr, cc: cc, rpc: txcv1.NewCoordinatorClient(cc), ctx: ctx, cancel: cancel}, nil
}

func (l *link) start() {
	l.c.wg.Add(2)
	go l.run()
	go l.followChannel()
}

// up reports whether the link has a live session.
func (l *link) up() bool { return l.cur.Load() != nil }

// nodeName is the node named by the link's last HelloReply ("" before).
func (l *link) nodeName() string {
	if p := l.node.Load(); p != nil {
		return *p
	}
	return ""
}

// close stops the link for good: its session fails with cause, its
// goroutines end and its gRPC connection closes.
func (l *link) close(cause error) {
	l.c.mu.Lock()
	l.closed = true
	l.c.mu.Unlock()
	l.cancel()
	if s := l.cur.Load(); s != nil {
		s.fail(cause)
	}
	l.cc.Close()
}

// connect opens a stream and exchanges Hello with every announced
// resource. The session's goroutines run from here on; the session is not
// yet used for requests (see install). permanent reports a refusal that
// retrying cannot fix.
func (l *link) connect() (s *session, node string, ver uint64, permanent bool, err error) {
	c := l.c
	actx, cancel := context.WithTimeout(l.ctx, c.opts.connectTimeout)
	defer cancel()

	sctx, scancel := context.WithCancelCause(l.ctx)
	// Opening the stream may wait for the transport; bound that by actx
	// without tying the stream's life to it.
	stop := context.AfterFunc(actx, func() { scancel(context.Cause(actx)) })
	stream, err := l.rpc.Session(sctx)
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

	s = newSession(l, stream, sctx, scancel)
	hello := helloMessage(c.opts.name, res)
	size, err := c.checkSize("hello", hello)
	if err != nil {
		s.fail(err)
		return nil, "", 0, true, err
	}
	r, err := l.hello(actx, s, hello, size)
	if err != nil {
		s.fail(err)
		return nil, "", 0, !errors.Is(err, txc.ErrUnavailable), err
	}
	return s, r.GetNode(), ver, false, nil
}

// hello sends the Hello m on s and reads its reply; an error that does
// not match txc.ErrUnavailable is the coordinator's refusal.
func (l *link) hello(ctx context.Context, s *session, m *txcv1.ClientMessage, size int) (*txcv1.HelloReply, error) {
	cl := getCall()
	id := l.c.nextID.Add(1)
	m.Id = id
	if !s.start(id, cl, m, size) {
		putCall(cl)
		return nil, unavailable(s.cause(), "client: hello: stream lost")
	}
	var r result
	select {
	case r = <-cl.ch:
	case <-ctx.Done():
		s.fail(context.Cause(ctx))
		r = <-cl.ch
	}
	putCall(cl)
	if r.lost != nil {
		return nil, unavailable(r.lost, "client: hello: stream lost")
	}
	if err := txcv1.ErrorFromProto(r.reply.GetError()); err != nil {
		return nil, err
	}
	hr := r.reply.GetHello()
	if hr == nil {
		return nil, unavailable(malformed("hello"), "client: hello")
	}
	if hr.GetVersion() != protocolVersion {
		l.c.opts.log.Warn("client: coordinator speaks another protocol version", "node", hr.GetNode(), "version", hr.GetVersion(), "want", protocolVersion)
	}
	return hr, nil
}

// install makes s the session requests use on this link. If resources
// were announced after connect read them, they are announced on s now. It
// reports false if s cannot be used (it died, or the link closed).
func (l *link) install(s *session, node string, ver uint64) bool {
	c := l.c
	c.mu.Lock()
	if c.closed || l.closed {
		c.mu.Unlock()
		s.fail(ErrClosed)
		return false
	}
	if s.cause() != nil { // died between Hello and now
		c.mu.Unlock()
		return false
	}
	l.node.Store(&node)
	c.node.Store(&node)
	l.cur.Store(s)
	c.changedLocked()
	var extra []string
	if c.resVer != ver {
		extra = slices.Clone(c.resources)
	}
	c.mu.Unlock()
	if extra != nil {
		c.announce(s, extra)
	}
	return true
}

// sessionLost is called by a dying session: requests stop using it.
func (l *link) sessionLost(s *session) { l.cur.CompareAndSwap(s, nil) }
