package mysql_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/dialecttest"
	txcmysql "github.com/txcio/txc/datasource/mysql"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tm"
)

// env is a real coordinator (in process, memory store), one client
// connection serving as TM and RM, the plain MariaDB test database and
// the same database through the proxy.
type env struct {
	t     *testing.T
	conn  *client.Conn
	tm    *tm.Manager
	rm    *rm.Manager
	plain *sql.DB      // go-sql-driver, no proxy
	db    *sql.DB      // through the proxy
	dsn   string       // of the database both open
	admin http.Handler // the coordinator's admin API
}

func newEnv(t *testing.T, dsnParams string) *env {
	t.Helper()
	plain := dbtest.MySQL(t)
	co := dialecttest.StartCoordinator(t, "dsmy")
	e := &env{t: t, conn: co.Conn, tm: co.TM, rm: co.RM, plain: plain, dsn: dbtest.MySQLDSN, admin: co.Admin}
	e.db = e.open(dsnParams)
	return e
}

// newEnvAt is newEnv on the database at dsn (a private server).
func newEnvAt(t *testing.T, dsn string) *env {
	t.Helper()
	plain := dbtest.Open(t, "mysql", dsn)
	co := dialecttest.StartCoordinator(t, "dsmy")
	e := &env{t: t, conn: co.Conn, tm: co.TM, rm: co.RM, plain: plain, dsn: dsn, admin: co.Admin}
	e.db = e.open("")
	return e
}

// coordinator is e's coordinator as the shared test code takes it.
func (e *env) coordinator() *dialecttest.Coordinator {
	return &dialecttest.Coordinator{Conn: e.conn, TM: e.tm, RM: e.rm, Admin: e.admin}
}

// retry resumes xid, parked as needing manual action, through the
// coordinator's admin API.
func (e *env) retry(xid txc.XID) { e.t.Helper(); e.coordinator().Retry(e.t, xid) }

// open opens the test database through the proxy with extra DSN params.
func (e *env) open(params string, opts ...datasource.Option) *sql.DB {
	e.t.Helper()
	dsn := e.dsn
	if params != "" {
		dsn += "?" + params
	}
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	db, err := txcmysql.OpenDB(cfg, append([]datasource.Option{datasource.WithManager(e.rm), datasource.WithCreateUndoTable()}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	return db
}

// table creates a table from a definition with {t} for its name.
func (e *env) table(prefix, def string, seed ...string) string {
	e.t.Helper()
	name := dbtest.Table(e.t, e.plain, prefix)
	if _, err := e.plain.Exec(strings.ReplaceAll(def, "{t}", name)); err != nil {
		e.t.Fatal(err)
	}
	for _, s := range seed {
		if _, err := e.plain.Exec(strings.ReplaceAll(s, "{t}", name)); err != nil {
			e.t.Fatal(err)
		}
	}
	return name
}

// global runs fn in a global transaction and returns its XID and error.
func (e *env) global(fn func(ctx context.Context) error) (txc.XID, error) {
	return e.coordinator().Global(fn)
}

var errRollback = dialecttest.ErrRollback

// rollBack runs fn in a global transaction that then rolls back, waits
// until the rollback has finished and returns the transaction's XID; an
// error of fn fails the test.
func (e *env) rollBack(fn func(ctx context.Context) error) txc.XID {
	e.t.Helper()
	xid, err := e.global(func(ctx context.Context) error {
		if err := fn(ctx); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		e.t.Fatalf("global run: %v", err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	return xid
}

// wait waits until xid reaches one of the statuses.
func (e *env) wait(xid txc.XID, want ...txc.GlobalStatus) txc.GlobalStatus {
	e.t.Helper()
	return e.coordinator().Wait(e.t, xid, want...)
}

// undoRows counts the undo rows of xid.
func (e *env) undoRows(xid txc.XID) int {
	var n int
	if err := e.plain.QueryRow("SELECT COUNT(*) FROM txc_undo_log WHERE xid = ?", string(xid)).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// dump returns every row of table, ordered by the first column, each
// value read over the binary protocol and printed exactly (%#v: bytes
// quoted, NULL as nil).
func (e *env) dump(table string) string {
	e.t.Helper()
	return e.dumpBy(table, "1")
}

// dumpBy is dump with the rows ordered by orderBy (a key of more than
// one column: "1, 2").
func (e *env) dumpBy(table, orderBy string) string {
	e.t.Helper()
	st, err := e.plain.Prepare("SELECT * FROM " + table + " WHERE 1 = ? ORDER BY " + orderBy)
	if err != nil {
		e.t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Query(1)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var sb strings.Builder
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			e.t.Fatal(err)
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
				if len(b) > 64 {
					v = fmt.Sprintf("%d bytes sha256 %x", len(b), sha256.Sum256(b))
				}
			}
			fmt.Fprintf(&sb, "%s=%#v ", cols[i], v)
		}
		sb.WriteString("\n")
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return sb.String()
}

// holdLock runs q through db in a global transaction that stays open,
// its local transaction committed and its rows' global locks held, until
// release is called; release ends it committed and returns its error.
func (e *env) holdLock(db *sql.DB, q string) (release func() error) {
	e.t.Helper()
	holding, done, end := make(chan struct{}), make(chan error, 1), make(chan struct{})
	go func() {
		_, err := e.global(func(ctx context.Context) error {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return err
			}
			close(holding)
			<-end
			return nil
		})
		done <- err
	}()
	select {
	case <-holding:
	case err := <-done:
		e.t.Fatalf("%s: %v", q, err)
	}
	return func() error {
		close(end)
		return <-done
	}
}

// tryGlobal runs q in a local transaction of another global transaction
// with a budget of 300ms (a lock conflict ends it) and returns its error.
func (e *env) tryGlobal(q string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	return e.tm.WithGlobalTx(ctx, tm.Config{Name: "other", Timeout: 10 * time.Second}, func(ctx context.Context) error {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
		return tx.Commit()
	})
}

// onConn runs q on c in a global transaction that then rolls back, waits
// for the rollback to finish and returns q's error (errRollback if it
// ran).
func (e *env) onConn(c *sql.Conn, q string) error {
	e.t.Helper()
	xid, err := e.global(func(ctx context.Context) error {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return err
		}
		return errRollback
	})
	if st := e.wait(xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed); st != txc.GlobalRollbacked {
		e.t.Fatalf("%s: transaction ended %v", q, st)
	}
	return err
}
