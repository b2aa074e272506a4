package tm

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/txcio/txc"
)

// TestRollbackWaitsForBranches: after fn fails, WithGlobalTx returns only
// once the coordinator reports the rollback done, polling its status; it
// says so when the rollback stops for manual action or outlasts the wait;
// a wait of 0 returns once the rollback is decided.
func TestRollbackWaitsForBranches(t *testing.T) {
	boom := errors.New("boom")
	retrying := reply{st: txc.GlobalRollbackRetrying}
	for _, c := range []struct {
		name     string
		wait     time.Duration
		statuses []reply
		status   reply
		pending  txc.GlobalStatus // 0: fn's error comes back unchanged
		polls    int              // -1: any number
	}{
		{"done after retries", time.Minute, []reply{retrying, retrying, {st: txc.GlobalRollbacked}}, reply{}, 0, 3},
		{"timed out meanwhile", time.Minute, []reply{{st: txc.GlobalTimeoutRollbacked}}, reply{}, 0, 1},
		{"forgotten", time.Minute, []reply{{err: txc.Errorf(txc.CodeUnknownTransaction, "gone")}}, reply{}, 0, 1},
		{"status unavailable for a while", time.Minute, []reply{{err: unavailable()}, {st: txc.GlobalRollbacked}}, reply{}, 0, 2},
		{"parked", time.Minute, []reply{retrying, {st: txc.GlobalRollbackFailed}}, reply{}, txc.GlobalRollbackFailed, 2},
		{"outlasts the wait", 30 * time.Millisecond, nil, retrying, txc.GlobalRollbackRetrying, -1},
		{"no wait", 0, nil, retrying, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, f, _ := newTestManager(WithRollbackWait(c.wait))
			f.statuses, f.status = c.statuses, c.status
			start := time.Now()
			err := m.WithGlobalTx(context.Background(), Config{}, func(context.Context) error { return boom })
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want fn's error", err)
			}
			var pending *RollbackPendingError
			switch {
			case c.pending == 0 && err != boom:
				t.Fatalf("err = %v, want fn's error unchanged", err)
			case c.pending != 0 && (!errors.As(err, &pending) || pending.Status != c.pending):
				t.Fatalf("err = %v, want a RollbackPendingError with status %v", err, c.pending)
			case c.pending == txc.GlobalRollbackRetrying && time.Since(start) < c.wait:
				t.Fatalf("gave up after %v, want %v", time.Since(start), c.wait)
			}
			ops := f.ops()
			if polls := len(ops) - 2; !slices.Equal(ops[:2], []string{"begin", "rollback"}) || (c.polls >= 0 && polls != c.polls) {
				t.Fatalf("calls = %v, want begin, rollback and %d status polls", ops, c.polls)
			}
		})
	}
}

// TestRollbackAlreadyFinishedNotPolled: a rollback answered with a final
// status needs no poll.
func TestRollbackAlreadyFinishedNotPolled(t *testing.T) {
	m, f, _ := newTestManager(WithRollbackWait(time.Minute))
	f.rollback = []reply{{err: txc.Errorf(txc.CodeTimedOut, "rolled back at deadline")}}
	boom := errors.New("boom")
	if err := m.WithGlobalTx(context.Background(), Config{}, func(context.Context) error { return boom }); err != boom {
		t.Fatalf("err = %v", err)
	}
	if ops := f.ops(); !slices.Equal(ops, []string{"begin", "rollback"}) {
		t.Fatalf("calls = %v", ops)
	}
}

// TestRollbackWaitEndsWithCallersCtx: the wait ends when the caller's ctx
// does, and a caller whose ctx is already done does not wait at all.
func TestRollbackWaitEndsWithCallersCtx(t *testing.T) {
	m, f, _ := newTestManager(WithRollbackWait(time.Minute))
	f.status = reply{st: txc.GlobalRollbackRetrying}
	boom := errors.New("boom")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := m.WithGlobalTx(ctx, Config{}, func(context.Context) error { return boom })
	var pending *RollbackPendingError
	if !errors.Is(err, boom) || !errors.As(err, &pending) || ctx.Err() == nil {
		t.Fatalf("err = %v, want fn's error and a pending rollback once ctx is done", err)
	}
	m, f, _ = newTestManager(WithRollbackWait(time.Minute))
	f.status = reply{st: txc.GlobalRollbackRetrying}
	err = m.WithGlobalTx(ctx, Config{}, func(ctx context.Context) error { return ctx.Err() })
	if ops := f.ops(); !errors.Is(err, context.DeadlineExceeded) || slices.Contains(ops, "status") {
		t.Fatalf("err = %v, calls %v: a caller whose ctx is done waited", err, ops)
	}
}
