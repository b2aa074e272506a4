package client

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/txcio/txc"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
)

// reserveBlock is how many XIDs a session reserves at a time. At 10,000
// transactions a second that is one Reserve every 0.4 s, and a reconnect
// throws away at most two blocks of numbers, which cost nothing.
const reserveBlock = 4096

// BeginPipelined begins a global transaction without waiting for the
// coordinator: it queues a Begin naming an XID from a block this Conn
// reserved on the stream of one of its links (round robin over the nodes), and returns that XID and a wait function
// at once. The Begin is lazy (see session.startLazy): it leaves with the
// next request on the stream, at the latest after a few milliseconds, or
// at once when wait is called. The Begin is durable, as every Begin, only
// when wait returns nil.
//
// Ordering, on which the saving rests: requests about the XID made on this
// Conn after BeginPipelined returns reach the coordinator after the Begin
// (one stream is handled in order, and a reply leaves only after every change
// before it is synced), so they need not wait. Requests about it made on
// another Conn of this process wait for the Begin's reply first, on their
// own. Anything that hands the XID to another process must call wait first
// (tm's interceptors and RoundTripper do): that process's requests travel
// on another stream.
//
// If the Begin fails, wait returns the error (a *txc.Error, or one wrapping
// txc.ErrUnavailable when the stream was lost: outcome unknown), and every
// request about the XID fails with txc.ErrUnknownTransaction. wait may be
// called any number of times, from any goroutine; it returns early, with an
// error wrapping txc.ErrUnavailable, only if its ctx is done.
func (c *Conn) BeginPipelined(ctx context.Context, name string, timeout time.Duration) (txc.XID, func(context.Context) error, error) {
	if timeout < 0 {
		return "", nil, invalid("client: begin: negative timeout %v", timeout)
	}
	ms := uint64((timeout + time.Millisecond - 1) / time.Millisecond)
	r := newRouter(c, "begin", "")
	for {
		if err := ctx.Err(); err != nil {
			return "", nil, notSent(err, "client: begin: not sent")
		}
		s, err := r.next(ctx)
		if err != nil {
			return "", nil, err
		}
		xid, err := s.xids.take(ctx, s)
		switch {
		case err != nil && s.cause() != nil:
			continue // the stream died under the reservation: use the next one
		case errors.Is(err, txc.ErrNotServedHere):
			r.refused(s, err) // the node does not drive its own partition yet
			continue
		case err != nil:
			return "", nil, err
		}
		m := message(func(m *txcv1.ClientMessage, w *txcv1.ClientMessage_Begin, v *txcv1.BeginRequest) {
			v.Name, v.TimeoutMs, v.Xid = name, ms, string(xid)
			w.Begin, m.Body, m.TraceContext = v, w, traceContext(ctx)
		})
		size, err := c.checkSize("begin", m)
		if err != nil {
			return "", nil, err
		}
		b := &begun{xid: xid, sess: s, done: make(chan struct{})}
		b.cl.fn = b.complete
		pending.Store(xid, b)
		id := c.nextID.Add(1)
		m.Id = id
		// Lazy: the requests about xid that follow on this stream carry it
		// out in their frame; wait and pinned flush it if anything blocks
		// on its answer first.
		if !s.startLazy(id, &b.cl, m, size) {
			pending.Delete(xid)
			continue
		}
		return xid, b.wait, nil
	}
}

// pending maps the XID of every pipelined Begin not yet answered to its
// *begun, for the whole process: a request about that XID on another Conn,
// or on a later stream of the same Conn, waits for the answer first.
var pending sync.Map

// begun is a pipelined Begin in flight.
type begun struct {
	xid  txc.XID
	sess *session
	done chan struct{}
	err  error
	cl   call // the Begin's mailbox, allocated with it
}

// complete records the Begin's answer; called once, by the session that
// carried it (reply or loss).
func (b *begun) complete(r result) {
	switch {
	case r.lost != nil:
		b.err = unavailable(r.lost, "client: begin %s: stream to coordinator lost, outcome unknown", b.xid)
	default:
		if err := txcv1.ErrorFromProto(r.reply.GetError()); err != nil {
			b.err = err
		} else if x := r.reply.GetBegin().GetXid(); x != string(b.xid) {
			b.err = malformed("begin")
		}
	}
	pending.Delete(b.xid)
	close(b.done)
}

func (b *begun) wait(ctx context.Context) error {
	select {
	case <-b.done:
		return b.err
	default:
	}
	b.sess.flush()
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return unavailable(context.Cause(ctx), "client: begin %s: gave up waiting for the coordinator, outcome unknown", b.xid)
	}
}

// pinned returns the session a request about xid must go out on: the
// stream carrying a pipelined Begin of xid on this Conn, while it is
// unanswered (one stream is handled in order, so the request follows the
// Begin). nil: route the request freely; a pipelined Begin of xid on
// another Conn, or on a stream that died, is waited for first.
func (c *Conn) pinned(ctx context.Context, op string, xid txc.XID) (*session, error) {
	v, ok := pending.Load(xid)
	if !ok {
		return nil, nil
	}
	b := v.(*begun)
	if b.sess.c == c && b.sess.cause() == nil {
		return b.sess, nil
	}
	b.sess.flush()
	select {
	case <-b.done:
		return nil, nil
	case <-ctx.Done():
		return nil, notSent(context.Cause(ctx), "client: %s: not sent: still waiting for the begin of %s", op, xid)
	}
}

// xidPool hands out XIDs from blocks the session reserved. It keeps one
// block ahead: when the current block is half used it reserves the next.
type xidPool struct {
	mu       sync.Mutex
	node     string
	next     uint64 // next free sequence number of the current block
	end      uint64 // end of the current block
	spare    [2]uint64
	hasSpare bool
	fetching chan struct{} // non-nil while a Reserve is in flight; closed when it ends
	err      error         // why the last Reserve failed
}

// take returns an unused XID, reserving a block first if none is left.
func (p *xidPool) take(ctx context.Context, s *session) (txc.XID, error) {
	p.mu.Lock()
	for {
		if p.next < p.end {
			seq := p.next
			p.next++
			if !p.hasSpare && p.fetching == nil && p.end-p.next < reserveBlock/2 {
				p.fetch(s)
			}
			node := p.node
			p.mu.Unlock()
			return txc.NewXID(node, seq), nil
		}
		if p.hasSpare {
			p.next, p.end, p.hasSpare = p.spare[0], p.spare[1], false
			continue
		}
		if p.fetching == nil {
			if p.err != nil {
				err := p.err
				p.err = nil // let the next caller try again
				p.mu.Unlock()
				return "", err
			}
			p.fetch(s)
		}
		ch := p.fetching
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return "", notSent(context.Cause(ctx), "client: begin: not sent: no XIDs reserved yet")
		}
		p.mu.Lock()
	}
}

// fetch sends a Reserve on s; p.mu is held.
func (p *xidPool) fetch(s *session) {
	ch := make(chan struct{})
	p.fetching = ch
	m := &txcv1.ClientMessage{Body: &txcv1.ClientMessage_Reserve{Reserve: &txcv1.ReserveRequest{Count: reserveBlock}}}
	size, _ := s.c.checkSize("reserve", m) // a few bytes: always fits
	id := s.c.nextID.Add(1)
	m.Id = id
	cl := &call{fn: func(r result) {
		p.mu.Lock()
		defer p.mu.Unlock()
		defer close(ch)
		p.fetching = nil
		var err error
		switch {
		case r.lost != nil:
			err = unavailable(r.lost, "client: reserve XIDs: stream to coordinator lost")
		default:
			err = txcv1.ErrorFromProto(r.reply.GetError())
		}
		rr := r.reply.GetReserve()
		if err == nil && (rr == nil || rr.GetCount() == 0 || rr.GetNode() == "") {
			err = malformed("reserve")
		}
		if err != nil {
			p.err = err
			return
		}
		p.node = rr.GetNode()
		p.spare = [2]uint64{rr.GetFirst(), rr.GetFirst() + uint64(rr.GetCount())}
		p.hasSpare = true
	}}
	if !s.start(id, cl, m, size) {
		// The session has failed: no reply will come.
		p.fetching = nil
		p.err = unavailable(s.cause(), "client: reserve XIDs: stream to coordinator lost")
		close(ch)
	}
}
