package postgres

import (
	"slices"

	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// Identity columns, GENERATED ALWAYS. PostgreSQL refuses a value for one
// in an INSERT unless it says OVERRIDING SYSTEM VALUE, and in an UPDATE
// anything but DEFAULT (which draws a new value from the sequence). A
// rollback writes rows back in both ways:
//
//   - it re-inserts deleted rows with OVERRIDING SYSTEM VALUE (see
//     ReinsertClause), so they get back their own values, and the
//     sequence is not advanced: later inserts go on from where they were;
//   - it restores updated rows by an UPDATE of their non-key columns, so
//     the images of rows updated in place leave such columns out (see
//     updateRecord); a write that assigns one is refused (see
//     datasource.RefuseWrite).
//
// Columns GENERATED ALWAYS AS (expr) STORED are not imaged at all (see
// LoadTable): the database computes them again from the restored row.

var _ datasource.Reinserter = Dialect{}

// ReinsertClause makes a rollback's INSERT of deleted rows write their
// identity columns as imaged. PostgreSQL accepts it on every table; it
// changes nothing for columns other than GENERATED ALWAYS identities
// (BY DEFAULT identities and serial columns take the value given anyway).
func (Dialect) ReinsertClause() string { return "OVERRIDING SYSTEM VALUE" }

// updateRecord is the undo record of rows changed in place. Its images
// leave out the columns GENERATED ALWAYS AS IDENTITY outside the primary
// key: the write did not change them (see datasource.RefuseWrite), and the
// rollback's UPDATE, which writes every non-key column of the before
// image, could not. (Key columns are never written by that UPDATE.) The
// rollback then neither compares nor writes them.
func updateRecord(m *datasource.Table, before, after []undo.Row) undo.Record {
	var drop []string
	for _, c := range m.Hazards.IdentityAlways {
		if !m.IsPK(c) {
			drop = append(drop, c)
		}
	}
	if len(drop) > 0 {
		before, after = without(before, drop), without(after, drop)
	}
	return undo.Record{Table: m.Name, Kind: undo.Update, Before: before, After: after, PK: m.PK, LockTable: m.LockName}
}

// without returns rows without the columns drop names.
func without(rows []undo.Row, drop []string) []undo.Row {
	out := make([]undo.Row, len(rows))
	for i, r := range rows {
		k := make(undo.Row, 0, len(r))
		for _, c := range r {
			if !slices.Contains(drop, c.Name) {
				k = append(k, c)
			}
		}
		out[i] = k
	}
	return out
}
