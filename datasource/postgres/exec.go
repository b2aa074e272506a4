package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// How the executors run a write. PostgreSQL 15 returns the written rows
// with RETURNING, so a write runs once, as the user's statement with the
// executor's own RETURNING list, and its rows are the after image of an
// INSERT or UPDATE and the before image of a DELETE: no separate image
// query. The framework's run callback would run the user's text unchanged,
// so the executors run their text through Exec.Query instead and never
// call run.
//
// Once that text has run, a failure of the images (a value that cannot be
// read, rows that do not match the before image, a global lock held by
// another transaction) must not leave a local transaction that can
// commit without undo: the executor then aborts the transaction on the
// server (see poison), so that its COMMIT rolls back. A failure the server
// reports has already aborted it.

// pick returns the arguments idx selects (0-based), numbered from 1.
func pick(args []driver.NamedValue, idx []int) []driver.NamedValue {
	out := make([]driver.NamedValue, len(idx))
	for i, j := range idx {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: args[j].Value}
	}
	return out
}

// columnList is "ref"."c1", "ref"."c2", … (ref may be empty).
func columnList(ref string, cols []string) string {
	return datasource.ColumnList(quoteIdent, ref, cols)
}

// writeTexts rebuilds stmt, a write of m (referred to as ref), with
// RETURNING every column of m (write: its images) and with RETURNING its
// primary key (keys: under a global lock).
func writeTexts(query string, stmt *pg.Node, m *datasource.Table, ref string) (write, keys string, err error) {
	if write, err = rebuild(query, stmt, m, columnList(ref, m.Columns)); err != nil {
		return "", "", err
	}
	if keys, err = rebuild(query, stmt, m, columnList(ref, m.PK)); err != nil {
		return "", "", err
	}
	return write, keys, nil
}

// writer runs the write texts of one statement. For Exec the texts run as
// built; for Query (the application reads the rows the statement's own
// RETURNING list gives, as an ORM reading back generated keys does), the
// user's list follows the executor's columns in each text, and the rows
// of the text that ran are kept for the application, read in full before
// any undo record is added.
type writer struct {
	stmt    string // the user's statement, for errors
	asQuery bool   // run for Query
	ret     string // the user's RETURNING list, "" for none
	rows    driver.Rows
}

// run runs a write text whose RETURNING list is n executor columns and
// reads their rows as images. On a failure the server did not report, the
// local transaction is aborted (the text may have run).
//
// In a global transaction, the session TimeZone the images are read in is
// checked and recorded first (see imageZone); a write refused there has
// not run.
func (w *writer) run(ctx context.Context, x *datasource.Exec, text string, n int, args []driver.NamedValue) ([]undo.Row, error) {
	var tz string
	if x.InGlobalTx() {
		var err error
		if tz, err = imageZone(x, w.stmt); err != nil {
			return nil, err
		}
	}
	var rows []undo.Row
	var err error
	if w.asQuery {
		if w.ret != "" {
			text += ", " + w.ret
		}
		rows, w.rows, err = x.QueryReturning(ctx, text, args, n)
	} else {
		rows, err = x.QueryArgs(ctx, text, args)
	}
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, poison(ctx, x, w.stmt, err)
	}
	if tz != "" && len(rows) > 0 {
		x.SetTxValue(imagedZone{}, tz)
	}
	return rows, nil
}

// runGuarded runs, under a global lock, the write text whose RETURNING
// list is m's primary key (no images), and checks the global locks of the
// rows it wrote (see guardWritten).
func (w *writer) runGuarded(ctx context.Context, x *datasource.Exec, m *datasource.Table, text string, args []driver.NamedValue) (driver.Result, driver.Rows, error) {
	rows, err := w.run(ctx, x, text, len(m.PK), args)
	if err != nil {
		return nil, nil, err
	}
	if err := guardWritten(ctx, x, w.stmt, m, rows); err != nil {
		return nil, nil, err
	}
	return w.done(len(rows))
}

// sessionZone is the TxValue key of the session TimeZone the local
// transaction's latest table probe read (see table). It is cleared with
// the probes by every statement that may change the zone (sessionStmt),
// so that the next write probes again.
type sessionZone struct{}

// imagedZone is the TxValue key of the TimeZone the local transaction's
// images of written rows were read in, set once a write of a global
// transaction returned rows. Unlike the probes it outlives sessionStmt
// (see clearProbes): it describes rows already imaged, not the session.
type imagedZone struct{}

// imageZone runs before a write of a global transaction and returns the
// session TimeZone its images will be read in: the zone of the latest
// probe, which the statements that can set it (SET TimeZone, SET TIME
// ZONE, RESET, set_config) clear, so it is the session's current one.
// Values of timestamptz inside arrays, composites and ranges are imaged as
// text in that zone, and a rollback must read the current rows in the
// same zone to compare them. The zone goes with the undo log
// (Exec.SetTimeZone) and the rollback runs under it (SessionTimeZone).
//
// An undo log holds one zone: a write is refused, before it runs, when
// the local transaction has already imaged written rows in another zone
// (the session's TimeZone was changed between two writes). Writes that
// returned no rows image nothing and do not count.
//
// Not seen: a zone changed without a statement sessionStmt recognizes (a
// function that calls set_config, called by a statement that does not
// name it) after the probe; the rollback then finds the rows imaged in
// the other zone differing and parks the transaction as a dirty write,
// overwriting nothing.
func imageZone(x *datasource.Exec, query string) (string, error) {
	tz, ok := x.TxValue(sessionZone{}).(string)
	if !ok || tz == "" {
		return "", txc.Errorf(txc.CodeInternal, "datasource/postgres: no session TimeZone was read before the write: %s", datasource.Shorten(query))
	}
	if prev, ok := x.TxValue(imagedZone{}).(string); ok && prev != tz {
		return "", datasource.Unsupported(query, "the session's TimeZone changed from %q to %q after this local transaction wrote rows: its undo log records one zone, in which timestamptz values inside arrays, composites and ranges were imaged as text, and a rollback reading the rows written under %q in %q would take them for changed", prev, tz, prev, tz)
	}
	x.SetTimeZone(tz)
	return tz, nil
}

// done returns what the statement returns to the application: for Exec
// the number of rows written, for Query the rows kept.
func (w *writer) done(n int) (driver.Result, driver.Rows, error) {
	if !w.asQuery {
		return driver.RowsAffected(n), nil, nil
	}
	if w.rows == nil {
		return nil, nil, txc.Errorf(txc.CodeInternal, "datasource/postgres: the write ran no statement: %s", datasource.Shorten(w.stmt))
	}
	return nil, w.rows, nil
}

// poison aborts the local transaction on the server after the statement
// ran but its images failed: PostgreSQL then turns the transaction's
// COMMIT into a rollback, so no change without undo can commit. It
// returns cause, saying so.
func poison(ctx context.Context, x *datasource.Exec, query string, cause error) error {
	msg := fmt.Sprintf("txc: local transaction aborted: a statement ran but its undo images failed: %v", cause)
	// Whatever the server does, the proxy's Commit must not commit.
	x.Fail(failed(query, cause))
	_, perr := x.Query(ctx, "SELECT $1::text::int4", msg)
	var pe *pgconn.PgError
	if perr == nil || !errors.As(perr, &pe) {
		// Not aborted by the server: the connection is gone or the
		// server accepted the text; either way nothing can commit on
		// it unnoticed only if the connection is gone. Report both.
		return errors.Join(failed(query, cause), fmt.Errorf("datasource/postgres: aborting the local transaction: %v", perr))
	}
	return failed(query, cause)
}

// failed is the error of a statement whose local transaction poison
// aborted: the cause's code (and lock holder), CodeUnsupported for an
// untyped cause.
func failed(query string, cause error) error {
	e := &txc.Error{Code: txc.CodeUnsupported,
		Message: "datasource/postgres: the statement ran but its undo images failed, so its local transaction was aborted and can only roll back: " + cause.Error() + ": " + datasource.Shorten(query)}
	var te *txc.Error
	if errors.As(cause, &te) {
		e.Code, e.XID, e.Holder = te.Code, te.XID, te.Holder
	}
	return e
}

// keysOnly keeps the primary-key columns of rows.
func keysOnly(pk []string, rows []undo.Row) []undo.Row {
	out := make([]undo.Row, len(rows))
	for i, r := range rows {
		k := make(undo.Row, len(pk))
		for j, c := range pk {
			v, _ := r.Get(c)
			k[j] = undo.Column{Name: c, Value: v}
		}
		out[i] = k
	}
	return out
}

// guardWritten checks the global locks of the rows a write under
// tm.WithGlobalLock has changed (their local row locks are held); if
// another global transaction holds one past the wait, the local
// transaction is aborted.
func guardWritten(ctx context.Context, x *datasource.Exec, query string, m *datasource.Table, rows []undo.Row) error {
	if err := x.Guard(ctx, m.LockTable(), m.PK, rows, false); err != nil {
		return poison(ctx, x, query, err)
	}
	return nil
}

// checkedKey is the TxValue key of a relation as a statement names it.
type checkedKey struct{ schema, name string }

// checked is the metadata of a table found current in this local
// transaction.
type checked struct {
	m      *datasource.Table
	in     *tableInfo
	locked bool // the probe ran under a write's lock (see probeTable)
}

// table returns the metadata of the table r names on this connection.
//
// The first time a local transaction names r, one catalog query (see
// probeSQL) resolves r as the statement will (an unqualified name through
// the connection's search_path, so one name may mean different tables on
// different connections), locks the table against DDL until the
// transaction ends, and fingerprints it: cached metadata of another
// state (a column added, a foreign key or trigger created since) is
// reloaded. The same query reads the session settings (see settings),
// which are checked; the TimeZone is kept for imageZone. The answer is
// then kept for the rest of the local transaction (see sessionStmt for
// what clears it). A write of a global transaction probes under the lock
// it will take (write set, see probeTable), so that no DDL adding
// triggers or referential actions to r commits between the probe and the
// write; a locking read (write unset) needs only the lock the probe
// takes, and a write after it probes again. The executors qualify the statements they run with the
// schema found here, so that the write and its images hit the table the
// metadata describes.
func table(ctx context.Context, x *datasource.Exec, r relRef, write bool) (*datasource.Table, *tableInfo, error) {
	key := checkedKey{r.schema, r.name}
	lock := write && x.InGlobalTx()
	if c, ok := x.TxValue(key).(*checked); ok && (c.locked || !lock) {
		return c.m, c.in, nil
	}
	pr, set, err := probeRel(ctx, x, r.String(), lock)
	if err != nil {
		return nil, nil, err
	}
	if err := set.check(); err != nil {
		return nil, nil, err
	}
	// READ UNCOMMITTED runs as READ COMMITTED in PostgreSQL: a snapshot
	// per statement.
	if lock && set.isolation != "read committed" && set.isolation != "read uncommitted" {
		if err := freshProbe(ctx, x, pr, set.isolation); err != nil {
			return nil, nil, err
		}
	}
	x.SetTxValue(sessionZone{}, set.timeZone)
	var m *datasource.Table
	var in *tableInfo
	for attempt := 0; ; attempt++ {
		if m, err = x.Table(ctx, pr.schema, pr.name); err != nil {
			return nil, nil, err
		}
		if in, err = info(m); err != nil {
			return nil, nil, err
		}
		if in.probe.same(pr) {
			break
		}
		if attempt > 0 {
			return nil, nil, txc.Errorf(txc.CodeUnavailable, "datasource/postgres: the metadata of %s changed while it was read; retry", m.Name)
		}
		x.Forget(pr.schema, pr.name)
	}
	x.SetTxValue(key, &checked{m: m, in: in, locked: lock})
	return m, in, nil
}

// plainHint is the resource's hint (see Exec.Hint) that the relation
// written rel was a plain table that is no partition when it was last
// probed.
type plainHint struct{ rel string }

// probeRel runs probeTable for rel on x's connection: in plainProbe's
// cheaper form when rel was found a plain table before, and again in the
// full form if it is not one on this connection now.
func probeRel(ctx context.Context, x *datasource.Exec, rel string, lock bool) (probe, settings, error) {
	hint := x.Hint(plainHint{rel}) != nil
	pr, set, err := probeTable(ctx, x, rel, lock, hint)
	if err == nil && hint && !pr.plain() {
		pr, set, err = probeTable(ctx, x, rel, lock, false)
	}
	if err != nil || !pr.plain() {
		x.SetHint(plainHint{rel}, nil)
		return pr, set, err
	}
	x.SetHint(plainHint{rel}, true)
	return pr, set, nil
}

// qualify returns a copy of rv naming the schema of m explicitly, so that
// a rebuilt statement writes the table its images are of whatever the
// search_path, and, for a plain table, ONLY that table. The probe refuses
// a plain table with inheritance children, but a first child created
// after it (CREATE TABLE … INHERITS and ALTER TABLE … INHERIT take a lock
// no write conflicts with) would otherwise bring its rows into the later
// writes of the local transaction and their images, and a rollback would
// re-insert the child's deleted rows into the parent. (An INSERT reaches
// no child and takes no ONLY: see rebuild.)
func qualify(rv *pg.RangeVar, m *datasource.Table) *pg.RangeVar {
	c := clone(rv)
	if parts, ok := splitName(m.Name); ok && len(parts) == 2 {
		c.Schemaname = parts[0]
		c.Relname = parts[1]
	}
	if in, err := info(m); err == nil && in.kind == "r" {
		c.Inh = false
	}
	return c
}
