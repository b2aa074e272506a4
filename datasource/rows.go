package datasource

import (
	"database/sql/driver"
	"io"
	"reflect"
)

var (
	_ driver.Rows                           = (*wrappedRows)(nil)
	_ driver.RowsNextResultSet              = (*wrappedRows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*wrappedRows)(nil)
	_ driver.RowsColumnTypeLength           = (*wrappedRows)(nil)
	_ driver.RowsColumnTypeNullable         = (*wrappedRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*wrappedRows)(nil)
	_ driver.RowsColumnTypeScanType         = (*wrappedRows)(nil)
)

// wrappedRows forwards a result set of the wrapped driver. A method the
// wrapped rows lack answers as database/sql does without it.
type wrappedRows struct {
	r    driver.Rows
	stmt driver.Stmt // if set, the statement of r, closed with it
}

func (w *wrappedRows) Columns() []string { return w.r.Columns() }

// Close closes the rows, then their statement if they own one.
func (w *wrappedRows) Close() error {
	err := w.r.Close()
	if w.stmt != nil {
		if serr := w.stmt.Close(); err == nil {
			err = serr
		}
	}
	return err
}

func (w *wrappedRows) Next(dest []driver.Value) error { return w.r.Next(dest) }

func (w *wrappedRows) HasNextResultSet() bool {
	if n, ok := w.r.(driver.RowsNextResultSet); ok {
		return n.HasNextResultSet()
	}
	return false
}

func (w *wrappedRows) NextResultSet() error {
	if n, ok := w.r.(driver.RowsNextResultSet); ok {
		return n.NextResultSet()
	}
	return io.EOF
}

func (w *wrappedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := w.r.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (w *wrappedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := w.r.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (w *wrappedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := w.r.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (w *wrappedRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := w.r.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

var anyType = reflect.TypeFor[any]()

func (w *wrappedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := w.r.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return anyType
}
