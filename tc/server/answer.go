package server

import (
	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
)

// answer sends a reply the shell made itself (not from a Ready), counted
// and traced as the core's.
func (s *Server) answer(r *tc.Reply) {
	s.observeReply(r)
	if c := s.hub.get(r.Conn); c != nil {
		var one protoSlabs
		c.push(replyToProto(r, &one))
	}
}

// refuseReply replaces a reply that will not be sent with err.
func (s *Server) refuseReply(r *tc.Reply, err *txc.Error) {
	if r.Kind == tc.KindHello {
		return // answered by accept (hello.go)
	}
	*r = tc.Reply{Conn: r.Conn, ID: r.ID, Kind: r.Kind, Err: err, Status: err.Status}
	s.answer(r)
}

// refuse answers a request that will not reach a core with err; other
// inputs (results, stream ends, the Hellos accept answered) need none.
func (s *Server) refuse(m *tc.Msg, err *txc.Error) {
	switch m.Kind {
	case tc.KindHello, tc.KindConnDown, tc.KindBranchResult:
		return
	}
	s.refuseReply(&tc.Reply{Conn: m.Conn, ID: m.ID, Kind: m.Kind}, err)
}

// notServedHere is the refusal of a request about a partition this
// process does not host (now).
func notServedHere(partition, node string) *txc.Error {
	return txc.Errorf(txc.CodeNotServedHere, "server: node %q does not serve partition %q now; ask its owner", node, partition)
}
