package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/txcio/txc"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
)

// job is a Ready for the persister, and whether it must be synced.
type job struct {
	rd   tc.Ready
	sync bool
}

// persister syncs each Ready (or holds back a lazy one), then sends what
// it carries.
func (p *partition) persister(in <-chan job, out chan<- tc.Ready) {
	var box outbox
	lw := lazyWrites{timer: time.NewTimer(time.Hour), delay: p.s.cfg.LazyWriteDelay}
	lw.timer.Stop()
	for {
		select {
		case j, ok := <-in:
			if !ok {
				p.flushLazy(&lw)
				return
			}
			if p.write(&lw, &j.rd, j.sync) {
				p.s.dispatch(&j.rd, &box)
			} else {
				for i := range j.rd.Replies {
					p.s.refuseReply(&j.rd.Replies[i], p.refusal(true))
				}
			}
			out <- j.rd
		case <-lw.timer.C:
			p.writeHeld(&lw)
		}
	}
}

// apply writes b to the store within StoreTimeout (a Ready handed to the
// persister is written or fails: nothing cancels it), then frees the
// shared lock rows b released.
func (p *partition) apply(b *store.Batch) error {
	ctx, cancel := p.s.storeContext()
	err := p.store.Apply(ctx, b)
	cancel()
	if err != nil {
		return err
	}
	p.freeShared(b)
	return nil
}

// dispatch sends a persisted Ready's replies and commands, grouped per
// stream so that each stream's writer wakes once and sends them in one
// frame.
func (s *Server) dispatch(rd *tc.Ready, out *outbox) {
	var slabs protoSlabs
	slabs.reserve(rd)
	for i := range rd.Replies {
		r := &rd.Replies[i]
		if r.Kind == tc.KindHello {
			continue // answered by accept (see hello.go)
		}
		s.observeReply(r)
		out.add(r.Conn, replyToProto(r, &slabs))
	}
	for i := range rd.Commands {
		cmd := &rd.Commands[i]
		s.metrics.observeCommand(cmd)
		pm := commandToProto(cmd, &slabs)
		pm.TraceContext = s.trace.command(time.Now(), cmd)
		out.addCommand(cmd.Conn, pm, cmd.Action == tc.ActionCommit && cmd.BranchType == txc.BranchAT)
	}
	out.flush(&s.hub, s.cfg.Access != nil)
	for _, e := range rd.Events {
		s.metrics.observeEvent(&e)
		s.totals.event(&e)
		if e.Kind == tc.EventFinished {
			s.trace.finished(e.XID)
			s.limit.finished(e.XID)
		}
		s.logEvent(&e)
	}
}

// outbox groups outgoing messages by stream; owned by the persister.
// A stream that gets only lazy messages (see conn.pushLazy) is not woken
// for them.
type outbox struct {
	conns []tc.ConnID
	msgs  [][]*txcv1.ServerMessage
	eager []bool
}

func (o *outbox) add(id tc.ConnID, m *txcv1.ServerMessage) { o.addCommand(id, m, false) }

func (o *outbox) addCommand(id tc.ConnID, m *txcv1.ServerMessage, lazy bool) {
	for i, c := range o.conns {
		if c == id {
			o.msgs[i] = append(o.msgs[i], m)
			o.eager[i] = o.eager[i] || !lazy
			return
		}
	}
	o.conns = append(o.conns, id)
	if len(o.msgs) < len(o.conns) {
		o.msgs = append(o.msgs, nil)
		o.eager = append(o.eager, false)
	}
	o.msgs[len(o.conns)-1] = append(o.msgs[len(o.conns)-1][:0], m)
	o.eager[len(o.conns)-1] = !lazy
}

func (o *outbox) flush(h *hub, track bool) {
	for i, id := range o.conns {
		if c := h.get(id); c != nil {
			if track {
				for _, m := range o.msgs[i] {
					if m.GetCommand() != nil {
						c.expect(m.GetId())
					}
				}
			}
			if o.eager[i] {
				c.push(o.msgs[i]...)
			} else {
				c.pushLazy(o.msgs[i]...)
			}
		}
		clear(o.msgs[i])
		o.msgs[i] = o.msgs[i][:0]
	}
	o.conns = o.conns[:0]
}

func (s *Server) logEvent(e *tc.Event) {
	if e.Message == "" && e.Kind != tc.EventFinished {
		return // counted only
	}
	if e.Kind == tc.EventFinished && !s.log.Enabled(context.Background(), slog.LevelDebug) {
		return // one per transaction: skip building attributes nobody logs
	}
	attrs := []any{"xid", e.XID, "status", e.Status.String()}
	if e.BranchID != 0 {
		attrs = append(attrs, "branch", e.BranchID)
	}
	switch e.Kind {
	case tc.EventManualAction:
		s.log.Error("NEEDS MANUAL ACTION: "+e.Message, attrs...)
	case tc.EventOperator:
		s.log.Warn(e.Message, attrs...)
	case tc.EventAnomaly:
		s.log.Warn(e.Message, attrs...)
	case tc.EventRetry, tc.EventTimeout:
		s.log.Info(e.Message, attrs...)
	case tc.EventFinished:
		s.log.Debug("finished", attrs...)
	}
}

// observeReply counts, traces and settles the limit of a reply about to
// be sent.
func (s *Server) observeReply(r *tc.Reply) {
	s.metrics.observeReply(r)
	s.totals.reply(r)
	s.trace.reply(r)
	s.limit.replied(r)
}

// storeContext bounds one store call by StoreTimeout.
func (s *Server) storeContext() (context.Context, context.CancelFunc) {
	if s.cfg.StoreTimeout > 0 {
		return context.WithTimeout(context.Background(), s.cfg.StoreTimeout)
	}
	return context.Background(), func() {}
}

// lockContext bounds a call on the shared lock table (a claim, a free, a
// query): StoreTimeout, or DefaultFreeWindow without one, so that a
// database that hangs holds no claimer, worker or stopping partition for
// ever.
func (s *Server) lockContext() (context.Context, context.CancelFunc) {
	d := s.cfg.StoreTimeout
	if d <= 0 {
		d = DefaultFreeWindow
	}
	return context.WithTimeout(context.Background(), d)
}
