package mysql

import (
	"context"
	"database/sql/driver"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/txcio/txc/datasource"
)

// lockPlan is SELECT … FOR UPDATE: before the rows are returned, their
// global locks are checked (see datasource.Exec.Guard).
type lockPlan struct {
	query string
	nargs int
	refs  []tableRef
	clauses
}

func (p *planner) lockingRead(s *ast.SelectStmt) (datasource.Statement, error) {
	if s.From == nil {
		return passthrough{}, nil
	}
	l := &lockPlan{query: p.query, nargs: p.nargs}
	all := tables(s.From.TableRefs)
	if len(s.LockInfo.Tables) > 0 {
		for _, tn := range s.LockInfo.Tables {
			for _, r := range all {
				if strings.EqualFold(tn.Name.O, r.ref()) {
					l.refs = append(l.refs, r)
				}
			}
		}
	} else {
		l.refs = all
	}
	var err error
	// With grouping or DISTINCT the LIMIT counts groups: lock keys are
	// read without it (a superset of the rows).
	order, limit := s.OrderBy, s.Limit
	if s.GroupBy != nil || s.Having != nil || s.Distinct {
		order, limit = nil, nil
	}
	if l.clauses, err = p.rowClauses(s.From, s.Where, order, limit); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *lockPlan) Kind() datasource.Kind { return datasource.LockingRead }

func (l *lockPlan) Exec(context.Context, *datasource.Exec, []driver.NamedValue, func() (driver.Result, error)) (driver.Result, error) {
	return nil, datasource.Unsupported(l.query, "not a write")
}

// LockKeys reads the primary keys of the selected rows of each locked
// table with FOR UPDATE and waits for their global locks.
func (l *lockPlan) LockKeys(ctx context.Context, x *datasource.Exec, args []driver.NamedValue) error {
	if err := start(ctx, x, l.query, l.nargs, args); err != nil {
		return err
	}
	for _, r := range l.refs {
		m, err := x.Table(ctx, r.schema, r.name)
		if err != nil {
			return err
		}
		// TIMESTAMP key columns are read as instants too (see
		// exactTimestamps), so that their lock keys are the writes'.
		var ts []int
		list := columns(r.ref(), m.PK)
		for k, c := range m.PK {
			if meta(m).isTimestamp(c) {
				ts = append(ts, k)
				list += ", UNIX_TIMESTAMP(" + columns(r.ref(), []string{c}) + ")"
			}
		}
		q := &query{}
		q.add("SELECT "+list+" FROM ").frag(l.from, args)
		if !l.where.empty() {
			q.add(" WHERE ").frag(l.where, args)
		}
		if !l.order.empty() {
			q.add(" ").frag(l.order, args)
		}
		if !l.limit.empty() {
			q.add(" ").frag(l.limit, args)
		}
		q.add(" FOR UPDATE")
		rows, err := x.Query(ctx, q.String(), q.args...)
		if err != nil {
			return err
		}
		for i, row := range rows {
			if err := exactTimestamps(row, ts, len(m.PK)); err != nil {
				return err
			}
			rows[i] = row[:len(m.PK)]
		}
		if err := x.Guard(ctx, m.Name, m.PK, datasource.Dedupe(m.PK, rows), true); err != nil {
			return err
		}
	}
	return nil
}
