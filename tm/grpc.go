package tm

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/txctrace"
)

// MetadataKey is the gRPC metadata key that carries the XID between
// processes.
const MetadataKey = "txc-xid"

// UnaryClientInterceptor returns an interceptor that, when the call's ctx
// carries an XID, appends it to the outgoing metadata under MetadataKey.
// Existing metadata is kept as is. If the outgoing metadata already carries
// the same XID nothing is added; if it carries a different one the call
// fails with codes.InvalidArgument rather than send two transactions. A
// call without an XID passes through untouched. If the transaction's
// pipelined Begin is not answered yet, the call waits for it (WaitBegun)
// and fails with the Begin's error if it failed. With the XID goes the
// W3C trace context (traceparent) of ctx's OpenTelemetry span, if ctx has
// one and the metadata carries none yet.
func UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, err := outgoingXID(ctx)
		if err != nil {
			return err
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// StreamClientInterceptor is UnaryClientInterceptor for streams.
func StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		ctx, err := outgoingXID(ctx)
		if err != nil {
			return nil, err
		}
		return streamer(ctx, desc, cc, method, opts...)
	}
}

func outgoingXID(ctx context.Context) (context.Context, error) {
	xid, ok := XIDFromContext(ctx)
	if !ok {
		return ctx, nil
	}
	if err := WaitBegun(ctx); err != nil {
		return ctx, err
	}
	ctx = injectTrace(ctx)
	md, _ := metadata.FromOutgoingContext(ctx)
	if vals := md.Get(MetadataKey); len(vals) > 0 {
		for _, v := range vals {
			if v != string(xid) {
				return ctx, status.Errorf(codes.InvalidArgument,
					"tm: outgoing metadata already carries %s %q, but ctx carries global transaction %s", MetadataKey, v, xid)
			}
		}
	} else {
		ctx = metadata.AppendToOutgoingContext(ctx, MetadataKey, string(xid))
	}
	// A lock wait the caller set itself is kept.
	if lw := lockWaitValue(ctx); lw != "" && len(md.Get(LockWaitKey)) == 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, LockWaitKey, lw)
	}
	return ctx, nil
}

// injectTrace adds the W3C trace context of ctx's span (if any) to the
// outgoing metadata, unless it carries one already.
func injectTrace(ctx context.Context) context.Context {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	carrier := metadataCarrier(md)
	if carrier.Get("traceparent") != "" {
		return ctx
	}
	txctrace.Inject(ctx, carrier)
	return metadata.NewOutgoingContext(ctx, md)
}

// metadataCarrier adapts gRPC metadata to the OpenTelemetry propagators.
type metadataCarrier metadata.MD

func (c metadataCarrier) Get(key string) string {
	if vs := metadata.MD(c).Get(key); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func (c metadataCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// UnaryServerInterceptor returns an interceptor that reads the XID from the
// incoming metadata (MetadataKey) and gives the handler a ctx carrying it
// (ContextWithXID). The XID is never trusted: a malformed one, or several
// different ones, fail the call with codes.InvalidArgument before the
// handler runs. A call without an XID passes through untouched. A
// traceparent sent with the XID becomes the remote parent span of the
// handler's ctx, unless ctx already has a span; a lock wait sent with it
// (LockWaitKey) is the transaction's there (LockWaitFromContext), and a
// malformed one fails the call with codes.InvalidArgument too.
func UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := incomingXID(ctx)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streams: the
// handler's stream.Context() carries the XID.
func StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := incomingXID(ss.Context())
		if err != nil {
			return err
		}
		if ctx == ss.Context() {
			return handler(srv, ss)
		}
		return handler(srv, &xidServerStream{ServerStream: ss, ctx: ctx})
	}
}

type xidServerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *xidServerStream) Context() context.Context { return s.ctx }

func incomingXID(ctx context.Context) (context.Context, error) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return ctx, nil
	}
	vals := md.Get(MetadataKey)
	if len(vals) == 0 {
		return ctx, nil
	}
	xid, err := parseXIDs(vals)
	if err != nil {
		return ctx, status.Errorf(codes.InvalidArgument, "tm: %s metadata: %v", MetadataKey, err)
	}
	ctx, err = withLockWait(ctx, xid, md.Get(LockWaitKey))
	if err != nil {
		return ctx, status.Errorf(codes.InvalidArgument, "tm: %s metadata: %v", LockWaitKey, err)
	}
	ctx = txctrace.Extract(ctx, metadataCarrier(md))
	return ContextWithXID(ctx, xid), nil
}

// parseXIDs validates the values received for the XID (metadata or
// header): each must parse, and all must be the same.
func parseXIDs(vals []string) (txc.XID, error) {
	xid := txc.XID(vals[0])
	if _, _, err := xid.Parse(); err != nil {
		return "", err
	}
	for _, v := range vals[1:] {
		if v != vals[0] {
			return "", txc.Errorf(txc.CodeInvalidArgument, "tm: conflicting XIDs %q and %q", truncate(vals[0]), truncate(v))
		}
	}
	return xid, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
