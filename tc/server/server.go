// Package server is the coordinator's shell around the deterministic core
// (package tc): the gRPC Session service, the hub of client streams, the
// loop that feeds the core, the persister that syncs each Ready to the store
// before its replies and phase-2 commands go out, timers, and the admin
// HTTP endpoints.
//
// Goroutines: one reader per stream (the gRPC handler), one writer per
// stream, one core loop (the only goroutine that touches the core), and one
// persister. The core loop keeps stepping requests while the persister
// syncs the previous Ready, so every request that arrives during a sync
// shares the next one (group commit).
//
// A store failure is fatal: the in-memory state may be ahead of the store,
// so the server stops serving and Serve returns the error; restarting the
// process restores from the store.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/txcio/txc"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
)

const protocolVersion = 1

// DefaultMaxMessageSize bounds one frame in either direction.
const DefaultMaxMessageSize = 16 << 20

// Config configures a Server.
type Config struct {
	// Core is the coordinator's policy; Core.Node is required.
	Core tc.Config
	// Store holds the durable state. The server owns it from New on and
	// closes it when Serve returns.
	Store store.Store
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
	// MaxMessageSize bounds a received frame; larger ones end the stream
	// with ResourceExhausted. Default DefaultMaxMessageSize.
	MaxMessageSize int
	// TickInterval is how often the core's clock is advanced when nothing
	// else wakes it. Default 100ms.
	TickInterval time.Duration
	// LazyWriteDelay bounds how long the batch of a lazy Ready (one with
	// no reply and no command, tc.Ready.Lazy: phase-2 results, finished
	// transactions) waits for a sync to ride with before it is written on
	// its own. A crash loses at most this much of them: their phase-2
	// commands are sent again, finished records are kept longer.
	// Default 1s.
	LazyWriteDelay time.Duration
	// Metrics, when set, counts what the server does.
	Metrics *Metrics
	// TracerProvider, when set, gets the coordinator's OpenTelemetry spans
	// (see tracing.go); nil makes none, at no cost.
	TracerProvider trace.TracerProvider
	// TLS, when set, is the gRPC port's TLS configuration (see
	// NewTLSConfig): plaintext connections are then refused.
	TLS *tls.Config
	// Access, when set, authenticates every stream and admin request and
	// applies its policy to each request (see access.go); nil lets
	// everyone reaching the ports do everything.
	Access *Access
	// MaxStreamsPerConn bounds the concurrent gRPC streams of one client
	// connection. Default DefaultMaxStreamsPerConn.
	MaxStreamsPerConn uint32
	// MaxActivePerClient bounds the global transactions one client (an
	// identity, or a stream without Access) has open, from Begin to a
	// final status; a Begin over it fails with txc.ErrUnavailable and
	// changes nothing. 0: no limit.
	MaxActivePerClient int
	// StoreTimeout bounds one store write; a write that takes longer (a
	// store that stopped answering) is a store failure: the server stops
	// deciding and Serve returns. 0: no bound.
	StoreTimeout time.Duration
}

// DefaultMaxStreamsPerConn bounds concurrent streams on one connection:
// a client needs one Session stream (and a health check).
const DefaultMaxStreamsPerConn = 16

// Server is a running coordinator node.
type Server struct {
	txcv1.UnimplementedCoordinatorServer

	cfg     Config
	log     *slog.Logger
	core    *tc.Core
	hub     hub
	inputs  chan []tc.Msg
	queries chan func(*tc.Core)
	grpc    *grpc.Server
	health  *health.Server
	metrics *Metrics
	readies readyCount
	totals  totals
	trace   *tracing
	limit   *txLimiter

	force    bool // core loop only: sync the next Ready even if lazy
	ready    atomic.Bool
	stopping chan struct{}
	stopOnce sync.Once
	fatalMu  sync.Mutex
	fatal    error
}

// New restores the coordinator's state from cfg.Store and returns a server
// ready to Serve.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, txc.Errorf(txc.CodeInvalidArgument, "server: no store configured")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if cfg.MaxStreamsPerConn == 0 {
		cfg.MaxStreamsPerConn = DefaultMaxStreamsPerConn
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = 100 * time.Millisecond
	}
	if cfg.LazyWriteDelay <= 0 {
		cfg.LazyWriteDelay = time.Second
	}
	core, err := tc.New(cfg.Core)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	st, err := cfg.Store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("server: loading state: %w", err)
	}
	st.NextID = max(st.NextID, firstSequence(st, time.Now()))
	if err := core.Restore(st); err != nil {
		return nil, err
	}
	cfg.Logger.Info("state restored", "node", cfg.Core.Node, "transactions", len(st.Globals),
		"branches", len(st.Branches), "took", time.Since(start).Round(time.Millisecond))
	s := &Server{
		cfg: cfg, log: cfg.Logger, core: core,
		inputs:   make(chan []tc.Msg, 4096),
		queries:  make(chan func(*tc.Core)),
		metrics:  cfg.Metrics,
		stopping: make(chan struct{}),
		health:   health.NewServer(),
		trace:    newTracing(cfg.TracerProvider, core.Config().AckTimeout),
		limit:    newTxLimiter(cfg.MaxActivePerClient),
	}
	opts := TransportOptions(cfg.MaxMessageSize, cfg.MaxStreamsPerConn)
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	s.grpc = grpc.NewServer(opts...)
	txcv1.RegisterCoordinatorServer(s.grpc, s)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	return s, nil
}

// Ready reports whether the server is serving requests.
func (s *Server) Ready() bool { return s.ready.Load() }

// Node is this coordinator's node name.
func (s *Server) Node() string { return s.cfg.Core.Node }

// Serve serves gRPC on lis until ctx is done or the store fails. It closes
// the store before returning. The error is nil after ctx is done, the store
// failure otherwise.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	persist := make(chan job)
	persisted := make(chan tc.Ready)
	loopDone := make(chan struct{})
	persisterDone := make(chan struct{})
	go func() { defer close(persisterDone); s.persister(ctx, persist, persisted) }()
	go func() { defer close(loopDone); s.loop(persist, persisted) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.grpc.Serve(lis) }()
	s.ready.Store(true)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.log.Info("serving", "addr", lis.Addr().String(), "node", s.Node())

	var err error
	select {
	case <-ctx.Done():
	case <-s.stopping:
	case err = <-serveErr:
	}
	s.ready.Store(false)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	s.stop(nil)
	s.grpc.Stop()
	s.hub.closeAll()
	<-loopDone
	close(persist)
	<-persisterDone
	if cerr := s.cfg.Store.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if f := s.fatalErr(); f != nil {
		return f
	}
	if errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	return err
}

func (s *Server) stop(fatal error) {
	if fatal != nil {
		s.fatalMu.Lock()
		if s.fatal == nil {
			s.fatal = fatal
		}
		s.fatalMu.Unlock()
	}
	s.stopOnce.Do(func() { close(s.stopping) })
}

func (s *Server) fatalErr() error {
	s.fatalMu.Lock()
	defer s.fatalMu.Unlock()
	return s.fatal
}

// loop is the only goroutine that touches the core.
func (s *Server) loop(persist chan<- job, persisted <-chan tc.Ready) {
	ticker := time.NewTicker(s.cfg.TickInterval)
	defer ticker.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	busy := false // a Ready is with the persister
	for {
		select {
		case <-s.stopping:
			if busy {
				s.core.Advance(<-persisted)
			}
			return
		case batch := <-s.inputs:
			now := time.Now()
			s.step(now, batch)
			// Take whatever else is already queued: one sync for all of it.
			for more := true; more; {
				select {
				case batch = <-s.inputs:
					s.step(now, batch)
				default:
					more = false
				}
			}
		case rd := <-persisted:
			busy = false
			s.core.Advance(rd)
		case <-ticker.C:
			s.core.Tick(time.Now())
		case <-timer.C:
			s.core.Tick(time.Now())
		case q := <-s.queries:
			q(s.core)
		}
		if !busy && (s.core.HasReady() || s.force) {
			rd := s.core.Ready()
			select {
			case persist <- job{rd: rd, sync: s.force || !rd.Lazy()}:
				busy = true
				s.force = false
				s.readies.taken++
			case <-s.stopping:
				return
			}
		}
		if w := s.core.NextWake(); !w.IsZero() {
			timer.Reset(max(time.Until(w), time.Millisecond))
		}
	}
}

func (s *Server) step(now time.Time, batch []tc.Msg) {
	for i := range batch {
		s.core.Step(now, batch[i])
	}
	putBatch(batch)
}

// freeBatches recycles the input slices: the core copies each Msg, so a
// slice is free once stepped. Unlike a sync.Pool, a channel keeps them
// across garbage collections and takes one back without allocating.
var freeBatches = make(chan []tc.Msg, 64)

// minBatch is the least capacity of a new input slice, so that a recycled
// one usually fits the next frame.
const minBatch = 16

func getBatch(n int) []tc.Msg {
	select {
	case b := <-freeBatches:
		if cap(b) >= n {
			return b
		}
	default:
	}
	return make([]tc.Msg, 0, max(n, minBatch))
}

func putBatch(b []tc.Msg) {
	if cap(b) > 4096 {
		return
	}
	clear(b)
	select {
	case freeBatches <- b[:0]:
	default:
	}
}

// job is a Ready for the persister, and whether it must be synced.
type job struct {
	rd   tc.Ready
	sync bool
}

// persister syncs each Ready (or holds back a lazy one), then sends what
// it carries.
func (s *Server) persister(ctx context.Context, in <-chan job, out chan<- tc.Ready) {
	var box outbox
	lw := lazyWrites{timer: time.NewTimer(time.Hour), delay: s.cfg.LazyWriteDelay}
	lw.timer.Stop()
	for {
		select {
		case j, ok := <-in:
			if !ok {
				s.flushLazy(ctx, &lw)
				return
			}
			if s.write(ctx, &lw, &j.rd, j.sync) {
				s.dispatch(&j.rd, &box)
			}
			out <- j.rd
		case <-lw.timer.C:
			s.writeHeld(ctx, &lw)
		}
	}
}

// apply writes b to the store within StoreTimeout. It does not stop when
// ctx is cancelled: a Ready handed to the persister is written or fails.
func (s *Server) apply(ctx context.Context, b *store.Batch) error {
	actx := context.WithoutCancel(ctx)
	if s.cfg.StoreTimeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(actx, s.cfg.StoreTimeout)
		defer cancel()
	}
	return s.cfg.Store.Apply(actx, b)
}

// dispatch sends a persisted Ready's replies and commands, grouped per
// stream so that each stream's writer wakes once and sends them in one
// frame.
func (s *Server) dispatch(rd *tc.Ready, out *outbox) {
	for i := range rd.Replies {
		r := &rd.Replies[i]
		s.metrics.observeReply(r)
		s.totals.reply(r)
		s.trace.reply(r)
		s.limit.replied(r)
		out.add(r.Conn, replyToProto(r))
	}
	for i := range rd.Commands {
		cmd := &rd.Commands[i]
		s.metrics.observeCommand(cmd)
		pm := commandToProto(cmd)
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

// Session implements txcv1.CoordinatorServer.
func (s *Server) Session(stream txcv1.Coordinator_SessionServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	msgs := first.GetMessages()
	if len(msgs) == 0 || msgs[0].GetHello() == nil {
		return status.Error(codes.InvalidArgument, "server: the first message on a session must be a Hello")
	}
	identity, err := s.admit(stream, msgs[0])
	if err != nil {
		return err
	}
	c := s.hub.add(msgs[0].GetHello().GetClientName())
	c.identity = identity
	s.metrics.connected(+1)
	defer s.metrics.connected(-1)
	writeErr := make(chan error, 1)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		writeErr <- c.writeLoop(stream.Send, s.cfg.MaxMessageSize/2)
	}()
	defer func() {
		s.hub.remove(c)
		// gRPC forbids Send after the handler returns: wait for the writer.
		// A Send blocked on a peer that stopped reading ends when the
		// transport does.
		<-writerDone
		s.enqueue([]tc.Msg{{Kind: tc.KindConnDown, Conn: c.id}})
	}()
	frame := first // reused: accept keeps no reference to a frame
	for {
		if err := s.accept(c, frame); err != nil {
			return err
		}
		if err := stream.RecvMsg(frame); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			select {
			case werr := <-writeErr:
				if werr != nil {
					return werr
				}
			default:
			}
			return err
		}
	}
}

// accept converts a frame and queues it for the core. Messages that cannot
// be read are answered here: they change nothing.
func (s *Server) accept(c *conn, f *txcv1.ClientFrame) error {
	batch := getBatch(len(f.GetMessages()))
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
		if err == nil && msg.Kind == tc.KindBegin {
			err = s.limit.begin(c, msg.ID)
		}
		if err != nil {
			c.push(errorReply(m.GetId(), err))
			continue
		}
		s.trace.request(&msg, m.GetTraceContext())
		batch = append(batch, msg)
	}
	if len(batch) > 0 && !s.enqueue(batch) {
		return status.Error(codes.Unavailable, "server: coordinator is stopping")
	}
	return nil
}

func (s *Server) enqueue(batch []tc.Msg) bool {
	select {
	case s.inputs <- batch:
		return true
	case <-s.stopping:
		return false
	}
}

// query runs f on the core loop and waits for it.
func (s *Server) query(ctx context.Context, f func(*tc.Core)) error {
	done := make(chan struct{})
	select {
	case s.queries <- func(c *tc.Core) { f(c); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopping:
		return txc.Errorf(txc.CodeUnavailable, "server: stopping")
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
