package tm

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/txcio/txc"
)

func TestCommitPath(t *testing.T) {
	m, f, _ := newTestManager()
	var fnXID txc.XID
	err := m.WithGlobalTx(t.Context(), Config{Timeout: 3 * time.Second}, func(ctx context.Context) error {
		fnXID, _ = XIDFromContext(ctx)
		return nil
	})
	if err != nil {
		t.Fatalf("WithGlobalTx: %v", err)
	}
	calls := f.callsCopy()
	if len(calls) != 2 || calls[0].op != "begin" || calls[1].op != "commit" {
		t.Fatalf("calls = %+v, want begin, commit", calls)
	}
	if calls[0].name != DefaultName || calls[0].timeout != 3*time.Second {
		t.Errorf("begin got name %q timeout %v, want %q 3s", calls[0].name, calls[0].timeout, DefaultName)
	}
	if calls[1].xid != fnXID || fnXID != "tc1:1" {
		t.Errorf("committed %q, fn saw %q", calls[1].xid, fnXID)
	}
}

// Every commit-side status is "committed" for the caller.
func TestCommitDecidedStatuses(t *testing.T) {
	for _, st := range []txc.GlobalStatus{txc.GlobalCommitting, txc.GlobalAsyncCommitting, txc.GlobalCommitRetrying, txc.GlobalCommitted} {
		t.Run(st.String(), func(t *testing.T) {
			m, f, _ := newTestManager()
			f.commit = []reply{{st: st}}
			if err := m.WithGlobalTx(t.Context(), Config{}, func(context.Context) error { return nil }); err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
		})
	}
}

func TestCommitRolledBack(t *testing.T) {
	tests := []struct {
		name   string
		reply  reply
		target error
		status txc.GlobalStatus
	}{
		{"timed out", reply{st: txc.GlobalTimeoutRollbacking, err: &txc.Error{Code: txc.CodeTimedOut, Status: txc.GlobalTimeoutRollbacking, Message: "txc: transaction timed out"}},
			txc.ErrTimedOut, txc.GlobalTimeoutRollbacking},
		{"rolled back", reply{st: txc.GlobalRollbacked, err: &txc.Error{Code: txc.CodeRolledBack, Status: txc.GlobalRollbacked, Message: "txc: rolled back"}},
			txc.ErrRolledBack, txc.GlobalRollbacked},
		// A coordinator that reports a rollback status without an error still means rolled back.
		{"timeout status, nil error", reply{st: txc.GlobalTimeoutRollbacked}, txc.ErrTimedOut, txc.GlobalTimeoutRollbacked},
		{"rollback status, nil error", reply{st: txc.GlobalRollbacking}, txc.ErrRolledBack, txc.GlobalRollbacking},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f, _ := newTestManager()
			f.commit = []reply{tt.reply}
			err := m.WithGlobalTx(t.Context(), Config{}, func(context.Context) error { return nil })
			if !errors.Is(err, tt.target) {
				t.Fatalf("err = %v, want errors.Is %v", err, tt.target)
			}
			var te *txc.Error
			if !errors.As(err, &te) || te.Status != tt.status {
				t.Errorf("errors.As: %+v, want status %v", te, tt.status)
			}
			if !strings.HasPrefix(err.Error(), "tm: ") || !strings.Contains(err.Error(), "tc1:1") {
				t.Errorf("err = %q, want a tm: message naming the XID", err)
			}
			if ops := f.ops(); !slices.Equal(ops, []string{"begin", "commit"}) {
				t.Errorf("calls = %v, want begin, commit (no rollback after a decided rollback)", ops)
			}
		})
	}
}

func TestCommitOtherErrors(t *testing.T) {
	for _, target := range []error{txc.ErrUnknownTransaction, txc.ErrNotActive} {
		m, f, _ := newTestManager()
		f.commit = []reply{{err: txc.Errorf(target.(*txc.Error).Code, "txc: nope")}}
		err := m.WithGlobalTx(t.Context(), Config{}, func(context.Context) error { return nil })
		if !errors.Is(err, target) || !strings.HasPrefix(err.Error(), "tm: commit tc1:1: ") {
			t.Errorf("err = %v, want %v wrapped with tm: commit tc1:1", err, target)
		}
	}
}

func TestCommitRetriedAfterUnavailable(t *testing.T) {
	m, f, waits := newTestManager()
	f.commit = []reply{{err: unavailable()}, {err: unavailable()}, {err: unavailable()}, {err: unavailable()}, {err: unavailable()}, {st: txc.GlobalAsyncCommitting}}
	err := m.WithGlobalTx(t.Context(), Config{}, func(context.Context) error { return nil })
	if err != nil {
		t.Fatalf("err = %v, want nil after retries", err)
	}
	want := []string{"begin", "commit", "commit", "commit", "commit", "commit", "commit"}
	if ops := f.ops(); !slices.Equal(ops, want) {
		t.Fatalf("calls = %v, want %v", ops, want)
	}
	// Backoff 1, 2, 4, 8, 8 ms (capped), each jittered to [d/2, d].
	nominal := []time.Duration{1, 2, 4, 8, 8}
	if len(*waits) != len(nominal) {
		t.Fatalf("waits = %v, want %d", *waits, len(nominal))
	}
	for i, w := range *waits {
		d := nominal[i] * time.Millisecond
		if w < d/2 || w > d {
			t.Errorf("wait %d = %v, want in [%v, %v]", i, w, d/2, d)
		}
	}
}

func TestCommitOutcomeUnknown(t *testing.T) {
	m, f, _ := newTestManager()
	f.commitForever = &reply{err: unavailable()}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	gtx, _, err := m.Begin(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	err = gtx.Commit(ctx)
	if !errors.Is(err, txc.ErrUnavailable) {
		t.Fatalf("err = %v, want errors.Is ErrUnavailable", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to wrap ctx's cause", err)
	}
	var ou *OutcomeUnknownError
	if !errors.As(err, &ou) || ou.XID != gtx.XID() || ou.Op != "commit" || ou.Attempts < 2 {
		t.Fatalf("errors.As OutcomeUnknownError = %+v", ou)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "tm: ") || !strings.Contains(msg, "outcome unknown") || !strings.Contains(msg, string(gtx.XID())) {
		t.Errorf("message %q should start with tm:, say outcome unknown and name the XID", msg)
	}
	if n := len(f.ops()); n < 3 {
		t.Errorf("calls = %v, want several commits", f.ops())
	}
}

// A commit cut short by ctx (the client returns ctx's error) may have
// reached the coordinator: outcome unknown, not retried.
func TestCommitCutShortByCtx(t *testing.T) {
	m, f, _ := newTestManager()
	ctx, cancel := context.WithCancel(t.Context())
	gtx, _, err := m.Begin(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	f.commit = []reply{{err: context.Canceled}}
	err = gtx.Commit(ctx)
	var ou *OutcomeUnknownError
	if !errors.As(err, &ou) || !errors.Is(err, txc.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want OutcomeUnknownError wrapping Unavailable and Canceled", err)
	}
	if ops := f.ops(); !slices.Equal(ops, []string{"begin", "commit"}) {
		t.Errorf("calls = %v", ops)
	}
}

func TestFnErrorRollsBack(t *testing.T) {
	m, f, _ := newTestManager()
	boom := errors.New("boom")
	err := m.WithGlobalTx(t.Context(), Config{}, func(context.Context) error { return boom })
	if err != boom {
		t.Fatalf("err = %v, want fn's error unchanged", err)
	}
	calls := f.callsCopy()
	if len(calls) != 2 || calls[1].op != "rollback" || calls[1].xid != "tc1:1" {
		t.Fatalf("calls = %+v, want begin, rollback tc1:1", calls)
	}
}

func TestRollbackFailureWrapsBoth(t *testing.T) {
	m, f, _ := newTestManager()
	f.rollback = []reply{{st: txc.GlobalCommitting, err: &txc.Error{Code: txc.CodeNotActive, Status: txc.GlobalCommitting, Message: "txc: commit decided"}}}
	boom := errors.New("boom")
	err := m.WithGlobalTx(t.Context(), Config{}, func(context.Context) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("errors.Is(err, fn's error) = false: %v", err)
	}
	if !errors.Is(err, txc.ErrNotActive) {
		t.Errorf("errors.Is(err, ErrNotActive) = false: %v", err)
	}
	var re *RollbackError
	if !errors.As(err, &re) || re.XID != "tc1:1" || re.Err != boom {
		t.Errorf("errors.As RollbackError = %+v", re)
	}
	if !strings.HasPrefix(err.Error(), "tm: ") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("message = %q", err)
	}
}

func TestRollbackRetriedAfterUnavailable(t *testing.T) {
	m, f, _ := newTestManager()
	f.rollback = []reply{{err: unavailable()}, {st: txc.GlobalRollbacking}}
	boom := errors.New("boom")
	if err := m.WithGlobalTx(t.Context(), Config{}, func(context.Context) error { return boom }); err != boom {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if ops := f.ops(); !slices.Equal(ops, []string{"begin", "rollback", "rollback"}) {
		t.Fatalf("calls = %v", ops)
	}
}

// A transaction the coordinator already rolled back (timeout) counts as
// rolled back.
func TestRollbackAlreadyTimedOut(t *testing.T) {
	m, f, _ := newTestManager()
	f.rollback = []reply{{st: txc.GlobalTimeoutRollbacked, err: &txc.Error{Code: txc.CodeTimedOut, Message: "txc: timed out"}}}
	boom := errors.New("boom")
	if err := m.WithGlobalTx(t.Context(), Config{}, func(context.Context) error { return boom }); err != boom {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

// fn fails because ctx was cancelled; the rollback still reaches the
// coordinator, on a ctx that is not done.
func TestRollbackAfterCancel(t *testing.T) {
	m, f, _ := newTestManager()
	ctx, cancel := context.WithCancel(t.Context())
	err := m.WithGlobalTx(ctx, Config{}, func(ctx context.Context) error {
		cancel()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	calls := f.callsCopy()
	if len(calls) != 2 || calls[1].op != "rollback" || calls[1].ctxErr != nil {
		t.Fatalf("calls = %+v, want a rollback on a live ctx", calls)
	}
}

// fn returns nil but ctx is done: roll back, do not commit.
func TestCtxDoneBeforeCommit(t *testing.T) {
	m, f, _ := newTestManager()
	ctx, cancel := context.WithCancel(t.Context())
	err := m.WithGlobalTx(ctx, Config{}, func(context.Context) error {
		cancel()
		return nil
	})
	var ce *CancelledError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &ce) || ce.XID != "tc1:1" {
		t.Fatalf("err = %v, want CancelledError wrapping context.Canceled", err)
	}
	if ops := f.ops(); !slices.Equal(ops, []string{"begin", "rollback"}) {
		t.Fatalf("calls = %v, want begin, rollback", ops)
	}
}

func TestPanicRollsBackAndRepanics(t *testing.T) {
	m, f, _ := newTestManager()
	type myPanic struct{ n int }
	orig := &myPanic{42}
	var got any
	func() {
		defer func() { got = recover() }()
		_ = m.WithGlobalTx(t.Context(), Config{}, func(context.Context) error { panic(orig) })
	}()
	if got != orig {
		t.Fatalf("recovered %v, want the original value %v", got, orig)
	}
	if ops := f.ops(); !slices.Equal(ops, []string{"begin", "rollback"}) {
		t.Fatalf("calls = %v, want begin, rollback", ops)
	}
}

// A failed rollback after a panic does not hide the panic.
func TestPanicRollbackFails(t *testing.T) {
	m, f, _ := newTestManager()
	f.rollback = []reply{{err: txc.Errorf(txc.CodeUnknownTransaction, "txc: no such transaction")}}
	var got any
	func() {
		defer func() { got = recover() }()
		_ = m.WithGlobalTx(t.Context(), Config{}, func(context.Context) error { panic("boom") })
	}()
	if got != "boom" {
		t.Fatalf("recovered %v, want boom", got)
	}
}

func TestGoexitRollsBack(t *testing.T) {
	m, f, _ := newTestManager()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = m.WithGlobalTx(t.Context(), Config{}, func(context.Context) error {
			runtime.Goexit()
			return nil
		})
	}()
	<-done
	if ops := f.ops(); !slices.Equal(ops, []string{"begin", "rollback"}) {
		t.Fatalf("calls = %v, want begin, rollback", ops)
	}
}

func TestBeginFailureNotRetried(t *testing.T) {
	m, f, _ := newTestManager()
	f.begin = []error{unavailable()}
	ran := false
	err := m.WithGlobalTx(t.Context(), Config{Name: "pay"}, func(context.Context) error { ran = true; return nil })
	if !errors.Is(err, txc.ErrUnavailable) || ran {
		t.Fatalf("err = %v ran = %v, want Unavailable and fn not run", err, ran)
	}
	if !strings.HasPrefix(err.Error(), `tm: begin "pay": `) {
		t.Errorf("message = %q", err)
	}
	if ops := f.ops(); !slices.Equal(ops, []string{"begin"}) {
		t.Fatalf("calls = %v, want one begin", ops)
	}
}

func TestBeginMalformedXID(t *testing.T) {
	m, f, _ := newTestManager()
	f.badXID = true
	if _, _, err := m.Begin(t.Context(), Config{}); !errors.Is(err, txc.ErrInternal) {
		t.Fatalf("err = %v, want ErrInternal", err)
	}
}

func TestInvalidConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"negative timeout":   {Timeout: -time.Second},
		"long name":          {Name: strings.Repeat("x", txc.MaxNameLen+1)},
		"bad propagation":    {Propagation: 99},
		"negative lock wait": {LockWait: -time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			m, f, _ := newTestManager()
			ran := false
			err := m.WithGlobalTx(t.Context(), cfg, func(context.Context) error { ran = true; return nil })
			if !errors.Is(err, txc.ErrInvalidArgument) || ran || len(f.ops()) != 0 {
				t.Fatalf("err = %v ran = %v calls = %v", err, ran, f.ops())
			}
			if _, _, err := m.Begin(t.Context(), cfg); !errors.Is(err, txc.ErrInvalidArgument) {
				t.Fatalf("Begin err = %v", err)
			}
		})
	}
	m, _, _ := newTestManager()
	if err := m.WithGlobalTx(t.Context(), Config{}, nil); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("nil fn: err = %v", err)
	}
}

func TestLowLevelAPI(t *testing.T) {
	m, f, _ := newTestManager()
	outerCtx := ContextWithXID(t.Context(), "tc0:9")
	gtx, ctx, err := m.Begin(outerCtx, Config{Name: "order", Propagation: Mandatory})
	if err != nil {
		t.Fatal(err)
	}
	if gtx.XID() != "tc1:1" || gtx.Name() != "order" {
		t.Errorf("XID %q name %q", gtx.XID(), gtx.Name())
	}
	if x, _ := XIDFromContext(ctx); x != gtx.XID() {
		t.Errorf("ctx carries %q, want %q", x, gtx.XID())
	}
	f.status = reply{st: txc.GlobalBegin}
	if st, err := gtx.Status(ctx); err != nil || st != txc.GlobalBegin {
		t.Errorf("Status = %v, %v", st, err)
	}
	// Commit is idempotent: twice is fine.
	for range 2 {
		if err := gtx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	f.rollback = []reply{{st: txc.GlobalCommitted}}
	if err := gtx.Rollback(ctx); !errors.Is(err, txc.ErrNotActive) {
		t.Errorf("Rollback after commit = %v, want ErrNotActive", err)
	}
	f.status = reply{err: txc.Errorf(txc.CodeUnknownTransaction, "txc: gone")}
	if _, err := gtx.Status(ctx); !errors.Is(err, txc.ErrUnknownTransaction) || !strings.HasPrefix(err.Error(), "tm: status tc1:1") {
		t.Errorf("Status err = %v", err)
	}
}

func TestDefaultManager(t *testing.T) {
	SetDefault(nil)
	t.Cleanup(func() { SetDefault(nil) })
	ran := false
	err := WithGlobalTx(t.Context(), Config{}, func(context.Context) error { ran = true; return nil })
	if !errors.Is(err, txc.ErrUnavailable) || ran || !strings.Contains(err.Error(), "SetDefault") {
		t.Fatalf("without default: err = %v ran = %v", err, ran)
	}
	m, f, _ := newTestManager()
	SetDefault(m)
	if Default() != m {
		t.Fatal("Default() is not the Manager set")
	}
	if err := WithGlobalTx(t.Context(), Config{}, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if ops := f.ops(); !slices.Equal(ops, []string{"begin", "commit"}) {
		t.Fatalf("calls = %v", ops)
	}
}

func TestNewNilCoordinatorPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New(nil) did not panic")
		}
	}()
	New(nil)
}

func TestRetryBackoffOption(t *testing.T) {
	m := New(&fakeCoordinator{}, WithRetryBackoff(time.Second, time.Millisecond), WithRollbackTimeout(-1))
	if m.minBackoff != time.Second || m.maxBackoff != time.Second {
		t.Errorf("min %v max %v, want max raised to min", m.minBackoff, m.maxBackoff)
	}
	if m.rollbackTimeout != DefaultRollbackTimeout {
		t.Errorf("rollback timeout %v", m.rollbackTimeout)
	}
	for range 1000 {
		if d := jitter(10 * time.Millisecond); d < 5*time.Millisecond || d > 10*time.Millisecond {
			t.Fatalf("jitter = %v", d)
		}
	}
}

func TestLoggerSeesRetries(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, f, _ := newTestManager(WithLogger(log), WithLogger(nil))
	f.commit = []reply{{err: unavailable()}}
	if err := m.WithGlobalTx(t.Context(), Config{}, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "xid=tc1:1") || !strings.Contains(out, "op=commit") {
		t.Fatalf("log = %q, want a warning naming the retried commit", out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestErrorMessages(t *testing.T) {
	for _, err := range []error{
		&CancelledError{XID: "tc1:1", Err: context.Canceled},
		&RollbackError{XID: "tc1:1", Err: errors.New("a"), RollbackErr: errors.New("b")},
		&OutcomeUnknownError{Op: "rollback", XID: "tc1:1", Attempts: 1, Err: unavailable()},
	} {
		if msg := err.Error(); !strings.HasPrefix(msg, "tm: ") || !strings.Contains(msg, "tc1:1") {
			t.Errorf("%T message %q should start with tm: and name the XID", err, msg)
		}
	}
}
