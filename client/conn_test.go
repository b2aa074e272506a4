package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client/clienttest"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
)

func dial(t testing.TB, srv *clienttest.Server, opts ...Option) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	opts = append([]Option{WithName("test"), WithBackoff(10*time.Millisecond, 50*time.Millisecond)}, opts...)
	c, err := Dial(ctx, srv.Addr, opts...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echoBegin makes Begin answer with its own name as the XID, so a caller
// can check it got its own reply.
func echoBegin(m *txcv1.ClientMessage) (*txcv1.Reply, bool) {
	if b := m.GetBegin(); b != nil {
		return &txcv1.Reply{Result: &txcv1.Reply_Begin{Begin: &txcv1.BeginReply{Xid: b.GetName()}}}, true
	}
	return nil, false
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestDialHelloAndNode(t *testing.T) {
	srv := clienttest.NewServer(t)
	c := dial(t, srv)
	if got := c.Node(); got != "fake-1" {
		t.Fatalf("Node() = %q, want fake-1", got)
	}
	xid, err := c.Begin(t.Context(), "tx", time.Second)
	if err != nil || !xid.Valid() {
		t.Fatalf("Begin = %q, %v", xid, err)
	}
	for _, f := range []func(context.Context, txc.XID) (txc.GlobalStatus, error){c.Commit, c.Rollback, c.Status} {
		if st, err := f(t.Context(), xid); err != nil || !st.Valid() {
			t.Fatalf("got %v, %v", st, err)
		}
	}
	bid, err := c.Register(t.Context(), Branch{XID: xid, Type: txc.BranchAT, ResourceID: "db1",
		LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"1"}}}})
	if err != nil || bid == 0 {
		t.Fatalf("Register = %d, %v", bid, err)
	}
	if err := c.Report(t.Context(), xid, bid, txc.BranchPhaseOneDone); err != nil {
		t.Fatalf("Report: %v", err)
	}
	if locked, holder, err := c.LockQuery(t.Context(), "", "db1", nil); err != nil || locked || holder != "" {
		t.Fatalf("LockQuery = %v %q %v", locked, holder, err)
	}
}

func TestDialUnreachable(t *testing.T) {
	srv := clienttest.NewServer(t)
	srv.SetRefuse(true)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := Dial(ctx, srv.Addr, WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	if !errors.Is(err, txc.ErrUnavailable) {
		t.Fatalf("Dial to a refusing server: %v, want ErrUnavailable", err)
	}
	if srv.Sessions() != 0 {
		t.Fatalf("refused sessions counted")
	}
}

func TestDialHelloRefused(t *testing.T) {
	srv := clienttest.NewServer(t)
	srv.SetHook(func(m *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		if m.GetHello() != nil {
			return clienttest.ErrorReply(txc.Errorf(txc.CodeInvalidArgument, "tc: bad hello")), true
		}
		return nil, false
	})
	start := time.Now()
	_, err := Dial(t.Context(), srv.Addr)
	if !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("Dial: %v, want ErrInvalidArgument", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("a permanent refusal was retried")
	}
}

// TestMultiplex runs 64 goroutines × 500 requests over one Conn, with the
// server shuffling replies within each frame: every caller must get its
// own answer, and frames must batch.
func TestMultiplex(t *testing.T) {
	srv := clienttest.NewServer(t)
	srv.SetHook(echoBegin)
	srv.SetShuffle(true)
	c := dial(t, srv)
	const G, N = 64, 500
	f0, m0 := srv.Counts()
	var wg sync.WaitGroup
	var bad atomic.Int64
	for g := range G {
		wg.Go(func() {
			for i := range N {
				name := fmt.Sprintf("g%d-%d", g, i)
				xid, err := c.Begin(t.Context(), name, 0)
				if err != nil || string(xid) != name {
					bad.Add(1)
					t.Errorf("Begin(%s) = %q, %v", name, xid, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if bad.Load() > 0 {
		t.FailNow()
	}
	f1, m1 := srv.Counts()
	frames, msgs := f1-f0, m1-m0
	if msgs != G*N {
		t.Fatalf("server saw %d messages, want %d", msgs, G*N)
	}
	avg := float64(msgs) / float64(frames)
	t.Logf("%d messages in %d frames: %.1f per frame", msgs, frames, avg)
	if avg <= 1.0 {
		t.Fatalf("frames did not batch: %.2f messages per frame", avg)
	}
	if n := c.pendingCount(); n != 0 {
		t.Fatalf("%d pending entries left", n)
	}
}

func TestRepliesOutOfOrder(t *testing.T) {
	srv := clienttest.NewServer(t)
	srv.SetHook(echoBegin)
	const N = 20
	// Request i is answered after (N-i)·5ms: replies come back reversed.
	srv.SetDelay(func(m *txcv1.ClientMessage) time.Duration {
		var i int
		fmt.Sscanf(m.GetBegin().GetName(), "r%d", &i)
		return time.Duration(N-i) * 5 * time.Millisecond
	})
	c := dial(t, srv)
	srv.SetHook(echoBegin) // also for Begin only; Hello went through already
	_, m0 := srv.Counts()
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range N {
		wg.Go(func() {
			name := fmt.Sprintf("r%d", i)
			xid, err := c.Begin(t.Context(), name, 0)
			if err != nil || string(xid) != name {
				t.Errorf("Begin(%s) = %q, %v", name, xid, err)
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		})
		// Send in order: request i reaches the server before i+1 leaves.
		waitFor(t, fmt.Sprintf("request r%d to reach the server", i), func() bool { _, m := srv.Counts(); return m-m0 > int64(i) })
	}
	wg.Wait()
	if order[0] == 0 {
		t.Errorf("replies were not reordered: %v", order)
	}
}

func TestStreamLossFailsInFlightAndReconnects(t *testing.T) {
	srv := clienttest.NewServer(t)
	var hold atomic.Bool
	hold.Store(true)
	srv.SetHook(func(m *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		if m.GetCommit() != nil && hold.Load() {
			return nil, true // never answered
		}
		return nil, false
	})
	c := dial(t, srv)
	noop := func(context.Context, Command) (txc.BranchStatus, string) { return txc.BranchCommitted, "" }
	if err := c.Serve([]string{"r1"}, noop); err != nil {
		t.Fatal(err)
	}
	if err := c.Serve([]string{"r2", "r1"}, noop); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitResources(t.Context(), "r1", "r2"); err != nil {
		t.Fatal(err)
	}
	_, m0 := srv.Counts()
	const N = 10
	errs := make(chan error, N)
	for range N {
		go func() {
			_, err := c.Commit(t.Context(), "fake-1:1")
			errs <- err
		}()
	}
	waitFor(t, "commits to reach the server", func() bool { _, m := srv.Counts(); return m-m0 >= N })
	srv.DropStreams()
	for range N {
		select {
		case err := <-errs:
			if !errors.Is(err, txc.ErrUnavailable) {
				t.Fatalf("in-flight commit: %v, want ErrUnavailable", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("in-flight requests did not fail on stream loss")
		}
	}
	hold.Store(false)
	// The Conn reconnects by itself and announces both resources again.
	waitFor(t, "reconnect", func() bool { return srv.Sessions() >= 2 })
	if err := srv.WaitResources(t.Context(), "r1", "r2"); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Commit(t.Context(), "fake-1:1"); err != nil || st != txc.GlobalCommitted {
		t.Fatalf("Commit after reconnect = %v, %v", st, err)
	}
	if got := srv.Resources(); len(got) != 2 {
		t.Fatalf("resources after reconnect = %v", got)
	}
}

func TestRequestsWaitDuringOutage(t *testing.T) {
	srv := clienttest.NewServer(t)
	c := dial(t, srv)
	srv.SetRefuse(true)
	srv.DropStreams()
	waitFor(t, "the Conn to notice the outage", func() bool { return !c.linkSet()[0].up() })

	// A request whose ctx ends during the outage fails with ErrUnavailable.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	_, err := c.Begin(ctx, "short", 0)
	cancel()
	if !errors.Is(err, txc.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Begin during outage: %v", err)
	}
	// A request with a longer ctx waits and succeeds once the TC is back.
	probe := newDoneProbe(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := c.Begin(probe, "long", 0)
		done <- err
	}()
	select { // Begin has reached its wait for a session: it selects on ctx.Done()
	case <-probe.asked:
	case err := <-done:
		t.Fatalf("Begin returned during the outage: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Begin returned during the outage: %v", err)
	default:
	}
	srv.SetRefuse(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Begin after outage: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Begin still waiting after the coordinator came back")
	}
}

func TestCancelFreesPending(t *testing.T) {
	srv := clienttest.NewServer(t)
	var begins beginReplies
	c := dial(t, srv, begins.option())
	srv.SetDelay(func(m *txcv1.ClientMessage) time.Duration {
		if m.GetBegin().GetName() == "slow" {
			return 200 * time.Millisecond
		}
		return 0
	})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	before := begins.n.Load()
	_, err := c.Begin(ctx, "slow", 0)
	if !errors.Is(err, txc.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled Begin: %v", err)
	}
	if n := c.pendingCount(); n != 0 {
		t.Fatalf("%d pending entries after cancel", n)
	}
	// The late reply arrives and is dropped; later requests get their own
	// replies.
	waitFor(t, "the late reply", func() bool { return begins.n.Load() > before })
	srv.SetHook(echoBegin)
	for i := range 20 {
		name := fmt.Sprint("after", i)
		if xid, err := c.Begin(t.Context(), name, 0); err != nil || string(xid) != name {
			t.Fatalf("Begin(%s) = %q, %v", name, xid, err)
		}
	}
	// A ctx already done sends nothing.
	_, m0 := srv.Counts()
	done, cancel2 := context.WithCancel(t.Context())
	cancel2()
	if _, err := c.Begin(done, "x", 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Begin with done ctx: %v", err)
	}
	if _, m1 := srv.Counts(); m1 != m0 {
		t.Fatalf("a request with a done ctx was sent")
	}
}

func TestCloseIdempotentAndFailsPending(t *testing.T) {
	srv := clienttest.NewServer(t)
	srv.SetHook(func(m *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		return nil, m.GetCommit() != nil // commits never answered
	})
	c := dial(t, srv)
	errc := make(chan error, 1)
	go func() { _, err := c.Commit(t.Context(), "fake-1:1"); errc <- err }()
	waitFor(t, "commit in flight", func() bool { return c.pendingCount() == 1 })
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-errc; !errors.Is(err, txc.ErrUnavailable) || !errors.Is(err, ErrClosed) {
		t.Fatalf("in-flight at Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Begin(t.Context(), "x", 0); !errors.Is(err, txc.ErrUnavailable) || !errors.Is(err, ErrClosed) {
		t.Fatalf("Begin after Close: %v", err)
	}
	if err := c.Serve([]string{"r"}, func(context.Context, Command) (txc.BranchStatus, string) { return 0, "" }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
}

func TestOversizeRefusedLocally(t *testing.T) {
	srv := clienttest.NewServer(t)
	c := dial(t, srv, WithMaxMessageSize(4096))
	_, m0 := srv.Counts()
	_, err := c.Register(t.Context(), Branch{XID: "fake-1:1", Type: txc.BranchTCC, ResourceID: "r",
		ApplicationData: make([]byte, 5000)})
	if !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("oversize Register: %v, want ErrInvalidArgument", err)
	}
	if _, m1 := srv.Counts(); m1 != m0 {
		t.Fatalf("oversize message was sent")
	}
	if _, err := c.Status(t.Context(), "fake-1:1"); err != nil {
		t.Fatalf("Conn unusable after oversize refusal: %v", err)
	}
}

// TestLargeBatchesSplit sends many messages that together exceed the frame
// limit: they must be split across frames, none above the limit.
func TestLargeBatchesSplit(t *testing.T) {
	srv := clienttest.NewServer(t)
	srv.TrackFrameSize(true)
	const limit = 64 << 10
	c := dial(t, srv, WithMaxMessageSize(limit))
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 10 {
				_, err := c.Register(t.Context(), Branch{XID: "fake-1:1", Type: txc.BranchTCC, ResourceID: "r",
					ApplicationData: make([]byte, 20<<10)})
				if err != nil {
					t.Errorf("Register: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := srv.MaxFrameSize(); got > limit || got < 20<<10 {
		t.Fatalf("largest frame %d bytes, limit %d", got, limit)
	}
}

func TestTypedErrorsSurviveTheWire(t *testing.T) {
	srv := clienttest.NewServer(t)
	srv.SetHook(func(m *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		switch {
		case m.GetRegister() != nil:
			return clienttest.ErrorReply(&txc.Error{Code: txc.CodeLockConflict, Message: "tc: row locked",
				XID: txc.XID(m.GetRegister().GetXid()), Holder: "fake-1:7"}), true
		case m.GetCommit() != nil:
			return clienttest.ErrorReply(&txc.Error{Code: txc.CodeRolledBack, Message: "tc: rolled back",
				Status: txc.GlobalRollbacked}), true
		case m.GetStatus() != nil:
			return clienttest.ErrorReply(txc.Errorf(txc.CodeUnknownTransaction, "tc: no such transaction")), true
		}
		return nil, false
	})
	c := dial(t, srv)
	_, err := c.Register(t.Context(), Branch{XID: "fake-1:3", Type: txc.BranchAT, ResourceID: "db"})
	if !errors.Is(err, txc.ErrLockConflict) {
		t.Fatalf("Register: %v, want ErrLockConflict", err)
	}
	var te *txc.Error
	if !errors.As(err, &te) || te.Holder != "fake-1:7" || te.XID != "fake-1:3" || te.Message != "tc: row locked" {
		t.Fatalf("lock conflict lost its fields: %#v", te)
	}
	st, err := c.Commit(t.Context(), "fake-1:3")
	if !errors.Is(err, txc.ErrRolledBack) || st != txc.GlobalRollbacked {
		t.Fatalf("Commit = %v, %v", st, err)
	}
	if _, err := c.Status(t.Context(), "fake-1:9"); !errors.Is(err, txc.ErrUnknownTransaction) {
		t.Fatalf("Status: %v", err)
	}
}

func TestBeginTimeoutOnTheWire(t *testing.T) {
	srv := clienttest.NewServer(t)
	got := make(chan uint64, 3)
	srv.SetHook(func(m *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		if b := m.GetBegin(); b != nil {
			got <- b.GetTimeoutMs()
		}
		return nil, false
	})
	c := dial(t, srv)
	for _, tc := range []struct {
		d    time.Duration
		want uint64
	}{{0, 0}, {1500 * time.Microsecond, 2}, {3 * time.Second, 3000}} {
		if _, err := c.Begin(t.Context(), "t", tc.d); err != nil {
			t.Fatal(err)
		}
		if ms := <-got; ms != tc.want {
			t.Errorf("timeout %v sent as %dms, want %d", tc.d, ms, tc.want)
		}
	}
	if _, err := c.Begin(t.Context(), "t", -time.Second); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Errorf("negative timeout: %v", err)
	}
}

func TestServeCommands(t *testing.T) {
	srv := clienttest.NewServer(t)
	c := dial(t, srv)
	var calls atomic.Int64
	h := func(ctx context.Context, cmd Command) (txc.BranchStatus, string) {
		calls.Add(1)
		switch string(cmd.ApplicationData) {
		case "panic":
			panic("boom")
		case "bad":
			return txc.BranchRegistered, "nonsense"
		case "fail":
			return txc.BranchRollbackFailedUnretryable, "dirty write"
		}
		if cmd.Action == ActionCommit {
			return txc.BranchCommitted, ""
		}
		return txc.BranchRollbacked, ""
	}
	if err := c.Serve([]string{"db1"}, h); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitResources(t.Context(), "db1"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		res    string
		action txcv1.BranchAction
		data   string
		want   txc.BranchStatus
		msg    string
	}{
		{"db1", txcv1.BranchAction_BRANCH_ACTION_COMMIT, "", txc.BranchCommitted, ""},
		{"db1", txcv1.BranchAction_BRANCH_ACTION_ROLLBACK, "", txc.BranchRollbacked, ""},
		{"db1", txcv1.BranchAction_BRANCH_ACTION_ROLLBACK, "fail", txc.BranchRollbackFailedUnretryable, "dirty write"},
		{"db1", txcv1.BranchAction_BRANCH_ACTION_COMMIT, "panic", txc.BranchCommitFailedRetryable, "boom"},
		{"db1", txcv1.BranchAction_BRANCH_ACTION_ROLLBACK, "bad", txc.BranchRollbackFailedRetryable, "nonsense"},
		{"other", txcv1.BranchAction_BRANCH_ACTION_COMMIT, "", txc.BranchCommitFailedRetryable, "no handler"},
	}
	for i, tc := range cases {
		cmd := &txcv1.BranchCommand{Action: tc.action, Xid: "fake-1:1", BranchId: uint64(i + 1),
			BranchType: txcv1.BranchType_BRANCH_TYPE_TCC, ResourceId: tc.res, ApplicationData: []byte(tc.data)}
		id, err := srv.SendCommandAny(cmd)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-srv.Results():
			if r.ID != id || r.Result.GetBranchId() != uint64(i+1) || txc.BranchStatus(r.Result.GetStatus()) != tc.want ||
				!strings.Contains(r.Result.GetMessage(), tc.msg) {
				t.Errorf("case %d: result id=%d %v %q, want id=%d %v %q", i, r.ID, r.Result.GetStatus(), r.Result.GetMessage(), id, tc.want, tc.msg)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("case %d: no result", i)
		}
	}
	if calls.Load() != 5 {
		t.Errorf("handler called %d times, want 5", calls.Load())
	}
}

// A notice (command id 0) runs its handler and sends no result: the
// coordinator waits for none.
func TestNoticeIsNotAnswered(t *testing.T) {
	srv := clienttest.NewServer(t)
	c := dial(t, srv)
	ran := make(chan txc.BranchID, 2)
	if err := c.Serve([]string{"db1"}, func(ctx context.Context, cmd Command) (txc.BranchStatus, string) {
		ran <- cmd.BranchID
		return txc.BranchCommitted, ""
	}); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitResources(t.Context(), "db1"); err != nil {
		t.Fatal(err)
	}
	cmd := func(b uint64) *txcv1.BranchCommand {
		return &txcv1.BranchCommand{Action: txcv1.BranchAction_BRANCH_ACTION_COMMIT, Xid: "fake-1:1", BranchId: b,
			BranchType: txcv1.BranchType_BRANCH_TYPE_AT, ResourceId: "db1"}
	}
	if err := srv.SendNotice(cmd(1)); err != nil {
		t.Fatal(err)
	}
	if b := <-ran; b != 1 {
		t.Fatalf("handler ran for branch %d", b)
	}
	id, err := srv.SendCommandAny(cmd(2))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-srv.Results():
		if r.ID != id || r.Result.GetBranchId() != 2 {
			t.Fatalf("first result: id %d branch %d; the notice was answered", r.ID, r.Result.GetBranchId())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no result for the command")
	}
}

func TestCloseWaitsForHandlers(t *testing.T) {
	srv := clienttest.NewServer(t)
	c := dial(t, srv)
	started := make(chan struct{})
	var finished atomic.Bool
	c.Serve([]string{"db"}, func(ctx context.Context, cmd Command) (txc.BranchStatus, string) {
		close(started)
		<-ctx.Done() // Close cancels the handler's ctx
		finished.Store(true)
		return txc.BranchCommitFailedRetryable, ctx.Err().Error()
	})
	if err := srv.WaitResources(t.Context(), "db"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.SendCommand(&txcv1.BranchCommand{Action: txcv1.BranchAction_BRANCH_ACTION_COMMIT, Xid: "fake-1:1",
		BranchId: 1, ResourceId: "db"}); err != nil {
		t.Fatal(err)
	}
	<-started
	c.Close()
	if !finished.Load() {
		t.Fatal("Close returned before the handler")
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond, Jitter: func(n time.Duration) time.Duration { return 0 }}
	want := []time.Duration{5, 10, 20, 40, 50, 50}
	for i, w := range want {
		if got := b.Delay(i); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	b.Jitter = func(n time.Duration) time.Duration { return n * 10 } // out of range: clamped
	if got := b.Delay(10); got >= 100*time.Millisecond {
		t.Errorf("jitter escaped the cap: %v", got)
	}
	b.Jitter = nil
	for i := range 100 {
		if d := b.Delay(i); d < 5*time.Millisecond || d >= 100*time.Millisecond {
			t.Fatalf("Delay(%d) = %v out of range", i, d)
		}
	}
}

func BenchmarkRoundTrip(b *testing.B) {
	srv := clienttest.NewServer(b)
	c := dial(b, srv)
	ctx := b.Context()
	b.SetParallelism(32) // many callers per core, as a busy service has
	b.ReportAllocs()
	f0, m0 := srv.Counts()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Status(ctx, "fake-1:1"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	f1, m1 := srv.Counts()
	b.ReportMetric(float64(m1-m0)/float64(f1-f0), "msgs/frame")
}

func TestDialClosedPort(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Dial(ctx, addr, WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	if !errors.Is(err, txc.ErrUnavailable) {
		t.Fatalf("Dial to a closed port: %v, want ErrUnavailable", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Dial ignored its ctx: %v", el)
	}
}

func TestCloseStopsGoroutines(t *testing.T) {
	srv := clienttest.NewServer(t)
	before := runtime.NumGoroutine()
	for range 5 {
		c := dial(t, srv)
		c.Serve([]string{"r"}, func(context.Context, Command) (txc.BranchStatus, string) { return txc.BranchCommitted, "" })
		if _, err := c.Begin(t.Context(), "x", 0); err != nil {
			t.Fatal(err)
		}
		srv.DropStreams()
		c.Close()
	}
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before+2 })
}

// TestInvalidUTF8RequestFailsAlone: a request holding a string that is not
// valid UTF-8 fails by itself, typed, before it is queued; the session
// and the requests around it carry on.
func TestInvalidUTF8RequestFailsAlone(t *testing.T) {
	srv := clienttest.NewServer(t)
	c := dial(t, srv)
	xid, err := c.Begin(t.Context(), "tx", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Register(t.Context(), Branch{XID: xid, Type: txc.BranchAT, ResourceID: "db1",
		LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"\xff\xfe"}}}})
	if !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("Register with a non-UTF-8 lock key: %v, want InvalidArgument", err)
	}
	bid, err := c.Register(t.Context(), Branch{XID: xid, Type: txc.BranchAT, ResourceID: "db1",
		LockKeys: []txc.LockKey{{Table: "t", Rows: []string{txc.RowKey("\xff\xfe")}}}})
	if err != nil || bid == 0 {
		t.Fatalf("Register with the key through txc.RowKey = %d, %v", bid, err)
	}
	if _, err := c.Status(t.Context(), xid); err != nil {
		t.Fatalf("Status after the refused request: %v", err)
	}
}

// doneProbe is a context that says when a caller first asks for its Done
// channel: a request selecting on it has reached a wait.
type doneProbe struct {
	context.Context
	asked chan struct{}
	once  sync.Once
}

func newDoneProbe(ctx context.Context) *doneProbe {
	return &doneProbe{Context: ctx, asked: make(chan struct{})}
}

func (p *doneProbe) Done() <-chan struct{} {
	p.once.Do(func() { close(p.asked) })
	return p.Context.Done()
}

// beginReplies counts the replies to Begin a Conn receives (a stream
// interceptor), so that a test can wait for one to arrive.
type beginReplies struct{ n atomic.Int64 }

func (b *beginReplies) option() Option {
	return WithDialOptions(grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
		method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, err
		}
		return &countedStream{ClientStream: s, n: &b.n}, nil
	}))
}

type countedStream struct {
	grpc.ClientStream
	n *atomic.Int64
}

func (s *countedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if f, ok := m.(*txcv1.ServerFrame); ok && err == nil {
		for _, sm := range f.GetMessages() {
			if sm.GetReply().GetBegin() != nil {
				s.n.Add(1)
			}
		}
	}
	return err
}
