package datasource

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource/undo"
	"github.com/txcio/txc/rm"
)

// Reference is a foreign key that references a table: rows of Table whose
// Columns equal a referenced row's RefColumns (in order) reference it.
type Reference struct {
	Name string
	// Table is the referencing table, named as undo.Record.Table names
	// tables (so QuoteTable quotes it).
	Table      string
	Columns    []string
	RefColumns []string
}

// Referrers is an optional interface of a Dialect: the foreign keys that
// reference a table. The rollback uses it so that it never deletes, nor
// changes the referenced columns of, a row that other rows reference:
// that would cascade into them, orphan them (MySQL rolls back with
// foreign_key_checks off) or fail.
type Referrers interface {
	// References lists, through tx, the foreign keys that reference
	// table (named as in undo.Record.Table).
	References(ctx context.Context, tx *sql.Tx, table string) ([]Reference, error)
}

// ReferencedError reports a row the rollback would delete, or whose
// referenced columns it would change back, while rows outside the undo
// record reference it. Such rows were written after the branch's local
// commit: by another branch of the same global transaction, whose own
// rollback removes them, or by someone else. The rollback changes
// nothing and is retried by the coordinator until they are gone (rolled
// back, or removed by an operator); it is retryable, not permanent, so
// that the first case resolves itself.
type ReferencedError struct {
	XID    txc.XID
	Branch txc.BranchID
	Table  string
	Row    string // the referenced row's referenced values
	By     Reference
}

func (e *ReferencedError) Error() string {
	return fmt.Sprintf("datasource: rollback of branch %d of %s: row (%s) of %s is referenced by rows of %s (foreign key %s); undoing it would delete, orphan or change them, so nothing was changed and the rollback is retried until they are gone",
		e.Branch, e.XID, e.Row, e.Table, e.By.Table, e.By.Name)
}

// checkReferences refuses to undo rec (its rows locked) if a row it
// deletes (an Insert undone) or whose referenced columns it restores (an
// Update undone) is referenced by a row outside rec. A Delete undone
// re-inserts rows nothing can reference.
func (r *Resource) checkReferences(ctx context.Context, tx *sql.Tx, b rm.Branch, rec *undo.Record) error {
	rd, ok := r.dialect.(Referrers)
	if !ok || rec.Kind == undo.Delete || len(rec.After) == 0 {
		return nil
	}
	refs, err := rd.References(ctx, tx, rec.Table)
	if err != nil {
		return fmt.Errorf("datasource: rollback: foreign keys referencing %s: %w", rec.Table, err)
	}
	for _, ref := range refs {
		var gone []undo.Row // after-image rows whose referenced values go away
		for i, a := range rec.After {
			if rec.Kind == undo.Insert || i >= len(rec.Before) || changes(ref.RefColumns, rec.Before[i], a) {
				gone = append(gone, a)
			}
		}
		for start := 0; start < len(gone); start += rollbackChunk {
			chunk := gone[start:min(len(gone), start+rollbackChunk)]
			found, err := r.referencing(ctx, tx, rec, ref, chunk)
			if err != nil {
				return err
			}
			if found != nil {
				return &ReferencedError{XID: b.XID, Branch: b.ID, Table: rec.Table, Row: fmtKey(ref.RefColumns, found), By: ref}
			}
		}
	}
	return nil
}

// changes reports whether a and b differ in any of cols.
func changes(cols []string, a, b undo.Row) bool {
	for _, c := range cols {
		av, _ := a.Get(c)
		bv, _ := b.Get(c)
		if !av.Equal(bv) {
			return true
		}
	}
	return false
}

// referencing returns the referenced values (ref.RefColumns) of one row
// of rows that a row of ref.Table references, not counting rows of rec
// itself (a self-referencing table whose referencing rows the same undo
// removes), or nil.
func (r *Resource) referencing(ctx context.Context, tx *sql.Tx, rec *undo.Record, ref Reference, rows []undo.Row) (undo.Row, error) {
	pred, args, err := r.inPredicate(ref.Columns, ref.RefColumns, rows, 0)
	if err != nil {
		return nil, err
	}
	q := "SELECT " + r.columnList(ref.Columns) + " FROM " + r.dialect.QuoteTable(ref.Table) + " WHERE " + pred
	if ref.Table == rec.Table {
		own, more, err := r.inPredicate(rec.PK, rec.PK, rec.After, len(args))
		if err != nil {
			return nil, err
		}
		q += " AND NOT (" + own + ")"
		args = append(args, more...)
	}
	res, err := tx.QueryContext(ctx, q+" LIMIT 1", args...)
	if err != nil {
		return nil, fmt.Errorf("datasource: rollback: rows of %s referencing %s: %w", ref.Table, rec.Table, err)
	}
	defer res.Close()
	if !res.Next() {
		return nil, res.Err()
	}
	types, err := res.ColumnTypes()
	if err != nil {
		return nil, err
	}
	child, err := r.dialect.ScanRow(res, types)
	if err != nil {
		return nil, err
	}
	// The referenced row's values, under the referenced table's names.
	key := make(undo.Row, len(ref.RefColumns))
	for i, c := range ref.RefColumns {
		key[i] = undo.Column{Name: c, Value: child[i].Value}
	}
	return key, nil
}

// fmtKey is the text of row's values of cols.
func fmtKey(cols []string, row undo.Row) string {
	vals := make([]string, len(cols))
	for i, c := range cols {
		v, _ := row.Get(c)
		vals[i] = c + "=" + KeyString(v)
	}
	return strings.Join(vals, ", ")
}
