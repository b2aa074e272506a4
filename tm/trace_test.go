package tm

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// appSpan starts a span of the calling application's own tracer.
func appSpan(t *testing.T) (context.Context, trace.SpanContext) {
	t.Helper()
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("app").Start(context.Background(), "order")
	t.Cleanup(func() { span.End() })
	return ctx, span.SpanContext()
}

func TestGRPCCarriesTraceContextWithXID(t *testing.T) {
	tmConn, _, rec := startHealth(t)
	ctx, sc := appSpan(t)
	if _, err := healthpb.NewHealthClient(tmConn).Check(ContextWithXID(ctx, "tc1:42"), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	got := rec.take()
	if len(got) != 1 || got[0].xid != "tc1:42" || got[0].span.TraceID() != sc.TraceID() || got[0].span.SpanID() != sc.SpanID() || !got[0].span.IsRemote() {
		t.Fatalf("server saw %+v, want the caller's span %v", got, sc)
	}
	// Without a span nothing but the XID travels.
	if _, err := healthpb.NewHealthClient(tmConn).Check(ContextWithXID(context.Background(), "tc1:43"), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 1 || got[0].span.IsValid() || len(got[0].md.Get("traceparent")) != 0 {
		t.Fatalf("untraced call carried %+v", got)
	}
}

func TestHTTPCarriesTraceContextWithXID(t *testing.T) {
	var saw trace.SpanContext
	var xid string
	srv := httptest.NewServer(HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		saw = trace.SpanContextFromContext(r.Context())
		x, _ := XIDFromContext(r.Context())
		xid = string(x)
	})))
	defer srv.Close()
	client := &http.Client{Transport: RoundTripper(srv.Client().Transport)}
	ctx, sc := appSpan(t)
	req, _ := http.NewRequestWithContext(ContextWithXID(ctx, "tc1:8"), http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if xid != "tc1:8" || saw.TraceID() != sc.TraceID() || saw.SpanID() != sc.SpanID() {
		t.Fatalf("handler saw xid %q span %v, want the caller's %v", xid, saw, sc)
	}
	if req.Header.Get("traceparent") != "" {
		t.Fatal("the caller's request was modified")
	}
}
