package saga

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

func TestHTTPService(t *testing.T) {
	var gotKey, gotComp, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotKey, gotComp, gotBody = r.Header.Get(HeaderIdempotencyKey), r.Header.Get(HeaderCompensation), string(b)
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`{"id":7}`))
		case "/empty":
			w.WriteHeader(204)
		case "/named":
			w.WriteHeader(409)
			w.Write([]byte(`{"error":"OutOfStock","message":"no apples"}`))
		case "/busy":
			w.WriteHeader(503)
		case "/bad":
			w.WriteHeader(400)
		case "/limit":
			w.WriteHeader(429)
		}
	}))
	defer srv.Close()
	call := func(path string) (json.RawMessage, error) {
		s := &HTTPService{URL: srv.URL + path}
		return s.Invoke(t.Context(), &Request{Instance: "i", Key: "i/2/c", StepKey: "i/2", Compensation: true, Input: json.RawMessage(`{"n":1}`)})
	}
	out, err := call("/ok")
	if err != nil || string(out) != `{"id":7}` || gotKey != "i/2/c" || gotComp != "true" || gotBody != `{"n":1}` {
		t.Fatalf("%s %v %q %q %q", out, err, gotKey, gotComp, gotBody)
	}
	if out, err := call("/empty"); err != nil || string(out) != "null" {
		t.Fatalf("empty: %s %v", out, err)
	}
	for path, want := range map[string]struct {
		name      string
		permanent bool
	}{"/named": {"OutOfStock", true}, "/busy": {ErrNameUnavailable, false}, "/bad": {"HTTP.400", true}, "/limit": {"HTTP.429", false}} {
		_, err := call(path)
		if ErrorName(err) != want.name || isPermanent(err) != want.permanent {
			t.Errorf("%s: %v named %s permanent %v", path, err, ErrorName(err), isPermanent(err))
		}
	}
	s := &HTTPService{URL: "http://127.0.0.1:1/nothing"}
	if _, err := s.Invoke(t.Context(), &Request{}); ErrorName(err) != ErrNameUnavailable || isPermanent(err) {
		t.Fatalf("unreachable: %v", err)
	}
}

// TestGRPCService calls the standard health service generically.
func TestGRPCService(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		if k := md.Get("idempotency-key"); len(k) != 1 || k[0] != "i/1" {
			return nil, errors.New("no idempotency key")
		}
		return h(ctx, req)
	}))
	hs := health.NewServer()
	hs.SetServingStatus("stock", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	go gs.Serve(l)
	defer gs.Stop()
	cc, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	s := &GRPCService{Conn: cc, Method: "/grpc.health.v1.Health/Check",
		NewRequest:  func() proto.Message { return &healthpb.HealthCheckRequest{} },
		NewResponse: func() proto.Message { return &healthpb.HealthCheckResponse{} }}
	out, err := s.Invoke(t.Context(), &Request{Key: "i/1", Input: json.RawMessage(`{"service":"stock"}`)})
	if err != nil || !strings.Contains(string(out), "SERVING") {
		t.Fatalf("%s %v", out, err)
	}
	_, err = s.Invoke(t.Context(), &Request{Key: "i/1", Input: json.RawMessage(`{"service":"nope"}`)})
	if ErrorName(err) != "grpc.NotFound" || !isPermanent(err) {
		t.Fatalf("unknown service: %v", err)
	}
	if _, err = s.Invoke(t.Context(), &Request{Key: "i/1", Input: json.RawMessage(`{"bogus":1}`)}); ErrorName(err) != "InvalidInput" {
		t.Fatalf("bad input: %v", err)
	}
}
