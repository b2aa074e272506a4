package client

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client/clienttest"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
)

func TestBeginPipelinedSendsWithoutWaiting(t *testing.T) {
	srv := clienttest.NewServer(t)
	var order []string
	var mu sync.Mutex
	srv.SetHook(func(m *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		mu.Lock()
		switch {
		case m.GetBegin() != nil:
			order = append(order, "begin "+m.GetBegin().GetXid())
		case m.GetRegister() != nil:
			order = append(order, "register "+m.GetRegister().GetXid())
		}
		mu.Unlock()
		return nil, false
	})
	srv.SetDelay(func(m *txcv1.ClientMessage) time.Duration {
		if m.GetBegin() != nil {
			return 2 * time.Second // the Begin's reply is late
		}
		return 0
	})
	c := dial(t, srv)
	xid, wait, err := c.BeginPipelined(t.Context(), "p", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !xid.Valid() {
		t.Fatalf("XID %q", xid)
	}
	// The Begin is unanswered, yet a register on the same Conn goes out
	// and is answered.
	if _, err := c.Register(t.Context(), Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: "r"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	if err := wait(ctx); !errors.Is(err, txc.ErrUnavailable) {
		t.Fatalf("the register waited for the begin's reply (wait = %v)", err)
	}
	cancel()
	if err := wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := wait(t.Context()); err != nil {
		t.Fatal("wait is not repeatable:", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 2 || order[0] != "begin "+string(xid) || order[1] != "register "+string(xid) {
		t.Fatalf("order on the wire: %v", order)
	}
}

func TestBeginPipelinedXIDsAreDistinctAndReserved(t *testing.T) {
	srv := clienttest.NewServer(t)
	var reserves atomic.Int64
	srv.SetHook(func(m *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		if m.GetReserve() != nil {
			reserves.Add(1)
		}
		return nil, false
	})
	c := dial(t, srv)
	const N = reserveBlock*2 + 10
	seen := make(map[txc.XID]bool, N)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < N; i += 8 {
				xid, wait, err := c.BeginPipelined(t.Context(), "p", 0)
				if err == nil {
					err = wait(t.Context())
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[xid] {
					t.Errorf("XID %s handed out twice", xid)
				}
				seen[xid] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n := reserves.Load(); n < 3 || n > 4 {
		t.Fatalf("%d reserves for %d begins in blocks of %d", n, N, reserveBlock)
	}
}

func TestBeginPipelinedRefusedAndLost(t *testing.T) {
	srv := clienttest.NewServer(t)
	var mode atomic.Int32 // 0 answer, 1 refuse, 2 never answer
	srv.SetHook(func(m *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		if m.GetBegin() == nil {
			return nil, false
		}
		switch mode.Load() {
		case 1:
			return clienttest.ErrorReply(txc.Errorf(txc.CodeInvalidArgument, "tc: begin: no")), true
		case 2:
			return nil, true
		}
		return nil, false
	})
	c := dial(t, srv)
	mode.Store(1)
	_, wait, err := c.BeginPipelined(t.Context(), "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := wait(t.Context()); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("refused begin: wait = %v", err)
	}
	mode.Store(2)
	_, wait, err = c.BeginPipelined(t.Context(), "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	if err := wait(ctx); !errors.Is(err, txc.ErrUnavailable) {
		t.Fatalf("wait past its ctx = %v", err)
	}
	cancel()
	srv.DropStreams()
	if err := wait(t.Context()); !errors.Is(err, txc.ErrUnavailable) {
		t.Fatalf("begin lost with its stream: wait = %v", err)
	}
	// After the reconnect the Conn reserves afresh on the new stream.
	mode.Store(0)
	waitFor(t, "reconnect", func() bool { return srv.Sessions() >= 2 })
	_, wait, err = c.BeginPipelined(t.Context(), "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.BeginPipelined(t.Context(), "p", -time.Second); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("negative timeout: %v", err)
	}
}

func TestRequestOnAnotherConnWaitsForPipelinedBegin(t *testing.T) {
	srv := clienttest.NewServer(t)
	release := make(chan struct{})
	var regAt, beginAnsweredAt atomic.Int64
	srv.SetHook(func(m *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		switch {
		case m.GetBegin() != nil:
			<-release
			beginAnsweredAt.Store(time.Now().UnixNano())
		case m.GetRegister() != nil:
			regAt.Store(time.Now().UnixNano())
		}
		return nil, false
	})
	a, b := dial(t, srv), dial(t, srv)
	xid, _, err := a.BeginPipelined(t.Context(), "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := b.Register(t.Context(), Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: "r"})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("register on another Conn did not wait for the begin: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if regAt.Load() < beginAnsweredAt.Load() {
		t.Fatal("register reached the server before the begin was answered")
	}
	// A ctx that ends while waiting: not sent, typed.
	release2 := make(chan struct{})
	defer close(release2)
	srv.SetHook(func(m *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		if m.GetBegin() != nil {
			<-release2
		}
		return nil, false
	})
	xid, _, err = a.BeginPipelined(t.Context(), "p", 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Commit(ctx, xid); !errors.Is(err, txc.ErrUnavailable) {
		t.Fatalf("commit on another Conn past its ctx: %v", err)
	}
}

func TestNotSentIsTyped(t *testing.T) {
	srv := clienttest.NewServer(t)
	srv.SetHook(func(m *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		if m.GetCommit() != nil {
			return nil, true // never answered
		}
		return nil, false
	})
	c := dial(t, srv)
	done, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.Register(done, Branch{XID: "fake-1:1", Type: txc.BranchGeneric, ResourceID: "r"})
	if !errors.Is(err, ErrNotSent) || !errors.Is(err, txc.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("request with a done ctx: %v", err)
	}
	// Sent, then abandoned: the outcome is unknown, so not ErrNotSent.
	ctx, cancel2 := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel2()
	_, err = c.Commit(ctx, "fake-1:1")
	if !errors.Is(err, txc.ErrUnavailable) || errors.Is(err, ErrNotSent) {
		t.Fatalf("request abandoned after sending: %v", err)
	}
	c.Close()
	if _, err := c.Status(t.Context(), "fake-1:1"); !errors.Is(err, ErrNotSent) || !errors.Is(err, ErrClosed) {
		t.Fatalf("request on a closed Conn: %v", err)
	}
}

// A pipelined Begin does not cost a frame of its own: it leaves with the
// next request on the stream.
func TestPipelinedBeginRidesWithTheNextRequest(t *testing.T) {
	old := lazyLinger
	lazyLinger = time.Hour // only the register may carry it out
	t.Cleanup(func() { lazyLinger = old })
	srv := clienttest.NewServer(t)
	c := dial(t, srv)
	// Warm up: the XID reservation and the Hello are frames of their own.
	_, wait, err := c.BeginPipelined(t.Context(), "warm", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	frames0, msgs0 := srv.Counts()
	xid, wait, err := c.BeginPipelined(t.Context(), "p", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Held, not sent: the begin waits in the session's queue for the
	// linger (an hour) or the next frame; the writer was not woken for it
	// (it takes the queue whole and disarms the linger when it does).
	if n, lingering := c.queued(); n != 1 || !lingering {
		t.Fatalf("after a lazy begin: %d messages queued, linger armed %v; want 1, true", n, lingering)
	}
	if f, _ := srv.Counts(); f != frames0 {
		t.Fatalf("the lazy begin went out alone (%d frames)", f-frames0)
	}
	if _, err := c.Register(t.Context(), Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: "r"}); err != nil {
		t.Fatal(err)
	}
	if err := wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if f, m := srv.Counts(); f-frames0 != 1 || m-msgs0 != 2 {
		t.Fatalf("begin and register took %d frames for %d messages, want 1 for 2", f-frames0, m-msgs0)
	}
}

// With nothing else to carry it, a pipelined Begin leaves after the
// linger; wait flushes it at once.
func TestPipelinedBeginLeavesAlone(t *testing.T) {
	srv := clienttest.NewServer(t)
	var begins atomic.Int64
	srv.SetHook(func(m *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		if m.GetBegin() != nil {
			begins.Add(1)
		}
		return nil, false
	})
	c := dial(t, srv)
	if _, _, err := c.BeginPipelined(t.Context(), "alone", time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the begin after the linger", func() bool { return begins.Load() == 1 })

	old := lazyLinger
	lazyLinger = time.Hour
	t.Cleanup(func() { lazyLinger = old })
	_, wait, err := c.BeginPipelined(t.Context(), "flushed", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := begins.Load(); n != 2 {
		t.Fatalf("%d begins reached the server, want 2", n)
	}
}
