package datasource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/txcio/txc/datasource/undo"
)

// This file is an in-memory database/sql driver for the proxy's own tests:
// it runs no SQL. Every call its connections, statements and result sets
// receive is recorded, in order, in its fakeDB; a query answers with the
// rows the test put in fakeDB.rows for its text (none by default), an
// execution with one affected row.
//
// A fakeDB opens connections of one of two kinds: legacy ones implement
// only the required methods of driver.Conn, driver.Stmt and driver.Rows;
// full ones implement every optional interface of database/sql/driver
// (the deprecated context-free driver.Execer and driver.Queryer too).

// fakeDB is the state shared by the connections of one fake database.
type fakeDB struct {
	full bool // connections implement every optional interface
	// skip makes ExecContext and QueryContext of a connection answer
	// driver.ErrSkip: skipArgs with arguments (as go-sql-driver/mysql
	// without interpolateParams), skipAll always.
	skipArgs, skipAll bool

	mu    sync.Mutex
	calls []string
	rows  map[string][][]driver.Value // a query's rows, by text
	opens atomic.Int32
}

// record notes one call: what was called, and on which text.
func (db *fakeDB) record(format string, args ...any) {
	db.mu.Lock()
	db.calls = append(db.calls, fmt.Sprintf(format, args...))
	db.mu.Unlock()
}

// take returns the calls recorded since the last take and forgets them.
func (db *fakeDB) take() []string {
	db.mu.Lock()
	defer db.mu.Unlock()
	c := db.calls
	db.calls = nil
	return c
}

// count returns how many recorded calls (since the last take) are call.
func (db *fakeDB) count(call string) int {
	db.mu.Lock()
	defer db.mu.Unlock()
	n := 0
	for _, c := range db.calls {
		if c == call {
			n++
		}
	}
	return n
}

// skips reports whether a connection answers driver.ErrSkip for a call
// with args.
func (db *fakeDB) skips(args []driver.NamedValue) bool {
	return db.skipAll || db.skipArgs && len(args) > 0
}

// result returns the rows of query.
func (db *fakeDB) result(query string) *legacyRows {
	db.mu.Lock()
	defer db.mu.Unlock()
	return &legacyRows{db: db, query: query, vals: db.rows[query]}
}

// fakeConnector opens the connections of a fakeDB.
type fakeConnector struct{ db *fakeDB }

func (c fakeConnector) Connect(context.Context) (driver.Conn, error) {
	c.db.opens.Add(1)
	lc := &legacyConn{db: c.db}
	if c.db.full {
		return &fullConn{lc}, nil
	}
	return lc, nil
}

func (c fakeConnector) Driver() driver.Driver { return fakeDriver{c.db} }

// fakeDriver is the connector's driver.
type fakeDriver struct{ db *fakeDB }

func (d fakeDriver) Open(string) (driver.Conn, error) {
	return fakeConnector(d).Connect(context.Background())
}

// legacyConn implements the required methods of driver.Conn only.
type legacyConn struct{ db *fakeDB }

func (c *legacyConn) Prepare(query string) (driver.Stmt, error) {
	c.db.record("prepare %s", query)
	return c.stmt(query), nil
}

func (c *legacyConn) stmt(query string) driver.Stmt {
	s := &legacyStmt{db: c.db, query: query}
	if c.db.full {
		return &fullStmt{s}
	}
	return s
}

func (c *legacyConn) Close() error { c.db.record("close"); return nil }

func (c *legacyConn) Begin() (driver.Tx, error) {
	c.db.record("begin")
	return fakeTx{c.db}, nil
}

// fakeTx is a local transaction of the fake database.
type fakeTx struct{ db *fakeDB }

func (t fakeTx) Commit() error   { t.db.record("commit"); return nil }
func (t fakeTx) Rollback() error { t.db.record("rollback"); return nil }

// legacyStmt implements the required methods of driver.Stmt only.
type legacyStmt struct {
	db    *fakeDB
	query string
}

func (s *legacyStmt) Close() error  { s.db.record("stmt.close %s", s.query); return nil }
func (s *legacyStmt) NumInput() int { return strings.Count(s.query, "?") }

func (s *legacyStmt) Exec(args []driver.Value) (driver.Result, error) {
	s.db.record("stmt.exec %s %s", s.query, describe(args))
	return driver.RowsAffected(1), nil
}

func (s *legacyStmt) Query(args []driver.Value) (driver.Rows, error) {
	s.db.record("stmt.query %s %s", s.query, describe(args))
	return s.db.rowsOf(s.query), nil
}

// describe renders arguments with their types: [int64(5)].
func describe(args []driver.Value) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = fmt.Sprintf("%T(%v)", a, a)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// values returns the values of named arguments.
func namedValues(args []driver.NamedValue) []driver.Value {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}

// rowsOf returns a result set of query of the connections' kind.
func (db *fakeDB) rowsOf(query string) driver.Rows {
	r := db.result(query)
	if db.full {
		return &fullRows{r}
	}
	return r
}

// legacyRows implements the required methods of driver.Rows only: one
// column, c.
type legacyRows struct {
	db    *fakeDB
	query string
	vals  [][]driver.Value
}

func (r *legacyRows) Columns() []string { return []string{"c"} }
func (r *legacyRows) Close() error      { return nil }

func (r *legacyRows) Next(dest []driver.Value) error {
	if len(r.vals) == 0 {
		return io.EOF
	}
	copy(dest, r.vals[0])
	r.vals = r.vals[1:]
	return nil
}

// fullConn is a connection with every optional interface.
type fullConn struct{ *legacyConn }

var (
	_ driver.ConnPrepareContext = (*fullConn)(nil)
	_ driver.ConnBeginTx        = (*fullConn)(nil)
	_ driver.ExecerContext      = (*fullConn)(nil)
	_ driver.QueryerContext     = (*fullConn)(nil)
	_ driver.Execer             = (*fullConn)(nil) //nolint:staticcheck // present to check it is not forwarded
	_ driver.Queryer            = (*fullConn)(nil) //nolint:staticcheck // present to check it is not forwarded
	_ driver.Pinger             = (*fullConn)(nil)
	_ driver.SessionResetter    = (*fullConn)(nil)
	_ driver.Validator          = (*fullConn)(nil)
	_ driver.NamedValueChecker  = (*fullConn)(nil)
)

func (c *fullConn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	c.db.record("preparectx %s", query)
	return c.stmt(query), nil
}

func (c *fullConn) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) {
	c.db.record("begintx")
	return fakeTx{c.db}, nil
}

func (c *fullConn) ExecContext(_ context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.db.skips(args) {
		c.db.record("execctx skipped %s", query)
		return nil, driver.ErrSkip
	}
	c.db.record("execctx %s %s", query, describe(namedValues(args)))
	return driver.RowsAffected(1), nil
}

func (c *fullConn) QueryContext(_ context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.db.skips(args) {
		c.db.record("queryctx skipped %s", query)
		return nil, driver.ErrSkip
	}
	c.db.record("queryctx %s %s", query, describe(namedValues(args)))
	return c.db.rowsOf(query), nil
}

func (c *fullConn) Exec(query string, args []driver.Value) (driver.Result, error) {
	c.db.record("conn.exec %s", query)
	return driver.RowsAffected(1), nil
}

func (c *fullConn) Query(query string, args []driver.Value) (driver.Rows, error) {
	c.db.record("conn.query %s", query)
	return c.db.rowsOf(query), nil
}

func (c *fullConn) Ping(context.Context) error { c.db.record("ping"); return nil }

func (c *fullConn) ResetSession(context.Context) error { c.db.record("reset"); return nil }

func (c *fullConn) IsValid() bool { c.db.record("valid"); return true }

func (c *fullConn) CheckNamedValue(*driver.NamedValue) error {
	c.db.record("conn.check")
	return driver.ErrSkip
}

// fullStmt is a statement with every optional interface.
type fullStmt struct{ *legacyStmt }

var (
	_ driver.StmtExecContext   = (*fullStmt)(nil)
	_ driver.StmtQueryContext  = (*fullStmt)(nil)
	_ driver.NamedValueChecker = (*fullStmt)(nil)
	_ driver.ColumnConverter   = (*fullStmt)(nil) //nolint:staticcheck // forwarded by the proxy
)

func (s *fullStmt) ExecContext(_ context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.Exec(namedValues(args))
}

func (s *fullStmt) QueryContext(_ context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.Query(namedValues(args))
}

func (s *fullStmt) CheckNamedValue(*driver.NamedValue) error {
	s.db.record("stmt.check")
	return driver.ErrSkip
}

func (s *fullStmt) ColumnConverter(int) driver.ValueConverter {
	s.db.record("stmt.converter")
	return driver.DefaultParameterConverter
}

// fullRows is a result set with every optional interface.
type fullRows struct{ *legacyRows }

var (
	_ driver.RowsNextResultSet              = (*fullRows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*fullRows)(nil)
	_ driver.RowsColumnTypeLength           = (*fullRows)(nil)
	_ driver.RowsColumnTypeNullable         = (*fullRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*fullRows)(nil)
	_ driver.RowsColumnTypeScanType         = (*fullRows)(nil)
)

func (r *fullRows) HasNextResultSet() bool { r.db.record("rows.hasnext"); return false }
func (r *fullRows) NextResultSet() error   { r.db.record("rows.nextset"); return io.EOF }

func (r *fullRows) ColumnTypeDatabaseTypeName(int) string {
	r.db.record("rows.typename")
	return "FAKE"
}

func (r *fullRows) ColumnTypeLength(int) (int64, bool) { r.db.record("rows.length"); return 7, true }

func (r *fullRows) ColumnTypeNullable(int) (bool, bool) {
	r.db.record("rows.nullable")
	return true, true
}

func (r *fullRows) ColumnTypePrecisionScale(int) (int64, int64, bool) {
	r.db.record("rows.precision")
	return 9, 2, true
}

func (r *fullRows) ColumnTypeScanType(int) reflect.Type {
	r.db.record("rows.scantype")
	return reflect.TypeFor[int64]()
}

// fakeDialect is the smallest Dialect: it recognizes a statement
// beginning with UPDATE as a Write whose executor reads one image query
// ("SELECT image", no rows) before running the statement, one ending with
// FOR UPDATE as a LockingRead that reads the same image query for its
// keys, and anything else as Passthrough. It reads no metadata and restores nothing.
type fakeDialect struct{}

func (fakeDialect) Name() string                  { return "fake" }
func (fakeDialect) Undo() undo.Dialect            { return undo.MySQL }
func (fakeDialect) Owns(d driver.Driver) bool     { _, ok := d.(fakeDriver); return ok }
func (fakeDialect) Stale(error) bool              { return false }
func (fakeDialect) QuoteTable(name string) string { return name }
func (fakeDialect) QuoteColumn(n string) string   { return n }
func (fakeDialect) Placeholder(int) string        { return "?" }

func (fakeDialect) Recognize(query string) (Statement, error) {
	switch {
	case strings.HasPrefix(query, "UPDATE"):
		return imagedWrite{}, nil
	case strings.HasSuffix(query, "FOR UPDATE"):
		return lockingRead{}, nil
	}
	return passthrough{}, nil
}

func (fakeDialect) LoadTable(context.Context, Querier, string, string) (*Table, error) {
	return nil, invalid("fake dialect reads no metadata")
}

func (fakeDialect) Param(undo.Value, string) (string, any, error) {
	return "", nil, invalid("fake dialect restores nothing")
}

func (fakeDialect) ScanRow(*sql.Rows, []*sql.ColumnType) (undo.Row, error) {
	return nil, invalid("fake dialect scans no rows")
}

func (fakeDialect) Value(typ string, src any) (undo.Value, error) {
	return undo.Text(typ, fmt.Sprint(src)), nil
}

// imageQuery is the image query of an imagedWrite.
const imageQuery = "SELECT image"

// imagedWrite reads its before image, then runs the statement.
type imagedWrite struct{}

func (imagedWrite) Kind() Kind { return Write }

func (imagedWrite) Exec(ctx context.Context, x *Exec, _ []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	if _, err := x.Query(ctx, imageQuery); err != nil {
		return nil, err
	}
	return run()
}

func (imagedWrite) LockKeys(context.Context, *Exec, []driver.NamedValue) error { return nil }

// lockingRead reads its rows' keys (none) with the image query.
type lockingRead struct{}

func (lockingRead) Kind() Kind { return LockingRead }

func (lockingRead) Exec(context.Context, *Exec, []driver.NamedValue, func() (driver.Result, error)) (driver.Result, error) {
	return nil, invalid("locking reads are not executed through Exec")
}

func (lockingRead) LockKeys(ctx context.Context, x *Exec, _ []driver.NamedValue) error {
	_, err := x.Query(ctx, imageQuery)
	return err
}

// passthrough is a statement run as it is.
type passthrough struct{}

func (passthrough) Kind() Kind { return Passthrough }

func (passthrough) Exec(context.Context, *Exec, []driver.NamedValue, func() (driver.Result, error)) (driver.Result, error) {
	return nil, invalid("passthrough statements are not executed through Exec")
}

func (passthrough) LockKeys(context.Context, *Exec, []driver.NamedValue) error { return nil }

// openFake returns the proxy's connector on db with the fake dialect, a
// resource ID no other test uses and opts; closed when the test ends.
func openFake(t *testing.T, db *fakeDB, opts ...Option) *Connector {
	t.Helper()
	opts = append([]Option{WithResourceID("fake-" + strings.ReplaceAll(t.Name(), "/", "-"))}, opts...)
	c, err := NewConnector(fakeConnector{db}, fakeDialect{}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// proxyConn opens one connection of c (the proxy's) and takes the calls
// its opening made (the undo-table check).
func proxyConn(t *testing.T, c *Connector, db *fakeDB) *conn {
	t.Helper()
	dc, err := c.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	db.take()
	return dc.(*conn)
}
