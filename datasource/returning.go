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
//
// A LockingRead Statement may implement it too: Query then runs the
// statement once, checks the global locks of the rows it locked (as
// LockKeys does) and returns its rows, instead of LockKeys reading the
// keys and the application's statement running again (which, where the
// second run can see rows the first did not, returns rows unchecked).
type Returner interface {
	Query(ctx context.Context, x *Exec, args []driver.NamedValue) (driver.Rows, error)
}

// QueryReturning runs a write whose first n result columns are the
// executor's images and whose remaining columns are what the application
// asked for. It returns the images, and the application's rows read in
// full (with their column types) so that the statement is complete, and
// its undo records can be added, before the application reads any row.
func (x *Exec) QueryReturning(ctx context.Context, query string, args []driver.NamedValue, n int) ([]undo.Row, driver.Rows, error) {
	return x.querySplit(ctx, query, args, 0, n, false)
}

// querySplit runs query as a prepared statement of the connection and
// reads its rows with split.
func (x *Exec) querySplit(ctx context.Context, query string, args []driver.NamedValue, at, n int, always bool) ([]undo.Row, driver.Rows, error) {
	st, err := x.c.cached(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	rows, err := queryStmt(ctx, st, args)
	if err != nil {
		return nil, nil, err
	}
	return x.c.split(rows, at, n, always)
}

// readSplit reads rows, the first n columns of each as an image and the
// rest as the application's values, and closes rows. The application gets
// no rows when it has no columns (a write without RETURNING).
func (c *conn) readSplit(rows driver.Rows, n int) ([]undo.Row, driver.Rows, error) {
	return c.split(rows, 0, n, false)
}

// split reads rows, columns [at, at+n) of each as an image (at < 0: the
// last n) and the others, in order, as the application's values, and
// closes rows. With always, the application gets one row per row read
// even if it has no columns (a SELECT with an empty select list).
func (c *conn) split(rows driver.Rows, at, n int, always bool) ([]undo.Row, driver.Rows, error) {
	defer rows.Close()
	cols := rows.Columns()
	if n > len(cols) {
		return nil, nil, txc.Errorf(txc.CodeInternal, "datasource: the statement returned %d columns, fewer than its %d image columns", len(cols), n)
	}
	if at < 0 {
		at = len(cols) - n
	}
	types := make([]string, len(cols))
	if tn, ok := rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		for i := range cols {
			types[i] = tn.ColumnTypeDatabaseTypeName(i)
		}
	}
	// The application's columns, with their types (none when the
	// statement has no RETURNING of its own, or for an image query).
	var userCols []int
	for i := range cols {
		if i < at || i >= at+n {
			userCols = append(userCols, i)
		}
	}
	user := bufferFor(rows, types, userCols)
	dest := make([]driver.Value, len(cols))
	var images []undo.Row
	for {
		if err := rows.Next(dest); err == io.EOF {
			break
		} else if err != nil {
			return nil, nil, err
		}
		row := make(undo.Row, n)
		for i, v := range dest[at : at+n] {
			if b, ok := v.([]byte); ok {
				v = append([]byte(nil), b...)
			}
			val, err := c.res.dialect.Value(types[at+i], v)
			if err != nil {
				return nil, nil, txc.Errorf(txc.CodeOf(err), "datasource: column %q: %v", cols[at+i], err)
			}
			row[i] = undo.Column{Name: cols[at+i], Value: val}
		}
		images = append(images, row)
		if len(userCols) == 0 && !always {
			continue // no columns of the application's: no rows for it
		}
		vals := make([]driver.Value, len(userCols))
		for k, i := range userCols {
			v := dest[i]
			if b, ok := v.([]byte); ok {
				v = append([]byte(nil), b...)
			}
			vals[k] = v
		}
		user.rows = append(user.rows, vals)
	}
	if err := rows.Close(); err != nil {
		return nil, nil, err
	}
	return images, user, nil
}

// QueryLocking runs the text of a locking read whose last n result
// columns are the primary keys of the rows it locks (the executor's) and
// whose other columns are the application's select list. It returns the
// keys, and the application's rows read in full (with their column types,
// one per row read): the statement runs once, so the rows the
// application gets are exactly the rows whose keys the caller checks.
func (x *Exec) QueryLocking(ctx context.Context, query string, args []driver.NamedValue, n int) ([]undo.Row, driver.Rows, error) {
	return x.querySplit(ctx, query, args, -1, n, true)
}

var (
	_ driver.Rows                           = (*bufferedRows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*bufferedRows)(nil)
	_ driver.RowsColumnTypeLength           = (*bufferedRows)(nil)
	_ driver.RowsColumnTypeNullable         = (*bufferedRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*bufferedRows)(nil)
	_ driver.RowsColumnTypeScanType         = (*bufferedRows)(nil)
)

// bufferFor returns an empty bufferedRows for columns cols of rows (whose
// database type names are types), with their column types.
func bufferFor(rows driver.Rows, types []string, cols []int) *bufferedRows {
	all := rows.Columns()
	b := &bufferedRows{types: make([]columnType, len(cols))}
	w := &wrappedRows{r: rows}
	for k, i := range cols {
		b.cols = append(b.cols, all[i])
		t := &b.types[k]
		t.name = types[i]
		t.length, t.hasLength = w.ColumnTypeLength(i)
		t.nullable, t.hasNullable = w.ColumnTypeNullable(i)
		t.precision, t.scale, t.hasPrecision = w.ColumnTypePrecisionScale(i)
		t.scan = w.ColumnTypeScanType(i)
	}
	return b
}

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
