package server

import (
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/tc"
)

// protoSlabs holds the protobuf messages of one Ready's replies and
// commands, one allocation per kind instead of one per message (at 64
// clients a Ready carries dozens of each). A slab is never reused: its
// messages go on to the streams' writers, and the garbage collector frees
// it once none of them is referenced any more, so no message can be
// overwritten while a writer still holds it. The zero value allocates
// each message on its own.
type protoSlabs struct {
	begin    slab[replyOf[txcv1.Reply_Begin, txcv1.BeginReply]]
	global   slab[replyOf[txcv1.Reply_Global, txcv1.GlobalStatusReply]]
	register slab[replyOf[txcv1.Reply_Register, txcv1.RegisterReply]]
	commands slab[commandParts]
}

// reserve sizes the slabs for rd's replies and commands.
func (m *protoSlabs) reserve(rd *tc.Ready) {
	var nb, ng, nr int
	for i := range rd.Replies {
		r := &rd.Replies[i]
		if r.Err != nil {
			continue
		}
		switch r.Kind {
		case tc.KindBegin:
			nb++
		case tc.KindCommit, tc.KindRollback, tc.KindStatus:
			ng++
		case tc.KindRegister:
			nr++
		}
	}
	m.begin.reserve(nb)
	m.global.reserve(ng)
	m.register.reserve(nr)
	m.commands.reserve(len(rd.Commands))
}

// slab hands out the values of one allocation, then single ones.
type slab[T any] struct{ free []T }

// reserve makes room for n values in one allocation; for one value or
// none, take allocates it on its own.
func (s *slab[T]) reserve(n int) {
	if n > 1 {
		s.free = make([]T, n)
	}
}

// take returns a zero T: the next of the slab, or a new one.
func (s *slab[T]) take() *T {
	if len(s.free) == 0 {
		return new(T)
	}
	p := &s.free[0]
	s.free = s.free[1:]
	return p
}
