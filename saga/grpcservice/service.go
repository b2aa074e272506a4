// Package grpcservice calls a saga step's service as a unary gRPC method,
// generically: messages are converted from and to the step's JSON with
// protojson. It is apart from package saga so that the engine itself
// imports neither grpc nor protobuf (one package per dependency).
package grpcservice

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/txcio/txc/saga"
)

// Service calls a unary gRPC method generically: the step's input (JSON)
// is decoded into a fresh NewRequest message with protojson, the call
// carries the idempotency key and instance in its metadata (the lower-case
// forms of package httpservice's header names, e.g. "idempotency-key"), and the
// response message, encoded with protojson, is the output.
//
// Errors are named by their status code: "Unavailable" for Unavailable,
// "Timeout" for DeadlineExceeded, "grpc.<Code>" otherwise (for example
// "grpc.FailedPrecondition"). InvalidArgument, NotFound, AlreadyExists,
// PermissionDenied, FailedPrecondition, OutOfRange, Unimplemented and
// Unauthenticated are permanent.
type Service struct {
	Conn        grpc.ClientConnInterface
	Method      string // full method name, "/package.Service/Method"
	NewRequest  func() proto.Message
	NewResponse func() proto.Message
	// CallOptions are added to every call.
	CallOptions []grpc.CallOption
}

// Invoke makes one call.
func (s *Service) Invoke(ctx context.Context, req *saga.Request) (json.RawMessage, error) {
	in := s.NewRequest()
	if len(req.Input) > 0 && string(req.Input) != "null" {
		if err := protojson.Unmarshal(req.Input, in); err != nil {
			return nil, &saga.ServiceError{Name: "InvalidInput", Message: fmt.Sprintf("saga: grpc %s: input: %v", s.Method, err), Permanent: true}
		}
	}
	out := s.NewResponse()
	ctx = metadata.AppendToOutgoingContext(ctx,
		"idempotency-key", req.Key, "txc-saga-instance", req.Instance, "txc-saga-step-key", req.StepKey,
		"txc-saga-state", req.State, "txc-saga-compensation", strconv.FormatBool(req.Compensation))
	if err := s.Conn.Invoke(ctx, s.Method, in, out, s.CallOptions...); err != nil {
		st := status.Convert(err)
		se := &saga.ServiceError{Name: "grpc." + st.Code().String(), Message: fmt.Sprintf("saga: grpc %s: %s", s.Method, st.Message())}
		switch st.Code() {
		case codes.Unavailable:
			se.Name = saga.ErrNameUnavailable
		case codes.DeadlineExceeded:
			se.Name = saga.ErrNameTimeout
		case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied, codes.FailedPrecondition,
			codes.OutOfRange, codes.Unimplemented, codes.Unauthenticated:
			se.Permanent = true
		}
		return nil, se
	}
	b, err := protojson.Marshal(out)
	if err != nil {
		return nil, &saga.ServiceError{Name: "InvalidOutput", Message: fmt.Sprintf("saga: grpc %s: output: %v", s.Method, err), Permanent: true}
	}
	return b, nil
}
