package postgres

import (
	"context"
	"encoding/json"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// cascadesSQL lists the foreign keys whose ON DELETE or ON UPDATE action
// writes the referencing rows (CASCADE, SET NULL, SET DEFAULT) among
// those referencing the table $1, a partition ancestor of it (its rows
// are theirs) or a partition of it (its rows include theirs): top-level
// constraints only (PostgreSQL keeps a copy per partition). Column lists
// come as JSON arrays, in key order.
const cascadesSQL = `SELECT c.conname, n.nspname, r.relname, c.confdeltype::text, c.confupdtype::text, c.condeferrable,
 (SELECT pg_catalog.json_agg(a.attname ORDER BY k.o)::text FROM pg_catalog.unnest(c.conkey) WITH ORDINALITY k(n, o)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n),
 (SELECT pg_catalog.json_agg(a.attname ORDER BY k.o)::text FROM pg_catalog.unnest(c.confkey) WITH ORDINALITY k(n, o)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n),
 (SELECT pg_catalog.json_agg(a.attname ORDER BY k.o)::text FROM pg_catalog.unnest(c.confdelsetcols) WITH ORDINALITY k(n, o)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n)
FROM pg_catalog.pg_constraint c
JOIN pg_catalog.pg_class r ON r.oid = c.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
WHERE c.contype = 'f' AND c.conparentid = 0 AND (c.confdeltype IN ('c', 'n', 'd') OR c.confupdtype IN ('c', 'n', 'd'))
  AND c.confrelid IN (SELECT $1::pg_catalog.oid UNION SELECT relid FROM pg_catalog.pg_partition_ancestors($1::pg_catalog.oid::pg_catalog.regclass)
   UNION SELECT relid FROM pg_catalog.pg_partition_tree($1::pg_catalog.oid::pg_catalog.regclass))
ORDER BY n.nspname, r.relname, c.conname`

// loadCascades reads the foreign keys with referential actions that
// reference the table (Hazards.Cascades); the probe says there are some.
func loadCascades(ctx context.Context, q datasource.Querier, t *datasource.Table, pr probe) error {
	rows, err := q.Query(ctx, cascadesSQL, pr.oid)
	if err != nil {
		return err
	}
	for _, r := range rows {
		fk := datasource.ForeignKey{Name: r[0].Value.Str(), Schema: r[1].Value.Str(), Table: r[2].Value.Str(),
			OnDelete: action(r[3].Value.Str()), OnUpdate: action(r[4].Value.Str()), Deferrable: r[5].Value.Boolean()}
		for k, dst := range []*[]string{&fk.Columns, &fk.RefColumns, &fk.DeleteSets} {
			if v := r[6+k].Value; !v.IsNull() {
				if err := json.Unmarshal([]byte(v.Str()), dst); err != nil {
					return txc.Errorf(txc.CodeInternal, "datasource/postgres: columns of foreign key %s: %v", fk.Name, err)
				}
			}
		}
		t.Hazards.Cascades = append(t.Hazards.Cascades, fk)
	}
	return nil
}

// action is the referential action pg_constraint's confdeltype or
// confupdtype names.
func action(code string) datasource.Action {
	switch code {
	case "c":
		return datasource.ActionCascade
	case "n":
		return datasource.ActionSetNull
	case "d":
		return datasource.ActionSetDefault
	}
	return datasource.ActionNone
}

var _ datasource.Cascader = Dialect{}

// CascadeTable returns the metadata of fk's referencing table, probed
// under the lock a write takes, as that of a table the local transaction
// writes (see table).
func (Dialect) CascadeTable(ctx context.Context, x *datasource.Exec, fk *datasource.ForeignKey) (*datasource.Table, error) {
	m, _, err := table(ctx, x, relRef{schema: fk.Schema, name: fk.Table, ref: fk.Table}, true)
	return m, err
}

// LockReferencing reads the rows of t whose cols equal the refCols of one
// of parents, FOR UPDATE: rows of t itself (ONLY), or of its partitions,
// as the referential actions reach them.
func (Dialect) LockReferencing(ctx context.Context, x *datasource.Exec, t *datasource.Table, cols []string, _ *datasource.Table, refCols []string, parents []undo.Row) ([]undo.Row, error) {
	return selectRows(ctx, x, t, cols, refCols, parents, " FOR UPDATE")
}

// ReadRows reads the rows of t with the keys of keys.
func (Dialect) ReadRows(ctx context.Context, x *datasource.Exec, t *datasource.Table, keys []undo.Row) ([]undo.Row, error) {
	return selectRows(ctx, x, t, t.PK, t.PK, keys, "")
}

// selectRows reads the rows of t whose cols equal the vals of one of
// rows, with suffix after the WHERE clause.
func selectRows(ctx context.Context, x *datasource.Exec, t *datasource.Table, cols, vals []string, rows []undo.Row, suffix string) ([]undo.Row, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	in, err := info(t)
	if err != nil {
		return nil, err
	}
	only := "ONLY "
	if in.kind == "p" {
		only = ""
	}
	pred, args, err := datasource.InPredicate(Dialect{}, cols, vals, rows, 0)
	if err != nil {
		return nil, err
	}
	return x.Query(ctx, "SELECT "+columnList("", t.Columns)+" FROM "+only+Dialect{}.QuoteTable(t.Name)+" WHERE "+pred+suffix, args...)
}
