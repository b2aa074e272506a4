package datasource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"
	"time"

	"github.com/txcio/txc/datasource/undo"
)

// Dialect is what the proxy needs from one database: how to recognize a
// statement and run it with undo images, how to read table metadata, and
// the SQL pieces the dialect-neutral rollback is built from. Implementations
// live in their own packages (datasource/mysql) and must be safe for
// concurrent use and hold no per-connection state.
type Dialect interface {
	// Name is a short lower-case name ("mysql").
	Name() string
	// Undo is the dialect of the undo_log table.
	Undo() undo.Dialect
	// Owns reports whether d drives connections of the wrapped driver d
	// (used by OpenDB to pick the dialect of a connector).
	Owns(d driver.Driver) bool
	// Recognize parses one statement text. It returns a Statement for
	// anything it can run or pass through, and a typed error
	// (txc.CodeUnsupported) naming the reason and the statement for text
	// AT mode cannot undo. It is called only inside a global transaction
	// or a global lock, and its result is cached per text.
	Recognize(query string) (Statement, error)
	// LoadTable reads the metadata of table (schema may be empty: the
	// connection's current database) through q, with the facts the
	// hazard policy decides on (Table.Hazards). It refuses nothing those
	// facts say: the caller refuses with RefuseTable, and the executors
	// with RefuseWrite.
	LoadTable(ctx context.Context, q Querier, schema, table string) (*Table, error)
	// Stale reports whether err, returned by a statement or an image
	// query, may come from metadata that no longer matches the table
	// (unknown column, missing table): the cache entry is then dropped.
	Stale(err error) bool

	// QuoteTable quotes a table name as recorded in undo.Record.Table.
	QuoteTable(name string) string
	// QuoteColumn quotes a column name.
	QuoteColumn(name string) string
	// Placeholder returns the n-th (1-based) placeholder of a statement.
	Placeholder(n int) string
	// Param returns the placeholder expression around placeholder ph and
	// the argument that write v back exactly.
	Param(v undo.Value, ph string) (expr string, arg any, err error)
	// ScanRow reads the current row of rows as an image.
	ScanRow(rows *sql.Rows, cols []*sql.ColumnType) (undo.Row, error)
	// Value converts a value read through the wrapped driver (column type
	// name as the driver reports it) into an image value.
	Value(typ string, src any) (undo.Value, error)
}

// RollbackSession is an optional interface of a Dialect: statements run
// on the connection of a rollback before its transaction begins (setup)
// and after it ends (restore). MySQL turns foreign_key_checks off there,
// so that the order in which one branch's rows are restored across (or
// within) tables cannot fail on a foreign key, and so that a restoring
// DELETE or UPDATE cascades nothing. A connection whose restore fails is
// discarded.
type RollbackSession interface {
	RollbackSession() (setup, restore []string)
}

// RestoreGuard is an optional interface of a Dialect: what a rollback
// reads, in its own transaction, before it writes a table back.
type RestoreGuard interface {
	// RestoreHazards reads what writing rows of table (named as undo
	// records name it) back would set off beyond writing them (triggers
	// that would fire on the restore's statements, rewrite rules); a
	// dialect that can first takes the lock the restore's writes take,
	// so that none can be created before they run. ParkRestore decides.
	RestoreHazards(ctx context.Context, tx *sql.Tx, table string) (RestoreHazards, error)
}

// SessionTimeZone is an optional interface of a Dialect whose images
// depend on the session's time zone (MySQL reads and writes TIMESTAMP
// values as text in the session's time_zone). Phase 1 records the zone
// with the undo log (Exec.SetTimeZone); a rollback of a log that has one
// sets its connection's zone to it for the undo transaction and sets it
// back afterwards (a connection that cannot be set back is discarded).
type SessionTimeZone interface {
	// TimeZoneQuery reads the session's time zone: one row, one column.
	TimeZoneQuery() string
	// SetTimeZone is the statement that sets the session's time zone to
	// its one argument.
	SetTimeZone() string
}

// Committer is an optional interface of a Dialect whose driver can send a
// statement and the COMMIT of the open local transaction together, in one
// round trip (PostgreSQL's pipelined extended protocol).
type Committer interface {
	// ExecCommit runs query (the insert of the undo log) with args on
	// conn, inside its open local transaction, and then COMMIT, sent
	// together. handled false: the driver cannot (nothing was sent).
	// queryErr only when the COMMIT certainly did not run (the server
	// refused the query, or nothing was sent): the transaction is open
	// and the caller rolls back. Otherwise commitErr is the commit's
	// outcome (nil: committed; an error that leaves it unknown included),
	// and the caller must not use the driver's transaction object again.
	ExecCommit(ctx context.Context, conn driver.Conn, query string, args []any) (handled bool, queryErr, commitErr error)
}

// MetadataAger is an optional interface of a Dialect whose statements
// cannot see every change to a table's definition that matters to AT
// mode (MySQL: a trigger, or a foreign key with a cascading action,
// created after the metadata was read): its cached metadata is read again
// once it is older than MetadataMaxAge (WithMetadataMaxAge overrides).
type MetadataAger interface {
	MetadataMaxAge() time.Duration
}

// TxAborter is an optional interface of a Dialect whose server may roll
// a whole transaction back on a statement's error (MySQL: a deadlock),
// where it otherwise undoes the statement alone. Its session then runs
// the next statements outside any transaction, each committed at once:
// in a global transaction or under a global lock the proxy fails the
// local transaction instead, refusing its later statements
// (txc.CodeRolledBack), and Commit rolls back.
type TxAborter interface {
	TxAborted(err error) bool
}

// SessionKeeper is an optional interface of a Dialect that keeps values
// per connection (Exec.SetConnValue) describing the connection's session
// state, and wants them to survive statements the proxy does not parse.
type SessionKeeper interface {
	// KeepsSession reports that running query as is (unparsed) cannot
	// change the session state the dialect keeps per connection; false
	// drops the connection's values before query runs. It is called
	// before every such statement while the connection holds values (on
	// the plain path: no XID, no global lock), so it must be cheap (a
	// scan of the text, no parsing, no allocation), and must answer false
	// whenever unsure. Implementing SessionKeeper also vouches that the
	// wrapped driver's ResetSession (run by database/sql when it reuses
	// a pooled connection) keeps that state.
	KeepsSession(query string) bool
}

// Kind says what the proxy does with a recognized statement.
type Kind uint8

// Statement kinds.
const (
	// Passthrough: reads without locks, session statements: run as is.
	Passthrough Kind = iota
	// Write: a DML statement run through Statement.Exec with images.
	Write
	// LockingRead: a statement LockKeys checks before it runs, on the
	// Exec and Query paths alike. SELECT … FOR UPDATE: its rows' global
	// locks are checked (waiting while another global transaction holds
	// them) before the rows are returned. Also a read that must be
	// checked otherwise first (the session it runs in, the functions and
	// views it reaches): its LockKeys checks and locks nothing.
	LockingRead
	// Savepoint: SAVEPOINT, ROLLBACK TO SAVEPOINT, RELEASE SAVEPOINT,
	// always a *SavepointStmt: run as is, the local transaction's undo
	// records kept in step (see SavepointStmt).
	Savepoint
)

// Statement is a recognized statement. It is immutable and shared by every
// connection that runs the same text.
type Statement interface {
	Kind() Kind
	// Exec runs a Write statement: before images through x, then run
	// (which executes the statement itself on the wrapped connection,
	// exactly once, or fails), then after images, then x.Add for each
	// undo record. It must not call run when the statement cannot be
	// undone exactly; it returns run's result.
	Exec(ctx context.Context, x *Exec, args []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error)
	// LockKeys is for a LockingRead: it reads, through x and with local
	// row locks, the primary keys of the rows the statement selects and
	// reports them with x.Guard; or, for a read checked otherwise, it
	// refuses the statement or returns nil.
	LockKeys(ctx context.Context, x *Exec, args []driver.NamedValue) error
}

// Table is the metadata of one table.
type Table struct {
	// Name is the table's name as recorded in undo records and lock
	// keys: "table" in the connection's database, "schema.table" else.
	Name string
	// Columns are the stored (not generated) columns, in table order:
	// the columns of every image.
	Columns []string
	// AllColumns are all columns, generated ones included, in table
	// order (what an INSERT without a column list fills).
	AllColumns []string
	// PK names the primary-key columns in key order; never empty.
	PK []string
	// Unique lists the other unique keys (column lists).
	Unique [][]string
	// AutoIncrement names the auto-increment column, if any.
	AutoIncrement string
	// AutoIncrementStep is the distance between generated values of one
	// statement (MySQL's auto_increment_increment).
	AutoIncrementStep int64
	// AutoIncrementBulkConsecutive reports whether a statement that
	// inserts an unknown number of rows (INSERT … SELECT) gets
	// consecutive generated values (InnoDB lock mode 0 or 1).
	AutoIncrementBulkConsecutive bool
	// LockName, when set, is the table name the rows' global lock keys
	// use instead of Name: a dialect where one row is reachable under
	// several names (a PostgreSQL partition and the partitioned tables
	// above it) gives them one, so that every name locks the same row.
	LockName string
	// SameName compares two column names as the dialect does (MySQL:
	// case-insensitively); nil compares them exactly (PostgreSQL, whose
	// parser has already folded unquoted names). IsPK, Column and the
	// hazard policy compare through it.
	SameName func(a, b string) bool
	// Hazards are what the hazard policy (hazard.go) decides on.
	Hazards Hazards
	// Dialect holds what the dialect's LoadTable learned beyond these
	// fields (column types, …): set by LoadTable before the Table is
	// shared, read only by that dialect.
	Dialect any
}

// LockTable returns the table name of the rows' global lock keys.
func (t *Table) LockTable() string {
	if t.LockName != "" {
		return t.LockName
	}
	return t.Name
}

// same compares two column names by t.SameName.
func (t *Table) same(a, b string) bool {
	if t.SameName == nil {
		return a == b
	}
	return t.SameName(a, b)
}

// IsPK reports whether col is a primary-key column (see SameName).
func (t *Table) IsPK(col string) bool {
	for _, c := range t.PK {
		if t.same(c, col) {
			return true
		}
	}
	return false
}

// Column returns the table's spelling of col and whether it is a stored
// column (see SameName).
func (t *Table) Column(col string) (string, bool) {
	for _, c := range t.Columns {
		if t.same(c, col) {
			return c, true
		}
	}
	return "", false
}

// Querier runs read-only image and metadata queries on the wrapped
// connection, inside whatever local transaction it has open. Queries are
// run as server-prepared statements (binary protocol), so every value is
// exact; args must be values the wrapped driver accepts.
type Querier interface {
	Query(ctx context.Context, query string, args ...any) ([]undo.Row, error)
}

var (
	dialectsMu sync.RWMutex
	dialects   []Dialect
)

// RegisterDialect makes OpenDB recognize the connectors of d's driver.
// Dialect packages call it from init.
func RegisterDialect(d Dialect) {
	dialectsMu.Lock()
	defer dialectsMu.Unlock()
	dialects = append(dialects, d)
}

func dialectFor(drv driver.Driver) Dialect {
	dialectsMu.RLock()
	defer dialectsMu.RUnlock()
	for _, d := range dialects {
		if d.Owns(drv) {
			return d
		}
	}
	return nil
}
