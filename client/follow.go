package client

import (
	"errors"

	"google.golang.org/grpc/connectivity"
)

// errMoved ends a session whose connection the channel dropped.
var errMoved = errors.New("client: the coordinator's address changed (the stream's connection was dropped)")

// followChannel ends the live session when the gRPC channel leaves READY
// for another connection. With pick_first the channel is READY on one
// connection at a time; leaving READY means that connection broke (the
// stream breaks anyway) or that the resolver no longer lists its address:
// an etcd target naming a new leader, a DNS name no longer resolving to
// it. gRPC lets streams on a dropped connection run on until they end, and
// the Session stream never ends by itself, so without this the Conn would
// stay with a node that is no longer the leader for as long as that node
// keeps its connections. The redialer then opens the stream on the
// channel's new connection.
func (c *Conn) followChannel() {
	defer c.wg.Done()
	for {
		st := c.cc.GetState()
		// A session that exists while the channel is READY runs on its
		// one connection.
		s := c.cur.Load()
		if !c.cc.WaitForStateChange(c.ctx, st) {
			return
		}
		// IDLE: the connection broke, and the session's reader reports
		// why; any other state: pick_first moved on without it.
		if st == connectivity.Ready && s != nil && c.cc.GetState() != connectivity.Idle {
			s.fail(errMoved)
		}
	}
}
