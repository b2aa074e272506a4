package tm

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/txctrace"
)

// GlobalTx is a global transaction begun by Manager.Begin. Its methods are
// safe for concurrent use, and Commit and Rollback may be called more than
// once: the coordinator treats them as idempotent.
type GlobalTx struct {
	m       *Manager
	xid     txc.XID
	name    string
	wait    func(context.Context) error // the pipelined Begin's outcome; nil if Begin waited
	outcome outcomeHooks                // see AfterOutcome
	// lockWait is Config.LockWait (see LockWaitFromContext).
	lockWait time.Duration
}

// beginFailed waits (detached from ctx's cancellation, bounded by the
// rollback timeout) for a pipelined Begin's outcome and returns its error,
// wrapped, if the Begin failed. A Begin whose reply was lost counts as
// failed only if the coordinator does not know the transaction: the caller
// learns that from its next request.
func (g *GlobalTx) beginFailed(ctx context.Context) error {
	if g.wait == nil {
		return nil
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.m.rollbackTimeout)
	defer cancel()
	err := g.wait(wctx)
	if err == nil || txc.CodeOf(err) == txc.CodeUnavailable {
		return nil
	}
	return &txError{op: "begin", xid: g.xid, name: g.name, err: err}
}

// XID returns the transaction's identifier.
func (g *GlobalTx) XID() txc.XID { return g.xid }

// Name returns the transaction's name as sent to the coordinator.
func (g *GlobalTx) Name() string { return g.name }

// Commit asks the coordinator to commit. A nil error means commit is
// decided and durable; phase 2 continues in the background.
//
// If the transaction had been rolled back, the error is a *txc.Error
// matching txc.ErrTimedOut (rolled back at its deadline) or
// txc.ErrRolledBack, with its Status. While the coordinator is unavailable,
// Commit retries with capped exponential backoff until ctx is done and then
// returns an *OutcomeUnknownError. Other coordinator errors
// (txc.ErrUnknownTransaction, txc.ErrNotActive, …) are returned wrapped.
func (g *GlobalTx) Commit(ctx context.Context) error {
	err := g.commit(ctx)
	g.ended(commitOutcome(err))
	return err
}

func (g *GlobalTx) commit(ctx context.Context) error {
	st, err := g.decide(ctx, "commit", g.m.c.Commit)
	if err != nil {
		if txc.CodeOf(err) == txc.CodeUnknownTransaction {
			if bErr := g.beginFailed(ctx); bErr != nil {
				return bErr
			}
		}
		return err
	}
	switch {
	case st.IsCommit():
		if st.NeedsManualAction() {
			g.m.log.WarnContext(ctx, "tm: committed, but a branch failed phase 2 and needs manual action", "xid", g.xid, "status", st)
		} else {
			g.m.log.DebugContext(ctx, "tm: committed", "xid", g.xid, "status", st)
		}
		return nil
	case st.IsTimeout():
		return &txc.Error{Code: txc.CodeTimedOut, XID: g.xid, Status: st,
			Message: "tm: commit " + string(g.xid) + ": the coordinator rolled it back at its deadline (" + st.String() + ")"}
	case st.IsRollback():
		return &txc.Error{Code: txc.CodeRolledBack, XID: g.xid, Status: st,
			Message: "tm: commit " + string(g.xid) + ": it was rolled back (" + st.String() + ")"}
	default:
		return &txc.Error{Code: txc.CodeInternal, XID: g.xid, Status: st,
			Message: "tm: commit " + string(g.xid) + ": coordinator replied with unexpected status " + st.String()}
	}
}

// Rollback asks the coordinator to roll back. A nil error means rollback is
// decided (or was already, including by timeout); branch rollbacks continue
// in the background. If commit was already decided the error matches
// txc.ErrNotActive. Unavailability is retried as for Commit.
func (g *GlobalTx) Rollback(ctx context.Context) error {
	_, err := g.rollback(ctx)
	return err
}

// rollback is Rollback, also returning the status the coordinator replied
// with when the rollback was decided (txc.GlobalRollbacked when there is
// nothing to wait for).
func (g *GlobalTx) rollback(ctx context.Context) (txc.GlobalStatus, error) {
	st, err := g.rollbackOnce(ctx)
	g.ended(rollbackOutcome(st, err))
	return st, err
}

func (g *GlobalTx) rollbackOnce(ctx context.Context) (txc.GlobalStatus, error) {
	st, err := g.decide(ctx, "rollback", g.m.c.Rollback)
	if err != nil {
		switch txc.CodeOf(err) {
		case txc.CodeTimedOut, txc.CodeRolledBack:
			g.m.log.DebugContext(ctx, "tm: already rolled back", "xid", g.xid, "err", err)
			var te *txc.Error
			if errors.As(err, &te) && te.Status.IsRollback() {
				return te.Status, nil
			}
			return txc.GlobalRollbacked, nil
		case txc.CodeUnknownTransaction:
			if g.wait != nil && g.wait(ctx) != nil {
				// The pipelined Begin failed or was lost, and the
				// coordinator does not know the transaction: nothing began.
				g.m.log.DebugContext(ctx, "tm: rollback of a transaction that never began", "xid", g.xid)
				return txc.GlobalRollbacked, nil
			}
		}
		return st, err
	}
	if st.IsCommit() {
		return st, &txc.Error{Code: txc.CodeNotActive, XID: g.xid, Status: st,
			Message: "tm: rollback " + string(g.xid) + ": commit was already decided (" + st.String() + ")"}
	}
	g.m.log.DebugContext(ctx, "tm: rolled back", "xid", g.xid, "status", st)
	return st, nil
}

// Status asks the coordinator for the transaction's status. It changes
// nothing and is not retried.
func (g *GlobalTx) Status(ctx context.Context) (txc.GlobalStatus, error) {
	st, err := g.m.c.Status(ctx, g.xid)
	if err != nil {
		return st, &txError{op: "status", xid: g.xid, err: err}
	}
	return st, nil
}

// rollbackDetached rolls g back on ctx detached from its cancellation
// (bounded by the rollback timeout), then, while ctx lasts, waits for the
// branches to be rolled back (see WithRollbackWait): a caller whose ctx
// is done has stopped waiting for anything.
func (g *GlobalTx) rollbackDetached(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.m.rollbackTimeout)
	defer cancel()
	st, err := g.rollback(rctx)
	if err != nil || ctx.Err() != nil {
		return err
	}
	return g.waitRolledBack(ctx, st)
}

// decide calls an idempotent coordinator method, retrying while the
// coordinator is unavailable and ctx is not done. Errors come back wrapped
// with op and the XID; when the outcome is unknown, as *OutcomeUnknownError.
func (g *GlobalTx) decide(ctx context.Context, op string, call func(context.Context, txc.XID) (txc.GlobalStatus, error)) (st txc.GlobalStatus, err error) {
	ctx, span := txctrace.Start(g.m.tracer, ctx, "txc."+op, trace.SpanKindClient)
	if span != nil {
		span.SetAttributes(txctrace.XID.String(string(g.xid)), txctrace.TxName.String(g.name))
		defer func() {
			span.SetAttributes(txctrace.Status.String(st.String()))
			txctrace.End(span, err)
		}()
	}
	return g.decideUntraced(ctx, op, call)
}

func (g *GlobalTx) decideUntraced(ctx context.Context, op string, call func(context.Context, txc.XID) (txc.GlobalStatus, error)) (txc.GlobalStatus, error) {
	backoff := g.m.minBackoff
	for attempt := 1; ; attempt++ {
		st, err := call(ctx, g.xid)
		if err == nil {
			return st, nil
		}
		unavailable := txc.CodeOf(err) == txc.CodeUnavailable
		if !unavailable {
			if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
				// The call was cut short by ctx: it may have reached the coordinator.
				return 0, &OutcomeUnknownError{Op: op, XID: g.xid, Attempts: attempt, Err: err}
			}
			return st, &txError{op: op, xid: g.xid, err: err}
		}
		if ctx.Err() != nil {
			return 0, &OutcomeUnknownError{Op: op, XID: g.xid, Attempts: attempt, Err: err, Cause: context.Cause(ctx)}
		}
		wait := jitter(backoff)
		g.m.log.WarnContext(ctx, "tm: coordinator unavailable; retrying", "op", op, "xid", g.xid,
			"attempt", attempt, "wait", wait, "err", err)
		if cerr := g.m.sleep(ctx, wait); cerr != nil {
			return 0, &OutcomeUnknownError{Op: op, XID: g.xid, Attempts: attempt, Err: err, Cause: cerr}
		}
		backoff = min(backoff*2, g.m.maxBackoff)
	}
}

// jitter returns a duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}
