package server

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/txctrace"
	"github.com/txcio/txc/tc"
)

// tracing makes the coordinator's OpenTelemetry spans; a nil *tracing
// (no TracerProvider configured) makes none and costs nothing.
//
// A request span (txc.tc.begin, register, commit, rollback) starts when the
// request is read, as the child of the trace context the client sent, and
// ends when its reply goes out, after the store sync. A phase-2 span
// (txc.tc.phase2) starts when a command is sent, as the child of the
// commit or rollback request of its transaction when this coordinator saw
// one, travels with the command so that the RM's span is its child, and
// ends with the RM's result (or, unanswered, after two ack timeouts).
type tracing struct {
	tr      trace.Tracer
	maxWait time.Duration

	mu    sync.Mutex
	swept time.Time // last look for unanswered commands
	reqs  map[reqKey]trace.Span
	cmds  map[uint64]cmdSpan
	txs   map[txc.XID]trace.SpanContext
}

type reqKey struct {
	conn tc.ConnID
	id   uint64
}

type cmdSpan struct {
	span trace.Span
	at   time.Time
}

func newTracing(tp trace.TracerProvider, ack time.Duration) *tracing {
	if tp == nil {
		return nil
	}
	return &tracing{tr: txctrace.Tracer(tp), maxWait: 2 * ack, reqs: make(map[reqKey]trace.Span),
		cmds: make(map[uint64]cmdSpan), txs: make(map[txc.XID]trace.SpanContext)}
}

var requestSpanNames = map[tc.Kind]string{tc.KindBegin: "txc.tc.begin", tc.KindRegister: "txc.tc.register",
	tc.KindCommit: "txc.tc.commit", tc.KindRollback: "txc.tc.rollback"}

// request starts the span of a request read from a stream; wire is the
// trace context the client sent.
func (t *tracing) request(m *tc.Msg, wire []byte) {
	if t == nil {
		return
	}
	if m.Kind == tc.KindBranchResult {
		t.result(m)
		return
	}
	name, ok := requestSpanNames[m.Kind]
	if !ok {
		return
	}
	ctx := txctrace.WithRemote(context.Background(), wire)
	_, span := t.tr.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer))
	if m.XID != "" {
		span.SetAttributes(txctrace.XID.String(string(m.XID)))
	}
	if m.Kind == tc.KindRegister {
		span.SetAttributes(txctrace.ResourceID.String(m.ResourceID), txctrace.BranchType.String(m.BranchType.String()))
	}
	if m.Kind == tc.KindBegin {
		span.SetAttributes(txctrace.TxName.String(m.Name))
	}
	t.mu.Lock()
	t.reqs[reqKey{m.Conn, m.ID}] = span
	if m.Kind == tc.KindCommit || m.Kind == tc.KindRollback {
		t.txs[m.XID] = span.SpanContext()
	}
	t.mu.Unlock()
}

// reply ends the span of the request r answers.
func (t *tracing) reply(r *tc.Reply) {
	if t == nil {
		return
	}
	k := reqKey{r.Conn, r.ID}
	t.mu.Lock()
	span, ok := t.reqs[k]
	delete(t.reqs, k)
	t.mu.Unlock()
	if !ok {
		return
	}
	if r.XID != "" {
		span.SetAttributes(txctrace.XID.String(string(r.XID)))
	}
	if r.Status != txc.GlobalUnknown {
		span.SetAttributes(txctrace.Status.String(r.Status.String()))
	}
	if r.BranchID != 0 {
		span.SetAttributes(txctrace.BranchID.Int64(int64(r.BranchID)))
	}
	txctrace.End(span, r.Err)
}

// command starts the span of a phase-2 command and returns its trace
// context for the command's message.
func (t *tracing) command(now time.Time, c *tc.Command) []byte {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	parent := t.txs[c.XID]
	t.mu.Unlock()
	ctx := trace.ContextWithSpanContext(context.Background(), parent)
	_, span := t.tr.Start(ctx, "txc.tc.phase2", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		txctrace.XID.String(string(c.XID)), txctrace.BranchID.Int64(int64(c.BranchID)), txctrace.ResourceID.String(c.ResourceID),
		txctrace.BranchType.String(c.BranchType.String()), txctrace.Action.String(c.Action.String())))
	if c.Notice() {
		// Nothing answers a notice: its span ends when it is sent.
		span.SetAttributes(txctrace.Status.String("notice"))
		span.End()
		return txctrace.Encode(span.SpanContext())
	}
	t.mu.Lock()
	t.cmds[c.ID] = cmdSpan{span: span, at: now}
	if now.Sub(t.swept) > t.maxWait/2 {
		t.swept = now
		for id, cs := range t.cmds {
			if now.Sub(cs.at) > t.maxWait {
				cs.span.SetAttributes(txctrace.Status.String("unanswered"))
				cs.span.End()
				delete(t.cmds, id)
			}
		}
	}
	t.mu.Unlock()
	return txctrace.Encode(span.SpanContext())
}

// result ends the span of the command an RM answered.
func (t *tracing) result(m *tc.Msg) {
	t.mu.Lock()
	cs, ok := t.cmds[m.ID]
	delete(t.cmds, m.ID)
	t.mu.Unlock()
	if !ok {
		return
	}
	cs.span.SetAttributes(txctrace.Status.String(m.BranchStatus.String()))
	if m.Text != "" {
		cs.span.AddEvent("rm message", trace.WithAttributes(txctrace.Status.String(m.Text)))
	}
	cs.span.End()
}

// finished forgets a transaction that reached its final status.
func (t *tracing) finished(xid txc.XID) {
	if t == nil {
		return
	}
	t.mu.Lock()
	delete(t.txs, xid)
	t.mu.Unlock()
}
