package integration

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tc"
)

func dial(t *testing.T, addr, name string) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr, client.WithName(name), client.WithBackoff(20*time.Millisecond, 300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ledger is the RM side's record of what phase 2 did to each branch.
type ledger struct {
	mu         sync.Mutex
	action     map[txc.BranchID]string
	violations []string
	calls      atomic.Int64
}

func newLedger() *ledger { return &ledger{action: map[txc.BranchID]string{}} }

func (l *ledger) record(b rm.Branch, a string) error {
	l.calls.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if prev, ok := l.action[b.ID]; ok && prev != a {
		l.violations = append(l.violations, fmt.Sprintf("branch %d of %s: %s after %s", b.ID, b.XID, a, prev))
	}
	l.action[b.ID] = a
	return nil
}

func (l *ledger) Commit(_ context.Context, b rm.Branch) error   { return l.record(b, "commit") }
func (l *ledger) Rollback(_ context.Context, b rm.Branch) error { return l.record(b, "rollback") }

func (l *ledger) get(id txc.BranchID) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.action[id]
	return a, ok
}

// outcome is what a client was told about one transaction.
type outcome struct {
	decision string // "commit" or "rollback"
	branches []txc.BranchID
}

// decide sends commit or rollback until the coordinator answers (it may be
// down and restarting); returns the outcome the client was told.
func decide(ctx context.Context, c *client.Conn, xid txc.XID, commit bool) (string, error) {
	for {
		var err error
		if commit {
			_, err = c.Commit(ctx, xid)
		} else {
			_, err = c.Rollback(ctx, xid)
		}
		switch {
		case err == nil && commit:
			return "commit", nil
		case err == nil:
			return "rollback", nil
		case errors.Is(err, txc.ErrRolledBack), errors.Is(err, txc.ErrTimedOut):
			return "rollback", nil
		case errors.Is(err, txc.ErrUnavailable) && ctx.Err() == nil:
			time.Sleep(20 * time.Millisecond)
			continue
		default:
			return "", err
		}
	}
}

func waitQuiet(t *testing.T, p *tcProcess, within time.Duration) tc.Stats {
	t.Helper()
	deadline := time.Now().Add(within)
	var st tc.Stats
	for time.Now().Before(deadline) {
		code, body := p.get("/v1/stats")
		if code == 200 && json.Unmarshal([]byte(body), &st) == nil && st.Active == 0 && st.LockedRows == 0 {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("coordinator never went quiet: %+v", st)
	return st
}

func TestKill9DuringLoadLosesNothing(t *testing.T) { kill9DuringLoad(t) }

// TestKill9DuringLoadLosesNothingSQLStore runs the same test on servers
// whose store is the machine's PostgreSQL or MariaDB, on tables of the
// test's own.
func TestKill9DuringLoadLosesNothingSQLStore(t *testing.T) {
	for _, c := range []struct {
		store, dsn string
		db         func(testing.TB) *sql.DB
	}{
		{"postgres", dbtest.PostgresDSN, dbtest.Postgres},
		{"mysql", dbtest.MySQLDSN, dbtest.MySQL},
	} {
		t.Run(c.store, func(t *testing.T) {
			db := c.db(t)
			prefix := dbtest.Name("itc") + "_"
			t.Cleanup(func() {
				for _, name := range []string{"schema", "global", "branch", "sequence"} {
					db.Exec("DROP TABLE IF EXISTS " + prefix + name)
				}
			})
			kill9DuringLoad(t, "--store", c.store, "--store-dsn", c.dsn, "--store-table-prefix", prefix)
			waitNoBranches(t, db, prefix)
		})
	}
}

// waitNoBranches fails the test if the store with table prefix still
// holds a branch a few seconds after every transaction finished: the end
// of a transaction is written lazily, with the next sync or after the
// server's LazyWriteDelay (1 s).
func waitNoBranches(t *testing.T, db *sql.DB, prefix string) {
	t.Helper()
	var rows int
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err = db.QueryRow("SELECT COUNT(*) FROM " + prefix + "branch").Scan(&rows)
		if err == nil && rows == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d branch rows left in the store (%v) 5 s after every transaction finished", rows, err)
		}
	}
}

// kill9DuringLoad kills a server three times with SIGKILL under a
// 16-client load and restarts it; then every acknowledged outcome must be
// carried out branch by branch and the server must end with no
// transaction and no lock. storeArgs choose the server's store.
func kill9DuringLoad(t *testing.T, storeArgs ...string) {
	p := startTC(t, append([]string{"--default-timeout", "3s", "--retry-min", "50ms", "--retry-max", "500ms", "--ack-timeout", "5s"}, storeArgs...)...)
	load := startLedgerLoad(t, p.addr, 16)
	for round := 0; round < 3; round++ {
		time.Sleep(time.Duration(400+rand.IntN(800)) * time.Millisecond)
		p.kill9()
		time.Sleep(100 * time.Millisecond)
		p.restart()
	}
	time.Sleep(500 * time.Millisecond)
	load.stop()
	st := waitQuiet(t, p, 60*time.Second)
	load.check(t)
	t.Logf("final %+v", st)
}

// ledgerLoad is n clients beginning transactions of one to three
// generic branches (on rows of "account" in resources db1..db3, served by
// a ledger) and deciding each, 70% commit, through whatever disruption
// the test makes.
type ledgerLoad struct {
	led      *ledger
	mu       sync.Mutex
	told     map[txc.XID]outcome
	halt     atomic.Bool
	wg       sync.WaitGroup
	failures atomic.Int64
	cancel   context.CancelFunc
}

func startLedgerLoad(t *testing.T, target string, n int) *ledgerLoad {
	rmConn := dial(t, target, "rm")
	l := &ledgerLoad{led: newLedger(), told: map[txc.XID]outcome{}}
	mgr := rm.New(rmConn, rm.WithLockRetry(5*time.Millisecond, 50*time.Millisecond))
	for _, r := range []string{"db1", "db2", "db3"} {
		if err := mgr.AddResource(r, txc.BranchGeneric, l.led); err != nil {
			t.Fatal(err)
		}
	}
	tmConn := dial(t, target, "tm")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	l.cancel = cancel
	t.Cleanup(cancel)
	for w := 0; w < n; w++ {
		l.wg.Add(1)
		go func(w int) {
			defer l.wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 99))
			for !l.halt.Load() {
				l.one(ctx, rnd, tmConn, mgr)
			}
		}(w)
	}
	return l
}

// one runs one transaction and records what the client was told.
func (l *ledgerLoad) one(ctx context.Context, rnd *rand.Rand, tmConn *client.Conn, mgr *rm.Manager) {
	xid, err := tmConn.Begin(ctx, "load", 0)
	if err != nil {
		time.Sleep(10 * time.Millisecond)
		return
	}
	var branches []txc.BranchID
	for i := 0; i < 1+rnd.IntN(3); i++ {
		rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		id, err := mgr.RegisterBranch(rctx, client.Branch{XID: xid, Type: txc.BranchGeneric,
			ResourceID: fmt.Sprintf("db%d", 1+rnd.IntN(3)),
			LockKeys:   []txc.LockKey{{Table: "account", Rows: []string{fmt.Sprint(rnd.IntN(40))}}}})
		rcancel()
		if err == nil {
			branches = append(branches, id)
		}
	}
	d, err := decide(ctx, tmConn, xid, rnd.IntN(10) < 7)
	if err != nil {
		l.failures.Add(1)
		return
	}
	l.mu.Lock()
	l.told[xid] = outcome{decision: d, branches: branches}
	l.mu.Unlock()
}

func (l *ledgerLoad) stop() {
	l.halt.Store(true)
	l.wg.Wait()
}

// check fails the test unless every acknowledged outcome was carried out
// on every branch, and no branch saw two different phase-2 actions.
func (l *ledgerLoad) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.told) < 50 {
		t.Fatalf("only %d transactions decided; the load did not run", len(l.told))
	}
	commits, checked := 0, 0
	for xid, o := range l.told {
		if o.decision == "commit" {
			commits++
		}
		for _, b := range o.branches {
			got, ok := l.led.get(b)
			if !ok {
				t.Errorf("%s was acknowledged as %s but branch %d never got phase 2", xid, o.decision, b)
				continue
			}
			if got != o.decision {
				t.Errorf("%s was acknowledged as %s but branch %d got %s", xid, o.decision, b, got)
			}
			checked++
		}
	}
	l.led.mu.Lock()
	for _, v := range l.led.violations {
		t.Error(v)
	}
	l.led.mu.Unlock()
	t.Logf("%d transactions decided (%d commits), %d branches checked, %d phase-2 calls, %d decide failures",
		len(l.told), commits, checked, l.led.calls.Load(), l.failures.Load())
}

func TestRMGoneBetweenPhasesFinishesWhenItReturns(t *testing.T) {
	p := startTC(t, "--retry-min", "50ms", "--retry-max", "200ms")
	ctx := context.Background()
	first := dial(t, p.addr, "rm-1")
	mgr := rm.New(first)
	led := newLedger()
	mgr.AddResource("orders", txc.BranchGeneric, led)
	xid, err := first.Begin(ctx, "rm-restart", 0)
	if err != nil {
		t.Fatal(err)
	}
	id, err := mgr.RegisterBranch(ctx, client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	first.Close() // the RM process dies after phase 1

	tmc := dial(t, p.addr, "tm")
	if _, err := tmc.Commit(ctx, xid); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { s, _ := tmc.Status(ctx, xid); return s == txc.GlobalCommitRetrying }, "status CommitRetrying with no RM")
	// A new RM instance for the same resource comes up.
	second := dial(t, p.addr, "rm-2")
	rm.New(second).AddResource("orders", txc.BranchGeneric, led)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if a, ok := led.get(id); ok {
			if a != "commit" {
				t.Fatalf("branch got %s", a)
			}
			waitQuiet(t, p, 10*time.Second)
			if s, _ := tmc.Status(ctx, xid); s != txc.GlobalCommitted {
				t.Fatalf("final status = %v", s)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the returning RM never got the commit")
}

func TestTimeoutSurvivesRestart(t *testing.T) {
	p := startTC(t, "--retry-min", "50ms")
	ctx := context.Background()
	c := dial(t, p.addr, "tm+rm")
	led := newLedger()
	mgr := rm.New(c)
	mgr.AddResource("db", txc.BranchGeneric, led)
	xid, err := c.Begin(ctx, "forgotten", 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	id, err := mgr.RegisterBranch(ctx, client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: "db",
		LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"7"}}}})
	if err != nil {
		t.Fatal(err)
	}
	p.kill9()
	p.restart()
	waitQuiet(t, p, 15*time.Second)
	if a, _ := led.get(id); a != "rollback" {
		t.Fatalf("branch after timeout across a restart: %q", a)
	}
	if _, err := c.Commit(ctx, xid); !errors.Is(err, txc.ErrTimedOut) {
		t.Fatalf("late commit after restart: %v", err)
	}
}
