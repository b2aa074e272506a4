package tcc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/sqltable"
)

// Fence statuses stored in the status column (see schema/*.sql).
const (
	statusTried      = 1
	statusCommitted  = 2
	statusRollbacked = 3
	statusSuspended  = 4
)

func statusName(s int) string {
	switch s {
	case statusTried:
		return "tried"
	case statusCommitted:
		return "committed"
	case statusRollbacked:
		return "rollbacked"
	case statusSuspended:
		return "suspended"
	}
	return fmt.Sprintf("status(%d)", s)
}

// maxXIDLen is the width of the xid column.
const maxXIDLen = 128

// FenceOptions configure NewFence. The zero value is usable.
type FenceOptions struct {
	// Dialect of the database; DialectAuto (the zero value) detects it from
	// the driver (go-sql-driver/mysql, pgx stdlib, lib/pq).
	Dialect Dialect
	// Table is the fence table; empty means DefaultTable.
	Table string
	// CreateTable creates the table (and its index) if it does not exist,
	// from the shipped schema (see Schema). Otherwise the table must exist.
	CreateTable bool
	// TxOptions are used for every fence transaction (nil: the driver's
	// defaults). The fence is correct under READ COMMITTED and REPEATABLE
	// READ: it reads its own row with SELECT … FOR UPDATE.
	TxOptions *sql.TxOptions
	// Logger; nil discards.
	Logger *slog.Logger
}

// Fence is a TCC fence table in a participant's own database. Each of Try,
// Confirm and Cancel opens one local transaction, reads or writes the
// branch's fence row in it, runs the business function with it, and commits
// it only if the function succeeded, so the fence row and the business
// change are durable together or not at all.
//
// Per branch (XID, branch ID) the row goes:
//
//	(none) ──Try──▶ tried ──Confirm──▶ committed
//	                tried ──Cancel───▶ rollbacked
//	(none) ──Cancel─▶ suspended      (empty rollback; a later Try is refused)
//
// Confirm on committed and Cancel on rollbacked or suspended succeed without
// calling the business function (idempotence). Concurrent deliveries of the
// same command serialize on the row lock. Confirm on a cancelled branch,
// Cancel on a confirmed one, and Confirm without any Try break the protocol:
// they return a txc.Permanent error, so the coordinator parks the
// transaction for manual action. A Fence is safe for concurrent use.
type Fence struct {
	db      *sql.DB
	dialect Dialect
	table   string
	sql     fenceSQL
	txOpts  *sql.TxOptions
	log     *slog.Logger
}

// NewFence returns a fence on db, creating its table first if
// opts.CreateTable is set. ctx bounds only that creation.
func NewFence(ctx context.Context, db *sql.DB, opts FenceOptions) (*Fence, error) {
	if db == nil {
		return nil, invalid("nil *sql.DB for the fence")
	}
	sd, table, err := tables.Prepare(ctx, db, sqltable.Dialect(opts.Dialect), opts.Table, opts.CreateTable)
	if err != nil {
		return nil, err
	}
	d := Dialect(sd)
	f := &Fence{db: db, dialect: d, table: table, sql: newFenceSQL(d, table), txOpts: opts.TxOptions, log: opts.Logger}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	return f, nil
}

// Dialect returns the fence's SQL dialect.
func (f *Fence) Dialect() Dialect { return f.dialect }

// Table returns the fence table's name.
func (f *Fence) Table() string { return f.table }

// Every method runs its local transaction again (fn included) when the
// database aborted it for a deadlock or a serialization failure (a Cancel
// racing its Try or a duplicate of itself may provoke one), up to
// maxConflictRetries times; nothing of an aborted attempt is kept.

// Try runs fn in a new local transaction after inserting the branch's
// "tried" row in it; both commit if fn returns nil, neither otherwise (so a
// failed Try leaves no row and its Cancel is an empty rollback). If the
// branch already has a row (its Cancel came first) fn does not run and the
// error matches ErrTryAfterCancel and txc.ErrRolledBack. fn must not commit
// or roll back tx.
func (f *Fence) Try(ctx context.Context, b Branch, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if err := checkBranch(b); err != nil {
		return err
	}
	return retryConflicts(ctx, func() error { return f.try(ctx, b, fn) })
}

func (f *Fence) try(ctx context.Context, b Branch, fn func(ctx context.Context, tx *sql.Tx) error) error {
	tx, err := f.db.BeginTx(ctx, f.txOpts)
	if err != nil {
		return fmt.Errorf("tcc: fence try of %s branch %d: begin: %w", b.XID, b.ID, err)
	}
	defer tx.Rollback()
	inserted, err := f.insert(ctx, tx, b, statusTried)
	if err != nil {
		return fmt.Errorf("tcc: fence try of %s branch %d: %w", b.XID, b.ID, err)
	}
	if !inserted {
		f.log.Info("tcc: try refused, the branch was cancelled first", "xid", b.XID, "branch", b.ID, "participant", b.Participant)
		return tryAfterCancel(b)
	}
	if err := fn(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("tcc: fence try of %s branch %d: commit: %w", b.XID, b.ID, err)
	}
	return nil
}

// Confirm moves the branch's row from tried to committed and runs fn in the
// same local transaction; if the row is already committed it succeeds
// without calling fn. It is idempotent and safe under concurrent deliveries.
// Errors other than the txc.Permanent ones listed on Fence are retryable.
func (f *Fence) Confirm(ctx context.Context, b Branch, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return f.finish(ctx, b, true, fn)
}

// Cancel moves the branch's row from tried to rollbacked and runs fn in the
// same local transaction; with no row it inserts a suspended row (empty
// rollback: fn is not called and a later Try is refused); if the row is
// already rollbacked or suspended it succeeds without calling fn.
// Idempotent and safe under concurrent deliveries, including a Cancel that
// races its own Try (it waits for the Try's transaction).
func (f *Fence) Cancel(ctx context.Context, b Branch, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return f.finish(ctx, b, false, fn)
}

func (f *Fence) finish(ctx context.Context, b Branch, commit bool, fn func(ctx context.Context, tx *sql.Tx) error) error {
	op, to := "cancel", statusRollbacked
	if commit {
		op, to = "confirm", statusCommitted
	}
	if err := checkBranch(b); err != nil {
		return txc.Permanent(err)
	}
	return retryConflicts(ctx, func() error { return f.finishOnce(ctx, b, commit, op, to, fn) })
}

func (f *Fence) finishOnce(ctx context.Context, b Branch, commit bool, op string, to int, fn func(ctx context.Context, tx *sql.Tx) error) error {
	wrap := func(err error) error { return fmt.Errorf("tcc: fence %s of %s branch %d: %w", op, b.XID, b.ID, err) }
	tx, err := f.db.BeginTx(ctx, f.txOpts)
	if err != nil {
		return wrap(err)
	}
	defer tx.Rollback()
	// The common case is one statement: tried → to.
	for attempt := 0; ; attempt++ {
		n, err := f.update(ctx, tx, b, statusTried, to)
		if err != nil {
			return wrap(err)
		}
		if n == 1 {
			if err := fn(ctx, tx); err != nil {
				return err
			}
			if err := tx.Commit(); err != nil {
				return wrap(err)
			}
			return nil
		}
		if !commit && attempt == 0 {
			// No tried row: record the empty rollback unless some row exists
			// (waiting for an in-flight Try's insert if there is one).
			inserted, err := f.insert(ctx, tx, b, statusSuspended)
			if err != nil {
				return wrap(err)
			}
			if inserted {
				if err := tx.Commit(); err != nil {
					return wrap(err)
				}
				f.log.Info("tcc: empty rollback: cancel before try", "xid", b.XID, "branch", b.ID, "participant", b.Participant)
				return nil
			}
		}
		st, found, err := f.get(ctx, tx, b)
		if err != nil {
			return wrap(err)
		}
		switch {
		case !found && commit:
			return txc.Permanent(wrap(errors.New("no fence row: confirm of a branch whose Try never succeeded (or whose row was cleaned up)")))
		case !found:
			return wrap(errors.New("fence row vanished; will retry"))
		case commit && st == statusCommitted, !commit && (st == statusRollbacked || st == statusSuspended):
			return nil // a repeated delivery: done already
		case st == statusTried && attempt < 2:
			continue // a Try committed meanwhile; the row is locked now
		case st == statusTried:
			return wrap(errors.New("fence row stays tried; will retry"))
		default:
			return txc.Permanent(wrap(fmt.Errorf("the branch is already %s", statusName(st))))
		}
	}
}

func checkBranch(b Branch) error {
	if b.XID == "" || len(b.XID) > maxXIDLen {
		return invalid("fence: xid %q must be 1 to %d bytes", b.XID, maxXIDLen)
	}
	if len(b.Participant) > 256 {
		return invalid("fence: participant name longer than 256 bytes")
	}
	return nil
}

// insert adds the branch's row with status st; false if a row exists.
func (f *Fence) insert(ctx context.Context, tx *sql.Tx, b Branch, st int) (bool, error) {
	res, err := tx.ExecContext(ctx, f.sql.insert, string(b.XID), int64(b.ID), b.Participant, st)
	if err != nil {
		// MySQL's duplicate key undoes only this statement; the
		// transaction goes on. (PostgreSQL's insert says ON CONFLICT DO
		// NOTHING and does not raise it.)
		if sqltable.IsDuplicateKey(err) {
			return false, nil
		}
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

func (f *Fence) update(ctx context.Context, tx *sql.Tx, b Branch, from, to int) (int64, error) {
	res, err := tx.ExecContext(ctx, f.sql.update, to, string(b.XID), int64(b.ID), from)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (f *Fence) get(ctx context.Context, tx *sql.Tx, b Branch) (int, bool, error) {
	var st int
	err := tx.QueryRowContext(ctx, f.sql.get, string(b.XID), int64(b.ID)).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return st, err == nil, err
}
