package rm_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/client/clienttest"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/rm"
)

func dial(t *testing.T, srv *clienttest.Server) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, srv.Addr, client.WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exec sends one command and returns the result.
func exec(t *testing.T, srv *clienttest.Server, cmd *txcv1.BranchCommand) *txcv1.BranchResult {
	t.Helper()
	id, err := srv.SendCommandAny(cmd)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-srv.Results():
		if r.ID != id {
			t.Fatalf("result for command %d, want %d", r.ID, id)
		}
		return r.Result
	case <-time.After(5 * time.Second):
		t.Fatal("no branch result")
		return nil
	}
}

func command(action txcv1.BranchAction, typ txc.BranchType, res, data string) *txcv1.BranchCommand {
	return &txcv1.BranchCommand{Action: action, Xid: "fake-1:5", BranchId: 42,
		BranchType: txcv1.BranchType(typ), ResourceId: res, ApplicationData: []byte(data)}
}

const (
	commit   = txcv1.BranchAction_BRANCH_ACTION_COMMIT
	rollback = txcv1.BranchAction_BRANCH_ACTION_ROLLBACK
)

func TestDispatchAndStatusMapping(t *testing.T) {
	srv := clienttest.NewServer(t)
	m := rm.New(dial(t, srv))
	behave := func(_ context.Context, b rm.Branch) error {
		if b.XID != "fake-1:5" || b.ID != 42 || b.Type != txc.BranchTCC || b.ResourceID != "db" {
			return txc.Permanent(fmt.Errorf("wrong branch %+v", b))
		}
		switch string(b.ApplicationData) {
		case "permanent":
			return txc.Permanent(errors.New("dirty write"))
		case "retry":
			return errors.New("db down")
		case "panic":
			panic("kaboom")
		}
		return nil
	}
	if err := m.AddResource("db", txc.BranchTCC, rm.HandlerFuncs{CommitFunc: behave, RollbackFunc: behave}); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitResources(t.Context(), "db"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		action txcv1.BranchAction
		data   string
		want   txc.BranchStatus
		msg    string
	}{
		{commit, "", txc.BranchCommitted, ""},
		{rollback, "", txc.BranchRollbacked, ""},
		{commit, "permanent", txc.BranchCommitFailedUnretryable, "dirty write"},
		{rollback, "permanent", txc.BranchRollbackFailedUnretryable, "dirty write"},
		{commit, "retry", txc.BranchCommitFailedRetryable, "db down"},
		{rollback, "retry", txc.BranchRollbackFailedRetryable, "db down"},
		{commit, "panic", txc.BranchCommitFailedRetryable, "kaboom"},
		{rollback, "panic", txc.BranchRollbackFailedRetryable, "kaboom"},
	} {
		t.Run(fmt.Sprintf("%v/%s", tc.action, tc.data), func(t *testing.T) {
			r := exec(t, srv, command(tc.action, txc.BranchTCC, "db", tc.data))
			if got := txc.BranchStatus(r.GetStatus()); got != tc.want || !strings.Contains(r.GetMessage(), tc.msg) {
				t.Fatalf("got %v %q, want %v containing %q", got, r.GetMessage(), tc.want, tc.msg)
			}
			if tc.msg == "" && r.GetMessage() != "" {
				t.Fatalf("success with message %q", r.GetMessage())
			}
		})
	}
}

func TestHandlersPerBranchType(t *testing.T) {
	srv := clienttest.NewServer(t)
	m := rm.New(dial(t, srv))
	var at, tcc atomic.Int64
	count := func(n *atomic.Int64) func(context.Context, rm.Branch) error {
		return func(context.Context, rm.Branch) error { n.Add(1); return nil }
	}
	if err := m.AddResource("db", txc.BranchAT, rm.HandlerFuncs{CommitFunc: count(&at)}); err != nil {
		t.Fatal(err)
	}
	if err := m.AddResource("db", txc.BranchTCC, rm.HandlerFuncs{CommitFunc: count(&tcc)}); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitResources(t.Context(), "db"); err != nil {
		t.Fatal(err)
	}
	exec(t, srv, command(commit, txc.BranchAT, "db", ""))
	exec(t, srv, command(commit, txc.BranchTCC, "db", ""))
	exec(t, srv, command(commit, txc.BranchTCC, "db", ""))
	if at.Load() != 1 || tcc.Load() != 2 {
		t.Fatalf("AT handler ran %d times, TCC %d; want 1 and 2", at.Load(), tcc.Load())
	}
	// A nil RollbackFunc succeeds.
	if r := exec(t, srv, command(rollback, txc.BranchAT, "db", "")); txc.BranchStatus(r.GetStatus()) != txc.BranchRollbacked {
		t.Fatalf("nil RollbackFunc: %v", r.GetStatus())
	}
}

func TestUnknownResourceOrType(t *testing.T) {
	srv := clienttest.NewServer(t)
	m := rm.New(dial(t, srv))
	if err := m.AddResource("db", txc.BranchTCC, rm.HandlerFuncs{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitResources(t.Context(), "db"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cmd  *txcv1.BranchCommand
		want txc.BranchStatus
	}{
		{"type without handler", command(rollback, txc.BranchSaga, "db", ""), txc.BranchRollbackFailedRetryable},
		{"resource not served", command(commit, txc.BranchTCC, "elsewhere", ""), txc.BranchCommitFailedRetryable},
	} {
		r := exec(t, srv, tc.cmd)
		if got := txc.BranchStatus(r.GetStatus()); got != tc.want || r.GetMessage() == "" {
			t.Errorf("%s: got %v %q, want %v with a message", tc.name, got, r.GetMessage(), tc.want)
		}
	}
}

func TestAddResourceValidation(t *testing.T) {
	srv := clienttest.NewServer(t)
	m := rm.New(dial(t, srv))
	h := rm.HandlerFuncs{}
	if err := m.AddResource("db", txc.BranchAT, h); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"duplicate":    m.AddResource("db", txc.BranchAT, h),
		"empty id":     m.AddResource("", txc.BranchAT, h),
		"long id":      m.AddResource(strings.Repeat("x", txc.MaxResourceIDLen+1), txc.BranchAT, h),
		"unknown type": m.AddResource("db", txc.BranchTypeUnknown, h),
		"nil handler":  m.AddResource("db2", txc.BranchAT, nil),
	} {
		if !errors.Is(err, txc.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
}

// TestSeveralInstancesOneResource: two RMs (two Conns) serve one resource;
// each answers the commands sent to it.
func TestSeveralInstancesOneResource(t *testing.T) {
	srv := clienttest.NewServer(t)
	var n atomic.Int64
	h := rm.HandlerFuncs{CommitFunc: func(context.Context, rm.Branch) error { n.Add(1); return nil }}
	for range 2 {
		if err := rm.New(dial(t, srv)).AddResource("db", txc.BranchAT, h); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.Sessions() < 2 || len(srv.Resources()) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("resources not announced")
		}
		time.Sleep(time.Millisecond)
	}
	for range 10 {
		id, err := srv.SendCommand(command(commit, txc.BranchAT, "db", ""))
		if err != nil {
			t.Fatal(err)
		}
		if r := <-srv.Results(); r.ID != id || txc.BranchStatus(r.Result.GetStatus()) != txc.BranchCommitted {
			t.Fatalf("result %d %v", r.ID, r.Result.GetStatus())
		}
	}
	if n.Load() != 10 {
		t.Fatalf("%d commits handled, want 10", n.Load())
	}
}

func lockConflicts(n int64, calls *atomic.Int64) clienttest.Hook {
	return func(msg *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		r := msg.GetRegister()
		if r == nil {
			return nil, false
		}
		if calls.Add(1) <= n {
			return clienttest.ErrorReply(&txc.Error{Code: txc.CodeLockConflict, Message: "tc: row locked",
				XID: txc.XID(r.GetXid()), Holder: "fake-1:99"}), true
		}
		return &txcv1.Reply{Result: &txcv1.Reply_Register{Register: &txcv1.RegisterReply{BranchId: 7}}}, true
	}
}

func TestRegisterRetriesLockConflict(t *testing.T) {
	srv := clienttest.NewServer(t)
	var calls atomic.Int64
	srv.SetHook(lockConflicts(3, &calls))
	var jitters []time.Duration
	m := rm.New(dial(t, srv), rm.WithLockRetry(2*time.Millisecond, 8*time.Millisecond),
		rm.WithJitter(func(n time.Duration) time.Duration { jitters = append(jitters, n); return 0 }))
	start := time.Now()
	id, err := m.RegisterBranch(t.Context(), client.Branch{XID: "fake-1:1", Type: txc.BranchAT, ResourceID: "db",
		LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"1"}}}})
	if err != nil || id != 7 {
		t.Fatalf("RegisterBranch = %d, %v", id, err)
	}
	if calls.Load() != 4 {
		t.Fatalf("%d register attempts, want 4", calls.Load())
	}
	// Backoff halves are 1, 2, 4 ms: the delays doubled between attempts.
	want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}
	if fmt.Sprint(jitters) != fmt.Sprint(want) {
		t.Fatalf("jitter asked for %v, want %v", jitters, want)
	}
	if el := time.Since(start); el < 7*time.Millisecond {
		t.Fatalf("retried without backing off (%v)", el)
	}
}

func TestRegisterGivesUpWhenCtxDone(t *testing.T) {
	srv := clienttest.NewServer(t)
	var calls atomic.Int64
	srv.SetHook(lockConflicts(1<<62, &calls))
	m := rm.New(dial(t, srv), rm.WithLockRetry(time.Millisecond, 10*time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := m.RegisterBranch(ctx, client.Branch{XID: "fake-1:1", Type: txc.BranchAT, ResourceID: "db"})
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("gave up after %v", el)
	}
	if !errors.Is(err, txc.ErrLockConflict) {
		t.Fatalf("RegisterBranch: %v, want ErrLockConflict", err)
	}
	var te *txc.Error
	if !errors.As(err, &te) || te.Holder != "fake-1:99" {
		t.Fatalf("error does not name the holder: %v", err)
	}
	if calls.Load() < 3 {
		t.Fatalf("only %d attempts in 1s", calls.Load())
	}
	t.Logf("%d attempts, err: %v", calls.Load(), err)
}

func TestRegisterOtherErrorsNotRetried(t *testing.T) {
	srv := clienttest.NewServer(t)
	var calls atomic.Int64
	srv.SetHook(func(msg *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		if msg.GetRegister() != nil {
			calls.Add(1)
			return clienttest.ErrorReply(txc.Errorf(txc.CodeNotActive, "tc: transaction is committing")), true
		}
		return nil, false
	})
	m := rm.New(dial(t, srv))
	_, err := m.RegisterBranch(t.Context(), client.Branch{XID: "fake-1:1", Type: txc.BranchAT, ResourceID: "db"})
	if !errors.Is(err, txc.ErrNotActive) || calls.Load() != 1 {
		t.Fatalf("RegisterBranch: %v after %d attempts", err, calls.Load())
	}
}

// conflictsThen answers n registrations with a lock conflict, then every
// one with last.
func conflictsThen(n int64, calls *atomic.Int64, last *txc.Error) clienttest.Hook {
	return func(msg *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		r := msg.GetRegister()
		if r == nil {
			return nil, false
		}
		if calls.Add(1) <= n {
			return clienttest.ErrorReply(&txc.Error{Code: txc.CodeLockConflict, Message: "tc: row locked",
				XID: txc.XID(r.GetXid()), Holder: "fake-1:99"}), true
		}
		return clienttest.ErrorReply(last), true
	}
}

// TestRegisterConflictThenEnd: a registration that waited on a lock until
// its transaction ended gives both (the conflict naming the holder, and
// the end); one whose last attempt's outcome is unknown gives that alone,
// not a lock conflict.
func TestRegisterConflictThenEnd(t *testing.T) {
	for _, c := range []struct {
		last         *txc.Error
		want         error
		wantConflict bool
	}{
		{&txc.Error{Code: txc.CodeTimedOut, Message: "tc: timed out"}, txc.ErrTimedOut, true},
		{&txc.Error{Code: txc.CodeUnavailable, Message: "tc: shutting down"}, txc.ErrUnavailable, false},
	} {
		srv := clienttest.NewServer(t)
		var calls atomic.Int64
		srv.SetHook(conflictsThen(2, &calls, c.last))
		m := rm.New(dial(t, srv), rm.WithLockRetry(time.Millisecond, 2*time.Millisecond))
		_, err := m.RegisterBranch(t.Context(), client.Branch{XID: "fake-1:1", Type: txc.BranchAT, ResourceID: "db"})
		var te *txc.Error
		conflict := errors.Is(err, txc.ErrLockConflict) && errors.As(err, &te) && te.Holder == "fake-1:99"
		if !errors.Is(err, c.want) || conflict != c.wantConflict {
			t.Fatalf("after conflicts then %v: %v (lock conflict naming the holder: %v)", c.last.Code, err, conflict)
		}
	}
}
