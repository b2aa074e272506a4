package rm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/internal/txctrace"
)

// RegisterBranch registers b at the coordinator, taking its lock keys.
// A txc.ErrLockConflict is retried with capped exponential backoff and
// jitter until ctx is done (give ctx the transaction's remaining budget)
// or the registration's lock wait is over (LockWaitFor: the transaction's
// tm.Config.LockWait, else opts' LockWait, else WithLockWait; none by
// default): the last attempt starts at the bound, none after. Then the
// last lock-conflict error is returned, wrapped: errors.As finds the
// *txc.Error whose Holder names the transaction holding the lock, and the
// branch is not registered. If the transaction ends while it waits (the
// coordinator rolls it back at its deadline), the error wraps both that
// conflict and the ending (so it matches txc.ErrLockConflict and, say,
// txc.ErrTimedOut). A retry whose answer could not arrive before ctx's deadline (less than
// two delays, or a delay and two round trips, left) is not attempted: it
// would end with an unknown outcome instead of the conflict. Every other
// error is returned at once. Like client.Conn.Register it is not
// idempotent: after an error wrapping txc.ErrUnavailable the branch may or
// may not be registered.
func (m *Manager) RegisterBranch(ctx context.Context, b client.Branch, opts ...RegisterOption) (id txc.BranchID, err error) {
	ctx, span := txctrace.Start(m.tracer, ctx, "txc.rm.register", trace.SpanKindClient)
	if span != nil {
		span.SetAttributes(txctrace.XID.String(string(b.XID)), txctrace.ResourceID.String(b.ResourceID), txctrace.BranchType.String(b.Type.String()))
		defer func() {
			span.SetAttributes(txctrace.BranchID.Int64(int64(id)))
			txctrace.End(span, err)
		}()
	}
	var r registration
	for _, o := range opts {
		o(&r)
	}
	return m.register(ctx, b, m.LockWaitFor(ctx, r.lockWait))
}

// register is RegisterBranch without its span, retrying lock conflicts
// for at most wait (zero: no bound but ctx).
func (m *Manager) register(ctx context.Context, b client.Branch, wait time.Duration) (txc.BranchID, error) {
	start := time.Now()
	var conflict error // the lock conflict of the previous attempt
	for attempt := 0; ; attempt++ {
		sent := time.Now()
		id, err := m.conn.Register(ctx, b)
		took := time.Since(sent)
		if err != nil && conflict != nil && errors.Is(err, client.ErrNotSent) {
			// The budget ran out on the way to another attempt: the rows
			// were locked when last asked, which is the answer.
			return 0, fmt.Errorf("rm: register %v branch of %s on %q: locked after %d attempts: %w",
				b.Type, b.XID, b.ResourceID, attempt, conflict)
		}
		if err != nil && conflict != nil && ended(err) {
			// The transaction ended while it waited (the coordinator
			// rolled it back at its deadline): the lock it waited for is
			// why, and the end is what happened.
			return 0, fmt.Errorf("rm: register %v branch of %s on %q: locked after %d attempts: %w; then: %w",
				b.Type, b.XID, b.ResourceID, attempt, conflict, err)
		}
		if err == nil || !errors.Is(err, txc.ErrLockConflict) {
			return id, err
		}
		conflict = err
		giveUp := func(why string) error {
			return fmt.Errorf("rm: register %v branch of %s on %q: locked after %d attempts%s: %w",
				b.Type, b.XID, b.ResourceID, attempt+1, why, err)
		}
		d, ok := m.backoff.DelayWithin(attempt, start, wait)
		if !ok {
			return 0, giveUp(fmt.Sprintf(" in its lock wait of %v", wait))
		}
		// Another attempt is worth it only if its answer can arrive in
		// time: one that the deadline cuts off in flight has an unknown
		// outcome, where giving up now reports the conflict. So after the
		// delay there must be room for the attempt (twice the last round
		// trip) and for a scheduling hiccup (another delay).
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d+max(d, 2*took) {
			return 0, giveUp("")
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0, giveUp("")
		}
	}
}

// ended reports an error saying the transaction ended (rolled back, at
// its deadline or not): the lock it waited for is why. An error whose
// outcome is unknown (txc.ErrUnavailable) is returned as it is.
func ended(err error) bool {
	switch txc.CodeOf(err) {
	case txc.CodeTimedOut, txc.CodeRolledBack, txc.CodeNotActive:
		return true
	}
	return false
}
