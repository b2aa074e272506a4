package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
	"github.com/txcio/txc/tc/store/sqlstore"
)

// Rows claimed in the shared table for registrations a partition refuses
// without writing them are given back when it stops: whether it stopped
// with them queued at the claimer, queued for the core, or stepped into a
// Ready never written. These tests use the real table on PostgreSQL.

// pgLocks opens a shared lock table of its own on PostgreSQL.
func pgLocks(t *testing.T) *sqlstore.Locks {
	t.Helper()
	db := dbtest.Postgres(t)
	base := dbtest.Name("srv") + "_"
	t.Cleanup(func() {
		for _, name := range []string{base + "locks", base + "locks_schema"} {
			_, _ = db.Exec("DROP TABLE IF EXISTS " + name)
		}
	})
	l, err := sqlstore.OpenLocks(context.Background(), sqlstore.Options{Dialect: sqlstore.Postgres,
		DSN: dbtest.PostgresDSN, TablePrefix: base})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// rowHeld reports whether row "db"/"t"/row is in the shared table.
func rowHeld(t *testing.T, locks store.SharedLocks, row string) bool {
	t.Helper()
	_, locked, err := locks.Query(context.Background(), "", "db", []txc.LockKey{{Table: "t", Rows: []string{row}}})
	if err != nil {
		t.Fatal(err)
	}
	return locked
}

// gatedStore holds the first Apply after arm until release.
type gatedStore struct {
	*memstore.Store
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func newGatedStore() *gatedStore {
	return &gatedStore{Store: memstore.New(), entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gatedStore) Apply(ctx context.Context, b *store.Batch) error {
	if g.armed.CompareAndSwap(true, false) {
		close(g.entered)
		<-g.release
	}
	return g.Store.Apply(ctx, b)
}

// registerLater registers rows for xid in the background; the error
// comes on the channel.
// registerWait bounds a registration of these tests: one the stopped
// partition refuses is retried by the client (NotServedHere) until then,
// and under a loaded test run one must still be sent and claimed within it.
const registerWait = 2 * time.Second

func registerLater(ctx context.Context, r *running, t *testing.T, xid txc.XID, rows ...string) <-chan error {
	conn := dial(t, r.addr)
	out := make(chan error, 1)
	go func() {
		_, err := conn.Register(ctx, rowBranch(xid, rows...))
		out <- err
	}()
	return out
}

// stopPartition ends h's Host while the test holds p, then lets go with
// unblock, and waits for Host to return.
func stopPartition(t *testing.T, h *hostRun, p *partition, unblock func()) {
	t.Helper()
	h.cancel()
	waitFor(t, "the partition stopping", func() bool { return isClosed(p.stopping) })
	unblock()
	h.wait(t)
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// A registration stepped into a Ready that the stop leaves unwritten.
func TestStopGivesBackRowsOfUnwrittenRegistrations(t *testing.T) {
	ctx := context.Background()
	locks := pgLocks(t)
	r := startNode(t, "a", locks)
	st := newGatedStore()
	h := hostOn(t, r, "a", st)
	conn := dial(t, r.addr)
	x, err := conn.Begin(ctx, "x", 0)
	if err != nil {
		t.Fatal(err)
	}
	st.armed.Store(true)
	go func() { _, _ = conn.Begin(brief(t), "y", 0) }() // its write holds the persister
	<-st.entered
	regCtx, cancel := context.WithTimeout(ctx, registerWait)
	defer cancel()
	reg := registerLater(regCtx, r, t, x, "1")
	p := hostedPartition(t, r.srv, "a")
	waitFor(t, "the registration stepped", func() bool {
		var n int
		_ = p.query(ctx, func(c *tc.Core) { v, _ := c.Transaction(x); n = len(v.Branches) })
		return n == 1
	})
	if !rowHeld(t, locks, "1") {
		t.Fatal("the registration's row was not claimed")
	}
	stopPartition(t, h, p, func() { close(st.release) })
	if err := <-reg; err == nil {
		t.Fatal("a registration the partition never wrote succeeded")
	}
	if rowHeld(t, locks, "1") {
		t.Fatal("the row of a registration never written is still held after the stop")
	}
}

// A registration claimed and queued for a core loop that stops: stepped
// and written, it holds its row; refused, it gives it back. The loop
// picks between the stop and the queue at random, so a few rounds.
func TestStopGivesBackRowsOfQueuedRegistrations(t *testing.T) {
	locks := pgLocks(t)
	refused := 0
	for i := range 6 {
		node := fmt.Sprintf("q%d", i)
		if err := stopWithQueuedRegistration(t, locks, node); err != nil {
			refused++
			if rowHeld(t, locks, node) {
				t.Fatalf("round %d: the row of a refused registration is still held after the stop (%v)", i, err)
			}
		} else if !rowHeld(t, locks, node) {
			t.Fatalf("round %d: the row of a registration written is not held", i)
		}
	}
	t.Logf("%d of 6 registrations refused", refused)
}

// stopWithQueuedRegistration registers row node on a partition of that
// name whose core loop is held until the registration is claimed and
// queued, stops the partition and returns what the registration got.
func stopWithQueuedRegistration(t *testing.T, locks store.SharedLocks, node string) error {
	ctx := context.Background()
	r := startNode(t, node, locks)
	h := hostOn(t, r, node, memstore.New())
	conn := dial(t, r.addr)
	x, err := conn.Begin(ctx, "x", 0)
	if err != nil {
		t.Fatal(err)
	}
	p := hostedPartition(t, r.srv, node)
	frozen, thaw := make(chan struct{}), make(chan struct{})
	var thawOnce sync.Once
	unblock := func() { thawOnce.Do(func() { close(thaw) }) }
	t.Cleanup(unblock) // also when the test fails early
	go func() { _ = p.query(ctx, func(*tc.Core) { close(frozen); <-thaw }) }()
	<-frozen
	regCtx, cancel := context.WithTimeout(ctx, registerWait)
	defer cancel()
	reg := registerLater(regCtx, r, t, x, node)
	waitFor(t, "the registration's row claimed", func() bool { return rowHeld(t, locks, node) })
	waitFor(t, "the registration queued for the core", func() bool {
		p.claims.mu.Lock()
		defer p.claims.mu.Unlock()
		return len(p.claims.pending) == 0
	})
	stopPartition(t, h, p, unblock)
	return <-reg
}

// gateLocks holds the first Claim on l until released (gatedLocks).
func gateLocks(l store.SharedLocks) *gatedLocks {
	return &gatedLocks{SharedLocks: l, entered: make(chan struct{}), release: make(chan struct{})}
}

// A Claim that returns after a store failure stopped the partition and
// its leftovers were answered: the registration is refused, its rows
// given back. The claimer's hand-over raced the partition's last drain;
// repeated, so that a lost race would show.
func TestStopGivesBackRowsClaimedAfterAStoreFailure(t *testing.T) {
	ctx := context.Background()
	base := pgLocks(t)
	for i := range 8 {
		node := fmt.Sprintf("f%d", i)
		locks := gateLocks(base)
		r := startNode(t, node, locks)
		st := memstore.New()
		h := hostOn(t, r, node, st)
		conn := dial(t, r.addr)
		x, err := conn.Begin(ctx, "x", 0)
		if err != nil {
			t.Fatal(err)
		}
		regCtx, cancel := context.WithTimeout(ctx, registerWait)
		reg := registerLater(regCtx, r, t, x, node)
		<-locks.entered
		p := hostedPartition(t, r.srv, node)
		st.Fail(errors.New("disk on fire"), memstore.KeepNone)
		if _, err := conn.Begin(ctx, "y", 0); !errors.Is(err, txc.ErrUnavailable) {
			t.Fatalf("begin whose write failed: %v", err)
		}
		<-p.done // the partition answered what it had
		locks.open()
		if err := h.wait(t); err == nil {
			t.Fatal("Host returned no store failure")
		}
		if err := <-reg; err == nil {
			t.Fatal("a registration on a failed partition succeeded")
		}
		cancel()
		if rowHeld(t, base, node) {
			t.Fatalf("round %d: the row claimed for a refused registration is still held", i)
		}
	}
}

// A core refusing a claimed registration (its transaction ended) gives
// its rows back with the batch that answers it.
func TestCoreRefusalGivesBackClaimedRows(t *testing.T) {
	ctx := context.Background()
	locks := pgLocks(t)
	r := startNode(t, "a", locks)
	hostOn(t, r, "a", memstore.New())
	conn := dial(t, r.addr)
	x, err := conn.Begin(ctx, "x", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Commit(ctx, x); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Register(ctx, rowBranch(x, "1")); txc.CodeOf(err) == txc.CodeOK {
		t.Fatalf("register on a committed transaction = %v", err)
	}
	if rowHeld(t, locks, "1") {
		t.Fatal("the row claimed for a registration the core refused is still held")
	}
}
