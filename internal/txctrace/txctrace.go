// Package txctrace is what the packages of txc share for OpenTelemetry
// tracing: the tracer they take from a TracerProvider (none when none is
// configured, so tracing costs nothing then), the attribute keys, and the
// binary form of a span context in the session protocol's trace_context
// fields (proto/txc/v1).
package txctrace

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/txcio/txc"
)

// Name is the instrumentation scope of txc's spans.
const Name = "github.com/txcio/txc"

// Attribute keys of txc's spans.
const (
	XID        = attribute.Key("txc.xid")
	BranchID   = attribute.Key("txc.branch_id")
	ResourceID = attribute.Key("txc.resource_id")
	BranchType = attribute.Key("txc.branch_type")
	Status     = attribute.Key("txc.status")
	Action     = attribute.Key("txc.action")
	TxName     = attribute.Key("txc.name")
)

// Tracer returns tp's tracer for txc, or nil for a nil tp: callers skip
// every span when it is nil.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(Name)
}

// wireLen is the length of the binary form: trace id, span id, flags.
const wireLen = 16 + 8 + 1

// Encode returns sc's binary form for a trace_context field, or nil when
// sc is not valid (the caller is not traced): no allocation then.
func Encode(sc trace.SpanContext) []byte {
	if !sc.IsValid() {
		return nil
	}
	b := make([]byte, 0, wireLen)
	tid, sid := sc.TraceID(), sc.SpanID()
	b = append(b, tid[:]...)
	b = append(b, sid[:]...)
	return append(b, byte(sc.TraceFlags()))
}

// Decode returns the remote span context of a trace_context field; an
// empty or malformed field gives an invalid one (the span then starts a
// trace of its own).
func Decode(b []byte) trace.SpanContext {
	if len(b) != wireLen {
		return trace.SpanContext{}
	}
	var tid trace.TraceID
	var sid trace.SpanID
	copy(tid[:], b[:16])
	copy(sid[:], b[16:24])
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(b[24]), Remote: true})
	if !sc.IsValid() {
		return trace.SpanContext{}
	}
	return sc
}

// WithRemote returns ctx carrying the remote span context of a
// trace_context field, or ctx itself when the field is empty.
func WithRemote(ctx context.Context, b []byte) context.Context {
	if sc := Decode(b); sc.IsValid() {
		return trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	return ctx
}

// End ends span, recording err (its txc code as the status description)
// when not nil.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, txc.CodeOf(err).String())
	}
	span.End()
}

// Start starts a span named name of kind on tr, the child of ctx's span.
// With a nil tr it returns ctx and a nil span, allocating nothing; the
// other helpers accept a nil span.
func Start(tr trace.Tracer, ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	if tr == nil {
		return ctx, nil
	}
	return tr.Start(ctx, name, trace.WithSpanKind(kind))
}

// Set adds attributes to span (nil: nothing).
func Set(span trace.Span, kv ...attribute.KeyValue) {
	if span != nil {
		span.SetAttributes(kv...)
	}
}

// Finish is End for a span that may be nil.
func Finish(span trace.Span, err error) {
	if span != nil {
		End(span, err)
	}
}

// W3C is the propagator of the gRPC interceptors and the HTTP middleware
// and RoundTripper of package tm: the W3C traceparent next to the XID.
var W3C = propagation.TraceContext{}

// Inject adds ctx's trace context to carrier when ctx has a valid span and
// carrier has no traceparent yet (an OpenTelemetry instrumentation of the
// transport may have set it already).
func Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	if !trace.SpanContextFromContext(ctx).IsValid() || carrier.Get("traceparent") != "" {
		return
	}
	W3C.Inject(ctx, carrier)
}

// Extract returns ctx with the remote span context of carrier's
// traceparent, unless ctx already has a span (an instrumentation of the
// transport extracted it) or carrier has none.
func Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	if trace.SpanContextFromContext(ctx).IsValid() || carrier.Get("traceparent") == "" {
		return ctx
	}
	return W3C.Extract(ctx, carrier)
}
