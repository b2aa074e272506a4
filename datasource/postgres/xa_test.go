package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/datasource"
	txcpg "github.com/txcio/txc/datasource/postgres"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/internal/logtest"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tc/server/servertest"
	"github.com/txcio/txc/tm"
)

// xaEnv is a real coordinator and a private PostgreSQL with
// max_prepared_transactions set (the shared server has 0), plain and
// through the proxy in XA mode.
type xaEnv struct {
	*env
	dsn string
	xa  *sql.DB
}

func newXAEnv(t *testing.T) *xaEnv {
	t.Helper()
	dsn := dbtest.PrivatePostgres(t, "max_prepared_transactions=20")
	conn, admin := servertest.StartWithAdmin(t, "dspgxa")
	e := &xaEnv{env: &env{t: t, conn: conn, tm: tm.New(conn), rm: rm.New(conn), plain: dbtest.Open(t, "pgx", dsn), admin: admin}, dsn: dsn}
	e.xa = e.openXA()
	return e
}

func (e *xaEnv) openXA() *sql.DB {
	e.t.Helper()
	cfg, err := pgx.ParseConfig(e.dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	db, err := txcpg.OpenDB(cfg, datasource.WithManager(e.rm), datasource.WithMode(datasource.XA))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	return db
}

// prepared counts the branches of xid in pg_prepared_xacts.
func (e *xaEnv) prepared(xid txc.XID) int {
	e.t.Helper()
	var n int
	if err := e.plain.QueryRow("SELECT COUNT(*) FROM pg_prepared_xacts WHERE gid LIKE $1", "txc:"+string(xid)+":%").Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *xaEnv) waitNoPrepared(xid txc.XID) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for e.prepared(xid) > 0 {
		if time.Now().After(deadline) {
			n := e.prepared(xid)
			e.rollbackPrepared(xid) // else the table's cleanup waits on its locks
			e.t.Fatalf("%d branches of %s still prepared", n, xid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// prepareAfterRollback runs a global transaction whose local
// transaction sets v in tbl, then rolls the global transaction back
// (before, if not nil, runs first in it; passed, after the rollback,
// waits until phase 2 has passed the branch by), and only then commits
// the local transaction, which prepares the branch. The global commit
// must fail.
func (e *xaEnv) prepareAfterRollback(tbl string, before func(ctx context.Context, xid txc.XID) error, passed func(txc.XID) error) txc.XID {
	e.t.Helper()
	xid, err := e.global(func(ctx context.Context) error {
		xid, _ := tm.XIDFromContext(ctx)
		if before != nil {
			if err := before(ctx, xid); err != nil {
				return err
			}
		}
		tx, err := e.xa.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = 11"); err != nil {
			return err
		}
		if _, err := e.conn.Rollback(context.Background(), xid); err != nil {
			return err
		}
		if err := passed(xid); err != nil {
			return err
		}
		return tx.Commit()
	})
	if err == nil {
		e.t.Fatal("the global commit after its rollback succeeded")
	}
	return xid
}

// rollbackPrepared rolls back the branches of xid left prepared.
func (e *xaEnv) rollbackPrepared(xid txc.XID) {
	rows, err := e.plain.Query("SELECT gid FROM pg_prepared_xacts WHERE gid LIKE $1", "txc:"+string(xid)+":%")
	if err != nil {
		e.t.Error(err)
		return
	}
	var gids []string
	for rows.Next() {
		var g string
		if rows.Scan(&g) == nil {
			gids = append(gids, g)
		}
	}
	rows.Close()
	for _, g := range gids {
		if _, err := e.plain.Exec("ROLLBACK PREPARED '" + g + "'"); err != nil {
			e.t.Error(err)
		}
	}
}

func (e *xaEnv) value(table string, id int) int {
	e.t.Helper()
	var v int
	err := e.plain.QueryRow("SELECT v FROM "+table+" WHERE id = $1", id).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return -1
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *xaEnv) table(def string, seed string) string {
	e.t.Helper()
	name := dbtest.Table(e.t, e.plain, "xa")
	for _, q := range []string{def, seed} {
		if _, err := e.plain.Exec(fmt.Sprintf(q, name)); err != nil {
			e.t.Fatal(err)
		}
	}
	return name
}

// TestXA runs XA mode on a private PostgreSQL (see the subtests).
func TestXA(t *testing.T) {
	e := newXAEnv(t)
	// A table without a primary key and a data-modifying CTE: refused
	// in AT mode, run as written in XA mode. A commit makes the changes
	// visible; while prepared, other sessions see none of them; a
	// rollback leaves nothing; no prepared branch is left either way.
	t.Run("CommitAndRollback", func(t *testing.T) {
		e.t = t
		tbl := e.table("CREATE TABLE %s (id INT, v INT)", "INSERT INTO %s VALUES (1, 10), (2, 20)")
		run := func(ctx context.Context) error {
			before := e.value(tbl, 2)
			tx, err := e.xa.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "WITH d AS (DELETE FROM "+tbl+" WHERE id = 2 RETURNING v) UPDATE "+tbl+" SET v = v + (SELECT v FROM d) WHERE id = 1"); err != nil {
				tx.Rollback()
				return err
			}
			if err := tx.Commit(); err != nil {
				return err
			}
			if v := e.value(tbl, 2); v != before {
				return fmt.Errorf("another session sees the prepared branch's delete")
			}
			return nil
		}
		xid, err := e.global(run)
		if err != nil {
			t.Fatal(err)
		}
		e.wait(xid, txc.GlobalCommitted)
		e.waitNoPrepared(xid)
		if a, b := e.value(tbl, 1), e.value(tbl, 2); a != 30 || b != -1 {
			t.Fatalf("after commit: %d %d", a, b)
		}
		if _, err := e.plain.Exec("INSERT INTO " + tbl + " VALUES (2, 5)"); err != nil {
			t.Fatal(err)
		}
		rollback := errors.New("test: roll back")
		xid, err = e.global(func(ctx context.Context) error {
			if err := run(ctx); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		e.wait(xid, txc.GlobalRollbacked)
		e.waitNoPrepared(xid)
		if a, b := e.value(tbl, 1), e.value(tbl, 2); a != 30 || b != 5 {
			t.Fatalf("after rollback: %d %d", a, b)
		}
	})
	// A local transaction whose statement failed: PREPARE TRANSACTION
	// answers ROLLBACK without an error; Commit fails, and the global
	// transaction rolls back with nothing prepared.
	t.Run("FailedLocalTransaction", func(t *testing.T) {
		e.t = t
		tbl := e.table("CREATE TABLE %s (id INT PRIMARY KEY, v INT)", "INSERT INTO %s VALUES (1, 10)")
		var commitErr error
		xid, err := e.global(func(ctx context.Context) error {
			tx, err := e.xa.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = 11"); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO "+tbl+" VALUES (1, 1)"); err == nil {
				return errors.New("duplicate key accepted")
			}
			commitErr = tx.Commit()
			return commitErr
		})
		if !errors.Is(commitErr, txc.ErrRolledBack) || err == nil {
			t.Fatalf("commit of a failed local transaction: %v (global %v)", commitErr, err)
		}
		e.wait(xid, txc.GlobalRollbacked)
		if n := e.prepared(xid); n != 0 || e.value(tbl, 1) != 10 {
			t.Fatalf("%d prepared, v = %d", n, e.value(tbl, 1))
		}
	})
	// The global transaction rolls back before the branch is prepared:
	// the branch prepared afterwards is rolled back once the coordinator
	// answers its report.
	t.Run("RollbackBeforePrepare", func(t *testing.T) {
		e.t = t
		tbl := e.table("CREATE TABLE %s (id INT, v INT)", "INSERT INTO %s VALUES (1, 10)")
		xid := e.prepareAfterRollback(tbl, nil, func(xid txc.XID) error {
			e.wait(xid, txc.GlobalRollbacked)
			return nil
		})
		e.waitNoPrepared(xid)
		if v := e.value(tbl, 1); v != 10 {
			t.Fatalf("v = %d", v)
		}
	})
	// The same while the rollback is still under way: phase 2 found the
	// XA branch (the newest) not prepared and went on to an older branch,
	// which holds the transaction in Rollbacking. The branch prepared
	// then is rolled back at once, not left to recovery.
	t.Run("RollbackBeforePrepareStillRollingBack", func(t *testing.T) {
		e.t = t
		tbl := e.table("CREATE TABLE %s (id INT, v INT)", "INSERT INTO %s VALUES (1, 10)")
		entered, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		blocker := rm.HandlerFuncs{RollbackFunc: func(ctx context.Context, _ rm.Branch) error {
			once.Do(func() { close(entered) })
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}}
		res := "xa-blocker-" + strconv.Itoa(int(time.Now().UnixNano()%1e9))
		if err := e.rm.AddResource(res, txc.BranchTCC, blocker); err != nil {
			t.Fatal(err)
		}
		defer close(release)
		register := func(ctx context.Context, xid txc.XID) error {
			_, err := e.conn.Register(ctx, client.Branch{XID: xid, Type: txc.BranchTCC, ResourceID: res})
			return err
		}
		xid := e.prepareAfterRollback(tbl, register, func(txc.XID) error {
			select {
			case <-entered: // the XA branch, newer, was rolled back first
				return nil
			case <-time.After(20 * time.Second):
				return errors.New("the older branch's rollback never started")
			}
		})
		e.wait(xid, txc.GlobalRollbacking, txc.GlobalRollbackRetrying)
		e.waitNoPrepared(xid) // while the older branch still blocks
		if v := e.value(tbl, 1); v != 10 {
			t.Fatalf("v = %d", v)
		}
	})
	// A branch prepared by a session of another process is committed by
	// this one's phase 2; recovery at open finishes branches of finished
	// or unknown transactions, and leaves an open one's alone.
	t.Run("AnyProcessAndRecovery", func(t *testing.T) {
		e.t = t
		ctx := context.Background()
		cfg, _ := pgx.ParseConfig(e.dsn)
		resource := txcpg.ResourceID(cfg)
		prepare := func(xid txc.XID, bid txc.BranchID, tbl string) {
			c, err := e.plain.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, q := range []string{"BEGIN", "UPDATE " + tbl + " SET v = 42", "PREPARE TRANSACTION '" + datasource.XAID{XID: xid, Branch: bid}.String() + "'"} {
				if _, err := c.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
		}
		branch := func(reportFailed bool) (txc.XID, string) {
			tbl := e.table("CREATE TABLE %s (id INT, v INT)", "INSERT INTO %s VALUES (1, 10)")
			xid, err := e.conn.Begin(ctx, "test", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			bid, err := e.conn.Register(ctx, client.Branch{XID: xid, Type: txc.BranchXA, ResourceID: resource})
			if err != nil {
				t.Fatal(err)
			}
			prepare(xid, bid, tbl)
			if reportFailed { // phase 2 skips it: only recovery finishes it
				if err := e.conn.Report(ctx, xid, bid, txc.BranchPhaseOneFailed); err != nil {
					t.Fatal(err)
				}
			}
			return xid, tbl
		}
		viaPhase2, tblP := branch(false)
		if _, err := e.conn.Commit(ctx, viaPhase2); err != nil {
			t.Fatal(err)
		}
		e.wait(viaPhase2, txc.GlobalCommitted)
		e.waitNoPrepared(viaPhase2)
		committed, tblC := branch(true)
		if _, err := e.conn.Commit(ctx, committed); err != nil {
			t.Fatal(err)
		}
		rolledBack, tblR := branch(true)
		if _, err := e.conn.Rollback(ctx, rolledBack); err != nil {
			t.Fatal(err)
		}
		tblU := e.table("CREATE TABLE %s (id INT, v INT)", "INSERT INTO %s VALUES (1, 10)")
		unknown := txc.XID(e.conn.Node() + ":999999999")
		prepare(unknown, 7, tblU)
		open, _ := branch(false)
		defer e.conn.Rollback(ctx, open)

		e.openXA() // recovers in the background
		for _, xid := range []txc.XID{committed, rolledBack, unknown} {
			e.waitNoPrepared(xid)
		}
		for tbl, want := range map[string]int{tblP: 42, tblC: 42, tblR: 10, tblU: 10} {
			if v := e.value(tbl, 1); v != want {
				t.Errorf("%s: v = %d, want %d", tbl, v, want)
			}
		}
		if n := e.prepared(open); n != 1 {
			t.Fatalf("the branch of an open transaction: %d prepared, want it left alone", n)
		}
	})
}

// TestXAPhase2Once: many XA global transactions at once each get their
// branch committed by one phase-2 attempt: the branch's PhaseOneDone
// report, answered after the global commit, does not finish the branch a
// second time beside the coordinator's own phase 2 (which made phase 2
// fail and wait for a retry).
func TestXAPhase2Once(t *testing.T) {
	e := newXAEnv(t)
	var logged logtest.Buffer
	e.rm = rm.New(e.conn, rm.WithLogger(logged.Logger()))
	db := e.openXA()
	tbl := e.table("CREATE TABLE %s (id INT, v INT)", "INSERT INTO %s SELECT g, 0 FROM generate_series(0, 3) g")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				xid, err := e.global(func(ctx context.Context) error {
					_, err := db.ExecContext(ctx, "UPDATE "+tbl+" SET v = v + 1 WHERE id = $1", g)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				e.wait(xid, txc.GlobalCommitted)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// A commit's phase 2 runs after WithGlobalTx returns: wait for it.
	var sum int
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		err = e.plain.QueryRow("SELECT SUM(v) FROM " + tbl).Scan(&sum)
		if (err == nil && sum == 100) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || sum != 100 {
		t.Fatalf("sum %d (%v), want 100", sum, err)
	}
	if strings.Contains(logged.String(), "will retry") {
		t.Fatalf("phase 2 failed and was retried:\n%s", logged.String())
	}
}

// TestXANeedsPreparedTransactions: opening a server that runs with
// max_prepared_transactions = 0 (a private one, whatever the shared
// server's setting) in XA mode fails with a typed error that says so.
func TestXANeedsPreparedTransactions(t *testing.T) {
	e := newEnv(t)
	dsn := dbtest.PrivatePostgres(t, "max_prepared_transactions=0")
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := txcpg.OpenDB(cfg, datasource.WithManager(e.rm), datasource.WithMode(datasource.XA))
	var un *datasource.XAUnavailableError
	if !errors.As(err, &un) || !errors.Is(err, txc.ErrUnsupported) || db != nil {
		t.Fatalf("open: %v", err)
	}
	if un.Resource == "" || !strings.Contains(err.Error(), "max_prepared_transactions") {
		t.Fatalf("error: %v", err)
	}
}
