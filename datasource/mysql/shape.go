package mysql

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// Image queries select every column of the table as the server has it
// now (`ref`.*), not the columns the cached metadata lists: a column
// added since (ALTER TABLE ADD COLUMN) then shows in the result, where a
// list of the cached columns would leave it out of the before image and
// a rollback that re-inserts a deleted row would lose its value. The
// result's columns (names, types, nullability) are compared with the
// shape LoadTable recorded; a difference is a *datasource.TableChangedError
// (the proxy reads the metadata again and runs the statement once more
// when it came before the statement ran). Once a local transaction has
// read a table this way, the table's definition cannot change until it
// ends: its statements hold the table's metadata lock.

// shaper is the Querier that also describes a result's columns
// (datasource.Exec).
type shaper interface {
	QueryShape(ctx context.Context, query string, args ...any) (datasource.Shape, []undo.Row, error)
}

// allColumns is the select list of an image of a table the statement
// names ref ("" for a query of the table alone, which names it t.Name):
// every column `SELECT *` gives, then the INVISIBLE ones by name, then
// UNIX_TIMESTAMP of each TIMESTAMP column (see exactTimestamps).
func allColumns(ref string, t *datasource.Table) string {
	quoted := quoteIdent(ref)
	if ref == "" {
		quoted = Dialect{}.QuoteTable(t.Name)
	}
	m := meta(t)
	s := selectAll(quoted, m.invisible)
	for _, k := range m.timestamps {
		s += ", UNIX_TIMESTAMP(" + quoted + "." + quoteIdent(m.order[k]) + ")"
	}
	return s
}

// selectAll is quoted.*, then quoted.`c` for each invisible column c.
func selectAll(quoted string, invisible []string) string {
	s := quoted + ".*"
	for _, c := range invisible {
		s += ", " + quoted + "." + quoteIdent(c)
	}
	return s
}

// imageOrder is the order of all's columns in an image query: the
// visible ones in table order, then the invisible ones.
func imageOrder(all, invisible []string) []string {
	out := make([]string, 0, len(all))
	for _, c := range all {
		if !slices.Contains(invisible, c) {
			out = append(out, c)
		}
	}
	return append(out, invisible...)
}

// tableRows runs q, an image query whose select list is allColumns of t
// followed by extra columns of its own, checks the table's columns
// against t's metadata (their nullability only when joined is false: an
// outer join reports its inner side's columns nullable), and returns the
// rows cut to t's stored columns followed by the extra ones.
func tableRows(ctx context.Context, x *datasource.Exec, t *datasource.Table, q *query, extra int, joined bool) ([]undo.Row, error) {
	shape, rows, err := x.QueryShape(ctx, q.String(), q.args...)
	if err != nil {
		return nil, err
	}
	m := meta(t)
	n := len(shape) - extra - len(m.timestamps)
	if n < 0 || m.shape == nil {
		return nil, txc.Errorf(txc.CodeInternal, "datasource/mysql: an image of %s returned %d columns for %d of the table (metadata loaded: %v) and %d extra ones", t.Name, len(shape), len(m.shape), m.shape != nil, extra+len(m.timestamps))
	}
	want := m.shape
	if joined {
		want = want.WithoutNull()
	}
	if d := shape[:n].Diff(want); d != "" {
		return nil, &datasource.TableChangedError{Table: t.Name, Detail: d}
	}
	if len(m.timestamps) > 0 {
		for i, r := range rows {
			if err := exactTimestamps(r, m.timestamps, n); err != nil {
				return nil, err
			}
			rows[i] = append(r[:n], r[n+len(m.timestamps):]...)
		}
	}
	stored := m.stored
	if identity(stored, n) {
		return rows, nil
	}
	for i, r := range rows {
		cut := make(undo.Row, 0, len(stored)+extra)
		for _, k := range stored {
			cut = append(cut, r[k])
		}
		rows[i] = append(cut, r[n:]...)
	}
	return rows, nil
}

// storedIndexes returns the index in order (an image query's columns,
// see imageOrder) of each of cols, so that images keep the table's
// column order.
func storedIndexes(cols, order []string) []int {
	out := make([]int, len(cols))
	for i, c := range cols {
		out[i] = slices.Index(order, c)
	}
	return out
}

// exactTimestamps rewrites the TIMESTAMP values of row (at the indexes
// cols) as UTC text, from the UNIX_TIMESTAMP of each found at row[at+k].
// MySQL sends a TIMESTAMP as text in the session's time_zone, which in a
// zone with daylight saving time names two instants during the hour the
// clocks repeat: a rollback writing that text back stored the other one,
// an hour off, also into rows whose TIMESTAMP the statement never set.
// UNIX_TIMESTAMP of a TIMESTAMP column is its stored instant, so images
// hold it as UTC text, which the rollback writes under time_zone +00:00
// (the zone every MySQL undo log records). The fraction is kept as read:
// zone offsets are whole minutes. The zero TIMESTAMP (0000-00-00 …,
// UNIX_TIMESTAMP 0) is no instant and is kept as it is.
func exactTimestamps(row undo.Row, cols []int, at int) error {
	for k, c := range cols {
		local, epoch := row[c].Value, row[at+k].Value
		if local.IsNull() {
			continue
		}
		var secs int64
		switch epoch.Kind() {
		case undo.KindInt:
			secs = epoch.Int64()
		case undo.KindUint:
			secs = int64(epoch.Uint64())
		default:
			whole, _, _ := strings.Cut(epoch.Str(), ".")
			var err error
			if secs, err = strconv.ParseInt(whole, 10, 64); err != nil {
				return txc.Errorf(txc.CodeInternal, "datasource/mysql: UNIX_TIMESTAMP of column %q is %v", row[c].Name, epoch)
			}
		}
		if secs == 0 {
			continue
		}
		text := local.Str()
		_, frac, _ := strings.Cut(text, ".")
		utc := time.Unix(secs, 0).UTC().Format("2006-01-02 15:04:05")
		if frac != "" {
			utc += "." + frac
		}
		row[c].Value = undo.Text(local.Type(), utc)
	}
	return nil
}

// identity reports whether stored is 0, 1, …, n-1.
func identity(stored []int, n int) bool {
	if len(stored) != n {
		return false
	}
	for i, k := range stored {
		if k != i {
			return false
		}
	}
	return true
}

// insertedRows reads the after image of an INSERT with read (an image
// read through tableRows with the metadata it is given). An INSERT
// without a before image may be its local transaction's first statement
// on the table, which may then have changed since its metadata was read:
// the image is read again with metadata read afresh (the definition
// cannot change any more, the INSERT holds the table's metadata lock),
// provided the primary key is the same and the table still takes the
// write w.
func insertedRows(ctx context.Context, x *datasource.Exec, t *datasource.Table, w datasource.TableWrite, read func(t *datasource.Table) ([]undo.Row, error)) ([]undo.Row, error) {
	rows, err := read(t)
	var changed *datasource.TableChangedError
	if !errors.As(err, &changed) {
		return rows, err
	}
	m := meta(t)
	x.ForgetAll()
	fresh, ferr := x.Table(ctx, m.schema, m.table)
	if ferr != nil {
		return nil, errors.Join(err, ferr)
	}
	if fresh.Name != t.Name || !slices.Equal(fresh.PK, t.PK) {
		return nil, err
	}
	if werr := datasource.RefuseWrite(w, fresh); werr != nil {
		return nil, werr
	}
	return read(fresh)
}
