package server

import (
	"strings"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
)

// A stream's Hello (its first message, and any later one announcing more
// resources) concerns every partition hosted here: each core must know
// the stream and its resources to send it phase-2 commands. So every
// core gets it, and accept answers it once, itself, after handing it to
// them (the cores' replies are dropped): a request sent after the answer
// reaches each core after the Hello. The stream remembers its resources
// for a partition hosted later (hub.hellos).

// hello checks, announces and answers msg (partsMu read-locked).
func (s *Server) hello(c *conn, msg *tc.Msg) {
	for _, r := range msg.Resources {
		if r == "" || len(r) > txc.MaxResourceIDLen || strings.IndexByte(r, 0) >= 0 {
			c.push(errorReply(msg.ID, txc.Errorf(txc.CodeInvalidArgument, "server: resource ID must be 1..%d bytes without NUL", txc.MaxResourceIDLen)))
			return
		}
	}
	c.announce(msg.Resources)
	s.broadcastLocked(msg)
	s.answer(&tc.Reply{Conn: msg.Conn, ID: msg.ID, Kind: tc.KindHello, Node: s.Node()})
}

// broadcast hands msg to every hosted partition's core.
func (s *Server) broadcast(msg *tc.Msg) {
	s.partsMu.RLock()
	defer s.partsMu.RUnlock()
	s.broadcastLocked(msg)
}

// broadcastLocked is broadcast with partsMu read-locked.
func (s *Server) broadcastLocked(msg *tc.Msg) {
	for _, p := range s.parts {
		b := append(getBatch(1), *msg)
		if !p.enqueue(b) {
			putBatch(b)
		}
	}
}
