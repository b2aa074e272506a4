package mysql

import (
	"context"

	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

var _ datasource.Cascader = Dialect{}

// CascadeTable returns the cached metadata of fk's referencing table
// (read again once older than MetadataMaxAge, as every table's).
func (Dialect) CascadeTable(ctx context.Context, x *datasource.Exec, fk *datasource.ForeignKey) (*datasource.Table, error) {
	return x.Table(ctx, fk.Schema, fk.Table)
}

// LockReferencing reads the images of the rows of t whose cols equal the
// refCols of one of parents, with a locking read: InnoDB locks them, and
// the gaps between them, until the local transaction ends.
func (Dialect) LockReferencing(ctx context.Context, x *datasource.Exec, t *datasource.Table, cols []string, parent *datasource.Table, refCols []string, parents []undo.Row) ([]undo.Row, error) {
	if len(parents) == 0 {
		return nil, nil
	}
	q := &query{}
	q.add("SELECT " + allColumns("", t) + " FROM " + Dialect{}.QuoteTable(t.Name) + " WHERE ")
	if err := q.valuesIn("", cols, parent, refCols, parents); err != nil {
		return nil, err
	}
	q.add(" FOR UPDATE")
	return tableRows(ctx, x, t, q, 0, false)
}

// ReadRows reads the images of the rows of t with the keys of keys (see
// afterImage).
func (Dialect) ReadRows(ctx context.Context, x *datasource.Exec, t *datasource.Table, keys []undo.Row) ([]undo.Row, error) {
	return afterImage(ctx, x, t, keys)
}
