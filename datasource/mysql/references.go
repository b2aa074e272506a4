package mysql

import (
	"context"
	"database/sql"
	"strings"

	"github.com/txcio/txc/datasource"
)

var _ datasource.Referrers = Dialect{}

// References lists the foreign keys referencing table from
// information_schema (InnoDB's foreign keys, across databases). A table
// name without a database is the connection's current one (phase 2 runs
// in the resource's database); referencing tables in it are named without
// it, as undo records name tables. The scan skips information_schema
// (see notInfoSchema).
func (Dialect) References(ctx context.Context, tx *sql.Tx, table string) ([]datasource.Reference, error) {
	var schema any
	if s, t, ok := strings.Cut(table, "."); ok {
		schema, table = s, t
	}
	rows, err := tx.QueryContext(ctx, `SELECT k.CONSTRAINT_NAME, k.TABLE_SCHEMA, k.TABLE_NAME, k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME, k.TABLE_SCHEMA = DATABASE()
		FROM information_schema.KEY_COLUMN_USAGE k
		WHERE `+notInfoSchema("k.TABLE_SCHEMA")+` AND k.REFERENCED_TABLE_SCHEMA = COALESCE(?, DATABASE()) AND k.REFERENCED_TABLE_NAME = ?
		ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`, schema, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []datasource.Reference
	for rows.Next() {
		var name, sch, tb, col, refCol string
		var here bool
		if err := rows.Scan(&name, &sch, &tb, &col, &refCol, &here); err != nil {
			return nil, err
		}
		if !here {
			tb = sch + "." + tb
		}
		if n := len(out); n == 0 || out[n-1].Name != name || out[n-1].Table != tb {
			out = append(out, datasource.Reference{Name: name, Table: tb})
		}
		r := &out[len(out)-1]
		r.Columns = append(r.Columns, col)
		r.RefColumns = append(r.RefColumns, refCol)
	}
	return out, rows.Err()
}
