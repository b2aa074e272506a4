package rm_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tc/server/servertest"
	"github.com/txcio/txc/tm"
)

// lockEnv is a real coordinator in the test process and a connection to
// it, on which resource "db" serves Generic branches that finish at once.
type lockEnv struct {
	t     *testing.T
	conn  *client.Conn
	admin http.Handler
	tm    *tm.Manager
}

func newLockEnv(t *testing.T) *lockEnv {
	conn, admin := servertest.StartWithAdmin(t, "rmlw")
	if err := rm.New(conn).AddResource("db", txc.BranchGeneric, rm.HandlerFuncs{}); err != nil {
		t.Fatal(err)
	}
	return &lockEnv{t: t, conn: conn, admin: admin, tm: tm.New(conn)}
}

// row is the lock key every branch of these tests takes.
var row = []txc.LockKey{{Table: "accounts", Rows: []string{"7"}}}

// begin begins a transaction with a budget far longer than any test.
func (e *lockEnv) begin(name string) txc.XID {
	e.t.Helper()
	xid, err := e.conn.Begin(e.t.Context(), name, time.Minute)
	if err != nil {
		e.t.Fatal(err)
	}
	return xid
}

// hold begins a transaction and registers a branch locking row: it holds
// the row until it ends.
func (e *lockEnv) hold(m *rm.Manager) txc.XID {
	e.t.Helper()
	xid := e.begin("holder")
	if _, err := m.RegisterBranch(e.t.Context(), client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: "db", LockKeys: row}); err != nil {
		e.t.Fatal(err)
	}
	return xid
}

// refusedByLockWait checks that err is the lock conflict of a registration
// by xid that its lock wait ended: it names holder, and xid is still
// open (its budget did not end the wait) with no branch.
func (e *lockEnv) refusedByLockWait(err error, xid, holder txc.XID) {
	e.t.Helper()
	var te *txc.Error
	if !errors.Is(err, txc.ErrLockConflict) || !errors.As(err, &te) || te.Holder != holder || errors.Is(err, txc.ErrTimedOut) {
		e.t.Fatalf("err = %v, want a lock conflict naming %s", err, holder)
	}
	if !strings.Contains(err.Error(), "lock wait") {
		e.t.Errorf("err = %v, does not say the lock wait ended it", err)
	}
	v := servertest.Transaction(e.t, e.admin, xid)
	if v.StatusS != txc.GlobalBegin.String() || len(v.Branches) != 0 {
		e.t.Fatalf("the waiter is %s with branches %+v, want Begin with none", v.StatusS, v.Branches)
	}
}

// TestRegisterLockWaitBoundsRetries: a registration whose rows another
// transaction holds stops retrying when the Manager's lock wait is over,
// though its ctx has no deadline and its transaction a minute of budget:
// the lock conflict names the holder, and nothing is registered.
func TestRegisterLockWaitBoundsRetries(t *testing.T) {
	e := newLockEnv(t)
	m := rm.New(e.conn, rm.WithLockWait(100*time.Millisecond))
	holder := e.hold(m)
	xid := e.begin("waiter")
	_, err := m.RegisterBranch(t.Context(), client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: "db", LockKeys: row})
	e.refusedByLockWait(err, xid, holder)
}

// TestRegisterLockWaitOfTransaction: the lock wait of the global
// transaction (tm.Config.LockWait, carried by ctx) bounds a Manager that
// has none, and wins over the registration's own.
func TestRegisterLockWaitOfTransaction(t *testing.T) {
	e := newLockEnv(t)
	m := rm.New(e.conn)
	holder := e.hold(m)
	var xid txc.XID
	var regErr error
	cfg := tm.Config{Name: "waiter", Timeout: time.Minute, LockWait: 100 * time.Millisecond}
	err := e.tm.WithGlobalTx(t.Context(), cfg, func(ctx context.Context) error {
		xid, _ = tm.XIDFromContext(ctx)
		_, regErr = m.RegisterBranch(ctx, client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: "db", LockKeys: row},
			rm.LockWait(time.Hour))
		e.refusedByLockWait(regErr, xid, holder)
		return regErr
	})
	if !errors.Is(err, txc.ErrLockConflict) {
		t.Fatalf("WithGlobalTx: %v", err)
	}
}

// TestRegisterConflictClearsWithinLockWait: a registration whose rows are
// freed while it waits (the holder commits) registers.
func TestRegisterConflictClearsWithinLockWait(t *testing.T) {
	e := newLockEnv(t)
	waiting := make(chan struct{})
	once := sync.OnceFunc(func() { close(waiting) })
	m := rm.New(e.conn, rm.WithLockWait(time.Minute), rm.WithJitter(func(n time.Duration) time.Duration {
		once() // asked for the first delay: the first attempt met the lock
		return 0
	}))
	holder := e.hold(m)
	xid := e.begin("waiter")
	go func() {
		<-waiting
		if _, err := e.conn.Commit(context.Background(), holder); err != nil {
			t.Error(err)
		}
	}()
	id, err := m.RegisterBranch(t.Context(), client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: "db", LockKeys: row})
	if err != nil || id == 0 {
		t.Fatalf("RegisterBranch = %d, %v", id, err)
	}
	if v := servertest.Transaction(t, e.admin, xid); len(v.Branches) != 1 || v.Branches[0].ID != id {
		t.Fatalf("the waiter's branches: %+v, want %d", v.Branches, id)
	}
}

// TestLockWaitFor: the transaction's lock wait wins over the resource's,
// which wins over the Manager's; non-positive values set nothing.
func TestLockWaitFor(t *testing.T) {
	e := newLockEnv(t)
	_, txCtx, err := e.tm.Begin(t.Context(), tm.Config{Name: "tx", LockWait: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	bounded := rm.New(e.conn, rm.WithLockWait(time.Second))
	for _, c := range []struct {
		name string
		m    *rm.Manager
		ctx  context.Context
		own  time.Duration
		want time.Duration
	}{
		{"no bound anywhere", rm.New(e.conn), t.Context(), 0, 0},
		{"non-positive Manager option", rm.New(e.conn, rm.WithLockWait(-time.Second)), t.Context(), 0, 0},
		{"the Manager's", bounded, t.Context(), 0, time.Second},
		{"non-positive own", bounded, t.Context(), -time.Second, time.Second},
		{"the resource's over the Manager's", bounded, t.Context(), 2 * time.Second, 2 * time.Second},
		{"the transaction's over both", bounded, txCtx, 2 * time.Second, 3 * time.Second},
		{"the transaction's, shorter", bounded, txCtx, time.Hour, 3 * time.Second},
	} {
		if got := c.m.LockWaitFor(c.ctx, c.own); got != c.want {
			t.Errorf("%s: LockWaitFor = %v, want %v", c.name, got, c.want)
		}
	}
}
