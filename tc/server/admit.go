package server

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/txcio/txc"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
)

// admit authenticates a new stream and checks its first Hello. A refused
// stream gets a reply to that Hello with the PermissionDenied error (so
// that client.Dial fails at once with txc.ErrPermissionDenied) and ends
// with gRPC status PermissionDenied; nothing reaches the core.
func (s *Server) admit(stream txcv1.Coordinator_SessionServer, hello *txcv1.ClientMessage) (string, error) {
	if s.cfg.Access == nil {
		return "", nil
	}
	id := s.cfg.Access.identifyStream(stream.Context())
	err := s.permit(id, hello.GetHello().GetClientName(), hello)
	if err == nil {
		return id, nil
	}
	_ = stream.Send(&txcv1.ServerFrame{Messages: []*txcv1.ServerMessage{errorReply(hello.GetId(), err)}})
	return "", status.Error(codes.PermissionDenied, err.Message)
}

// permit applies the access policy to one message of a stream of
// identity id; a refusal is counted and logged (identity, request,
// client name: never a credential).
func (s *Server) permit(id, client string, m *txcv1.ClientMessage) *txc.Error {
	if s.cfg.Access == nil {
		return nil
	}
	err := s.cfg.Access.permit(id, m)
	if err != nil {
		s.refused(id, client, m, err)
	}
	return err
}

// refused counts and logs a refused message (identity, request, client
// name: never a credential).
func (s *Server) refused(id, client string, m *txcv1.ClientMessage, err *txc.Error) {
	kind := messageKind(m)
	s.metrics.refused("grpc", kind)
	s.log.Warn("permission denied", "identity", id, "request", kind, "client", client, "err", err.Message)
}
