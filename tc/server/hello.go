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
	added, err := c.announce(msg.Resources)
	if err != nil {
		c.push(errorReply(msg.ID, err))
		return
	}
	// The cores get only what is new: what they already have they would
	// skip, after a scan of all the stream's resources for each.
	msg.Resources = added
	s.broadcastLocked(msg)
	s.answer(&tc.Reply{Conn: msg.Conn, ID: msg.ID, Kind: tc.KindHello, Node: s.Node()})
}

// announce records the resources of a Hello that are new to the stream
// and returns them. Over txc.MaxResourcesPerStream in all it records
// nothing and returns the refusal: a frame holds hundreds of thousands of
// IDs, each kept here and in every core, which scans a stream's list for
// each new one.
func (c *conn) announce(resources []string) ([]string, *txc.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var added []string
	fresh := map[string]struct{}{}
	for _, r := range resources {
		if _, ok := c.known[r]; ok {
			continue
		}
		if _, ok := fresh[r]; ok {
			continue
		}
		if len(c.resources)+len(added) >= txc.MaxResourcesPerStream {
			return nil, txc.Errorf(txc.CodeInvalidArgument, "server: a stream may serve at most %d resources", txc.MaxResourcesPerStream)
		}
		fresh[r] = struct{}{}
		added = append(added, r)
	}
	if c.known == nil {
		c.known = make(map[string]struct{}, len(added))
	}
	for _, r := range added {
		c.known[r] = struct{}{}
	}
	c.resources = append(c.resources, added...)
	return added, nil
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
