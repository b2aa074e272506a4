package server_test

import (
	"context"
	"net"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/internal/txctrace"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/server"
	"github.com/txcio/txc/tc/store/memstore"
	"github.com/txcio/txc/tm"
)

// recorded returns a TracerProvider that keeps every ended span.
func recorded(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp, rec
}

// span finds the ended span named name, waiting up to 5 s for it.
func span(t *testing.T, rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, s := range rec.Ended() {
			if s.Name() == name {
				return s
			}
		}
	}
	t.Fatalf("no span %s", name)
	return nil
}

func xidOf(s sdktrace.ReadOnlySpan) string {
	for _, a := range s.Attributes() {
		if a.Key == txctrace.XID {
			return a.Value.AsString()
		}
	}
	return ""
}

func TestTraceLinksClientCoordinatorAndRM(t *testing.T) {
	tcTP, tcRec := recorded(t)
	appTP, appRec := recorded(t)
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{Core: tc.Config{Node: "tr1"}, Store: memstore.New(),
		TickInterval: 10 * time.Millisecond, TracerProvider: tcTP})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	conn, err := client.Dial(dctx, lis.Addr().String())
	dcancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	handled := make(chan struct{}, 1)
	m := rm.New(conn, rm.WithTracerProvider(appTP))
	m.AddResource("db", txc.BranchGeneric, rm.HandlerFuncs{CommitFunc: func(ctx context.Context, b rm.Branch) error {
		_, s := appTP.Tracer("handler").Start(ctx, "handler work")
		s.End()
		handled <- struct{}{}
		return nil
	}})
	mgr := tm.New(conn, tm.WithTracerProvider(appTP))

	root, rootSpan := appTP.Tracer("app").Start(context.Background(), "order")
	g, txCtx, err := mgr.Begin(root, tm.Config{Name: "order"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.RegisterBranch(txCtx, client.Branch{XID: g.XID(), Type: txc.BranchGeneric, ResourceID: "db"}); err != nil {
		t.Fatal(err)
	}
	if err := g.Commit(txCtx); err != nil {
		t.Fatal(err)
	}
	rootSpan.End()
	select {
	case <-handled:
	case <-time.After(10 * time.Second):
		t.Fatal("phase 2 never ran")
	}

	trace := rootSpan.SpanContext().TraceID()
	parentOf := func(child, parent sdktrace.ReadOnlySpan) {
		t.Helper()
		if child.SpanContext().TraceID() != trace || child.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s: trace %v parent %v, want trace %v parent %s %v", child.Name(), child.SpanContext().TraceID(),
				child.Parent().SpanID(), trace, parent.Name(), parent.SpanContext().SpanID())
		}
		if x := xidOf(child); child.Name() != "handler work" && x != string(g.XID()) {
			t.Errorf("%s: txc.xid %q, want %s", child.Name(), x, g.XID())
		}
	}
	begin, register, commit := span(t, appRec, "txc.begin"), span(t, appRec, "txc.rm.register"), span(t, appRec, "txc.commit")
	if begin.Parent().SpanID() != rootSpan.SpanContext().SpanID() {
		t.Errorf("txc.begin is not the child of the caller's span")
	}
	parentOf(span(t, tcRec, "txc.tc.begin"), begin)
	parentOf(span(t, tcRec, "txc.tc.register"), register)
	tcCommit := span(t, tcRec, "txc.tc.commit")
	parentOf(tcCommit, commit)
	tcPhase2 := span(t, tcRec, "txc.tc.phase2")
	parentOf(tcPhase2, tcCommit)
	rmPhase2 := span(t, appRec, "txc.rm.phase2")
	parentOf(rmPhase2, tcPhase2)
	parentOf(span(t, appRec, "handler work"), rmPhase2)
}

// An untraced client sends no trace context: the coordinator's spans are
// roots of their own, and nothing is allocated for tracing on the way.
func TestUntracedRequestsCarryNoTraceContext(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() {
		_ = txctrace.Encode(trace.SpanContextFromContext(context.Background()))
		_, s := txctrace.Start(nil, context.Background(), "x", trace.SpanKindClient)
		txctrace.Finish(s, nil)
	}); n != 0 {
		t.Fatalf("tracing without a provider allocates %v times", n)
	}
}
