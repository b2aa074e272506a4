package postgres_test

import (
	"context"
	"database/sql"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/dialecttest"
	txcpg "github.com/txcio/txc/datasource/postgres"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tm"
)

// env is a real coordinator (in process, memory store), one client
// connection serving as TM and RM, the plain PostgreSQL test database and
// the same database through the proxy.
type env struct {
	t     *testing.T
	conn  *client.Conn
	tm    *tm.Manager
	rm    *rm.Manager
	dsn   string       // the test database's
	plain *sql.DB      // pgx stdlib, no proxy
	db    *sql.DB      // through the proxy
	enum  string       // an enum type ('a', 'b') made by makeEnum
	admin http.Handler // the coordinator's admin API
}

// makeEnum creates the enum type of the wide tables.
func (e *env) makeEnum() {
	e.t.Helper()
	e.enum = dbtest.Name("at_enum")
	e.exec("CREATE TYPE " + e.enum + " AS ENUM ('a', 'b')")
	t := e.t
	t.Cleanup(func() { e.plain.Exec("DROP TYPE IF EXISTS " + e.enum + " CASCADE") })
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvAt(t, dbtest.PostgresDSN)
}

// newEnvAt is newEnv on the database of dsn (a private server's).
func newEnvAt(t *testing.T, dsn string) *env {
	t.Helper()
	plain := dbtest.Open(t, "pgx", dsn)
	co := dialecttest.StartCoordinator(t, "dspg")
	e := &env{t: t, conn: co.Conn, tm: co.TM, rm: co.RM, dsn: dsn, plain: plain, admin: co.Admin}
	e.db = e.open("")
	return e
}

// open opens the test database through the proxy, with extra DSN
// parameters (URL query syntax).
func (e *env) open(params string, opts ...datasource.Option) *sql.DB {
	e.t.Helper()
	dsn := e.dsn
	if params != "" {
		dsn += "&" + params
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	db, err := txcpg.OpenDB(cfg, append([]datasource.Option{datasource.WithManager(e.rm), datasource.WithCreateUndoTable()}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	return db
}

// role creates a login role with grants (statements with {r} for the
// role's name), dropped at the end of the test, and returns its name and
// the test database's configuration for it.
func (e *env) role(prefix string, grants ...string) (string, *pgx.ConnConfig) {
	e.t.Helper()
	role := dbtest.Name(prefix)
	e.exec("CREATE ROLE " + role + " LOGIN")
	e.t.Cleanup(func() {
		e.plain.Exec("DROP OWNED BY " + role)
		e.plain.Exec("DROP ROLE IF EXISTS " + role)
	})
	for _, g := range grants {
		e.exec(strings.ReplaceAll(g, "{r}", role))
	}
	cfg, err := pgx.ParseConfig(strings.Replace(dbtest.PostgresDSN, "postgres@", role+"@", 1))
	if err != nil {
		e.t.Fatal(err)
	}
	return role, cfg
}

// exec runs statements on the plain database, failing the test on error.
func (e *env) exec(stmts ...string) {
	e.t.Helper()
	for _, s := range stmts {
		if _, err := e.plain.Exec(s); err != nil {
			e.t.Fatalf("%s: %v", s, err)
		}
	}
}

// table creates a table from a definition with {t} for its name (and {e}
// for the test's enum type), dropped at the end of the test.
func (e *env) table(prefix, def string, seed ...string) string {
	e.t.Helper()
	name := dbtest.Name(prefix)
	e.t.Cleanup(func() { e.plain.Exec(`DROP TABLE IF EXISTS "` + name + `" CASCADE`) })
	for _, s := range append([]string{def}, seed...) {
		e.exec(strings.NewReplacer("{T}", `"`+name+`"`, "{t}", name).Replace(s))
	}
	return name
}

// coordinator is e's coordinator as the shared test code takes it.
func (e *env) coordinator() *dialecttest.Coordinator {
	return &dialecttest.Coordinator{Conn: e.conn, TM: e.tm, RM: e.rm, Admin: e.admin}
}

// localTx runs fn in a local transaction of isolation level iso on the
// proxied database and commits it.
func (e *env) localTx(ctx context.Context, iso sql.IsolationLevel, fn func(tx *sql.Tx) error) error {
	tx, err := e.db.BeginTx(ctx, &sql.TxOptions{Isolation: iso})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// global runs fn in a global transaction and returns its XID and error.
func (e *env) global(fn func(ctx context.Context) error) (txc.XID, error) {
	return e.coordinator().Global(fn)
}

var errRollback = dialecttest.ErrRollback

// wait waits until xid reaches one of the statuses.
func (e *env) wait(xid txc.XID, want ...txc.GlobalStatus) txc.GlobalStatus {
	e.t.Helper()
	return e.coordinator().Wait(e.t, xid, want...)
}

// retry resumes xid, parked as needing manual action, through the
// coordinator's admin API.
func (e *env) retry(xid txc.XID) { e.t.Helper(); e.coordinator().Retry(e.t, xid) }

// undoRows counts the undo rows of xid.
func (e *env) undoRows(xid txc.XID) int {
	var n int
	if err := e.plain.QueryRow("SELECT COUNT(*) FROM txc_undo_log WHERE xid = $1", string(xid)).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// dump returns every row of table (a quoted or qualified name) as
// PostgreSQL's own text of the row, sorted: a byte-for-byte dump of every
// column (cols, when given, restricts it to those columns).
func (e *env) dump(table string, cols ...string) string {
	e.t.Helper()
	expr := "x::text"
	if len(cols) > 0 {
		expr = "ROW(" + strings.Join(cols, ", ") + ")::text"
	}
	rows, err := e.plain.Query("SELECT r FROM (SELECT " + expr + " AS r FROM " + table + " x) d ORDER BY r COLLATE \"C\"")
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var sb strings.Builder
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		sb.WriteString(s + "\n")
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return sb.String()
}

// rolledBack waits for xid to end rolled back and checks that table then
// holds want (a dump).
func (e *env) rolledBack(xid txc.XID, table, want string) {
	e.t.Helper()
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(table); got != want {
		e.t.Fatalf("rolled back:\n%s\nwant:\n%s", got, want)
	}
}

// parked waits for xid's rollback to stop for an operator
// (RollbackFailed) and checks that it wrote nothing: table still holds
// want, the rows as phase 1 left them.
func (e *env) parked(xid txc.XID, table, want string) {
	e.t.Helper()
	e.wait(xid, txc.GlobalRollbackFailed)
	if got := e.dump(table); got != want {
		e.t.Fatalf("after the refused rollback:\n%s\nwant:\n%s", got, want)
	}
}
