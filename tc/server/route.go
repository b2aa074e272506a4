package server

import (
	"strings"

	"github.com/txcio/txc"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/tc"
)

// accept converts a frame and routes each message to the core of its
// partition (see route). Messages that cannot be read or are not served
// here are answered at once: they change nothing. The partitions cannot
// change while a frame is routed (partsMu), so a partition handed back
// gets nothing after unhost took it out.
func (s *Server) accept(c *conn, f *txcv1.ClientFrame) {
	s.partsMu.RLock()
	defer s.partsMu.RUnlock()
	out := frameOut{n: len(f.GetMessages())}
	for _, m := range f.GetMessages() {
		if err := s.permit(c.identity, c.name, m); err != nil {
			c.push(errorReply(m.GetId(), err))
			continue
		}
		if err := s.permitBranch(c, m); err != nil {
			if m.GetBranchResult() == nil { // a result gets no reply
				c.push(errorReply(m.GetId(), err))
			}
			continue
		}
		msg, err := toMsg(c.id, m)
		if err != nil {
			c.push(errorReply(m.GetId(), err))
			continue
		}
		s.route(c, &out, &msg, m.GetTraceContext())
	}
	out.flush(s)
}

// route sends one message on its way (partsMu read-locked): a Hello to
// every partition (hello.go); with Config.Locks, a lock query to the
// shared table and a registration with rows through the claimer first;
// everything else to the core of its partition: Begin and Reserve to the
// node's own, a message about an XID to the XID's. A message for a
// partition not hosted here is refused with txc.CodeNotServedHere (a
// phase-2 result is dropped: the partition's owner sends its command
// again).
func (s *Server) route(c *conn, out *frameOut, msg *tc.Msg, wire []byte) {
	switch {
	case msg.Kind == tc.KindHello:
		out.flush(s) // the stream's earlier requests first
		s.hello(c, msg)
		return
	case msg.Kind == tc.KindLockQuery && s.cfg.Locks != nil:
		s.sharedLockQuery(*msg)
		return
	}
	p, err := s.target(msg)
	if err == nil && msg.Kind == tc.KindBegin {
		err = s.limit.begin(c, msg.ID)
	}
	if err != nil {
		if msg.Kind != tc.KindBranchResult {
			c.push(errorReply(msg.ID, err))
		}
		return
	}
	s.trace.request(msg, wire)
	if p.claims != nil {
		claim := s.needsClaim(msg)
		if claim {
			out.flush(s) // the stream's earlier requests first
		}
		if p.claims.offer(c, msg, claim) {
			return
		}
	}
	out.add(s, p, msg)
}

// target finds the hosted partition msg is for (partsMu read-locked).
func (s *Server) target(msg *tc.Msg) (*partition, *txc.Error) {
	name := s.cfg.Core.Node
	byXID := msg.XID != "" && msg.Kind != tc.KindBegin && msg.Kind != tc.KindReserve
	if byXID {
		name = xidNode(msg.XID)
	}
	if p := s.servingLocked(name); p != nil {
		return p, nil
	}
	if _, _, err := msg.XID.Parse(); byXID && err != nil {
		return nil, err.(*txc.Error)
	}
	e := notServedHere(name, s.Node())
	e.XID = msg.XID
	return nil, e
}

// servingLocked finds the partition that serves the XIDs of node name
// (partsMu read-locked). The own partition of a single node, restored
// from Config.Store, serves every XID no other partition does: a single
// node renamed, or one started on a store another node wrote, still holds
// the XIDs begun under the former name, and its core answers for them (or
// says they are unknown) as it always did.
func (s *Server) servingLocked(name string) *partition {
	if p := s.parts[name]; p != nil {
		return p
	}
	if s.own != nil && s.parts[s.own.name] == s.own {
		return s.own
	}
	return nil
}

// xidNode is the node part of a well-formed XID, cheaply: the core checks
// the rest.
func xidNode(xid txc.XID) string {
	i := strings.LastIndexByte(string(xid), ':')
	if i < 0 {
		return ""
	}
	return string(xid[:i])
}

// frameOut collects a frame's messages for one partition at a time; a
// message for another partition sends what was collected first, so that
// each partition gets the frame's messages in order.
type frameOut struct {
	n     int // messages in the frame, to size the batch
	p     *partition
	batch []tc.Msg
}

func (o *frameOut) add(s *Server, p *partition, msg *tc.Msg) {
	if o.p != p {
		o.flush(s)
		o.p = p
	}
	if o.batch == nil {
		o.batch = getBatch(o.n)
	}
	o.batch = append(o.batch, *msg)
}

func (o *frameOut) flush(s *Server) {
	if len(o.batch) == 0 {
		return
	}
	if !o.p.enqueue(o.batch) {
		for i := range o.batch {
			s.refuse(&o.batch[i], o.p.refusal(false))
		}
		putBatch(o.batch)
	}
	o.batch = nil
}
