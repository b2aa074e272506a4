package rm

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/internal/txctrace"
)

// Manager is a resource manager: it serves phase-2 commands for the
// resources added to it over one client.Conn, and registers branches.
// It is safe for concurrent use.
type Manager struct {
	conn    *client.Conn
	log     *slog.Logger
	backoff client.Backoff
	// lockWait bounds a registration's lock-conflict retries (see
	// WithLockWait); zero: none.
	lockWait time.Duration

	mu       sync.RWMutex
	handlers map[handlerKey]Handler
	served   map[string]bool // resources announced through conn
	tracer   trace.Tracer    // nil: no spans
}

type handlerKey struct {
	resource string
	typ      txc.BranchType
}

// New returns a Manager using conn. Closing conn stops it.
func New(conn *client.Conn, opts ...Option) *Manager {
	m := &Manager{
		conn:     conn,
		log:      slog.New(slog.DiscardHandler),
		backoff:  client.Backoff{Min: 5 * time.Millisecond, Max: 200 * time.Millisecond},
		handlers: make(map[handlerKey]Handler),
		served:   make(map[string]bool),
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Conn returns the connection the Manager uses.
func (m *Manager) Conn() *client.Conn { return m.conn }

// AddResource makes h finish the branches of type t on resourceID and
// announces resourceID to the coordinator (now and after every reconnect).
// One resource may have a handler per branch type; adding a second handler
// for the same pair fails with txc.ErrInvalidArgument. Commands for a
// branch type with no handler are answered as retryable failures, so the
// coordinator tries again later (perhaps on another RM instance).
func (m *Manager) AddResource(resourceID string, t txc.BranchType, h Handler) error {
	if resourceID == "" || len(resourceID) > txc.MaxResourceIDLen {
		return txc.Errorf(txc.CodeInvalidArgument, "rm: invalid resource id %q", resourceID)
	}
	if !t.Valid() {
		return txc.Errorf(txc.CodeInvalidArgument, "rm: invalid branch type %v for resource %q", t, resourceID)
	}
	if h == nil {
		return txc.Errorf(txc.CodeInvalidArgument, "rm: nil handler for resource %q", resourceID)
	}
	k := handlerKey{resourceID, t}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.handlers[k]; dup {
		return txc.Errorf(txc.CodeInvalidArgument, "rm: resource %q already has a %v handler", resourceID, t)
	}
	if !m.served[resourceID] {
		if err := m.conn.Serve([]string{resourceID}, m.handle); err != nil {
			return fmt.Errorf("rm: add resource %q: %w", resourceID, err)
		}
		m.served[resourceID] = true
	}
	m.handlers[k] = h
	return nil
}

// handle is the client.CommandHandler of every resource of m.
func (m *Manager) handle(ctx context.Context, cmd client.Command) (txc.BranchStatus, string) {
	ok, retry, fatal := txc.BranchCommitted, txc.BranchCommitFailedRetryable, txc.BranchCommitFailedUnretryable
	if cmd.Action == client.ActionRollback {
		ok, retry, fatal = txc.BranchRollbacked, txc.BranchRollbackFailedRetryable, txc.BranchRollbackFailedUnretryable
	}
	m.mu.RLock()
	h := m.handlers[handlerKey{cmd.ResourceID, cmd.Type}]
	m.mu.RUnlock()
	if h == nil {
		m.log.Warn("rm: no handler for branch", "resource", cmd.ResourceID, "type", cmd.Type, "xid", cmd.XID, "branch", cmd.BranchID)
		return retry, fmt.Sprintf("rm: no %v handler for resource %q", cmd.Type, cmd.ResourceID)
	}
	b := Branch{XID: cmd.XID, ID: cmd.BranchID, Type: cmd.Type, ResourceID: cmd.ResourceID, ApplicationData: cmd.ApplicationData}
	ctx, span := txctrace.Start(m.tracer, ctx, "txc.rm.phase2", trace.SpanKindServer)
	if span != nil {
		span.SetAttributes(txctrace.XID.String(string(cmd.XID)), txctrace.BranchID.Int64(int64(cmd.BranchID)),
			txctrace.ResourceID.String(cmd.ResourceID), txctrace.BranchType.String(cmd.Type.String()), txctrace.Action.String(cmd.Action.String()))
	}
	err := run(ctx, h, cmd.Action, b)
	txctrace.Finish(span, err)
	switch {
	case err == nil:
		return ok, ""
	case txc.IsPermanent(err):
		m.log.Error("rm: branch failed permanently; transaction needs manual action",
			"action", cmd.Action, "xid", cmd.XID, "branch", cmd.BranchID, "resource", cmd.ResourceID, "err", err)
		return fatal, err.Error()
	default:
		m.log.Warn("rm: branch failed; the coordinator will retry",
			"action", cmd.Action, "xid", cmd.XID, "branch", cmd.BranchID, "resource", cmd.ResourceID, "err", err)
		return retry, err.Error()
	}
}

// run calls the handler, turning a panic into a (retryable) error.
func run(ctx context.Context, h Handler, a client.Action, b Branch) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("rm: %v handler panicked: %v", a, p)
		}
	}()
	if a == client.ActionRollback {
		return h.Rollback(ctx, b)
	}
	return h.Commit(ctx, b)
}
