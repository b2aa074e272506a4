package datasource

import (
	"context"
	"database/sql/driver"
	"io"
	"maps"
	"slices"

	"github.com/txcio/txc"
)

// SavepointOp is what a savepoint statement does.
type SavepointOp uint8

// Savepoint operations.
const (
	// SetSavepoint is SAVEPOINT name.
	SetSavepoint SavepointOp = iota + 1
	// RollbackToSavepoint is ROLLBACK TO SAVEPOINT name: the changes made
	// since the savepoint are undone, the savepoints set after it go, and
	// it stays.
	RollbackToSavepoint
	// ReleaseSavepoint is RELEASE SAVEPOINT name: the savepoint and those
	// set after it go; the changes stay.
	ReleaseSavepoint
)

// SavepointStmt is the Statement a dialect returns for SAVEPOINT,
// ROLLBACK TO SAVEPOINT and RELEASE SAVEPOINT. In a local transaction of
// a global transaction the proxy keeps its undo records in step with the
// server's savepoints: SAVEPOINT marks the records (and the rest of the
// transaction's proxy state) it follows, ROLLBACK TO drops the records
// of the statements it undoes, so that the undo log holds exactly the
// images of the changes that remain.
//
// The proxy finds a savepoint by Name alone, so a dialect must give two
// names the same Name exactly when its server takes them for one
// savepoint (folding case where the server ignores it, truncating where
// it truncates), and refuse a name it cannot compare as the server does:
// a name the server took for another one would roll the proxy's records
// back to another point than the server's changes.
type SavepointStmt struct {
	Op   SavepointOp
	Name string
	// Shadows is set when a SAVEPOINT reusing a name keeps the older
	// savepoint, hidden until the newer one is released (PostgreSQL);
	// unset, it replaces it (MySQL, MariaDB, the SQL standard).
	Shadows bool
}

// Kind reports Savepoint.
func (*SavepointStmt) Kind() Kind { return Savepoint }

// Exec runs the statement as is; the proxy keeps its own state around it
// (see conn.savepoint).
func (*SavepointStmt) Exec(_ context.Context, _ *Exec, _ []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	return run()
}

// LockKeys locks nothing.
func (*SavepointStmt) LockKeys(context.Context, *Exec, []driver.NamedValue) error { return nil }

// savepointMark is the proxy's state of a local transaction when one of
// its savepoints was set: what ROLLBACK TO it sets the state back to.
type savepointMark struct {
	name     string
	recs     int // len(txState.recs)
	deferred int // len(txState.deferred): those of the first recs records
	failed   error
	timeZone string
	vals     map[any]any // a copy of txState.vals
}

// isSavepoint reports whether query is a savepoint statement (see
// refuseFailed).
func (c *conn) isSavepoint(query string) bool {
	st, err := c.res.plan(query)
	_, ok := st.(*SavepointStmt)
	return err == nil && ok
}

// savepoint runs query, whose plan st is of Kind Savepoint, through run
// (which runs it on the server) and keeps the local transaction's proxy
// state in step with the server's savepoints. The state changes only
// once the server has accepted the statement.
//
// Outside a local transaction (autocommit) and in one that is not bound
// to a global transaction (under a global lock, whose statements are not
// all parsed and which keeps no records), the statement just runs, as
// the server has it.
//
// A ROLLBACK TO or RELEASE of a name the proxy has no savepoint of runs
// too: the server refuses it (no such savepoint) and nothing changes. If
// the server accepts it instead, or fails a ROLLBACK TO of a savepoint
// the proxy has (a server that lost it, an outcome unknown), the proxy no
// longer knows which changes remain, and the local transaction can only
// roll back. A failed SAVEPOINT forgets every savepoint of that name: the
// server may have set it anew or not, so a ROLLBACK TO the name could
// mean either (were the newest forgotten alone, an older one of the name
// would be taken where the server may take the newest). A failed RELEASE
// changes nothing: had the server released the savepoints after all, the
// proxy would hold marks the server lacks, and a ROLLBACK TO one of them
// would fail on the server and fail the transaction as above. So every
// savepoint both hold stands at the same statement on both, and the
// server holds one the proxy lacks only after a failed SAVEPOINT of its
// name: a ROLLBACK TO or RELEASE reaching it fails the transaction for
// good.
func (c *conn) savepoint(query string, st Statement, run func() error) error {
	sp, ok := st.(*SavepointStmt)
	if !ok {
		return txc.Errorf(txc.CodeInternal, "datasource: a Savepoint statement of type %T: %s", st, Shorten(query))
	}
	c.unparsed(query)
	t := c.tx
	if t == nil || t.xid == "" {
		return run()
	}
	i := t.findMark(sp.Name)
	err := run()
	switch sp.Op {
	case SetSavepoint:
		switch {
		case err != nil:
			t.forgetMarks(sp.Name)
		case i >= 0 && !sp.Shadows:
			t.marks = append(t.marks[:i], t.marks[i+1:]...)
			t.setMark(sp.Name)
		default:
			t.setMark(sp.Name)
		}
	case RollbackToSavepoint:
		switch {
		case i >= 0 && err == nil:
			t.rollbackTo(i)
		case i >= 0:
			t.fail(&txc.Error{Code: txc.CodeRolledBack, XID: t.xid,
				Message: "datasource: ROLLBACK TO SAVEPOINT " + sp.Name + " failed, so the changes that remain are not known and the local transaction can only roll back: " + err.Error()})
		case err == nil:
			t.outOfStep(sp)
		}
	case ReleaseSavepoint:
		switch {
		case i >= 0 && err == nil:
			t.marks = t.marks[:i]
		case err == nil:
			t.outOfStep(sp)
		}
	}
	return err
}

// findMark returns the index of the newest savepoint named name, or -1.
func (st *txState) findMark(name string) int {
	for i := len(st.marks) - 1; i >= 0; i-- {
		if st.marks[i].name == name {
			return i
		}
	}
	return -1
}

// forgetMarks drops every savepoint named name.
func (st *txState) forgetMarks(name string) {
	st.marks = slices.DeleteFunc(st.marks, func(m savepointMark) bool { return m.name == name })
}

// setMark records a savepoint set now.
func (st *txState) setMark(name string) {
	st.marks = append(st.marks, savepointMark{name: name, recs: len(st.recs), deferred: len(st.deferred),
		failed: st.failed, timeZone: st.timeZone, vals: maps.Clone(st.vals)})
}

// rollbackTo sets the state back to the savepoint marks[i], after the
// server rolled back to it: the records of the statements it undid go
// (with their deferred after images: an earlier record's after image is
// then read from what follows it now, see fillDeferred), and so does a
// failure since (a statement that ran without undo records: its changes
// are undone). What the dialect kept per transaction (Exec.TxValue) is
// set back too: PostgreSQL undoes the session settings and releases the
// locks taken since the savepoint, on which such values may rest. The
// savepoint stays; those set after it go.
func (st *txState) rollbackTo(i int) {
	m := st.marks[i]
	clear(st.recs[m.recs:])
	st.recs = st.recs[:m.recs]
	st.deferred = st.deferred[:m.deferred]
	st.failed = m.failed
	st.timeZone = m.timeZone
	st.vals = maps.Clone(m.vals)
	st.marks = st.marks[:i+1]
}

// fail makes the local transaction one that can only roll back, unless it
// already is.
func (st *txState) fail(err error) {
	if st.failed == nil {
		st.failed = err
	}
}

// outOfStep fails the local transaction for good after the server
// accepted a savepoint statement naming a savepoint the proxy does not
// know: its savepoints and the proxy's differ, so no later ROLLBACK TO
// can be followed.
func (st *txState) outOfStep(sp *SavepointStmt) {
	st.failed = &txc.Error{Code: txc.CodeRolledBack, XID: st.xid,
		Message: "datasource: the server accepted a savepoint statement naming " + sp.Name + ", which the proxy had not seen set, so its savepoints are not the proxy's and the local transaction can only roll back"}
	st.doomed = true
}

// drained reads rows (the result of a savepoint statement run as a
// query) to its end, so that an error the server sends late is seen, and
// returns an empty result in its place.
func drained(rows driver.Rows) (driver.Rows, error) {
	cols := rows.Columns()
	if _, err := readAll(rows); err != nil {
		return nil, err
	}
	return noRows(cols), nil
}

// noRows is a result without rows.
type noRows []string

func (n noRows) Columns() []string       { return n }
func (noRows) Close() error              { return nil }
func (noRows) Next([]driver.Value) error { return io.EOF }
