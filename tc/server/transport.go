package server

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	txcv1 "github.com/txcio/txc/proto/txc/v1"
)

// TransportOptions are the gRPC settings of the coordinator's port: frame
// limits, keepalive, the protocol's codec and fixed flow-control windows.
// Exported so that a benchmark's stand-in server (txc-bench's floor) runs
// on exactly the transport the coordinator does.
func TransportOptions(maxMessageSize int, maxStreamsPerConn uint32) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxMessageSize),
		grpc.MaxConcurrentStreams(maxStreamsPerConn),
		grpc.MaxSendMsgSize(maxMessageSize),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		// Reflection-free encoding of the protocol's messages (the health
		// service's go through proto); this server only, not registered.
		grpc.ForceServerCodecV2(txcv1.Codec{}),
		// Fixed flow-control windows: with them gRPC sends no
		// bandwidth-estimation pings, which at low load cost a read and a
		// write per message on both ends (txcv1.StreamWindow).
		grpc.InitialWindowSize(txcv1.StreamWindow),
		grpc.InitialConnWindowSize(txcv1.ConnWindow),
	}
}
