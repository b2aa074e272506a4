package grpcservice

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/txcio/txc/saga"
)

// TestService calls the standard health service generically.
func TestService(t *testing.T) {
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
	s := &Service{Conn: cc, Method: "/grpc.health.v1.Health/Check",
		NewRequest:  func() proto.Message { return &healthpb.HealthCheckRequest{} },
		NewResponse: func() proto.Message { return &healthpb.HealthCheckResponse{} }}
	out, err := s.Invoke(t.Context(), &saga.Request{Key: "i/1", Input: json.RawMessage(`{"service":"stock"}`)})
	if err != nil || !strings.Contains(string(out), "SERVING") {
		t.Fatalf("%s %v", out, err)
	}
	_, err = s.Invoke(t.Context(), &saga.Request{Key: "i/1", Input: json.RawMessage(`{"service":"nope"}`)})
	if saga.ErrorName(err) != "grpc.NotFound" || !saga.IsPermanent(err) {
		t.Fatalf("unknown service: %v", err)
	}
	if _, err = s.Invoke(t.Context(), &saga.Request{Key: "i/1", Input: json.RawMessage(`{"bogus":1}`)}); saga.ErrorName(err) != "InvalidInput" {
		t.Fatalf("bad input: %v", err)
	}
}
