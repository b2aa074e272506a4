// Package clienttest provides a fake coordinator for testing code that uses
// package client (client itself, rm, tm): a real gRPC server on loopback
// that speaks the Session protocol with canned answers, counts frames,
// sends BranchCommands on demand and can drop streams or refuse sessions.
//
// It has no durability, no locks and no transaction state: Begin hands out
// XIDs (or echoes the one a pipelined Begin names; Reserve hands out
// blocks), Commit answers Committed, Rollback Rollbacked, Status Begin,
// Register hands out branch ids, LockQuery answers "not locked". A Hook
// overrides any of that per request.
package clienttest

import (
	"context"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txcio/txc"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// MaxMessageSize is the frame limit of the fake (as the real coordinator's
// default).
const MaxMessageSize = 16 << 20

// Hook answers a request instead of the default behaviour. It returns the
// reply and true to handle the request (a nil reply with true sends no
// reply at all: the request stays in flight), or false for the default.
// Hooks run on the stream's receive goroutine unless a Delay is set.
type Hook func(m *txcv1.ClientMessage) (*txcv1.Reply, bool)

// Result is a BranchResult received from a client.
type Result struct {
	ID     uint64 // the command's id
	Result *txcv1.BranchResult
}

// Server is the fake coordinator.
type Server struct {
	// Addr is the "host:port" it listens on.
	Addr string
	// Node is the node name in HelloReply and in XIDs.
	Node string

	tb  testing.TB
	srv *grpc.Server

	frames   atomic.Int64
	maxFrame atomic.Int64
	track    atomic.Bool
	messages atomic.Int64
	sessions atomic.Int64
	seq      atomic.Uint64
	cmdSeq   atomic.Uint64

	mu      sync.Mutex
	hook    Hook
	delay   func(m *txcv1.ClientMessage) time.Duration
	shuffle bool
	refuse  bool
	streams map[*stream]struct{}
	changed chan struct{} // closed and replaced whenever streams or resources change

	results chan Result
}

type stream struct {
	ss        txcv1.Coordinator_SessionServer
	sendMu    sync.Mutex
	drop      chan struct{}
	dropOnce  sync.Once
	resources []string // guarded by Server.mu
}

// NewServer starts a fake coordinator on 127.0.0.1:0, stopped by tb's
// cleanup.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("clienttest: listen: %v", err)
	}
	s := &Server{
		Addr:    lis.Addr().String(),
		Node:    "fake-1",
		tb:      tb,
		srv:     grpc.NewServer(grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize)),
		streams: make(map[*stream]struct{}),
		changed: make(chan struct{}),
		results: make(chan Result, 1024),
	}
	txcv1.RegisterCoordinatorServer(s.srv, &service{s: s})
	go s.srv.Serve(lis) //nolint:errcheck // ends with Stop
	tb.Cleanup(s.srv.Stop)
	return s
}

// SetHook installs h (nil restores the defaults).
func (s *Server) SetHook(h Hook) { s.mu.Lock(); s.hook = h; s.mu.Unlock() }

// SetDelay makes every reply be sent by its own goroutine after d(m);
// replies then go out one per frame, in whatever order the delays give.
// nil restores in-line replies.
func (s *Server) SetDelay(d func(m *txcv1.ClientMessage) time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// SetShuffle makes the replies to one frame go out in random order.
func (s *Server) SetShuffle(on bool) { s.mu.Lock(); s.shuffle = on; s.mu.Unlock() }

// SetRefuse makes new sessions fail at once with codes.Unavailable (a
// coordinator that is down, as far as the client can tell).
func (s *Server) SetRefuse(on bool) { s.mu.Lock(); s.refuse = on; s.mu.Unlock() }

// DropStreams ends every open session with codes.Unavailable.
func (s *Server) DropStreams() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for st := range s.streams {
		st.dropOnce.Do(func() { close(st.drop) })
	}
}

// TrackFrameSize makes the server record the largest frame received
// (costs a size computation per frame).
func (s *Server) TrackFrameSize(on bool) { s.track.Store(on) }

// MaxFrameSize returns the largest frame received while tracking, in bytes.
func (s *Server) MaxFrameSize() int64 { return s.maxFrame.Load() }

// Counts returns the frames and messages received from clients so far.
func (s *Server) Counts() (frames, messages int64) { return s.frames.Load(), s.messages.Load() }

// Sessions returns how many sessions were opened (accepted) so far.
func (s *Server) Sessions() int64 { return s.sessions.Load() }

// Results delivers the BranchResults clients send.
func (s *Server) Results() <-chan Result { return s.results }

// Resources returns the resources announced on open sessions, sorted,
// without duplicates.
func (s *Server) Resources() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resourcesLocked()
}

func (s *Server) resourcesLocked() []string {
	var out []string
	for st := range s.streams {
		out = append(out, st.resources...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// WaitResources waits until every id is announced on an open session.
func (s *Server) WaitResources(ctx context.Context, ids ...string) error {
	for {
		s.mu.Lock()
		have := s.resourcesLocked()
		ch := s.changed
		s.mu.Unlock()
		all := true
		for _, id := range ids {
			if _, ok := slices.BinarySearch(have, id); !ok {
				all = false
			}
		}
		if all {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// SendCommand sends cmd on an open session that announced its resource
// and returns the command's id. It fails with txc.ErrUnavailable if no
// session serves the resource.
func (s *Server) SendCommand(cmd *txcv1.BranchCommand) (uint64, error) {
	s.mu.Lock()
	var target *stream
	for st := range s.streams {
		if slices.Contains(st.resources, cmd.GetResourceId()) {
			target = st
			break
		}
	}
	s.mu.Unlock()
	if target == nil {
		return 0, txc.Errorf(txc.CodeUnavailable, "clienttest: no session serves %q", cmd.GetResourceId())
	}
	return s.sendOn(target, cmd)
}

// SendCommandAny sends cmd on any open session, whatever it announced.
func (s *Server) SendCommandAny(cmd *txcv1.BranchCommand) (uint64, error) {
	target, err := s.anyStream()
	if err != nil {
		return 0, err
	}
	return s.sendOn(target, cmd)
}

// SendNotice sends cmd as a notice (id 0, which the client does not
// answer) on any open session.
func (s *Server) SendNotice(cmd *txcv1.BranchCommand) error {
	target, err := s.anyStream()
	if err != nil {
		return err
	}
	return target.send(&txcv1.ServerFrame{Messages: []*txcv1.ServerMessage{{Body: &txcv1.ServerMessage_Command{Command: cmd}}}})
}

// anyStream returns an open session's stream.
func (s *Server) anyStream() (*stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for st := range s.streams {
		return st, nil
	}
	return nil, txc.Errorf(txc.CodeUnavailable, "clienttest: no session")
}

func (s *Server) sendOn(st *stream, cmd *txcv1.BranchCommand) (uint64, error) {
	id := s.cmdSeq.Add(1)
	err := st.send(&txcv1.ServerFrame{Messages: []*txcv1.ServerMessage{{Id: id, Body: &txcv1.ServerMessage_Command{Command: cmd}}}})
	return id, err
}

func (st *stream) send(f *txcv1.ServerFrame) error {
	st.sendMu.Lock()
	defer st.sendMu.Unlock()
	return st.ss.Send(f)
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

type service struct {
	txcv1.UnimplementedCoordinatorServer
	s *Server
}

func (v *service) Session(ss txcv1.Coordinator_SessionServer) error {
	s := v.s
	s.mu.Lock()
	if s.refuse {
		s.mu.Unlock()
		return status.Error(codes.Unavailable, "clienttest: refusing sessions")
	}
	st := &stream{ss: ss, drop: make(chan struct{})}
	s.streams[st] = struct{}{}
	s.notifyLocked()
	s.mu.Unlock()
	s.sessions.Add(1)
	defer func() {
		s.mu.Lock()
		delete(s.streams, st)
		s.notifyLocked()
		s.mu.Unlock()
	}()

	frames := make(chan *txcv1.ClientFrame)
	errc := make(chan error, 1)
	go func() {
		for {
			f, err := ss.Recv()
			if err != nil {
				errc <- err
				return
			}
			select {
			case frames <- f:
			case <-ss.Context().Done():
				return
			}
		}
	}()
	for {
		select {
		case <-st.drop:
			return status.Error(codes.Unavailable, "clienttest: stream dropped")
		case err := <-errc:
			return err
		case f := <-frames:
			if err := s.handleFrame(st, f); err != nil {
				return err
			}
		}
	}
}

func (s *Server) handleFrame(st *stream, f *txcv1.ClientFrame) error {
	s.frames.Add(1)
	if s.track.Load() {
		if n := int64(proto.Size(f)); n > s.maxFrame.Load() {
			s.maxFrame.Store(n) // handleFrame runs on one goroutine per stream; good enough for tests
		}
	}
	s.messages.Add(int64(len(f.GetMessages())))
	s.mu.Lock()
	hook, delay, shuffle := s.hook, s.delay, s.shuffle
	s.mu.Unlock()
	var out []*txcv1.ServerMessage
	for _, m := range f.GetMessages() {
		if br := m.GetBranchResult(); br != nil {
			s.results <- Result{ID: m.GetId(), Result: br}
			continue
		}
		if h := m.GetHello(); h != nil {
			s.mu.Lock()
			st.resources = append(st.resources, h.GetResourceIds()...)
			s.notifyLocked()
			s.mu.Unlock()
		}
		var r *txcv1.Reply
		handled := false
		if hook != nil {
			r, handled = hook(m)
		}
		if !handled {
			r = s.defaultReply(m)
		}
		if r == nil {
			continue
		}
		sm := &txcv1.ServerMessage{Id: m.GetId(), Body: &txcv1.ServerMessage_Reply{Reply: r}}
		if delay != nil {
			d := delay(m)
			go func() {
				time.Sleep(d)
				_ = st.send(&txcv1.ServerFrame{Messages: []*txcv1.ServerMessage{sm}})
			}()
			continue
		}
		out = append(out, sm)
	}
	if len(out) == 0 {
		return nil
	}
	if shuffle {
		rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	return st.send(&txcv1.ServerFrame{Messages: out})
}

func (s *Server) defaultReply(m *txcv1.ClientMessage) *txcv1.Reply {
	switch m.GetBody().(type) {
	case *txcv1.ClientMessage_Hello:
		return &txcv1.Reply{Result: &txcv1.Reply_Hello{Hello: &txcv1.HelloReply{Version: 1, Node: s.Node}}}
	case *txcv1.ClientMessage_Begin:
		xid := txc.XID(m.GetBegin().GetXid())
		if xid == "" {
			xid = txc.NewXID(s.Node, s.seq.Add(1))
		}
		return &txcv1.Reply{Result: &txcv1.Reply_Begin{Begin: &txcv1.BeginReply{Xid: string(xid)}}}
	case *txcv1.ClientMessage_Commit:
		return GlobalReply(txc.GlobalCommitted)
	case *txcv1.ClientMessage_Rollback:
		return GlobalReply(txc.GlobalRollbacked)
	case *txcv1.ClientMessage_Status:
		return GlobalReply(txc.GlobalBegin)
	case *txcv1.ClientMessage_Register:
		return &txcv1.Reply{Result: &txcv1.Reply_Register{Register: &txcv1.RegisterReply{BranchId: s.seq.Add(1)}}}
	case *txcv1.ClientMessage_Report:
		return &txcv1.Reply{Result: &txcv1.Reply_Report{Report: &txcv1.ReportReply{}}}
	case *txcv1.ClientMessage_LockQuery:
		return &txcv1.Reply{Result: &txcv1.Reply_LockQuery{LockQuery: &txcv1.LockQueryReply{}}}
	case *txcv1.ClientMessage_Reserve:
		n := uint64(m.GetReserve().GetCount())
		first := s.seq.Add(n) - n + 1
		return &txcv1.Reply{Result: &txcv1.Reply_Reserve{Reserve: &txcv1.ReserveReply{Node: s.Node, First: first, Count: uint32(n)}}}
	}
	return ErrorReply(txc.Errorf(txc.CodeInvalidArgument, "clienttest: empty request"))
}

// GlobalReply is a reply carrying a global status.
func GlobalReply(st txc.GlobalStatus) *txcv1.Reply {
	return &txcv1.Reply{Result: &txcv1.Reply_Global{Global: &txcv1.GlobalStatusReply{Status: txcv1.GlobalStatus(st)}}}
}

// ErrorReply is a reply carrying err.
func ErrorReply(err error) *txcv1.Reply { return &txcv1.Reply{Error: txcv1.ErrorToProto(err)} }
