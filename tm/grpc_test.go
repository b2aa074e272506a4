package tm

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/txcio/txc"
)

// seen is what a handler saw, captured by an interceptor that runs after
// tm's server interceptor.
type seen struct {
	xid         txc.XID
	hasID       bool
	md          metadata.MD
	span        trace.SpanContext
	lockWait    time.Duration
	hasLockWait bool
}

type recorder struct {
	mu   sync.Mutex
	seen []seen
}

func (r *recorder) add(ctx context.Context) {
	xid, ok := XIDFromContext(ctx)
	md, _ := metadata.FromIncomingContext(ctx)
	r.mu.Lock()
	lw, hasLW := LockWaitFromContext(ctx)
	r.seen = append(r.seen, seen{xid: xid, hasID: ok, md: md, span: trace.SpanContextFromContext(ctx), lockWait: lw, hasLockWait: hasLW})
	r.mu.Unlock()
}

func (r *recorder) take() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.seen
	r.seen = nil
	return s
}

// startHealth serves the standard health service over a loopback bufconn
// with tm's server interceptors, and returns a client connection with tm's
// client interceptors and one without.
func startHealth(t *testing.T) (tmConn, rawConn *grpc.ClientConn, rec *recorder) {
	t.Helper()
	rec = &recorder{}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(UnaryServerInterceptor(),
			func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				rec.add(ctx)
				return h(ctx, req)
			}),
		grpc.ChainStreamInterceptor(StreamServerInterceptor(),
			func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				rec.add(ss.Context())
				return h(srv, ss)
			}),
	)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	dial := func(extra ...grpc.DialOption) *grpc.ClientConn {
		opts := append([]grpc.DialOption{
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()),
		}, extra...)
		cc, err := grpc.NewClient("passthrough:///bufnet", opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return cc
	}
	tmConn = dial(grpc.WithChainUnaryInterceptor(UnaryClientInterceptor()), grpc.WithChainStreamInterceptor(StreamClientInterceptor()))
	rawConn = dial()
	return tmConn, rawConn, rec
}

func TestGRPCUnaryPropagation(t *testing.T) {
	tmConn, rawConn, rec := startHealth(t)
	tmClient := healthpb.NewHealthClient(tmConn)
	rawClient := healthpb.NewHealthClient(rawConn)
	base := metadata.AppendToOutgoingContext(t.Context(), "x-tenant", "acme")

	tests := []struct {
		name     string
		client   healthpb.HealthClient
		ctx      context.Context
		code     codes.Code
		reached  bool
		wantXID  txc.XID // "" = handler's ctx carries none
		wantVals []string
	}{
		{name: "xid appended, other metadata kept", client: tmClient, ctx: ContextWithXID(base, "tc1:42"),
			code: codes.OK, reached: true, wantXID: "tc1:42", wantVals: []string{"tc1:42"}},
		{name: "no xid passes through", client: tmClient, ctx: base,
			code: codes.OK, reached: true},
		{name: "hidden xid passes through", client: tmClient, ctx: ContextWithoutXID(ContextWithXID(base, "tc1:42")),
			code: codes.OK, reached: true},
		{name: "same xid already in metadata is not duplicated", client: tmClient,
			ctx:  ContextWithXID(metadata.AppendToOutgoingContext(base, MetadataKey, "tc1:42"), "tc1:42"),
			code: codes.OK, reached: true, wantXID: "tc1:42", wantVals: []string{"tc1:42"}},
		{name: "different xid already in metadata fails at the client", client: tmClient,
			ctx:  ContextWithXID(metadata.AppendToOutgoingContext(base, MetadataKey, "tc1:41"), "tc1:42"),
			code: codes.InvalidArgument},
		{name: "malformed xid rejected", client: rawClient,
			ctx:  metadata.AppendToOutgoingContext(base, MetadataKey, "not-an-xid"),
			code: codes.InvalidArgument},
		{name: "conflicting xids rejected", client: rawClient,
			ctx:  metadata.AppendToOutgoingContext(base, MetadataKey, "tc1:1", MetadataKey, "tc1:2"),
			code: codes.InvalidArgument},
		{name: "valid xid from a client without tm", client: rawClient,
			ctx:  metadata.AppendToOutgoingContext(base, MetadataKey, "tc1:7"),
			code: codes.OK, reached: true, wantXID: "tc1:7", wantVals: []string{"tc1:7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.Check(tt.ctx, &healthpb.HealthCheckRequest{})
			if got := status.Code(err); got != tt.code {
				t.Fatalf("code = %v (%v), want %v", got, err, tt.code)
			}
			if err != nil && !containsTM(status.Convert(err).Message()) {
				t.Errorf("message %q should start with tm:", status.Convert(err).Message())
			}
			s := rec.take()
			if !tt.reached {
				if len(s) != 0 {
					t.Fatalf("handler reached: %+v", s)
				}
				return
			}
			if len(s) != 1 {
				t.Fatalf("handler calls = %d, want 1", len(s))
			}
			if s[0].xid != tt.wantXID || s[0].hasID != (tt.wantXID != "") {
				t.Errorf("handler's XID = %q (%v), want %q", s[0].xid, s[0].hasID, tt.wantXID)
			}
			if got := s[0].md.Get("x-tenant"); !slices.Equal(got, []string{"acme"}) {
				t.Errorf("x-tenant = %v, want [acme]: existing metadata must be kept", got)
			}
			if got := s[0].md.Get(MetadataKey); !slices.Equal(got, tt.wantVals) {
				t.Errorf("%s = %v, want %v", MetadataKey, got, tt.wantVals)
			}
		})
	}
	// The caller's outgoing metadata was not modified by the interceptor.
	md, _ := metadata.FromOutgoingContext(base)
	if v := md.Get(MetadataKey); len(v) != 0 {
		t.Errorf("caller's metadata gained %v", v)
	}
}

func TestGRPCStreamPropagation(t *testing.T) {
	tmConn, rawConn, rec := startHealth(t)
	watch := func(client healthpb.HealthClient, ctx context.Context) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		_, err = stream.Recv()
		return err
	}

	ctx := ContextWithXID(metadata.AppendToOutgoingContext(t.Context(), "x-tenant", "acme"), "tc1:9")
	if err := watch(healthpb.NewHealthClient(tmConn), ctx); err != nil {
		t.Fatal(err)
	}
	s := rec.take()
	if len(s) != 1 || s[0].xid != "tc1:9" || !slices.Equal(s[0].md.Get("x-tenant"), []string{"acme"}) {
		t.Fatalf("stream handler saw %+v", s)
	}

	if err := watch(healthpb.NewHealthClient(tmConn), t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := rec.take(); len(s) != 1 || s[0].hasID {
		t.Fatalf("stream without XID: handler saw %+v", s)
	}

	bad := metadata.AppendToOutgoingContext(t.Context(), MetadataKey, "tc1:0")
	err := watch(healthpb.NewHealthClient(rawConn), bad)
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("malformed XID on a stream: %v, want InvalidArgument", err)
	}
	if s := rec.take(); len(s) != 0 {
		t.Fatalf("handler reached with a malformed XID: %+v", s)
	}

	conflict := metadata.AppendToOutgoingContext(ContextWithXID(t.Context(), "tc1:2"), MetadataKey, "tc1:3")
	if err := watch(healthpb.NewHealthClient(tmConn), conflict); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("conflicting XID on a client stream: %v, want InvalidArgument", err)
	}
}

func containsTM(s string) bool { return len(s) >= 4 && s[:4] == "tm: " }
