package main

import (
	"context"
	"net"
	"os"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// collector is an OTLP trace receiver that keeps what it is sent.
type collector struct {
	collectortrace.UnimplementedTraceServiceServer
	mu  sync.Mutex
	got []*collectortrace.ExportTraceServiceRequest
}

func (c *collector) Export(_ context.Context, r *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	c.got = append(c.got, r)
	c.mu.Unlock()
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func TestNoExporterNoTracing(t *testing.T) {
	for _, env := range []map[string]string{
		{},
		{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"},
	} {
		tp, err := newTracerProvider(context.Background(), func(k string) string { return env[k] }, "n1")
		if err != nil || tp != nil {
			t.Fatalf("env %v: provider %v, err %v; want none", env, tp, err)
		}
	}
}

func TestSpansGoToTheConfiguredOTLPEndpoint(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	col := &collector{}
	collectortrace.RegisterTraceServiceServer(gs, col)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+lis.Addr().String())
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")

	tp, err := newTracerProvider(context.Background(), os.Getenv, "node7")
	if err != nil || tp == nil {
		t.Fatalf("provider %v, err %v", tp, err)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "txc.tc.commit")
	span.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	var name, service, node string
	for _, r := range col.got {
		for _, rs := range r.GetResourceSpans() {
			for _, a := range rs.GetResource().GetAttributes() {
				switch a.GetKey() {
				case "service.name":
					service = a.GetValue().GetStringValue()
				case "txc.node":
					node = a.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					name = s.GetName()
				}
			}
		}
	}
	if name != "txc.tc.commit" || service != "txc-server" || node != "node7" {
		t.Fatalf("collector got span %q from service %q node %q", name, service, node)
	}
}
