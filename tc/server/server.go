// Package server is the coordinator's shell around the deterministic core
// (package tc): the gRPC Session service, the hub of client streams, the
// loop that feeds the core, the persister that syncs each Ready to the store
// before its replies and phase-2 commands go out, timers, and the admin
// HTTP endpoints.
//
// One process hosts one or more partitions (partition.go): the
// transactions whose XIDs name one node, each with a core and a store of
// its own. A single node hosts just its own, restored in New from
// Config.Store; a node of a cluster of active nodes hosts its own and
// those of absent nodes, each for as long as Host runs for it. Every
// partition shares the process's gRPC port, streams and admin endpoints:
// accept routes each request to its partition's core (route.go).
//
// Goroutines: one reader per stream (the gRPC handler), one writer per
// stream, and per partition one core loop (the only goroutine that touches
// that core) and one persister (and, with shared locks, one claimer). The
// core loop keeps stepping requests while the persister syncs the
// previous Ready, so every request that arrives during a sync shares the
// next one (group commit).
//
// A store failure is fatal to its partition: the in-memory state may be
// ahead of the store, so the partition stops deciding (restoring from the
// store starts it again). For the own partition of a single node, Serve
// stops and returns the error; a partition hosted with Host ends only
// that Host.
package server

import (
	"context"
	"crypto/tls"
	"errors"
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
	// Store holds the durable state of the node's own partition (named
	// Core.Node). The server owns it from New on and closes it when Serve
	// returns. Nil in a cluster of active nodes: partitions are hosted
	// with Host then.
	Store store.Store
	// Locks, when set, is the lock table shared by the partitions of a
	// cluster: registrations claim their rows in it before a core takes
	// them, and lock queries are answered from it. Nil: each core's own
	// lock table decides alone, as on a single node.
	Locks store.SharedLocks
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
	// deciding and Serve returns. 0: no bound. It also bounds how long a
	// failing Free of shared lock rows is tried again before the
	// partition steps out (freelocks.go; DefaultFreeWindow when 0).
	StoreTimeout time.Duration
	// LockQueryWorkers bounds the lock queries answered from Locks at
	// once (each holds a connection of the shared table). Default
	// DefaultLockQueryWorkers.
	LockQueryWorkers int
	// LockQueryBacklog bounds the lock queries waiting for one of those
	// workers; a query over it fails at once with txc.ErrUnavailable.
	// Default DefaultLockQueryBacklog.
	LockQueryBacklog int
}

// DefaultMaxStreamsPerConn bounds concurrent streams on one connection:
// a client needs one Session stream (and a health check).
const DefaultMaxStreamsPerConn = 16

// Server is a running coordinator node.
type Server struct {
	txcv1.UnimplementedCoordinatorServer

	cfg     Config
	log     *slog.Logger
	hub     hub
	grpc    *grpc.Server
	health  *health.Server
	metrics *Metrics
	totals  totals
	trace   *tracing
	limit   *txLimiter
	// lockQueries answers lock queries from Config.Locks.
	lockQueries *lockQueries
	ready       atomic.Bool
	own         *partition // restored from Config.Store in New; nil in a cluster

	// partsMu guards the partitions served (parts), those reserved by a
	// running Host or own (hosting), and closed, set once Serve ends.
	partsMu  sync.RWMutex
	parts    map[string]*partition
	hosting  map[string]bool
	closed   bool
	hosts    sync.WaitGroup // running Hosts
	stopping chan struct{}  // closed when Serve ends: every Host returns
}

// New returns a server ready to Serve. With cfg.Store it restores the
// node's own partition from it; without, it hosts nothing until Host.
func New(ctx context.Context, cfg Config) (*Server, error) {
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
	probe, err := tc.New(cfg.Core) // checks the policy, fills in its defaults
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger,
		metrics:  cfg.Metrics,
		stopping: make(chan struct{}),
		health:   health.NewServer(),
		trace:    newTracing(cfg.TracerProvider, probe.Config().AckTimeout),
		limit:    newTxLimiter(cfg.MaxActivePerClient),
		parts:    map[string]*partition{},
		hosting:  map[string]bool{},
	}
	s.lockQueries = newLockQueries(s, cfg.LockQueryWorkers, cfg.LockQueryBacklog)
	if cfg.Store != nil {
		if s.own, err = s.newPartition(ctx, cfg.Core.Node, cfg.Store); err != nil {
			return nil, err
		}
		s.parts[s.own.name], s.hosting[s.own.name] = s.own, true
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

// Serve serves gRPC on lis until ctx is done or the own partition's store
// fails. Before returning it ends every Host and closes the own store.
// The error is nil after ctx is done, the store failure otherwise.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	var ownDown <-chan struct{} // nil without an own partition: never ready
	if s.own != nil {
		s.own.start()
		ownDown = s.own.stopping
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.grpc.Serve(lis) }()
	s.ready.Store(true)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.log.Info("serving", "addr", lis.Addr().String(), "node", s.Node())

	var err error
	select {
	case <-ctx.Done():
	case <-ownDown:
	case err = <-serveErr:
	}
	s.ready.Store(false)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	s.grpc.Stop()
	s.hub.closeAll()
	if perr := s.stopPartitions(); perr != nil {
		err = perr
	}
	if errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	return err
}

// stopPartitions ends every Host and stops the own partition; it returns
// the own partition's store failure, or the error closing its store.
func (s *Server) stopPartitions() error {
	s.partsMu.Lock()
	s.closed = true
	s.partsMu.Unlock()
	close(s.stopping)
	s.hosts.Wait()
	if s.own == nil {
		return nil
	}
	return s.unhost(s.own)
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
	// The name is kept and logged with each refusal, before any
	// credential is checked: a frame's worth made each a huge log line.
	if n := len(msgs[0].GetHello().GetClientName()); n > txc.MaxClientNameLen {
		return status.Errorf(codes.InvalidArgument, "server: a client name of %d bytes, at most %d", n, txc.MaxClientNameLen)
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
		s.broadcast(&tc.Msg{Kind: tc.KindConnDown, Conn: c.id})
	}()
	frame := first // reused: accept keeps no reference to a frame
	for {
		s.accept(c, frame)
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
