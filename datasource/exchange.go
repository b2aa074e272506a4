package datasource

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/txcio/txc/datasource/undo"
)

// KeyExchange is an optional interface of a Dialect: how a rollback
// writes back the rows of one Update record when the statement may have
// exchanged values of a unique key between them (a MySQL REPLACE; a
// PostgreSQL UPDATE under a DEFERRABLE constraint). Written back one row
// at a time, such rows meet the key half-way ("duplicate key"), although
// the state before the statement was valid.
type KeyExchange interface {
	// DeferKeys is a statement that defers the unique (and other
	// deferrable) checks of the rollback's transaction to its commit
	// (PostgreSQL: SET CONSTRAINTS ALL DEFERRED: a swap in one statement
	// is only possible under a deferrable constraint), or "".
	DeferKeys() string
	// DuplicateKey reports whether err is a row write refused for a
	// duplicate unique key, after which the rollback deletes the record's
	// rows and inserts them back whole. Only for a dialect whose
	// RollbackSession makes that cascade and check nothing (MySQL's
	// foreign_key_checks off); else false.
	DuplicateKey(err error) bool
}

// deferChecks defers the deferrable checks of the rollback's
// transaction to its commit (KeyExchange.DeferKeys), before it writes any
// row back: rows whose unique values one statement exchanged meet
// half-way otherwise, and rows an ON UPDATE CASCADE moved to a new key
// are pointed back at the old one before it exists again (see
// ImageCascades).
func (r *Resource) deferChecks(ctx context.Context, tx *sql.Tx) error {
	kx, ok := r.dialect.(KeyExchange)
	if !ok || kx.DeferKeys() == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, kx.DeferKeys()); err != nil {
		return fmt.Errorf("datasource: rollback: deferring the deferrable checks: %w", err)
	}
	return nil
}

// restoreUpdated writes the before images of an Update record back, the
// rows in the reverse of the order the statement found them (a statement
// that moved a unique value from row to row, each step valid, is undone
// through the same states). Several rows are written back so that no
// state in between can meet a unique key (see KeyExchange, deferChecks).
func (r *Resource) restoreUpdated(ctx context.Context, tx *sql.Tx, rec *undo.Record) error {
	kx, _ := r.dialect.(KeyExchange)
	for i := len(rec.Before) - 1; i >= 0; i-- {
		err := r.restoreRow(ctx, tx, rec, rec.Before[i], rec.Before[i])
		if err != nil && kx != nil && len(rec.Before) > 1 && kx.DuplicateKey(err) {
			return r.rewrite(ctx, tx, rec)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// rewrite deletes the rows of an Update record (an Update keeps its rows'
// keys) and inserts their before images, in chunks: no state in between
// holds two rows with one unique value.
func (r *Resource) rewrite(ctx context.Context, tx *sql.Tx, rec *undo.Record) error {
	for start := 0; start < len(rec.Before); start += rollbackChunk {
		if err := r.deleteRows(ctx, tx, rec, rec.Before[start:min(len(rec.Before), start+rollbackChunk)]); err != nil {
			return err
		}
	}
	for start := 0; start < len(rec.Before); start += rollbackChunk {
		if err := r.reinsert(ctx, tx, rec, rec.Before[start:min(len(rec.Before), start+rollbackChunk)]); err != nil {
			return err
		}
	}
	return nil
}
