package datasource

import (
	"context"
	"database/sql/driver"
	"io"
	"reflect"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource/undo"
)

// Returner is a Write Statement that can also run as a query: the
// application ran it with database/sql's Query, to read the rows its own
// RETURNING list gives (an ORM reading back generated keys does so).
// Query does everything Exec does, then returns exactly the rows and
// columns the wrapped driver would have returned for the user's
// statement (no columns and no rows for one without RETURNING). A
// dialect whose statements cannot return rows does not implement it, and
// such a query is refused before it runs.
type Returner interface {
	Query(ctx context.Context, x *Exec, args []driver.NamedValue) (driver.Rows, error)
}

// QueryReturning runs a write whose first n result columns are the
// executor's images and whose remaining columns are what the application
// asked for. It returns the images, and the application's rows read in
// full (with their column types) so that the statement is complete, and
// its undo records can be added, before the application reads any row.
func (x *Exec) QueryReturning(ctx context.Context, query string, args []driver.NamedValue, n int) ([]undo.Row, driver.Rows, error) {
	st, err := x.c.cached(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	rows, err := queryStmt(ctx, st, args)
	if err != nil {
		return nil, nil, err
	}
	return x.c.readSplit(rows, n)
}

// readSplit reads rows, the first n columns of each as an image and the
// rest as the application's values, and closes rows.
func (c *conn) readSplit(rows driver.Rows, n int) ([]undo.Row, driver.Rows, error) {
	defer rows.Close()
	cols := rows.Columns()
	if n > len(cols) {
		return nil, nil, txc.Errorf(txc.CodeInternal, "datasource: the write returned %d columns, fewer than its %d image columns", len(cols), n)
	}
	types := make([]string, len(cols))
	if tn, ok := rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		for i := range cols {
			types[i] = tn.ColumnTypeDatabaseTypeName(i)
		}
	}
	// The application's columns, with their types (none when the
	// statement has no RETURNING of its own, or for an image query).
	user := &bufferedRows{cols: cols[n:], types: make([]columnType, len(cols)-n)}
	w := &wrappedRows{r: rows}
	for i := range user.types {
		t := &user.types[i]
		t.name = types[n+i]
		t.length, t.hasLength = w.ColumnTypeLength(n + i)
		t.nullable, t.hasNullable = w.ColumnTypeNullable(n + i)
		t.precision, t.scale, t.hasPrecision = w.ColumnTypePrecisionScale(n + i)
		t.scan = w.ColumnTypeScanType(n + i)
	}
	dest := make([]driver.Value, len(cols))
	var images []undo.Row
	for {
		if err := rows.Next(dest); err == io.EOF {
			break
		} else if err != nil {
			return nil, nil, err
		}
		row := make(undo.Row, n)
		for i, v := range dest[:n] {
			if b, ok := v.([]byte); ok {
				v = append([]byte(nil), b...)
			}
			val, err := c.res.dialect.Value(types[i], v)
			if err != nil {
				return nil, nil, txc.Errorf(txc.CodeOf(err), "datasource: column %q: %v", cols[i], err)
			}
			row[i] = undo.Column{Name: cols[i], Value: val}
		}
		images = append(images, row)
		if len(cols) == n {
			continue // no columns of the application's: no rows for it
		}
		vals := make([]driver.Value, len(cols)-n)
		for i, v := range dest[n:] {
			if b, ok := v.([]byte); ok {
				v = append([]byte(nil), b...)
			}
			vals[i] = v
		}
		user.rows = append(user.rows, vals)
	}
	if err := rows.Close(); err != nil {
		return nil, nil, err
	}
	return images, user, nil
}

var (
	_ driver.Rows                           = (*bufferedRows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*bufferedRows)(nil)
	_ driver.RowsColumnTypeLength           = (*bufferedRows)(nil)
	_ driver.RowsColumnTypeNullable         = (*bufferedRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*bufferedRows)(nil)
	_ driver.RowsColumnTypeScanType         = (*bufferedRows)(nil)
)

// bufferedRows is a result set read in full, with the column types the
// wrapped driver reported for it.
type bufferedRows struct {
	cols  []string
	types []columnType
	rows  [][]driver.Value
	next  int
}

type columnType struct {
	name                  string
	length                int64
	hasLength             bool
	nullable, hasNullable bool
	precision, scale      int64
	hasPrecision          bool
	scan                  reflect.Type
}

func (b *bufferedRows) Columns() []string { return b.cols }
func (b *bufferedRows) Close() error      { b.rows, b.next = nil, 0; return nil }

func (b *bufferedRows) Next(dest []driver.Value) error {
	if b.next >= len(b.rows) {
		return io.EOF
	}
	copy(dest, b.rows[b.next])
	b.next++
	return nil
}

func (b *bufferedRows) ColumnTypeDatabaseTypeName(i int) string { return b.types[i].name }
func (b *bufferedRows) ColumnTypeLength(i int) (int64, bool) {
	return b.types[i].length, b.types[i].hasLength
}
func (b *bufferedRows) ColumnTypeNullable(i int) (bool, bool) {
	return b.types[i].nullable, b.types[i].hasNullable
}
func (b *bufferedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	t := b.types[i]
	return t.precision, t.scale, t.hasPrecision
}
func (b *bufferedRows) ColumnTypeScanType(i int) reflect.Type { return b.types[i].scan }
