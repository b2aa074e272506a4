package tm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/txcio/txc"
)

// recordOutcomes arranges, with AfterOutcome on ctx, to record each
// outcome; it fails t if AfterOutcome refuses.
func recordOutcomes(t *testing.T, ctx context.Context, got *[]Outcome) {
	t.Helper()
	if !AfterOutcome(ctx, func(o Outcome) { *got = append(*got, o) }) {
		t.Fatal("AfterOutcome refused the ctx of a transaction begun here")
	}
}

// TestAfterOutcome: the functions arranged inside a transaction run once,
// when it ends, with what the coordinator answered.
func TestAfterOutcome(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name   string
		script func(f *fakeCoordinator)
		fnErr  error
		want   Outcome
	}{
		{"committed", nil, nil, OutcomeCommitted},
		{"fn failed: rolled back", nil, boom, OutcomeRolledBack},
		{"commit answered timed out", func(f *fakeCoordinator) { f.commit = []reply{{st: txc.GlobalTimeoutRollbacked}} }, nil, OutcomeRolledBack},
		{"commit refused: rolled back", func(f *fakeCoordinator) {
			f.commit = []reply{{err: &txc.Error{Code: txc.CodeRolledBack, Status: txc.GlobalRollbacking}}}
		}, nil, OutcomeRolledBack},
		{"commit refused otherwise", func(f *fakeCoordinator) {
			f.commit = []reply{{err: txc.Errorf(txc.CodeUnknownTransaction, "gone")}}
		}, nil, OutcomeUnknown},
		{"rollback refused: committed", func(f *fakeCoordinator) {
			f.rollback = []reply{{st: txc.GlobalCommitted, err: &txc.Error{Code: txc.CodeNotActive, Status: txc.GlobalCommitted}}}
		}, boom, OutcomeCommitted},
		{"rollback failed", func(f *fakeCoordinator) {
			f.rollback = []reply{{err: txc.Errorf(txc.CodeInternal, "broken")}}
		}, boom, OutcomeUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, f, _ := newTestManager()
			if tc.script != nil {
				tc.script(f)
			}
			var got []Outcome
			var txCtx context.Context
			m.WithGlobalTx(t.Context(), Config{}, func(ctx context.Context) error {
				txCtx = ctx
				recordOutcomes(t, ctx, &got)
				recordOutcomes(t, ctx, &got)
				return tc.fnErr
			})
			if len(got) != 2 || got[0] != tc.want || got[1] != tc.want {
				t.Fatalf("outcomes %v, want %v twice", got, tc.want)
			}
			if AfterOutcome(txCtx, func(Outcome) { t.Error("ran after the end") }) {
				t.Fatal("AfterOutcome accepted a transaction that has ended")
			}
		})
	}
}

// TestAfterOutcomeOnce: a Commit whose outcome is unknown ends the
// transaction for AfterOutcome; a second Commit runs nothing again.
func TestAfterOutcomeOnce(t *testing.T) {
	m, f, _ := newTestManager()
	f.commit = []reply{{err: unavailable()}}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	gtx, txCtx, err := m.Begin(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	var got []Outcome
	recordOutcomes(t, txCtx, &got)
	f.commitForever = &reply{err: unavailable()}
	if err := gtx.Commit(ctx); !errors.Is(err, txc.ErrUnavailable) {
		t.Fatalf("commit: %v", err)
	}
	f.commitForever = nil
	if err := gtx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != OutcomeUnknown {
		t.Fatalf("outcomes %v, want one unknown", got)
	}
}

// TestAfterOutcomeRefused: a ctx whose XID this process did not begin (or
// no longer carries the one it began) gets nothing arranged.
func TestAfterOutcomeRefused(t *testing.T) {
	m, _, _ := newTestManager()
	never := func(Outcome) { t.Error("ran") }
	if AfterOutcome(t.Context(), never) {
		t.Error("accepted a ctx without a transaction")
	}
	if AfterOutcome(ContextWithXID(t.Context(), txc.NewXID("tc1", 7)), never) {
		t.Error("accepted an XID from another process")
	}
	m.WithGlobalTx(t.Context(), Config{}, func(ctx context.Context) error {
		if AfterOutcome(ContextWithXID(ctx, txc.NewXID("tc1", 99)), never) {
			t.Error("accepted a ctx given another XID")
		}
		if AfterOutcome(ContextWithoutXID(ctx), never) {
			t.Error("accepted a ctx whose XID was hidden")
		}
		return nil
	})
}

// TestAfterOutcomeBeginFailed: a transaction whose pipelined Begin failed
// ends with an unknown outcome when fn fails (no rollback is sent).
func TestAfterOutcomeBeginFailed(t *testing.T) {
	p := newPipeFake()
	p.outcome <- txc.Errorf(txc.CodeInvalidArgument, "tc: begin: no")
	m := New(p, WithRollbackWait(0))
	var got []Outcome
	err := m.WithGlobalTx(t.Context(), Config{}, func(ctx context.Context) error {
		recordOutcomes(t, ctx, &got)
		return errors.New("fn failed")
	})
	if err == nil || len(got) != 1 || got[0] != OutcomeUnknown {
		t.Fatalf("err %v, outcomes %v; want an error and one unknown", err, got)
	}
}
