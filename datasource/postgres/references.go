package postgres

import (
	"context"
	"database/sql"

	"github.com/txcio/txc/datasource"
)

var _ datasource.Referrers = Dialect{}

// referencesSQL lists the foreign keys that reference a table or any of
// its partition ancestors (a foreign key to a partitioned table covers
// its partitions; the ancestors of a table that is not a partition are
// none), one row per column pair, in key order. Only top-level
// constraints: the copies PostgreSQL keeps per partition repeat them.
const referencesSQL = `SELECT c.conname, n.nspname, r.relname, a.attname, p.attname
FROM pg_catalog.pg_constraint c
JOIN pg_catalog.pg_class r ON r.oid = c.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(ck, pk, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.ck
JOIN pg_catalog.pg_attribute p ON p.attrelid = c.confrelid AND p.attnum = k.pk
WHERE c.contype = 'f' AND c.conparentid = 0
  AND c.confrelid IN (SELECT $1::text::regclass UNION SELECT relid FROM pg_catalog.pg_partition_ancestors($1::text::regclass))
ORDER BY c.oid, k.ord`

// References lists the foreign keys referencing table from the catalog.
func (d Dialect) References(ctx context.Context, tx *sql.Tx, table string) ([]datasource.Reference, error) {
	rows, err := tx.QueryContext(ctx, referencesSQL, d.QuoteTable(table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []datasource.Reference
	var last string
	for rows.Next() {
		var name, sch, tb, col, refCol string
		if err := rows.Scan(&name, &sch, &tb, &col, &refCol); err != nil {
			return nil, err
		}
		t := nameOf(sch, tb)
		if len(out) == 0 || last != name+"\x00"+t {
			out = append(out, datasource.Reference{Name: name, Table: t})
			last = name + "\x00" + t
		}
		r := &out[len(out)-1]
		r.Columns = append(r.Columns, col)
		r.RefColumns = append(r.RefColumns, refCol)
	}
	return out, rows.Err()
}
