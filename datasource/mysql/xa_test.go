package mysql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/datasource"
	txcmysql "github.com/txcio/txc/datasource/mysql"
	"github.com/txcio/txc/internal/logtest"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tm"
)

// openXA opens the test database through the proxy in XA mode. At the
// end of the test, branches of its coordinator still prepared (by a
// failed test) are rolled back: they would hold their locks on the shared
// server.
func (e *env) openXA() *sql.DB {
	e.t.Helper()
	db := e.open("", datasource.WithMode(datasource.XA))
	e.t.Cleanup(func() {
		node := e.conn.Node()
		rows, err := e.plain.Query("XA RECOVER")
		if err != nil {
			return
		}
		var names []string
		for rows.Next() {
			var format, gl, bl int
			var data []byte
			if rows.Scan(&format, &gl, &bl, &data) == nil && string(data[:gl]) == node {
				names = append(names, fmt.Sprintf("X'%x',X'%x',%d", data[:gl], data[gl:gl+bl], format))
			}
		}
		rows.Close()
		for _, n := range names {
			e.plain.Exec("XA ROLLBACK " + n)
		}
	})
	return db
}

// preparedOf returns the txc branches of xid the server holds prepared
// (XA RECOVER).
func (e *env) preparedOf(xid txc.XID) []string {
	e.t.Helper()
	rows, err := e.plain.Query("XA RECOVER")
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	node, seq, _ := strings.Cut(string(xid), ":")
	var out []string
	for rows.Next() {
		var format, gl, bl int
		var data []byte
		if err := rows.Scan(&format, &gl, &bl, &data); err != nil {
			e.t.Fatal(err)
		}
		if string(data[:gl]) == node && strings.HasPrefix(string(data[gl:]), seq+":") {
			out = append(out, string(data))
		}
	}
	return out
}

// waitNoPrepared waits until the server holds no prepared branch of xid.
func (e *env) waitNoPrepared(xid txc.XID) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(e.preparedOf(xid)) > 0 {
		if time.Now().After(deadline) {
			e.t.Fatalf("branches of %s still prepared: %v", xid, e.preparedOf(xid))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// value reads v of row id, or -1 when the row is missing.
func (e *env) value(table string, id int) int {
	e.t.Helper()
	var v int
	err := e.plain.QueryRow("SELECT v FROM "+table+" WHERE id = ?", id).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return -1
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// TestXACommitAndRollback: statements AT mode refuses (a table without a
// primary key, LIMIT without ORDER BY, INSERT … SELECT of anything) run
// as written in XA mode; a commit makes them visible, a rollback leaves
// nothing, and no prepared branch is left behind either way. While the
// branch is prepared, other sessions see none of its changes.
func TestXACommitAndRollback(t *testing.T) {
	e := newEnv(t, "")
	db := e.openXA()
	tbl := e.table("xa", "CREATE TABLE {t} (id INT, v INT)", "INSERT INTO {t} VALUES (1, 10), (2, 20)")
	run := func(ctx context.Context) error {
		seen := e.dump(tbl)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for _, q := range []string{
			"UPDATE " + tbl + " SET v = v + 1 LIMIT 1",
			"INSERT INTO " + tbl + " SELECT id + 10, v FROM " + tbl,
			"DELETE FROM " + tbl + " WHERE id = 2",
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		// Prepared, not committed: other sessions see the old rows.
		if got := e.dump(tbl); got != seen {
			return fmt.Errorf("another session sees the changes of a prepared branch:\n%s\nwant\n%s", got, seen)
		}
		return nil
	}
	xid, err := e.global(run)
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	e.waitNoPrepared(xid)
	if n := e.count(tbl); n != 3 || e.value(tbl, 2) != -1 || e.value(tbl, 11) < 0 {
		t.Fatalf("after commit: %s", e.dump(tbl))
	}
	before := e.dump(tbl)
	xid = e.rollBack(run)
	e.waitNoPrepared(xid)
	if got := e.dump(tbl); got != before {
		t.Fatalf("after rollback:\n%s\nwant\n%s", got, before)
	}
}

// count returns the rows of table, read by a plain session.
func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.plain.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestXAAutocommitAndQuery: a statement outside a local transaction is a
// branch of its own, prepared at once; a query's rows are read before
// its branch is prepared and returned whole.
func TestXAAutocommitAndQuery(t *testing.T) {
	e := newEnv(t, "")
	db := e.openXA()
	tbl := e.table("xa", "CREATE TABLE {t} (id INT, v INT)", "INSERT INTO {t} VALUES (1, 10)")
	xid, err := e.global(func(ctx context.Context) error {
		if _, err := db.ExecContext(ctx, "UPDATE "+tbl+" SET v = ? WHERE id = ?", 11, 1); err != nil {
			return err
		}
		var v int
		if err := db.QueryRowContext(ctx, "SELECT v FROM "+tbl+" WHERE id = ?", 1).Scan(&v); err != nil {
			return err
		}
		if v != 10 {
			return fmt.Errorf("a branch of its own read %d: the other branch's prepared change is not visible, want 10", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	e.waitNoPrepared(xid)
	if v := e.value(tbl, 1); v != 11 {
		t.Fatalf("v = %d, want 11", v)
	}
	xid = e.rollBack(func(ctx context.Context) error {
		_, err := db.ExecContext(ctx, "UPDATE "+tbl+" SET v = 12 WHERE id = 1")
		return err
	})
	e.waitNoPrepared(xid)
	if v := e.value(tbl, 1); v != 11 {
		t.Fatalf("after rollback v = %d, want 11", v)
	}
}

// TestXAEmptyAndLocalRollback: a local transaction that ran no statement
// registers no branch; one rolled back locally leaves no prepared branch
// and does not stop the global transaction from committing.
func TestXAEmptyAndLocalRollback(t *testing.T) {
	e := newEnv(t, "")
	db := e.openXA()
	tbl := e.table("xa", "CREATE TABLE {t} (id INT, v INT)", "INSERT INTO {t} VALUES (1, 10)")
	xid, err := e.global(func(ctx context.Context) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		tx, err = db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = 99"); err != nil {
			return err
		}
		if err := tx.Rollback(); err != nil {
			return err
		}
		xid, _ := tm.XIDFromContext(ctx)
		if got := e.branchStatuses(xid); got != "PhaseOneFailed" {
			return fmt.Errorf("branches %q, want one PhaseOneFailed (none for the empty local transaction)", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	if p := e.preparedOf(xid); len(p) > 0 {
		t.Fatalf("prepared: %v", p)
	}
	if v := e.value(tbl, 1); v != 10 {
		t.Fatalf("v = %d, want 10", v)
	}
}

// branchStatuses returns the statuses of the branches of open
// transaction xid, joined by spaces.
func (e *env) branchStatuses(xid txc.XID) string {
	e.t.Helper()
	w := httptest.NewRecorder()
	e.admin.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/transactions/"+string(xid), nil))
	var v struct {
		Branches []struct{ Status string } `json:"branches"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		e.t.Fatalf("%v: %s", err, w.Body)
	}
	var out []string
	for _, b := range v.Branches {
		out = append(out, b.Status)
	}
	return strings.Join(out, " ")
}

// TestXARollbackBeforeEnd: the global transaction rolls back while a
// branch is still active (before XA END): the coordinator's rollback
// finds no prepared branch, and the branch prepared afterwards is rolled
// back as soon as the coordinator answers its report. Nothing is left
// prepared and the row keeps its value.
func TestXARollbackBeforeEnd(t *testing.T) {
	e := newEnv(t, "")
	db := e.openXA()
	tbl := e.table("xa", "CREATE TABLE {t} (id INT, v INT)", "INSERT INTO {t} VALUES (1, 10)")
	xid, err := e.global(func(ctx context.Context) error {
		xid, _ := tm.XIDFromContext(ctx)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = 11"); err != nil {
			return err
		}
		if _, err := e.conn.Rollback(context.Background(), xid); err != nil {
			return err
		}
		e.wait(xid, txc.GlobalRollbacked)
		if err := tx.Commit(); err != nil {
			return err
		}
		return nil
	})
	if !errors.Is(err, txc.ErrRolledBack) && !errors.Is(err, txc.ErrNotActive) {
		t.Fatalf("global commit after its rollback: %v", err)
	}
	e.waitNoPrepared(xid)
	if v := e.value(tbl, 1); v != 10 {
		t.Fatalf("v = %d, want 10", v)
	}
}

// TestXASessionBound: MariaDB keeps a prepared branch bound to the
// session that prepared it while that session lives (another session's
// XA COMMIT answers "unknown XID"). Phase 2 still commits: on the held
// session, on a fresh one when the application's prepared statements
// kept the session from being held (it is ended instead), and on a fresh
// one when the held session was killed between prepare and phase 2.
func TestXASessionBound(t *testing.T) {
	e := newEnv(t, "")
	db := e.openXA()
	tbl := e.table("xa", "CREATE TABLE {t} (id INT, v INT)", "INSERT INTO {t} VALUES (1, 0)")
	for _, c := range []struct {
		name     string
		prepared bool // the application prepares a statement in the local transaction
		kill     bool // the session is killed after XA PREPARE
	}{{"held", false, false}, {"ended", true, false}, {"killed", false, true}} {
		t.Run(c.name, func(t *testing.T) {
			want := e.value(tbl, 1) + 1
			xid, err := e.global(func(ctx context.Context) error {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				var session int64
				if err := tx.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&session); err != nil {
					return err
				}
				q := "UPDATE " + tbl + " SET v = v + 1"
				if c.prepared {
					st, err := tx.PrepareContext(ctx, q)
					if err != nil {
						return err
					}
					_, err = st.ExecContext(ctx)
				} else {
					_, err = tx.ExecContext(ctx, q)
				}
				if err != nil {
					return err
				}
				if err := tx.Commit(); err != nil {
					return err
				}
				if c.kill {
					if _, err := e.plain.Exec(fmt.Sprintf("KILL CONNECTION %d", session)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			e.wait(xid, txc.GlobalCommitted)
			e.waitNoPrepared(xid)
			if v := e.value(tbl, 1); v != want {
				t.Fatalf("v = %d, want %d", v, want)
			}
		})
	}
}

// prepareBranch leaves branch (xid, id) prepared on the server with v of
// row 1 of table set to v, by a session that then ends: a branch of an
// RM process that died between prepare and phase 2.
func (e *env) prepareBranch(xid txc.XID, id txc.BranchID, table string, v int) {
	e.t.Helper()
	c, err := e.plain.Conn(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	defer c.Raw(func(any) error { return driver.ErrBadConn }) // end the session
	name := txcmysql.XAName(datasource.XAID{XID: xid, Branch: id})
	for _, q := range []string{"XA START " + name, fmt.Sprintf("UPDATE %s SET v = %d WHERE id = 1", table, v), "XA END " + name, "XA PREPARE " + name} {
		if _, err := c.ExecContext(context.Background(), q); err != nil {
			e.t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestXAPhase2FromAnyProcess: a branch prepared by a session that has
// ended (its process died) is committed by the coordinator's phase 2
// through this process, which did not prepare it.
func TestXAPhase2FromAnyProcess(t *testing.T) {
	e := newEnv(t, "")
	e.openXA()
	tbl := e.table("xa", "CREATE TABLE {t} (id INT, v INT)", "INSERT INTO {t} VALUES (1, 10)")
	ctx := context.Background()
	xid, err := e.conn.Begin(ctx, "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	bid, err := e.conn.Register(ctx, client.Branch{XID: xid, Type: txc.BranchXA, ResourceID: txcmysql.ResourceID(mustDSN(t, e.dsn))})
	if err != nil {
		t.Fatal(err)
	}
	e.prepareBranch(xid, bid, tbl, 42)
	if _, err := e.conn.Commit(ctx, xid); err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	e.waitNoPrepared(xid)
	if v := e.value(tbl, 1); v != 42 {
		t.Fatalf("v = %d, want 42", v)
	}
}

// TestXARecoverAtOpen: prepared branches whose transaction the
// coordinator has finished, or does not know although the XID is its
// node's, are finished when a database opens in XA mode, as the
// coordinator decided (an unknown one rolled back); the branch of a
// transaction still open is left to its phase 2.
func TestXARecoverAtOpen(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	resource := txcmysql.ResourceID(mustDSN(t, e.dsn))
	// A branch the coordinator skips in phase 2 (reported failed), so
	// that only recovery can finish it.
	orphan := func(commit bool) (txc.XID, string) {
		tbl := e.table("xa", "CREATE TABLE {t} (id INT, v INT)", "INSERT INTO {t} VALUES (1, 10)")
		xid, err := e.conn.Begin(ctx, "test", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		bid, err := e.conn.Register(ctx, client.Branch{XID: xid, Type: txc.BranchXA, ResourceID: resource})
		if err != nil {
			t.Fatal(err)
		}
		e.prepareBranch(xid, bid, tbl, 42)
		if err := e.conn.Report(ctx, xid, bid, txc.BranchPhaseOneFailed); err != nil {
			t.Fatal(err)
		}
		if commit {
			_, err = e.conn.Commit(ctx, xid)
		} else {
			_, err = e.conn.Rollback(ctx, xid)
		}
		if err != nil {
			t.Fatal(err)
		}
		return xid, tbl
	}
	committed, tblC := orphan(true)
	rolledBack, tblR := orphan(false)
	tblU := e.table("xa", "CREATE TABLE {t} (id INT, v INT)", "INSERT INTO {t} VALUES (1, 10)")
	unknown := txc.XID(e.conn.Node() + ":999999999")
	e.prepareBranch(unknown, 7, tblU, 42)
	open, err := e.conn.Begin(ctx, "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tblO := e.table("xa", "CREATE TABLE {t} (id INT, v INT)", "INSERT INTO {t} VALUES (1, 10)")
	e.prepareBranch(open, 8, tblO, 42)

	e.openXA() // recovers in the background
	for _, xid := range []txc.XID{committed, rolledBack, unknown} {
		e.waitNoPrepared(xid)
	}
	for tbl, want := range map[string]int{tblC: 42, tblR: 10, tblU: 10} {
		if v := e.value(tbl, 1); v != want {
			t.Errorf("%s: v = %d, want %d", tbl, v, want)
		}
	}
	if p := e.preparedOf(open); len(p) != 1 {
		t.Fatalf("the branch of an open transaction: prepared %v, want it left alone", p)
	}
}

func mustDSN(t *testing.T, dsn string) *gomysql.Config {
	t.Helper()
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestXAByDSN: sql.Open("txc-mysql", dsn) with txc_mode=xa in the DSN
// runs XA mode (a table without a primary key is written and committed);
// go-sql-driver never sees the parameter (it would set it as a session
// variable and fail); another value fails sql.Open.
func TestXAByDSN(t *testing.T) {
	e := newEnv(t, "")
	datasource.SetDefaultManager(e.rm)
	db, err := sql.Open(txcmysql.DriverName, e.dsn+"?txc_mode=xa")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e.openXA() // its cleanup rolls back what a failure leaves prepared
	tbl := e.table("xa", "CREATE TABLE {t} (id INT, v INT)", "INSERT INTO {t} VALUES (1, 10)")
	xid, err := e.global(func(ctx context.Context) error {
		_, err := db.ExecContext(ctx, "UPDATE "+tbl+" SET v = 11")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
	e.waitNoPrepared(xid)
	if v := e.value(tbl, 1); v != 11 {
		t.Fatalf("v = %d", v)
	}
	if _, err := sql.Open(txcmysql.DriverName, e.dsn+"?txc_mode=saga"); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("txc_mode=saga: %v", err)
	}
}

// TestXADurableVersions: XA mode opens only on servers that keep a
// prepared branch when its session ends.
func TestXADurableVersions(t *testing.T) {
	for v, want := range map[string]bool{
		"10.11.19-MariaDB-0+deb12u1": true, "10.5.0-MariaDB": true, "10.4.32-MariaDB": false, "11.4.2-MariaDB": true,
		"8.0.36": true, "5.7.7-log": true, "5.7.6": false, "5.6.51": false,
	} {
		if got := txcmysql.XADurable(v); got != want {
			t.Errorf("%s: %v, want %v", v, got, want)
		}
	}
}

// TestXAPhase2Once: many XA global transactions at once, about half of
// them rolled back after their branch was prepared, each get their branch
// finished by one phase-2 attempt on MariaDB, where the branch is bound to
// its held session: neither the branch's report nor the coordinator's
// phase 2 meets the branch still bound to a session another finisher took.
func TestXAPhase2Once(t *testing.T) {
	e := newEnv(t, "")
	var logged logtest.Buffer
	e.rm = rm.New(e.conn, rm.WithLogger(logged.Logger()))
	db := e.openXA()
	tbl := e.table("xa", "CREATE TABLE {t} (id INT, v INT)", "INSERT INTO {t} VALUES (0, 0), (1, 0), (2, 0), (3, 0)")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				_, err := e.global(func(ctx context.Context) error {
					if _, err := db.ExecContext(ctx, "UPDATE "+tbl+" SET v = v + 1 WHERE id = ?", g); err != nil {
						return err
					}
					if i%2 == 1 {
						return errRollback
					}
					return nil
				})
				if err != nil && !errors.Is(err, errRollback) {
					errs <- err
					return
				}
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
		if (err == nil && sum == 52) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || sum != 52 {
		t.Fatalf("sum %d (%v), want 52", sum, err)
	}
	if strings.Contains(logged.String(), "will retry") {
		t.Fatalf("phase 2 failed and was retried:\n%s", logged.String())
	}
}
