package mysql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// query builds generated SQL with its arguments: statement arguments
// (already converted by database/sql) and values of images.
type query struct {
	sb   strings.Builder
	args []any
}

func (q *query) add(s string) *query { q.sb.WriteString(s); return q }

// frag appends f with the statement arguments it takes.
func (q *query) frag(f frag, args []driver.NamedValue) *query {
	q.sb.WriteString(f.sql)
	for _, i := range f.args {
		q.args = append(q.args, args[i].Value)
	}
	return q
}

// value appends an image value as a parameter.
func (q *query) value(v undo.Value) error {
	expr, arg, err := undo.MySQLParam(v)
	if err != nil {
		return err
	}
	q.sb.WriteString(expr)
	q.args = append(q.args, arg)
	return nil
}

func (q *query) String() string { return q.sb.String() }

// columns writes ref.`c1`, ref.`c2`, … (ref may be empty).
func columns(ref string, cols []string) string { return datasource.ColumnList(quoteIdent, ref, cols) }

// keyIn appends "(pk) IN ((…), …)" for the keys of rows (images of t
// holding its pk columns). A TIMESTAMP key value is an instant in UTC
// (see exactTimestamps), which the session reads in its own zone: it is
// converted to that zone here.
func (q *query) keyIn(ref string, t *datasource.Table, rows []undo.Row) error {
	pk := t.PK
	if len(pk) == 1 {
		q.add(columns(ref, pk))
	} else {
		q.add("(" + columns(ref, pk) + ")")
	}
	q.add(" IN (")
	for i, r := range rows {
		if i > 0 {
			q.add(", ")
		}
		if len(pk) > 1 {
			q.add("(")
		}
		for j, c := range pk {
			if j > 0 {
				q.add(", ")
			}
			v, ok := r.Get(c)
			if !ok {
				return txc.Errorf(txc.CodeInternal, "datasource/mysql: key image lacks column %q", c)
			}
			local := meta(t).isTimestamp(c) && !v.IsNull() && !strings.HasPrefix(v.Str(), "0000-00-00")
			if local {
				q.add("CONVERT_TZ(")
			}
			if err := q.value(v); err != nil {
				return err
			}
			if local {
				q.add(", '+00:00', @@session.time_zone)")
			}
		}
		if len(pk) > 1 {
			q.add(")")
		}
	}
	q.add(")")
	return nil
}

// afterQueries counts the after-image queries afterImage ran (tests read
// it through export_test.go).
var afterQueries atomic.Int64

// afterImage reads the rows of table with the keys of keyRows, as a
// locking read (the statement's own locks already hold them).
func afterImage(ctx context.Context, x *datasource.Exec, t *datasource.Table, keyRows []undo.Row) ([]undo.Row, error) {
	if len(keyRows) == 0 {
		return nil, nil
	}
	var out []undo.Row
	for start := 0; start < len(keyRows); start += 500 {
		chunk := keyRows[start:min(len(keyRows), start+500)]
		q := &query{}
		q.add("SELECT " + allColumns("", t) + " FROM " + Dialect{}.QuoteTable(t.Name) + " WHERE ")
		if err := q.keyIn("", t, chunk); err != nil {
			return nil, err
		}
		// Locking read: a plain one could return the snapshot of the
		// local transaction instead of the row the statement wrote.
		q.add(" FOR UPDATE")
		afterQueries.Add(1)
		rows, err := tableRows(ctx, x, t, q, 0, false)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

// pairAfter orders after so that after[i] has the key of keys[i].
func pairAfter(t *datasource.Table, keys []undo.Row, after []undo.Row) ([]undo.Row, error) {
	byKey := make(map[string]undo.Row, len(after))
	for _, r := range after {
		byKey[datasource.RowKey(t.PK, r)] = r
	}
	out := make([]undo.Row, len(keys))
	for i, k := range keys {
		r, ok := byKey[datasource.RowKey(t.PK, k)]
		if !ok {
			return nil, txc.Errorf(txc.CodeUnsupported, "datasource/mysql: row (%s) of %s not found after the statement", datasource.RowKey(t.PK, k), t.Name)
		}
		out[i] = r
	}
	return out, nil
}

// diffRecords turns the before and after images of the rows a statement
// may have touched into records: rows only before were deleted, rows only
// after inserted, rows in both updated (unchanged ones dropped). Undone
// newest first, inserted rows are deleted before deleted rows come back.
func diffRecords(x *datasource.Exec, t *datasource.Table, before, after []undo.Row) diffCounts {
	inAfter := make(map[string]undo.Row, len(after))
	for _, r := range after {
		inAfter[datasource.RowKey(t.PK, r)] = r
	}
	inBefore := make(map[string]bool, len(before))
	var del, ub, ua, ins []undo.Row
	same := 0
	for _, b := range before {
		k := datasource.RowKey(t.PK, b)
		inBefore[k] = true
		if a, ok := inAfter[k]; ok {
			if !a.Equal(b) {
				ub, ua = append(ub, b), append(ua, a)
			} else {
				same++
			}
		} else {
			del = append(del, b)
		}
	}
	for _, a := range after {
		if !inBefore[datasource.RowKey(t.PK, a)] {
			ins = append(ins, a)
		}
	}
	x.Add(undo.Record{Table: t.Name, Kind: undo.Delete, Before: del, PK: t.PK})
	x.Add(undo.Record{Table: t.Name, Kind: undo.Update, Before: ub, After: ua, PK: t.PK})
	x.Add(undo.Record{Table: t.Name, Kind: undo.Insert, After: ins, PK: t.PK})
	return diffCounts{ins: len(ins), del: len(del), upd: len(ub), same: same}
}

// diffCounts counts the rows of diffRecords by what happened to them.
type diffCounts struct{ ins, del, upd, same int }

func rowsAffected(res driver.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("datasource/mysql: rows affected: %w", err)
	}
	return n, nil
}

// resolve finds the table a (possibly qualified) column of a multi-table
// statement belongs to.
func resolve(q string, refs []tableRef, metas []*datasource.Table, qual, col string) (int, string, error) {
	found, name := -1, ""
	for i, r := range refs {
		if qual != "" && !strings.EqualFold(qual, r.ref()) {
			continue
		}
		if c, ok := metas[i].Column(col); ok {
			if found >= 0 {
				return 0, "", datasource.Unsupported(q, "column %q is ambiguous", col)
			}
			found, name = i, c
		}
	}
	if found < 0 {
		if len(refs) == 1 {
			return 0, col, nil // let the database report it
		}
		return 0, "", datasource.Unsupported(q, "column %q matches no written table", col)
	}
	return found, name, nil
}

// withColumns returns the metadata of ref holding every column in cols:
// a column missing from the cached metadata (a column added since it was
// loaded) makes it reload once; still missing, the statement is refused,
// since its images would leave the column out.
func withColumns(ctx context.Context, x *datasource.Exec, query string, ref tableRef, m *datasource.Table, cols []string) (*datasource.Table, error) {
	missing := func(m *datasource.Table) string {
		for _, c := range cols {
			if !slices.ContainsFunc(m.AllColumns, func(a string) bool { return strings.EqualFold(a, c) }) {
				return c
			}
		}
		return ""
	}
	if missing(m) == "" {
		return m, nil
	}
	x.Forget(ref.schema, ref.name)
	m, err := x.Table(ctx, ref.schema, ref.name)
	if err != nil {
		return nil, err
	}
	if c := missing(m); c != "" {
		return nil, datasource.Unsupported(query, "column %q is not a column of %s", c, m.Name)
	}
	return m, nil
}

func loadTables(ctx context.Context, x *datasource.Exec, refs []tableRef) ([]*datasource.Table, error) {
	metas := make([]*datasource.Table, len(refs))
	for i, r := range refs {
		t, err := x.Table(ctx, r.schema, r.name)
		if err != nil {
			return nil, err
		}
		metas[i] = t
	}
	return metas, nil
}
