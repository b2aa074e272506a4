package mysql

import (
	"context"
	"database/sql/driver"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// deletePlan is DELETE, single- or multi-table.
type deletePlan struct {
	query   string
	nargs   int
	refs    []tableRef // every base table of the FROM clause
	targets []int      // the ones rows are deleted from
	clauses
	orderBy []orderItem
	keyed   bool // its WHERE reads through a subquery: see keyed.go
}

func (p *planner) delete(s *ast.DeleteStmt) (datasource.Statement, error) {
	if s.With != nil {
		return nil, datasource.Unsupported(p.query, "DELETE with a WITH clause is not supported")
	}
	d := &deletePlan{query: p.query, nargs: p.nargs, refs: tables(s.TableRefs.TableRefs), orderBy: orderItems(s.Order)}
	if len(d.refs) == 0 {
		return nil, datasource.Unsupported(p.query, "DELETE from no base table")
	}
	if err := p.choosesRowsDeterministically(s.TableRefs, s.Order, s.Limit); err != nil {
		return nil, err
	}
	keyable := len(d.refs) == 1 && !s.IsMultiTable && s.Order == nil && s.Limit == nil && !s.IgnoreErr
	keyed, err := p.whereKeyed(s.Where, keyable)
	if err != nil {
		return nil, err
	}
	d.keyed = keyed
	if s.IsMultiTable && s.Tables != nil {
		for _, tn := range s.Tables.Tables {
			found := -1
			for i, r := range d.refs {
				if strings.EqualFold(tn.Name.O, r.ref()) && (tn.Schema.O == "" || strings.EqualFold(tn.Schema.O, r.schema)) {
					found = i
					break
				}
			}
			if found < 0 {
				return nil, datasource.Unsupported(p.query, "DELETE target %q is not a base table of the statement", tn.Name.O)
			}
			d.targets = append(d.targets, found)
		}
	} else {
		d.targets = []int{0}
	}
	if d.clauses, err = p.rowClauses(s.TableRefs, s.Where, s.Order, s.Limit); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *deletePlan) Kind() datasource.Kind { return datasource.Write }

func (d *deletePlan) LockKeys(context.Context, *datasource.Exec, []driver.NamedValue) error {
	return nil
}

func (d *deletePlan) Exec(ctx context.Context, x *datasource.Exec, args []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	if err := start(ctx, x, d.query, d.nargs, args); err != nil {
		return nil, err
	}
	metas, err := loadTables(ctx, x, d.refs)
	if err != nil {
		return nil, err
	}
	for k, i := range d.targets {
		for _, o := range d.targets[:k] {
			if metas[o].Name == metas[i].Name {
				return nil, datasource.Unsupported(d.query, "table %s is deleted from under two names (%s, %s): one row would get two undo records", metas[i].Name, d.refs[o].ref(), d.refs[i].ref())
			}
		}
		if err := datasource.RefuseWrite(datasource.TableWrite{Statement: d.query, Op: datasource.OpDelete, Undo: x.InGlobalTx()}, metas[i]); err != nil {
			return nil, err
		}
	}
	if len(d.refs) == 1 {
		if err := totalOrder(d.query, !d.limit.empty(), d.orderBy, d.refs[0].ref(), metas[0]); err != nil {
			return nil, err
		}
	}
	befores, total := make([][]undo.Row, len(d.targets)), 0
	for ti, i := range d.targets {
		if befores[ti], err = d.beforeImage(ctx, x, i, metas[i], args); err != nil {
			return nil, err
		}
		total += len(befores[ti])
	}
	cascades, err := d.cascades(ctx, x, metas, befores)
	if err != nil {
		return nil, err
	}
	if d.keyed {
		res, err := d.execKeyed(ctx, x, metas[0], befores[0], cascades.CascadeDeleted(), args)
		if err != nil {
			return nil, err
		}
		return res, cascades.Record(ctx, x)
	}
	res, err := run()
	if err != nil {
		return nil, err
	}
	n, err := rowsAffected(res)
	if err != nil {
		return nil, err
	}
	if n > int64(total) || n < int64(total-cascades.CascadeDeleted()) {
		return nil, txc.Errorf(txc.CodeUnsupported, "datasource/mysql: the DELETE removed %d rows but its image selected %d (triggers, or an ORDER BY … LIMIT that is not a total order?): %s", n, total, datasource.Shorten(d.query))
	}
	for ti, i := range d.targets {
		m := metas[i]
		x.Add(undo.Record{Table: m.Name, Kind: undo.Delete, Before: befores[ti], PK: m.PK})
	}
	return res, cascades.Record(ctx, x)
}

// beforeImage reads and locks the rows the DELETE removes from refs[i]
// (metadata m), and checks their global locks.
func (d *deletePlan) beforeImage(ctx context.Context, x *datasource.Exec, i int, m *datasource.Table, args []driver.NamedValue) ([]undo.Row, error) {
	q := &query{}
	q.add("SELECT "+allColumns(d.refs[i].ref(), m)+" FROM ").frag(d.from, args)
	if !d.where.empty() {
		q.add(" WHERE ").frag(d.where, args)
	}
	if !d.order.empty() {
		q.add(" ").frag(d.order, args)
	}
	if !d.limit.empty() {
		q.add(" ").frag(d.limit, args)
	}
	q.add(" FOR UPDATE")
	rows, err := tableRows(ctx, x, m, q, 0, len(d.refs) > 1)
	if err != nil {
		return nil, err
	}
	rows = datasource.Dedupe(m.PK, rows)
	return rows, x.Guard(ctx, m.Name, m.PK, rows, false)
}

// cascades images the rows the referential actions of foreign keys
// referencing the deleted rows write (see datasource.ImageCascades). All
// the targets are roots: an action may reach the rows of another.
func (d *deletePlan) cascades(ctx context.Context, x *datasource.Exec, metas []*datasource.Table, befores [][]undo.Row) (*datasource.Cascades, error) {
	if !slices.ContainsFunc(d.targets, func(i int) bool { return len(metas[i].Hazards.Cascades) > 0 }) {
		return nil, nil
	}
	roots := make([]datasource.CascadeRoot, len(d.targets))
	for ti, i := range d.targets {
		roots[ti] = datasource.CascadeRoot{Table: metas[i], Op: datasource.OpDelete, Rows: befores[ti]}
	}
	return datasource.ImageCascades(ctx, x, d.query, roots)
}
