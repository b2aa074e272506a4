package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
)

// twoNodes serves nodes a and b, each hosting its own partition, over one
// shared lock table.
func twoNodes(t *testing.T, locks store.SharedLocks) (a, b *client.Conn) {
	t.Helper()
	ra, rb := startNode(t, "a", locks), startNode(t, "b", locks)
	hostOn(t, ra, "a", memstore.New())
	hostOn(t, rb, "b", memstore.New())
	return dial(t, ra.addr), dial(t, rb.addr)
}

func rowBranch(xid txc.XID, rows ...string) client.Branch {
	return client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: "db", LockKeys: []txc.LockKey{{Table: "t", Rows: rows}}}
}

func TestSharedLocksConflictAcrossNodes(t *testing.T) {
	ctx := context.Background()
	locks := memstore.NewLocks()
	connA, connB := twoNodes(t, locks)
	x, err := connA.Begin(ctx, "holder", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connA.Register(ctx, rowBranch(x, "1", "2")); err != nil {
		t.Fatal(err)
	}
	y, err := connB.Begin(ctx, "waiter", 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_, err := connB.Register(ctx, rowBranch(y, "3", "2"))
		var te *txc.Error
		if !errors.As(err, &te) || te.Code != txc.CodeLockConflict || te.Holder != x {
			t.Fatalf("register through b = %v, want a conflict with %s", err, x)
		}
	}
	keys := rowBranch(y, "2").LockKeys
	if locked, holder, err := connB.LockQuery(ctx, y, "db", keys); err != nil || !locked || holder != x {
		t.Fatalf("lock query through b = %v %v %v", locked, holder, err)
	}
	if got := len(locks.Rows()); got != 2 {
		t.Fatalf("%d rows in the shared table, want x's 2 (the refused claims took none)", got)
	}
	if _, err := connA.Commit(ctx, x); err != nil {
		t.Fatal(err)
	}
	if _, err := connB.Register(ctx, rowBranch(y, "3", "2")); err != nil {
		t.Fatalf("register after the holder committed: %v", err)
	}
}

func TestSharedLocksUnreachableRefusesAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	locks := memstore.NewLocks()
	r := startNode(t, "a", locks)
	hostOn(t, r, "a", memstore.New())
	conn := dial(t, r.addr)
	x, err := conn.Begin(ctx, "x", 0)
	if err != nil {
		t.Fatal(err)
	}
	locks.Fail(errors.New("database down"))
	if _, err := conn.Register(ctx, rowBranch(x, "1")); !errors.Is(err, txc.ErrUnavailable) {
		t.Fatalf("register with the table down = %v", err)
	}
	if _, err := conn.Register(ctx, rowBranch(x, "1")); err != nil {
		t.Fatal(err)
	}
	var branches int
	if err := hostedPartition(t, r.srv, "a").query(ctx, func(c *tc.Core) { v, _ := c.Transaction(x); branches = len(v.Branches) }); err != nil {
		t.Fatal(err)
	}
	if branches != 1 {
		t.Fatalf("%d branches, want the one registered after the table came back", branches)
	}
}

// gatedLocks counts Claim calls and holds the first until released.
type gatedLocks struct {
	store.SharedLocks
	calls   atomic.Int64
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gatedLocks) Claim(ctx context.Context, claims []store.LockClaim) ([]store.ClaimResult, error) {
	if g.calls.Add(1) == 1 {
		close(g.entered)
		<-g.release
	}
	return g.SharedLocks.Claim(ctx, claims)
}

// open lets the held Claim go on.
func (g *gatedLocks) open() { g.once.Do(func() { close(g.release) }) }

func newGatedLocks() *gatedLocks {
	return &gatedLocks{SharedLocks: memstore.NewLocks(), entered: make(chan struct{}), release: make(chan struct{})}
}

// Registrations arriving while a Claim is in flight share the next one.
func TestSharedLocksGroupClaiming(t *testing.T) {
	ctx := context.Background()
	locks := newGatedLocks()
	r := startNode(t, "a", locks)
	hostOn(t, r, "a", memstore.New())
	t.Cleanup(locks.open)
	const n = 40
	conns := []*client.Conn{dial(t, r.addr), dial(t, r.addr), dial(t, r.addr), dial(t, r.addr)}
	xids := make([]txc.XID, n)
	for i := range xids {
		var err error
		if xids[i], err = conns[0].Begin(ctx, "g", 0); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, xid := range xids {
		wg.Go(func() {
			_, err := conns[i%len(conns)].Register(ctx, rowBranch(xid, fmt.Sprint(i)))
			errs <- err
		})
	}
	<-locks.entered
	cl := hostedPartition(t, r.srv, "a").claims
	waitFor(t, "every registration with the claimer", func() bool {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		sum := 0
		for _, k := range cl.pending {
			sum += k
		}
		return sum == n
	})
	locks.open()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The first call took what had arrived when it began (one or more),
	// the second everything that arrived while it was held.
	if c := locks.calls.Load(); c > 2 {
		t.Fatalf("%d Claim calls for %d registrations, want at most 2", c, n)
	}
}

// A stream's pipelined Begin, Register and Commit reach the core in order
// while the Register's rows are being claimed.
func TestSharedLocksKeepStreamOrder(t *testing.T) {
	locks := newGatedLocks()
	r := startNode(t, "a", locks)
	hostOn(t, r, "a", memstore.New())
	s := rawStream(t, r.addr)
	send := func(ms ...*txcv1.ClientMessage) {
		if err := s.Send(&txcv1.ClientFrame{Messages: ms}); err != nil {
			t.Fatal(err)
		}
	}
	replies := map[uint64]*txcv1.Reply{}
	await := func(id uint64) *txcv1.Reply {
		for replies[id] == nil {
			f, err := s.Recv()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range f.Messages {
				replies[m.Id] = m.GetReply()
			}
		}
		return replies[id]
	}
	send(&txcv1.ClientMessage{Id: 1, Body: &txcv1.ClientMessage_Hello{Hello: &txcv1.Hello{Version: 1}}},
		&txcv1.ClientMessage{Id: 2, Body: &txcv1.ClientMessage_Reserve{Reserve: &txcv1.ReserveRequest{Count: 1}}})
	res := await(2).GetReserve()
	xid := string(txc.NewXID(res.GetNode(), res.GetFirst()))
	send(&txcv1.ClientMessage{Id: 3, Body: &txcv1.ClientMessage_Begin{Begin: &txcv1.BeginRequest{Name: "p", Xid: xid}}},
		&txcv1.ClientMessage{Id: 4, Body: &txcv1.ClientMessage_Register{Register: &txcv1.RegisterRequest{Xid: xid,
			BranchType: txcv1.BranchType(txc.BranchGeneric), ResourceId: "db",
			LockKeys: txcv1.LockKeysToProto([]txc.LockKey{{Table: "t", Rows: []string{"1"}}})}}},
		&txcv1.ClientMessage{Id: 5, Body: &txcv1.ClientMessage_Commit{Commit: &txcv1.CommitRequest{Xid: xid}}})
	<-locks.entered
	locks.open()
	if e := await(4).GetError(); e != nil {
		t.Fatalf("register = %v", e)
	}
	if e := await(5).GetError(); e != nil {
		t.Fatalf("commit = %v", e)
	}
	if e := await(3).GetError(); e != nil {
		t.Fatalf("begin = %v", e)
	}
}

// hostedPartition is the partition name s hosts now.
func hostedPartition(t *testing.T, s *Server, name string) *partition {
	t.Helper()
	s.partsMu.RLock()
	defer s.partsMu.RUnlock()
	p := s.parts[name]
	if p == nil {
		t.Fatalf("partition %q not hosted", name)
	}
	return p
}
