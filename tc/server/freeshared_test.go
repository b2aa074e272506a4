package server

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
)

// A store that does not free shared rows itself (not a LockFreer) has
// the persister free a durable batch's rows through the shared table:
// a Free that fails is tried again while the batch's Ready stays with
// the persister, and never kept for later.

// freeFailing is a shared table whose Free fails while down is set.
type freeFailing struct {
	*memstore.Locks
	down  atomic.Bool
	frees atomic.Int64
}

func (f *freeFailing) Free(ctx context.Context, rows []store.LockRow) error {
	f.frees.Add(1)
	if f.down.Load() {
		return errors.New("lock table down")
	}
	return f.Locks.Free(ctx, rows)
}

// holdRow begins a transaction and registers a branch holding row.
func holdRow(t *testing.T, conn *client.Conn, row string) (txc.XID, txc.BranchID) {
	t.Helper()
	x, err := conn.Begin(context.Background(), "x", 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := conn.Register(context.Background(), rowBranch(x, row))
	if err != nil {
		t.Fatal(err)
	}
	return x, b
}

// A registration of the rows its own transaction is freeing, while their
// Free fails, is refused to be retried; once the Free went through, a new
// claim takes them, and they stay held. (A Free kept for after the next
// write would delete rows the transaction holds again.)
func TestFreeFailingKeepsRowsOfTheirOwnTransactionHeld(t *testing.T) {
	ctx := context.Background()
	locks := &freeFailing{Locks: memstore.NewLocks()}
	r := startNode(t, "a", locks)
	hostOn(t, r, "a", memstore.New())
	conn := dial(t, r.addr)
	x, b := holdRow(t, conn, "1")
	locks.down.Store(true)
	reported := make(chan error, 1)
	go func() { reported <- conn.Report(ctx, x, b, txc.BranchPhaseOneFailed) }() // frees row 1
	waitFor(t, "a Free failing", func() bool { return locks.frees.Load() > 0 })
	again := make(chan error, 1)
	go func() { _, err := conn.Register(ctx, rowBranch(x, "1")); again <- err }()
	p := hostedPartition(t, r.srv, "a")
	var err2 error
	answered := false
	waitFor(t, "the registration decided", func() bool {
		select {
		case err2 = <-again:
			answered = true
			return true
		default:
		}
		pending := false
		_ = p.query(ctx, func(c *tc.Core) { pending = c.HasReady() })
		return pending
	})
	locks.down.Store(false)
	if err := <-reported; err != nil {
		t.Fatal(err)
	}
	if !answered {
		err2 = <-again
	}
	var te *txc.Error
	if err2 != nil && (!errors.As(err2, &te) || te.Code != txc.CodeLockConflict || te.Holder != x) {
		t.Fatalf("register while the row's Free fails = %v, want a conflict with %s itself", err2, x)
	}
	if err2 != nil {
		if _, err := conn.Register(ctx, rowBranch(x, "1")); err != nil {
			t.Fatalf("register once the Free went through: %v", err)
		}
	}
	if _, err := conn.Begin(ctx, "another write", 0); err != nil {
		t.Fatal(err)
	}
	if !rowHeld(t, locks, "1") {
		t.Fatalf("row 1 is not in the shared table while %s holds it", x)
	}
}

// A Free failing for the whole store timeout makes the partition step
// out: what the batch decided is durable and answered, the rows stay
// held, and the partition's next owner reconciles them.
func TestFreeFailingStepsOutForTheNextOwner(t *testing.T) {
	ctx := context.Background()
	locks := &freeFailing{Locks: memstore.NewLocks()}
	r := startWith(t, Config{Core: tc.Config{Node: "a"}, Locks: locks, StoreTimeout: 200 * time.Millisecond})
	st := memstore.New()
	h := hostOn(t, r, "a", st)
	conn := dial(t, r.addr)
	x, b := holdRow(t, conn, "1")
	locks.down.Store(true)
	if err := conn.Report(ctx, x, b, txc.BranchPhaseOneFailed); err != nil { // frees row 1
		t.Fatalf("report = %v: durable, it is answered", err)
	}
	if err := h.wait(t); err == nil {
		t.Fatal("Host kept serving with rows it could not free")
	}
	if !rowHeld(t, locks, "1") {
		t.Fatal("row 1 vanished")
	}
	locks.down.Store(false)
	st.Reopen()
	hostOn(t, r, "a", st) // the next owner: here the same node again
	if rowHeld(t, locks, "1") {
		t.Fatal("row 1 is still held after the next owner's Reconcile")
	}
	if _, err := conn.Register(ctx, rowBranch(x, "1")); err != nil {
		t.Fatalf("register after the step-out: %v", err)
	}
}
