package undo

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/sqltable"
)

//go:embed schema/mysql.sql schema/postgres.sql
var schemaFS embed.FS

// DefaultTable is the undo-log table's default name.
const DefaultTable = "txc_undo_log"

// Dialect selects the SQL of the undo-log table.
type Dialect uint8

// Dialects.
const (
	MySQL    = Dialect(sqltable.MySQL)    // MySQL / MariaDB through github.com/go-sql-driver/mysql
	Postgres = Dialect(sqltable.Postgres) // PostgreSQL through github.com/jackc/pgx/v5/stdlib
)

func (d Dialect) String() string { return sqltable.Dialect(d).String() }

// State is the state of an undo-log row.
type State uint8

// States. The numbers are stored; never renumber them.
const (
	// StateNormal: the row holds the branch's undo log.
	StateNormal State = 0
	// StateFinished: a marker written by a rollback that found no undo
	// log; the branch's phase-1 insert can no longer succeed.
	StateFinished State = 1
)

// Execer is what the table functions need: *sql.Tx, *sql.Conn and *sql.DB
// satisfy it. Pass the *sql.Tx of the local transaction the statement
// belongs to (phase 1: the business transaction; rollback: the undo
// transaction).
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Key names one branch's row.
type Key struct {
	XID      txc.XID
	BranchID txc.BranchID
}

// Entry is a row read by SelectForUpdate.
type Entry struct {
	State State
	// Log is the decoded undo log; nil for a finished marker.
	Log *Log
}

// Table is the undo-log table of one database. A Table holds no
// connection and no mutable state; it is safe for concurrent use.
type Table struct {
	dialect Dialect
	name    string
	ref     string // how statements name it: name, or schema and name quoted (NewTableIn)
	codec   Codec
	q       queries
}

type queries struct {
	insert, selectForUpdate, delete, insertFinished, deleteOld, listOld string
}

// maxName is the longest table or schema name, in bytes.
const maxName = 48

// NewTable returns the undo-log table named name (empty means
// DefaultTable) in dialect d, encoding logs with codec. Table names are
// plain identifiers of at most 48 bytes (letters, digits, underscores).
func NewTable(d Dialect, name string, codec Codec) (*Table, error) {
	return NewTableIn(d, "", name, codec)
}

// NewTableIn is NewTable for the table name in schema (a PostgreSQL
// schema, a MySQL database; a plain identifier of at most 48 bytes):
// every statement names it qualified, so it is the same table whatever
// the session's search_path or current database. An empty schema is
// NewTable.
func NewTableIn(d Dialect, schema, name string, codec Codec) (*Table, error) {
	if name == "" {
		name = DefaultTable
	}
	if !sqltable.Plain(name, maxName) {
		return nil, txc.Errorf(txc.CodeInvalidArgument, "undo: table name %q is not a plain identifier of at most 48 bytes", name)
	}
	if schema != "" && !sqltable.Plain(schema, maxName) {
		return nil, txc.Errorf(txc.CodeInvalidArgument, "undo: schema name %q is not a plain identifier of at most 48 bytes", schema)
	}
	ref := sqltable.Dialect(d).Qualify(schema, name)
	t := &Table{dialect: d, name: name, ref: ref, codec: codec}
	name = ref // the statements below name the table qualified
	switch d {
	case MySQL:
		t.q = queries{
			insert:          "INSERT INTO " + name + " (xid, branch_id, state, log) VALUES (?, ?, 0, ?)",
			selectForUpdate: "SELECT state, log FROM " + name + " WHERE xid = ? AND branch_id = ? FOR UPDATE",
			delete:          "DELETE FROM " + name + " WHERE xid = ? AND branch_id = ?",
			// INSERT IGNORE affects 0 rows when the key exists whatever
			// the client-found-rows setting; the values cannot raise
			// the other errors IGNORE would hide (they are checked).
			insertFinished: "INSERT IGNORE INTO " + name + " (xid, branch_id, state, log) VALUES (?, ?, 1, '')",
			deleteOld:      "DELETE FROM " + name + " WHERE state = 1 AND created_at < NOW(6) - INTERVAL ? MICROSECOND ORDER BY created_at LIMIT ?",
			listOld:        "SELECT xid, branch_id FROM " + name + " WHERE state = 0 AND created_at < NOW(6) - INTERVAL ? MICROSECOND ORDER BY created_at, xid, branch_id LIMIT ? OFFSET ?",
		}
	case Postgres:
		t.q = queries{
			insert:          "INSERT INTO " + name + " (xid, branch_id, state, log) VALUES ($1, $2, 0, $3)",
			selectForUpdate: "SELECT state, log FROM " + name + " WHERE xid = $1 AND branch_id = $2 FOR UPDATE",
			delete:          "DELETE FROM " + name + " WHERE xid = $1 AND branch_id = $2",
			insertFinished:  "INSERT INTO " + name + " (xid, branch_id, state, log) VALUES ($1, $2, 1, '') ON CONFLICT (xid, branch_id) DO NOTHING",
			deleteOld:       "DELETE FROM " + name + " WHERE ctid = ANY (ARRAY(SELECT ctid FROM " + name + " WHERE state = 1 AND created_at < now() - $1 * interval '1 microsecond' ORDER BY created_at LIMIT $2))",
			listOld:         "SELECT xid, branch_id FROM " + name + " WHERE state = 0 AND created_at < now() - $1 * interval '1 microsecond' ORDER BY created_at, xid, branch_id LIMIT $2 OFFSET $3",
		}
	default:
		return nil, txc.Errorf(txc.CodeInvalidArgument, "undo: unknown dialect %v", d)
	}
	return t, nil
}

// Ref returns the table as its statements name it (qualified when a
// schema was given).
func (t *Table) Ref() string { return t.ref }

// Name returns the table's name.
func (t *Table) Name() string { return t.name }

// Schema returns the SQL that creates the table: the shipped
// schema/mysql.sql or schema/postgres.sql with the name substituted.
func (t *Table) Schema() string {
	out, err := sqltable.ReadScript(schemaFS, "schema/"+t.dialect.String()+".sql", DefaultTable, t.name)
	if err != nil {
		panic("undo: embedded schema missing: " + err.Error()) // a build defect
	}
	if t.ref != t.name {
		out = strings.ReplaceAll(out, "EXISTS "+t.name+" (", "EXISTS "+t.ref+" (")
		out = strings.ReplaceAll(out, " ON "+t.name+" (", " ON "+t.ref+" (")
	}
	return out
}

// Create creates the table and its index if they do not exist, one
// statement at a time. Idempotent.
func (t *Table) Create(ctx context.Context, ex Execer) error {
	if err := sqltable.Apply(ctx, ex, t.Schema()); err != nil {
		return fmt.Errorf("undo: create table %s: %w", t.name, err)
	}
	return nil
}

func checkKey(xid txc.XID) error {
	if xid == "" || len(xid) > txc.MaxXIDLen {
		return txc.Errorf(txc.CodeInvalidArgument, "undo: XID of %d bytes (1 to %d allowed)", len(xid), txc.MaxXIDLen)
	}
	return nil
}

// Insert writes l, encoded, as the undo log of branch (l.XID, l.BranchID).
// Call it in the branch's local transaction before the local commit, so
// that the undo log is durable exactly when the business change is.
//
// If a row for the branch already exists — a finished marker, because the
// global transaction was rolled back before this phase 1 committed, or the
// same log inserted twice — Insert fails with an error matching
// txc.ErrRolledBack and the local transaction must be rolled back: its
// business changes have no undo log. (PostgreSQL has already aborted it;
// MySQL keeps it open, so committing it anyway would be a silent loss.)
func (t *Table) Insert(ctx context.Context, ex Execer, l *Log) error {
	q, args, err := t.InsertStatement(l)
	if err != nil {
		return err
	}
	_, err = ex.ExecContext(ctx, q, args...)
	return t.InsertError(l, err)
}

// InsertStatement returns the statement and arguments Insert runs (the
// log encoded), for a caller that runs them on a driver connection of its
// own; pass the statement's error through InsertError. The arguments are
// a string, an int64 and a []byte.
func (t *Table) InsertStatement(l *Log) (string, []any, error) {
	if err := checkKey(l.XID); err != nil {
		return "", nil, err
	}
	b, err := t.codec.Encode(l)
	if err != nil {
		return "", nil, err
	}
	return t.q.insert, []any{string(l.XID), int64(l.BranchID), b}, nil
}

// InsertError returns what Insert returns when running InsertStatement's
// statement for l failed with err (nil stays nil): a duplicate key is an
// error matching txc.ErrRolledBack, see Insert.
func (t *Table) InsertError(l *Log, err error) error {
	if err == nil {
		return nil
	}
	if sqltable.IsDuplicateKey(err) {
		return &txc.Error{Code: txc.CodeRolledBack, XID: l.XID, Message: fmt.Sprintf("undo: branch %d of %s already has an undo-log row (finished by a rollback, or inserted twice); its local transaction must not commit", l.BranchID, l.XID)}
	}
	return fmt.Errorf("undo: insert undo log of branch %d of %s: %w", l.BranchID, l.XID, err)
}

// SelectForUpdate reads and locks the row of branch (xid, branch) until
// the end of ex's transaction. It returns nil and no error when there is
// no row; a row whose log cannot be decoded, or decodes to another
// branch, gives a CodeInvalidArgument error.
//
// While phase 1 of the branch has inserted but not committed its row, the
// call waits for that transaction (the row lock), as InsertFinished does.
func (t *Table) SelectForUpdate(ctx context.Context, ex Execer, xid txc.XID, branch txc.BranchID) (*Entry, error) {
	if err := checkKey(xid); err != nil {
		return nil, err
	}
	var state int16
	var b []byte
	err := ex.QueryRowContext(ctx, t.q.selectForUpdate, string(xid), int64(branch)).Scan(&state, &b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("undo: select undo log of branch %d of %s: %w", branch, xid, err)
	}
	switch State(state) {
	case StateFinished:
		return &Entry{State: StateFinished}, nil
	case StateNormal:
	default:
		return nil, txc.Errorf(txc.CodeInvalidArgument, "undo: undo log of branch %d of %s has unknown state %d", branch, xid, state)
	}
	l, err := t.codec.Decode(b)
	if err != nil {
		return nil, err
	}
	if l.XID != xid || l.BranchID != branch {
		return nil, txc.Errorf(txc.CodeInvalidArgument, "undo: the undo-log row of branch %d of %s holds the log of branch %d of %s", branch, xid, l.BranchID, l.XID)
	}
	return &Entry{State: StateNormal, Log: l}, nil
}

// Delete removes the row of branch (xid, branch), log or marker. It
// reports whether there was one; deleting nothing is not an error
// (phase 2 is at-least-once).
func (t *Table) Delete(ctx context.Context, ex Execer, xid txc.XID, branch txc.BranchID) (bool, error) {
	if err := checkKey(xid); err != nil {
		return false, err
	}
	res, err := ex.ExecContext(ctx, t.q.delete, string(xid), int64(branch))
	if err != nil {
		return false, fmt.Errorf("undo: delete undo log of branch %d of %s: %w", branch, xid, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("undo: delete undo log of branch %d of %s: %w", branch, xid, err)
	}
	return n > 0, nil
}

// InsertFinished writes a finished marker for branch (xid, branch) when
// the branch has no row, and reports whether it did. A rollback that finds
// no undo log calls it (and commits) so that a phase 1 of that branch
// still in flight fails its Insert on the primary key and cannot commit
// changes without an undo log. If phase 1 holds an uncommitted row, the
// call waits for it: then it inserts nothing (phase 1 committed; undo that
// log) or inserts the marker (phase 1 rolled back).
func (t *Table) InsertFinished(ctx context.Context, ex Execer, xid txc.XID, branch txc.BranchID) (bool, error) {
	if err := checkKey(xid); err != nil {
		return false, err
	}
	res, err := ex.ExecContext(ctx, t.q.insertFinished, string(xid), int64(branch))
	if err != nil {
		return false, fmt.Errorf("undo: insert finished marker of branch %d of %s: %w", branch, xid, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("undo: insert finished marker of branch %d of %s: %w", branch, xid, err)
	}
	return n == 1, nil
}

// MaxBatch is the number of keys DeleteBatch puts in one statement.
const MaxBatch = 500

// DeleteBatch removes the rows of keys (committed branches: their undo
// logs are no longer needed), at most MaxBatch per statement, and returns
// how many rows it deleted. Missing rows are not an error. With a *sql.DB
// each statement commits by itself, so a failure leaves earlier batches
// deleted; calling again is safe.
func (t *Table) DeleteBatch(ctx context.Context, ex Execer, keys []Key) (int64, error) {
	var total int64
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), MaxBatch)]
		keys = keys[len(chunk):]
		var sb strings.Builder
		sb.WriteString("DELETE FROM " + t.ref + " WHERE (xid, branch_id) IN (")
		args := make([]any, 0, 2*len(chunk))
		for i, k := range chunk {
			if err := checkKey(k.XID); err != nil {
				return total, err
			}
			if i > 0 {
				sb.WriteString(", ")
			}
			if t.dialect == Postgres {
				fmt.Fprintf(&sb, "($%d, $%d)", 2*i+1, 2*i+2)
			} else {
				sb.WriteString("(?, ?)")
			}
			args = append(args, string(k.XID), int64(k.BranchID))
		}
		sb.WriteString(")")
		res, err := ex.ExecContext(ctx, sb.String(), args...)
		if err != nil {
			return total, fmt.Errorf("undo: delete %d undo logs: %w", len(chunk), err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("undo: delete %d undo logs: %w", len(chunk), err)
		}
		total += n
	}
	return total, nil
}

// DeleteOlderThan removes at most limit finished markers created more
// than age ago by the database's clock, oldest first, and returns how
// many it deleted; callers loop until it returns less than limit. Undo
// logs (state normal) are never swept by age: a log may belong to a
// branch parked for manual action, and without it a later retry would
// find no log, write a marker and report the branch rolled back. Logs
// are deleted only by phase-2 commit (DeleteBatch) or rollback (Delete).
// age must exceed the longest global transaction, or a marker could
// vanish while its late phase 1 is still in flight.
func (t *Table) DeleteOlderThan(ctx context.Context, ex Execer, age time.Duration, limit int) (int64, error) {
	if age < 0 || limit <= 0 {
		return 0, txc.Errorf(txc.CodeInvalidArgument, "undo: DeleteOlderThan needs age ≥ 0 and limit > 0 (got %v, %d)", age, limit)
	}
	res, err := ex.ExecContext(ctx, t.q.deleteOld, age.Microseconds(), limit)
	if err != nil {
		return 0, fmt.Errorf("undo: delete old undo logs: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("undo: delete old undo logs: %w", err)
	}
	return n, nil
}

// Querier runs a query; *sql.DB, *sql.Conn and *sql.Tx are Queriers.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// ListOld returns the keys of at most limit undo logs (state normal)
// created more than age ago by the database's clock, oldest first,
// skipping the first skip of them. It deletes nothing: whether a log is
// garbage depends on its transaction's outcome, which only the
// coordinator knows (datasource's leftover sweep asks it).
func (t *Table) ListOld(ctx context.Context, q Querier, age time.Duration, skip, limit int) ([]Key, error) {
	if age < 0 || skip < 0 || limit <= 0 {
		return nil, txc.Errorf(txc.CodeInvalidArgument, "undo: ListOld needs age ≥ 0, skip ≥ 0 and limit > 0 (got %v, %d, %d)", age, skip, limit)
	}
	rows, err := q.QueryContext(ctx, t.q.listOld, age.Microseconds(), limit, skip)
	if err != nil {
		return nil, fmt.Errorf("undo: list old undo logs: %w", err)
	}
	defer rows.Close()
	var keys []Key
	for rows.Next() {
		var xid string
		var branch int64
		if err := rows.Scan(&xid, &branch); err != nil {
			return nil, fmt.Errorf("undo: list old undo logs: %w", err)
		}
		keys = append(keys, Key{XID: txc.XID(xid), BranchID: txc.BranchID(branch)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("undo: list old undo logs: %w", err)
	}
	return keys, nil
}
