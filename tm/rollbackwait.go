package tm

import (
	"context"
	"fmt"
	"time"

	"github.com/txcio/txc"
)

// DefaultRollbackWait is how long WithGlobalTx waits, after a rollback it
// sent, for the branches to be rolled back (see WithRollbackWait).
const DefaultRollbackWait = 10 * time.Second

// Bounds of the interval between the status requests of that wait: the
// first comes soon (a one-branch rollback takes a few milliseconds), the
// interval doubles up to the cap.
const (
	rollbackPollMin = time.Millisecond
	rollbackPollMax = 50 * time.Millisecond
)

// RollbackPendingError reports a rollback that was decided but whose
// branches were not all rolled back when WithGlobalTx stopped waiting:
// either the wait's bound passed (the coordinator keeps retrying them) or
// the rollback stopped for an operator (Status needs manual action: a
// branch could not be restored, say because its rows were changed outside
// the global transaction). Rows a branch wrote may still show until then.
type RollbackPendingError struct {
	XID    txc.XID
	Status txc.GlobalStatus // the last status the coordinator reported
	Waited time.Duration
}

func (e *RollbackPendingError) Error() string {
	if e.Status.NeedsManualAction() {
		return fmt.Sprintf("tm: rollback of %s stopped for manual action (%s): some branch was not rolled back", e.XID, e.Status)
	}
	return fmt.Sprintf("tm: rollback of %s decided, but its branches were not all rolled back after %s (status %s); the coordinator keeps retrying", e.XID, e.Waited, e.Status)
}

// WithRollbackWait sets how long WithGlobalTx waits, after it rolled a
// transaction back because fn failed or panicked, until the coordinator
// reports every branch rolled back, so that what follows WithGlobalTx
// sees the rows restored; the caller's ctx bounds the wait too (with ctx
// already done there is no wait). A wait that ends first makes the error
// a *RollbackError whose RollbackErr is a *RollbackPendingError.
// Zero or less: no wait; WithGlobalTx returns once the rollback is
// decided, and branches are rolled back in the background.
func WithRollbackWait(d time.Duration) Option {
	return func(m *Manager) { m.rollbackWait = max(d, 0) }
}

// waitRolledBack polls the coordinator until the rollback of g, decided
// with status st, is done (a final rollback status), stops for manual
// action, or m.rollbackWait passes or ctx is done.
func (g *GlobalTx) waitRolledBack(ctx context.Context, st txc.GlobalStatus) error {
	if g.m.rollbackWait <= 0 {
		return nil
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, g.m.rollbackWait)
	defer cancel()
	poll := rollbackPollMin
	for {
		switch {
		case st.IsFinal():
			return nil
		case st.NeedsManualAction():
			return &RollbackPendingError{XID: g.xid, Status: st, Waited: time.Since(start)}
		}
		if g.m.sleep(wctx, poll) != nil {
			return &RollbackPendingError{XID: g.xid, Status: st, Waited: time.Since(start)}
		}
		poll = min(poll*2, rollbackPollMax)
		next, err := g.m.c.Status(wctx, g.xid)
		switch {
		case txc.CodeOf(err) == txc.CodeUnknownTransaction:
			return nil // forgotten: finished long ago
		case err == nil:
			st = next
		}
	}
}
