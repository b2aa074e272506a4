package datasource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource/undo"
	"github.com/txcio/txc/rm"
)

// handler is the AT phase-2 handler of one resource ID, installed once
// per (rm.Manager, ID); it runs on any open Resource with that ID.
type handler struct{ id string }

func (h handler) resource() (*Resource, error) {
	if r := serving(h.id); r != nil {
		return r, nil
	}
	return nil, txc.Errorf(txc.CodeUnavailable, "datasource: no open database serves resource %q in this process", h.id)
}

// Commit deletes the branch's undo row and returns once the DELETE has
// committed: the changes are already committed, so the undo log is only
// garbage. Rows of many branches go in one DELETE, gathered for a few
// milliseconds. The coordinator counts AT branches committed at the
// decision and sends a notice it does not wait for: a failed DELETE, or a
// crash before it, leaves the row to the leftover sweep (leftover.go),
// which deletes it once the coordinator reports the transaction
// committed. (A commit command that is answered, from an older
// coordinator, is sent again after a failure, as before.) Idempotent: a
// branch without an undo row is done.
func (h handler) Commit(ctx context.Context, b rm.Branch) error {
	r, err := h.resource()
	if err != nil {
		return err
	}
	q := cleanupReq{key: undo.Key{XID: b.XID, BranchID: b.ID}, done: make(chan error, 1)}
	select {
	case r.cleanup <- q:
	case <-r.stopped:
		return closing(r.id)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-q.done:
		return err
	case <-r.stopped:
		// Closed after taking the request: its batch was flushed on the
		// way out, unless the request came after the last drain.
		select {
		case err := <-q.done:
			return err
		default:
			return closing(r.id)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closing is the retryable failure of a command for a resource that
// closed under it.
func closing(id string) error {
	return txc.Errorf(txc.CodeUnavailable, "datasource: resource %q closed", id)
}

// Rollback undoes the branch in one local transaction of the phase-2
// pool: it locks the branch's undo row, and for each record, newest
// first, locks the current rows, checks that they still equal the after
// image, and writes the before image back (deleting inserted rows,
// restoring updated columns, inserting deleted rows); then it deletes the
// undo row and commits. Idempotent: a branch already rolled back has no
// undo row and a finished marker.
//
// No undo row: phase 1 has not committed (or never will): a finished
// marker is inserted so that a late phase-1 commit fails.
//
// Rows that differ from the after image were written outside the global
// transaction (a dirty write): nothing is overwritten, the error (a
// *DirtyWriteError, wrapped by txc.Permanent) names the rows and the
// coordinator parks the transaction for manual action.
func (h handler) Rollback(ctx context.Context, b rm.Branch) error {
	r, err := h.resource()
	if err != nil {
		return err
	}
	err = r.rollback(ctx, b)
	key := repeatKey{resource: h.id, xid: b.XID, branch: b.ID}
	if n := rollbackRepeats.note(key, err, err != nil && !txc.IsPermanent(err) && r.persistent(err), maxRepeats); n >= maxRepeats {
		rep := &RepeatedError{XID: b.XID, Branch: b.ID, Times: n, Err: err}
		r.log.Error("datasource: rollback keeps failing with the same error; parked, needs manual action",
			"resource", r.id, "xid", b.XID, "branch", b.ID, "err", rep)
		return txc.Permanent(rep)
	}
	var dirty *DirtyWriteError
	if errors.As(err, &dirty) {
		r.log.Error("datasource: dirty write: rows changed outside the global transaction; not rolled back, needs manual action",
			"resource", r.id, "xid", b.XID, "branch", b.ID, "table", dirty.Table, "rows", dirty.Rows)
		return txc.Permanent(err)
	}
	var refd *ReferencedError
	if errors.As(err, &refd) {
		r.log.Warn("datasource: rollback waits: rows it would delete or change are referenced by rows written since; retried until they are gone",
			"resource", r.id, "xid", b.XID, "branch", b.ID, "table", refd.Table, "row", refd.Row, "referenced_by", refd.By.Table, "foreign_key", refd.By.Name)
	}
	return err
}

// PhaseOneRaceError reports a rollback that found no undo log and could
// not place its finished marker either: the branch's phase 1 committed
// its undo log in between (on PostgreSQL a locking read does not see, nor
// wait for, a row inserted by a transaction still open, so the marker's
// insert waited for that transaction and then found the row). Nothing was
// undone; the rollback is retryable, and its next attempt finds the undo
// log and restores the rows.
type PhaseOneRaceError struct {
	XID    txc.XID
	Branch txc.BranchID
}

func (e *PhaseOneRaceError) Error() string {
	return fmt.Sprintf("datasource: rollback of branch %d of %s: its phase 1 committed while the rollback looked for its undo log; nothing was changed, retried", e.Branch, e.XID)
}

// DirtyWriteError reports rows whose current state differs from the after
// image of the branch being rolled back.
type DirtyWriteError struct {
	XID    txc.XID
	Branch txc.BranchID
	Table  string
	// Rows describes each differing row: its key, the expected (after
	// image, or "absent") and the current state.
	Rows []string
}

// RestoreError reports a rollback that would not, or did not, restore a
// table exactly: the table now has what fires on the restore's own
// writes (triggers, rewrite rules created since phase 1), or the rows
// read back differ from the images written. Nothing was committed: the
// rollback's transaction rolled back, and the transaction is parked as
// needing manual action (remove the cause, then retry it).
type RestoreError struct {
	XID    txc.XID
	Branch txc.BranchID
	Table  string
	Reason string
	Rows   []string // differing rows, when read back
}

func (e *RestoreError) Error() string {
	msg := fmt.Sprintf("datasource: rollback of branch %d of %s cannot restore %s exactly: %s", e.Branch, e.XID, e.Table, e.Reason)
	if len(e.Rows) > 0 {
		msg += ": " + strings.Join(e.Rows, "; ")
	}
	return msg + "; nothing was written back"
}

func (e *DirtyWriteError) Error() string {
	return fmt.Sprintf("datasource: rollback of branch %d of %s: %d row(s) of %s changed outside the global transaction, not overwritten: %s",
		e.Branch, e.XID, len(e.Rows), e.Table, strings.Join(e.Rows, "; "))
}

func (r *Resource) rollback(ctx context.Context, b rm.Branch) error {
	conn, err := r.phase2.Conn(ctx)
	if err != nil {
		return fmt.Errorf("datasource: rollback of branch %d of %s: %w", b.ID, b.XID, err)
	}
	defer conn.Close()
	restoreSession, err := r.rollbackSession(ctx, conn, b)
	if err != nil {
		return err
	}
	defer restoreSession()
	// The session time zone is set back after the undo transaction ends
	// (deferred calls run last first: this runs after tx.Rollback).
	var restoreZone func()
	defer func() {
		if restoreZone != nil {
			restoreZone()
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("datasource: rollback of branch %d of %s: %w", b.ID, b.XID, err)
	}
	defer tx.Rollback()
	e, err := r.undo.SelectForUpdate(ctx, tx, b.XID, b.ID)
	if err != nil {
		if errors.Is(err, txc.ErrInvalidArgument) {
			return txc.Permanent(err) // an undecodable log will not decode later
		}
		return err
	}
	if e != nil && e.Log != nil && e.Log.TimeZone != "" {
		if restoreZone, err = r.rollbackZone(ctx, conn, tx, b, e.Log.TimeZone); err != nil {
			return err
		}
	}
	switch {
	case e == nil:
		placed, err := r.undo.InsertFinished(ctx, tx, b.XID, b.ID)
		if err != nil {
			return err
		}
		if !placed {
			return &PhaseOneRaceError{XID: b.XID, Branch: b.ID}
		}
	case e.State == undo.StateFinished:
		return nil
	default:
		if err := r.undoLog(ctx, tx, b, e.Log.Records); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("datasource: commit rollback of branch %d of %s: %w", b.ID, b.XID, err)
	}
	return nil
}

// rollbackSession sets the rollback connection's session up as the
// dialect asks (RollbackSession) and returns what sets it back; a session
// that cannot be set back marks the connection bad, so that it serves
// nothing else.
func (r *Resource) rollbackSession(ctx context.Context, conn *sql.Conn, b rm.Branch) (func(), error) {
	rs, ok := r.dialect.(RollbackSession)
	if !ok {
		return func() {}, nil
	}
	setup, restore := rs.RollbackSession()
	back := func() {
		for _, q := range restore {
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), q); err != nil {
				conn.Raw(func(any) error { return driver.ErrBadConn })
				return
			}
		}
	}
	for _, q := range setup {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			back()
			return nil, fmt.Errorf("datasource: rollback of branch %d of %s: session setup: %w", b.ID, b.XID, err)
		}
	}
	return back, nil
}

// undoLog undoes recs, newest first (a referenced key change, recorded as
// a Delete and an Insert, as one move back), then deletes the undo row;
// all within tx.
func (r *Resource) undoLog(ctx context.Context, tx *sql.Tx, b rm.Branch, recs []undo.Record) error {
	if err := r.deferChecks(ctx, tx); err != nil {
		return err
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if i > 0 {
			moved, err := r.undoMoved(ctx, tx, b, &recs[i-1], &recs[i])
			if err != nil {
				return err
			}
			if moved {
				i--
				continue
			}
		}
		if err := r.undoRecord(ctx, tx, b, &recs[i]); err != nil {
			return err
		}
	}
	_, err := r.undo.Delete(ctx, tx, b.XID, b.ID)
	return err
}

// rollbackZone sets the session time zone of the rollback's connection to
// tz, the zone phase 1 read its images in, and returns what sets it back
// (nil: it was tz already).
func (r *Resource) rollbackZone(ctx context.Context, conn *sql.Conn, tx *sql.Tx, b rm.Branch, tz string) (func(), error) {
	sz, ok := r.dialect.(SessionTimeZone)
	if !ok {
		return nil, txc.Permanent(txc.Errorf(txc.CodeInvalidArgument, "datasource: rollback of branch %d of %s: the undo log records time zone %q but dialect %s has no session time zone", b.ID, b.XID, tz, r.dialect.Name()))
	}
	var cur string
	if err := tx.QueryRowContext(ctx, sz.TimeZoneQuery()).Scan(&cur); err != nil {
		return nil, fmt.Errorf("datasource: rollback of branch %d of %s: reading the session time zone: %w", b.ID, b.XID, err)
	}
	if cur == tz {
		return nil, nil
	}
	restore := func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), sz.SetTimeZone(), cur); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn }) // the session cannot be set back: discard it
		}
	}
	if _, err := tx.ExecContext(ctx, sz.SetTimeZone(), tz); err != nil {
		restore()
		return nil, fmt.Errorf("datasource: rollback of branch %d of %s: setting the session time zone %q of its undo log: %w", b.ID, b.XID, tz, err)
	}
	return restore, nil
}

// rollbackChunk bounds the rows per undo statement.
const rollbackChunk = 500

func (r *Resource) undoRecord(ctx context.Context, tx *sql.Tx, b rm.Branch, rec *undo.Record) error {
	if err := r.checkDirty(ctx, tx, b, rec); err != nil {
		return err
	}
	if err := r.checkReferences(ctx, tx, b, rec); err != nil {
		return err
	}
	if err := r.checkHazards(ctx, tx, b, rec.Table); err != nil {
		return err
	}
	if err := r.restore(ctx, tx, rec); err != nil {
		return err
	}
	return r.verifyRestored(ctx, tx, b, rec)
}

// checkDirty locks the current rows of rec and checks that they are as
// phase 1 left them: the after image (no row where rec deleted one); a
// *DirtyWriteError names those that are not.
func (r *Resource) checkDirty(ctx context.Context, tx *sql.Tx, b rm.Branch, rec *undo.Record) error {
	expect := rec.After // rows that must be there, unchanged
	if rec.Kind == undo.Delete {
		expect = nil
	}
	keyRows := rec.After
	if rec.Kind == undo.Delete {
		keyRows = rec.Before
	}
	keys, err := rowKeys(rec.PK, keyRows)
	if err != nil {
		return txc.Permanent(err)
	}
	cols := rec.PK
	if len(expect) > 0 {
		cols = names(expect[0])
	}
	current, twice, err := r.currentRows(ctx, tx, rec, cols, keyRows)
	if err != nil {
		return err
	}
	dirty := &DirtyWriteError{XID: b.XID, Branch: b.ID, Table: rec.Table, Rows: twice}
	for i, k := range keys {
		cur, ok := current[k]
		switch {
		case rec.Kind == undo.Delete && ok:
			dirty.Rows = append(dirty.Rows, fmt.Sprintf("key (%s): expected absent, found %s", k, fmtRow(cur)))
		case rec.Kind != undo.Delete && !ok:
			dirty.Rows = append(dirty.Rows, fmt.Sprintf("key (%s): expected %s, found no row", k, fmtRow(expect[i])))
		case rec.Kind != undo.Delete && !cur.Equal(expect[i]):
			dirty.Rows = append(dirty.Rows, fmt.Sprintf("key (%s): expected %s, found %s", k, fmtRow(expect[i]), fmtRow(cur)))
		}
	}
	if len(dirty.Rows) > 0 {
		return dirty
	}
	return nil
}

// checkHazards parks the rollback when table now has what would change
// the restore's own writes (see ParkRestore).
func (r *Resource) checkHazards(ctx context.Context, tx *sql.Tx, b rm.Branch, table string) error {
	g, ok := r.dialect.(RestoreGuard)
	if !ok {
		return nil
	}
	h, err := g.RestoreHazards(ctx, tx, table)
	if err != nil {
		return fmt.Errorf("datasource: rollback of %s: %w", table, err)
	}
	if reason := ParkRestore(h); reason != "" {
		return txc.Permanent(&RestoreError{XID: b.XID, Branch: b.ID, Table: table, Reason: reason})
	}
	return nil
}

// restore writes rec's before state back: deletes the rows it inserted,
// restores the rows it updated, re-inserts the rows it deleted.
func (r *Resource) restore(ctx context.Context, tx *sql.Tx, rec *undo.Record) error {
	switch rec.Kind {
	case undo.Insert:
		for start := 0; start < len(rec.After); start += rollbackChunk {
			if err := r.deleteRows(ctx, tx, rec, rec.After[start:min(len(rec.After), start+rollbackChunk)]); err != nil {
				return err
			}
		}
	case undo.Update:
		return r.restoreUpdated(ctx, tx, rec)
	case undo.Delete:
		for start := 0; start < len(rec.Before); start += rollbackChunk {
			if err := r.reinsert(ctx, tx, rec, rec.Before[start:min(len(rec.Before), start+rollbackChunk)]); err != nil {
				return err
			}
		}
	default:
		return txc.Permanent(txc.Errorf(txc.CodeInvalidArgument, "datasource: undo record of unknown kind %v", rec.Kind))
	}
	return nil
}

// verifyRestored reads back, in the rollback's transaction, the rows rec
// was restored to: the before images, exactly, or no row where rec
// inserted one. Anything that changes what the restore writes (a trigger
// or rewrite rule created since phase 1 that RestoreGuard missed, a
// dialect without one) shows here, and the rollback's transaction rolls
// back instead of committing other rows than the branch found.
func (r *Resource) verifyRestored(ctx context.Context, tx *sql.Tx, b rm.Branch, rec *undo.Record) error {
	want := rec.Before
	keyRows, cols := rec.Before, rec.PK
	if len(want) > 0 {
		cols = names(want[0])
	} else {
		keyRows = rec.After
	}
	keys, err := rowKeys(rec.PK, keyRows)
	if err != nil {
		return txc.Permanent(err)
	}
	current, twice, err := r.currentRows(ctx, tx, rec, cols, keyRows)
	if err != nil {
		return err
	}
	bad := &RestoreError{XID: b.XID, Branch: b.ID, Table: rec.Table, Rows: twice}
	for i, k := range keys {
		cur, ok := current[k]
		switch {
		case len(want) == 0 && ok:
			bad.Rows = append(bad.Rows, fmt.Sprintf("key (%s): deleted, found %s", k, fmtRow(cur)))
		case len(want) > 0 && !ok:
			bad.Rows = append(bad.Rows, fmt.Sprintf("key (%s): restored %s, found no row", k, fmtRow(want[i])))
		case len(want) > 0 && !cur.Equal(want[i]):
			bad.Rows = append(bad.Rows, fmt.Sprintf("key (%s): restored %s, found %s", k, fmtRow(want[i]), fmtRow(cur)))
		}
	}
	if len(bad.Rows) > 0 {
		bad.Reason = "the rows read back differ from what the rollback wrote"
		return txc.Permanent(bad)
	}
	return nil
}

// currentRows reads and locks, in chunks, the current rows of rec's table
// with the keys of keyRows, by key. A key found in more than one row (a
// table that reaches another's rows, such as an inheritance parent whose
// child was created since phase 1) is listed in twice: whichever row a
// comparison took, the restoring statements would write both.
func (r *Resource) currentRows(ctx context.Context, tx *sql.Tx, rec *undo.Record, cols []string, keyRows []undo.Row) (map[string]undo.Row, []string, error) {
	current := map[string]undo.Row{}
	var twice []string
	for start := 0; start < len(keyRows); start += rollbackChunk {
		rows, err := r.lockRows(ctx, tx, rec, cols, keyRows[start:min(len(keyRows), start+rollbackChunk)])
		if err != nil {
			return nil, nil, err
		}
		for _, row := range rows {
			k, err := rowKeys(rec.PK, []undo.Row{row})
			if err != nil {
				return nil, nil, err
			}
			if first, ok := current[k[0]]; ok {
				twice = append(twice, fmt.Sprintf("key (%s): found in two rows, %s and %s", k[0], fmtRow(first), fmtRow(row)))
			}
			current[k[0]] = row
		}
	}
	return current, twice, nil
}

// lockRows reads and locks the current rows of table with the keys of
// rows, as a prepared statement (the binary protocol, as phase 1 read
// its images).
func (r *Resource) lockRows(ctx context.Context, tx *sql.Tx, rec *undo.Record, cols []string, rows []undo.Row) ([]undo.Row, error) {
	pred, args, err := r.keyPredicate(rec.PK, rows, 0)
	if err != nil {
		return nil, err
	}
	q := "SELECT " + r.columnList(cols) + " FROM " + r.dialect.QuoteTable(rec.Table) + " WHERE " + pred + " FOR UPDATE"
	st, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("datasource: lock rows of %s: %w", rec.Table, err)
	}
	defer st.Close()
	res, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("datasource: lock rows of %s: %w", rec.Table, err)
	}
	return r.scanRows(res)
}

func (r *Resource) columnList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = r.dialect.QuoteColumn(c)
	}
	return strings.Join(q, ", ")
}

// keyPredicate is "(pk) IN ((…), …)" for the keys of rows; placeholders
// are numbered from n+1.
func (r *Resource) keyPredicate(pk []string, rows []undo.Row, n int) (string, []any, error) {
	return r.inPredicate(pk, pk, rows, n)
}

// inPredicate is InPredicate with the dialect's placeholders; a value
// it cannot write is a permanent failure of the rollback.
func (r *Resource) inPredicate(cols, vals []string, rows []undo.Row, n int) (string, []any, error) {
	q, args, err := InPredicate(r.dialect, cols, vals, rows, n)
	if err != nil {
		return "", nil, txc.Permanent(err)
	}
	return q, args, nil
}

// InPredicate is "(cols) IN ((…), …)" in d's SQL with, for each of rows,
// its values of vals (one per column of cols), as d's parameters;
// placeholders are numbered from n+1.
func InPredicate(d Dialect, cols, vals []string, rows []undo.Row, n int) (string, []any, error) {
	var sb strings.Builder
	var args []any
	list := func(cols []string) string { return ColumnList(d.QuoteColumn, "", cols) }
	if len(cols) == 1 {
		sb.WriteString(d.QuoteColumn(cols[0]))
	} else {
		sb.WriteString("(" + list(cols) + ")")
	}
	sb.WriteString(" IN (")
	for i, row := range rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		if len(cols) > 1 {
			sb.WriteString("(")
		}
		for j, c := range vals {
			if j > 0 {
				sb.WriteString(", ")
			}
			v, ok := row.Get(c)
			if !ok {
				return "", nil, txc.Errorf(txc.CodeInvalidArgument, "datasource: image lacks column %q", c)
			}
			n++
			expr, arg, err := d.Param(v, d.Placeholder(n))
			if err != nil {
				return "", nil, err
			}
			sb.WriteString(expr)
			args = append(args, arg)
		}
		if len(cols) > 1 {
			sb.WriteString(")")
		}
	}
	sb.WriteString(")")
	return sb.String(), args, nil
}

// deleteRows deletes the rows of rec's table with the keys of rows.
func (r *Resource) deleteRows(ctx context.Context, tx *sql.Tx, rec *undo.Record, rows []undo.Row) error {
	q, args, err := r.keyPredicate(rec.PK, rows, 0)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+r.dialect.QuoteTable(rec.Table)+" WHERE "+q, args...); err != nil {
		return fmt.Errorf("datasource: undo: delete from %s: %w", rec.Table, err)
	}
	return nil
}

// restoreRow writes before back to the row with the key of at: its
// non-key columns, and its key columns where at's differ (a row moved
// back to its old key, see undoMoved).
func (r *Resource) restoreRow(ctx context.Context, tx *sql.Tx, rec *undo.Record, before, at undo.Row) error {
	var set, where []string
	var args []any
	n := 0
	for _, col := range before {
		if slices.Contains(rec.PK, col.Name) {
			if v, _ := at.Get(col.Name); v.Equal(col.Value) {
				continue
			}
		}
		n++
		expr, arg, err := r.dialect.Param(col.Value, r.dialect.Placeholder(n))
		if err != nil {
			return txc.Permanent(err)
		}
		set = append(set, r.dialect.QuoteColumn(col.Name)+" = "+expr)
		args = append(args, arg)
	}
	if len(set) == 0 {
		return nil
	}
	for _, c := range rec.PK {
		v, _ := at.Get(c)
		n++
		expr, arg, err := r.dialect.Param(v, r.dialect.Placeholder(n))
		if err != nil {
			return txc.Permanent(err)
		}
		where = append(where, r.dialect.QuoteColumn(c)+" = "+expr)
		args = append(args, arg)
	}
	q := "UPDATE " + r.dialect.QuoteTable(rec.Table) + " SET " + strings.Join(set, ", ") + " WHERE " + strings.Join(where, " AND ")
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("datasource: undo update of %s: %w", rec.Table, err)
	}
	return nil
}

// reinsert inserts deleted rows back (see Reinserter).
func (r *Resource) reinsert(ctx context.Context, tx *sql.Tx, rec *undo.Record, rows []undo.Row) error {
	cols := names(rows[0])
	var sb strings.Builder
	sb.WriteString("INSERT INTO " + r.dialect.QuoteTable(rec.Table) + " (" + r.columnList(cols) + ")" + r.reinsertClause() + " VALUES ")
	var args []any
	n := 0
	for i, row := range rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(")
		for j, col := range row {
			if j > 0 {
				sb.WriteString(", ")
			}
			n++
			expr, arg, err := r.dialect.Param(col.Value, r.dialect.Placeholder(n))
			if err != nil {
				return txc.Permanent(err)
			}
			sb.WriteString(expr)
			args = append(args, arg)
		}
		sb.WriteString(")")
	}
	if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
		return fmt.Errorf("datasource: undo delete from %s: %w", rec.Table, err)
	}
	return nil
}

func names(r undo.Row) []string {
	out := make([]string, len(r))
	for i, c := range r {
		out[i] = c.Name
	}
	return out
}

func fmtRow(r undo.Row) string {
	var sb strings.Builder
	sb.WriteString("{")
	for i, c := range r {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(c.Name + ": " + c.Value.String())
	}
	sb.WriteString("}")
	return sb.String()
}
