package datasource

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/txcio/txc/datasource/undo"
	"github.com/txcio/txc/rm"
)

// A statement that changes primary keys is recorded as a Delete record of
// the rows it moved away from, then an Insert record of the rows it moved
// them to, row i of one being row i of the other (both dialects' UPDATE
// executors): undone one record at a time, the moved rows are deleted and
// their old rows inserted back, which no state in between lets meet on a
// unique key.
//
// When rows of another table reference a moved row through a unique
// column the statement kept (a foreign key to parent(code) while the key
// is id), that delete would remove, for a moment, a value rows still
// reference: the references check refuses it (and would refuse it at
// every retry), and on PostgreSQL the delete would fire the foreign
// key's ON DELETE action. Such a pair is undone as one key-changing
// Update instead: each moved row is updated back to its old key and
// values in place, so a kept value never goes away and no referential
// action fires.

// undoMoved undoes del and ins (ins the newer record) together, moving
// the rows back in place, when they are such a pair and rows reference
// values of ins's rows that del's rows hold again (see above). It
// reports false, having written nothing, when the records are to be
// undone one at a time.
func (r *Resource) undoMoved(ctx context.Context, tx *sql.Tx, b rm.Branch, del, ins *undo.Record) (bool, error) {
	if !movePair(del, ins) {
		return false, nil
	}
	if err := r.checkDirty(ctx, tx, b, ins); err != nil {
		return true, err
	}
	var refd *ReferencedError
	if err := r.checkReferences(ctx, tx, b, ins); !errors.As(err, &refd) {
		return false, err // nil: no row is referenced, so the delete is safe
	}
	moved := &undo.Record{Table: ins.Table, Kind: undo.Update, Before: del.Before, After: ins.After, PK: ins.PK, LockTable: ins.LockTable}
	if err := r.checkReferences(ctx, tx, b, moved); err != nil {
		return true, err // a referenced value would change back: refused as for any Update
	}
	// del's old keys must be free but for those ins's rows hold now.
	freed, old := keySet(ins.PK, ins.After), keySet(del.PK, del.Before)
	if err := r.checkDirty(ctx, tx, b, withRows(del, del.PK, del.Before, freed)); err != nil {
		return true, err
	}
	if err := r.checkHazards(ctx, tx, b, ins.Table); err != nil {
		return true, err
	}
	if err := r.moveBack(ctx, tx, moved); err != nil {
		return true, err
	}
	if err := r.verifyRestored(ctx, tx, b, del); err != nil {
		return true, err
	}
	return true, r.verifyRestored(ctx, tx, b, withRows(ins, ins.PK, ins.After, old))
}

// movePair reports whether del and ins, adjacent in an undo log, have the
// shape of a key change's pair of records: the same table and key, as
// many rows deleted as inserted.
func movePair(del, ins *undo.Record) bool {
	return del.Kind == undo.Delete && ins.Kind == undo.Insert && del.Table == ins.Table &&
		len(del.Before) > 0 && len(del.Before) == len(ins.After) && slices.Equal(del.PK, ins.PK)
}

// moveBack updates each row of m (an Update whose rows changed keys) from
// its After key back to its Before image. A row goes back once no other
// row still to move holds its old key (a statement that shifted keys,
// k to k+1, is undone from the free end); rows whose old keys form a
// cycle (a swap, only possible in one statement under a deferrable key)
// are written in order, which the deferred checks accept.
func (r *Resource) moveBack(ctx context.Context, tx *sql.Tx, m *undo.Record) error {
	held := make(map[string]int, len(m.After)) // current key → row still to move
	for i, a := range m.After {
		held[RowKey(m.PK, a)] = i
	}
	pending := make([]int, len(m.After))
	for i := range pending {
		pending[i] = i
	}
	for len(pending) > 0 {
		var next []int
		for _, i := range pending {
			if j, ok := held[RowKey(m.PK, m.Before[i])]; ok && j != i {
				next = append(next, i) // its old key is not free yet
				continue
			}
			if err := r.restoreRow(ctx, tx, m, m.Before[i], m.After[i]); err != nil {
				return err
			}
			delete(held, RowKey(m.PK, m.After[i]))
		}
		if len(next) == len(pending) {
			for _, i := range next { // a cycle: written as they come
				if err := r.restoreRow(ctx, tx, m, m.Before[i], m.After[i]); err != nil {
					return err
				}
			}
			return nil
		}
		pending = next
	}
	return nil
}

// keySet is the set of the row keys (RowKey) of rows.
func keySet(pk []string, rows []undo.Row) map[string]bool {
	out := make(map[string]bool, len(rows))
	for _, r := range rows {
		out[RowKey(pk, r)] = true
	}
	return out
}

// withRows is a copy of rec holding only those of rows (its Before for a
// Delete, its After for an Insert) whose keys are not in skip.
func withRows(rec *undo.Record, pk []string, rows []undo.Row, skip map[string]bool) *undo.Record {
	c := *rec
	var kept []undo.Row
	for _, row := range rows {
		if !skip[RowKey(pk, row)] {
			kept = append(kept, row)
		}
	}
	if rec.Kind == undo.Delete {
		c.Before = kept
	} else {
		c.After = kept
	}
	return &c
}
