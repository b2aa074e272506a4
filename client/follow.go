package client

import (
	"errors"

	"google.golang.org/grpc/connectivity"
)

// errMoved ends a session whose connection the channel dropped.
var errMoved = errors.New("client: the coordinator's address changed (the stream's connection was dropped)")

// followChannel ends the link's session when its gRPC channel leaves
// READY for another connection. With pick_first the channel is READY on
// one connection at a time; leaving READY means that connection broke (the
// stream breaks anyway) or that the name resolver no longer lists its
// address (a DNS name no longer resolving to it). gRPC lets streams on a
// dropped connection run on until they end, and the Session stream never
// ends by itself, so without this the link would stay with an address the
// name no longer means. The link then opens the stream on the channel's
// new connection.
func (l *link) followChannel() {
	defer l.c.wg.Done()
	for {
		st := l.cc.GetState()
		// A session that exists while the channel is READY runs on its
		// one connection.
		s := l.cur.Load()
		if !l.cc.WaitForStateChange(l.ctx, st) {
			return
		}
		// IDLE: the connection broke, and the session's reader reports
		// why; any other state: pick_first moved on without it.
		if st == connectivity.Ready && s != nil && l.cc.GetState() != connectivity.Idle {
			s.fail(errMoved)
		}
	}
}
