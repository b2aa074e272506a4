package client

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/trace"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/txctrace"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
)

// call is a pending request's mailbox. Exactly one result is sent to it
// per registration (by the reader or by a failing session), so a pooled
// call is reused only after that result was received.
//
// A call with fn set is not pooled and has no channel: the result is handed
// to fn instead, on the goroutine that delivers it (it must not block).
type call struct {
	ch chan result
	fn func(result)
}

func (cl *call) deliver(r result) {
	if cl.fn != nil {
		cl.fn(r)
		return
	}
	cl.ch <- r
}

type result struct {
	reply *txcv1.Reply
	lost  error // the stream failed before the reply: outcome unknown
}

var callPool = sync.Pool{New: func() any { return &call{ch: make(chan result, 1)} }}

func getCall() *call   { return callPool.Get().(*call) }
func putCall(cl *call) { callPool.Put(cl) }

// maxIDSize is the most bytes the id field of a ClientMessage takes.
const maxIDSize = 1 + 10

// checkSize returns m's encoded size (assuming the largest id) or an
// InvalidArgument error if m alone would not fit in a frame, or holds a
// string that is not valid UTF-8 (the codec would refuse the whole frame).
func (c *Conn) checkSize(op string, m *txcv1.ClientMessage) (int, error) {
	if !m.ValidUTF8() {
		return 0, invalid("client: %s: the request holds a string that is not valid UTF-8 (names, resource IDs and lock keys must be; txc.RowKey makes binary keys valid)", op)
	}
	n := m.SizeVT() + maxIDSize
	if fieldSize(n) > c.opts.maxMsg {
		return 0, invalid("client: %s: message of %d bytes exceeds the frame limit of %d bytes", op, n, c.opts.maxMsg)
	}
	return n, nil
}

// roundTrip sends m as a request and waits for its reply. It never resends
// a request that may have reached the coordinator: a request lost with its
// stream, or abandoned because ctx is done, fails with an error wrapping
// txc.ErrUnavailable (outcome unknown). A request not yet queued when the
// stream broke waits for a link to be up, and one a node answered with
// NotServedHere (nothing changed) goes on to the next node (see router).
//
// A request about xid (empty for none) goes to the node serving xid's
// partition; it first waits for a pipelined Begin of xid sent on another
// stream, or rides on the stream of one sent on this Conn (see
// BeginPipelined).
func (c *Conn) roundTrip(ctx context.Context, op string, xid txc.XID, m *txcv1.ClientMessage) (*txcv1.Reply, error) {
	m.TraceContext = traceContext(ctx)
	size, err := c.checkSize(op, m)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, notSent(err, "client: %s: not sent", op)
	}
	r := newRouter(c, op, xid)
	for {
		s, err := r.next(ctx)
		if err != nil {
			return nil, err
		}
		reply, sent, err := c.exchange(ctx, op, s, m, size)
		switch {
		case err != nil:
			return nil, err
		case !sent:
			continue // the session died before m was queued: try again
		case reply.GetError().GetCode() == txcv1.ErrorCode_ERROR_CODE_NOT_SERVED_HERE:
			r.refused(s, txcv1.ErrorFromProto(reply.GetError()))
			continue
		}
		return reply, nil
	}
}

// exchange sends m on s and waits for its reply. sent is false, with
// nothing sent, if s failed before m was queued.
func (c *Conn) exchange(ctx context.Context, op string, s *session, m *txcv1.ClientMessage, size int) (reply *txcv1.Reply, sent bool, err error) {
	cl := getCall()
	id := c.nextID.Add(1)
	m.Id = id
	if !s.start(id, cl, m, size) {
		putCall(cl)
		return nil, false, nil
	}
	var r result
	select {
	case r = <-cl.ch:
	case <-ctx.Done():
		if s.forget(id) {
			putCall(cl)
			return nil, true, unavailable(ctx.Err(), "client: %s: gave up waiting for the coordinator, outcome unknown", op)
		}
		r = <-cl.ch // the outcome is already on its way; use it
	}
	putCall(cl)
	if r.lost != nil {
		return nil, true, unavailable(r.lost, "client: %s: stream to coordinator lost, outcome unknown", op)
	}
	return r.reply, true, nil
}

// traceContext is the trace context a request carries to the coordinator:
// the span of ctx (an OpenTelemetry span the caller started), or nothing.
func traceContext(ctx context.Context) []byte {
	return txctrace.Encode(trace.SpanContextFromContext(ctx))
}
