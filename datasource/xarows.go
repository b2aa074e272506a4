package datasource

import (
	"database/sql/driver"
	"io"
)

// buffered reads every row of rows, with their column types, and closes
// rows: the rows of a query run in a branch of its own, read before the
// branch is prepared.
func buffered(rows driver.Rows) (driver.Rows, error) {
	b, err := readAll(rows)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func readAll(rows driver.Rows) (*bufferedRows, error) {
	cols := rows.Columns()
	types := make([]string, len(cols))
	idx := make([]int, len(cols))
	tn, _ := rows.(driver.RowsColumnTypeDatabaseTypeName)
	for i := range cols {
		idx[i] = i
		if tn != nil {
			types[i] = tn.ColumnTypeDatabaseTypeName(i)
		}
	}
	b := bufferFor(rows, types, idx)
	var err error
	for {
		dest := make([]driver.Value, len(cols))
		if err = rows.Next(dest); err != nil {
			break
		}
		for i, v := range dest {
			if p, ok := v.([]byte); ok {
				dest[i] = append([]byte(nil), p...) // the driver may reuse its buffer
			}
		}
		b.rows = append(b.rows, dest)
	}
	if err == io.EOF {
		err = nil
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}
