package tm

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/txctrace"
)

// Manager begins and ends global transactions through a Coordinator. It is
// safe for concurrent use; one Manager per process (per coordinator
// connection) is the norm.
type Manager struct {
	c               Coordinator
	log             *slog.Logger
	minBackoff      time.Duration
	maxBackoff      time.Duration
	rollbackTimeout time.Duration
	rollbackWait    time.Duration
	noPipeline      bool
	tracer          trace.Tracer // nil: no spans
	// sleep waits d or until ctx is done; replaced in tests.
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns a Manager that talks to the coordinator through c. It panics
// if c is nil.
func New(c Coordinator, opts ...Option) *Manager {
	if c == nil {
		panic("tm: New: nil Coordinator")
	}
	m := &Manager{
		c:               c,
		log:             slog.New(slog.DiscardHandler),
		minBackoff:      DefaultMinBackoff,
		maxBackoff:      DefaultMaxBackoff,
		rollbackTimeout: DefaultRollbackTimeout,
		rollbackWait:    DefaultRollbackWait,
		sleep:           sleepCtx,
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// WithGlobalTx runs fn in a global transaction as cfg.Propagation directs
// (see Propagation).
//
// When it begins a transaction (Required without an outer transaction, or
// RequiresNew), it calls Begin, runs fn with a ctx carrying the new XID
// only, and then:
//   - fn returned nil: commits. A nil result means commit is decided and
//     durable. If the coordinator had rolled the transaction back (say, at
//     its deadline), the error matches txc.ErrTimedOut or txc.ErrRolledBack.
//     While the coordinator is unavailable the commit is retried until ctx
//     is done; then the error is an *OutcomeUnknownError. If ctx is already
//     done when fn returns, the transaction is rolled back instead and the
//     error wraps ctx's cause (as database/sql does for a Tx).
//   - fn returned an error: rolls back and returns fn's error unchanged. If
//     the rollback fails too, the error wraps both (errors.Is finds either);
//     the coordinator still rolls the transaction back at its deadline.
//   - fn panicked (or called runtime.Goexit): rolls back, then panics again
//     with the original value.
//
// The rollbacks above run on ctx detached from its cancellation and bounded
// by WithRollbackTimeout. Then WithGlobalTx waits (WithRollbackWait,
// default DefaultRollbackWait) until every branch is rolled back, so that
// the rows are restored when it returns; if they are not by then, or the
// rollback stopped for manual action, the error is a *RollbackError
// wrapping fn's error and a *RollbackPendingError.
//
// When it joins the outer transaction (Required, Supports, Mandatory with
// an XID in ctx), fn runs with ctx unchanged and its error is returned as is:
// the WithGlobalTx that began the transaction decides commit or rollback.
//
// An invalid cfg fails with a *txc.Error of CodeInvalidArgument before
// anything runs.
func (m *Manager) WithGlobalTx(ctx context.Context, cfg Config, fn func(ctx context.Context) error) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if fn == nil {
		return txc.Errorf(txc.CodeInvalidArgument, "tm: WithGlobalTx: nil fn")
	}
	xid, inTx := XIDFromContext(ctx)
	switch cfg.Propagation {
	case Required:
		if inTx {
			return fn(ctx)
		}
	case RequiresNew:
		// begin below
	case NotSupported:
		return fn(ContextWithoutXID(ctx))
	case Supports:
		return fn(ctx)
	case Never:
		if inTx {
			return &inTransactionError{xid: xid}
		}
		return fn(ctx)
	case Mandatory:
		if !inTx {
			return errMandatory()
		}
		return fn(ctx)
	}
	return m.run(ctx, cfg, fn)
}

// run begins a transaction, runs fn in it and ends it.
func (m *Manager) run(ctx context.Context, cfg Config, fn func(ctx context.Context) error) error {
	gtx, txCtx, err := m.Begin(ctx, cfg)
	if err != nil {
		return err
	}
	returned := false
	defer func() {
		if returned {
			return
		}
		r := recover() // nil after runtime.Goexit
		if rbErr := gtx.rollbackDetached(ctx); rbErr != nil {
			// Nobody to return this to: the panic goes on.
			m.log.ErrorContext(ctx, "tm: rollback after panic failed; the coordinator will roll back at the deadline",
				"xid", gtx.xid, "err", rbErr)
		} else {
			m.log.DebugContext(ctx, "tm: rolled back after panic", "xid", gtx.xid)
		}
		if r != nil {
			panic(r)
		}
	}()
	fnErr := fn(txCtx)
	returned = true

	if fnErr != nil {
		if bErr := gtx.beginFailed(ctx); bErr != nil {
			// fn most likely failed because the transaction never began.
			gtx.ended(OutcomeUnknown)
			return errors.Join(bErr, fnErr)
		}
		if rbErr := gtx.rollbackDetached(ctx); rbErr != nil {
			return &RollbackError{XID: gtx.xid, Err: fnErr, RollbackErr: rbErr}
		}
		return fnErr
	}
	if ctx.Err() != nil {
		cause := context.Cause(ctx)
		if rbErr := gtx.rollbackDetached(ctx); rbErr != nil {
			return &RollbackError{XID: gtx.xid, Err: cause, RollbackErr: rbErr}
		}
		return &CancelledError{XID: gtx.xid, Err: cause}
	}
	return gtx.Commit(ctx)
}

// Begin begins a new global transaction, whatever ctx carries
// (cfg.Propagation is ignored), and returns it with a context derived from
// ctx that carries its XID. The caller must end it with Commit or Rollback;
// otherwise the coordinator rolls it back at its deadline.
//
// Begin is not idempotent and is not retried; if the coordinator is
// unavailable the error matches txc.ErrUnavailable (a transaction may have
// been begun, and will time out harmlessly). On error the returned context
// is ctx.
//
// With a pipelined begin (see Pipeliner, WithPipelinedBegin) Begin returns
// before the coordinator has answered; a failure of the Begin then surfaces
// in Commit (as a *txc.Error of the begin), in WaitBegun, and in requests
// about the XID (txc.ErrUnknownTransaction).
func (m *Manager) Begin(ctx context.Context, cfg Config) (*GlobalTx, context.Context, error) {
	if err := cfg.validate(); err != nil {
		return nil, ctx, err
	}
	name := cfg.name()
	var (
		xid  txc.XID
		wait func(context.Context) error
		err  error
	)
	sctx, span := txctrace.Start(m.tracer, ctx, "txc.begin", trace.SpanKindClient)
	if p, ok := m.c.(Pipeliner); ok && !m.noPipeline {
		xid, wait, err = p.BeginPipelined(sctx, name, cfg.Timeout)
	} else {
		xid, err = m.c.Begin(sctx, name, cfg.Timeout)
	}
	if span != nil {
		span.SetAttributes(txctrace.XID.String(string(xid)), txctrace.TxName.String(name))
		txctrace.End(span, err)
	}
	if err != nil {
		return nil, ctx, &txError{op: "begin", name: name, err: err}
	}
	if !xid.Valid() {
		return nil, ctx, txc.Errorf(txc.CodeInternal, "tm: begin %q: coordinator returned malformed XID %q", name, xid)
	}
	m.log.DebugContext(ctx, "tm: begun", "xid", xid, "name", name, "timeout", cfg.Timeout, "pipelined", wait != nil)
	g := &GlobalTx{m: m, xid: xid, name: name, wait: wait, lockWait: cfg.LockWait}
	txCtx := context.WithValue(ContextWithXID(ctx, xid), globalTxKey{}, g)
	if wait != nil {
		txCtx = context.WithValue(txCtx, begunKey{}, &pendingBegin{xid: xid, wait: wait})
	}
	return g, txCtx, nil
}

var defaultManager atomic.Pointer[Manager]

// SetDefault makes m the Manager used by the package-level WithGlobalTx.
// SetDefault(nil) unsets it. Safe for concurrent use.
func SetDefault(m *Manager) { defaultManager.Store(m) }

// Default returns the Manager set by SetDefault, or nil.
func Default() *Manager { return defaultManager.Load() }

// WithGlobalTx is Default().WithGlobalTx. Without a default Manager it runs
// nothing and returns a *txc.Error matching txc.ErrUnavailable.
func WithGlobalTx(ctx context.Context, cfg Config, fn func(ctx context.Context) error) error {
	m := defaultManager.Load()
	if m == nil {
		return txc.Errorf(txc.CodeUnavailable, "tm: no default Manager: call tm.SetDefault(tm.New(conn)) first")
	}
	return m.WithGlobalTx(ctx, cfg, fn)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
