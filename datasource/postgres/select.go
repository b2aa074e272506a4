package postgres

import (
	"context"
	"database/sql/driver"
	"strconv"
	"sync/atomic"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// lockPlan is SELECT … FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE:
// before the rows are returned, the keys of the rows it locks are read
// (by the same statement, locking the same rows) and their global locks
// checked (see datasource.Exec.Guard).
type lockPlan struct {
	query  string
	nargs  int
	stmt   *pg.SelectStmt
	locked []relRef // the base tables whose rows the statement locks
	texts  atomic.Pointer[lockTexts]
}

type lockTexts struct {
	ts   []*datasource.Table
	keys string
	args []int
	// once is the user's statement with the keys appended to its select
	// list, onceArgs its arguments (see Query).
	once     string
	onceArgs []int
}

func (p *planner) lockingRead(s *pg.SelectStmt) (datasource.Statement, error) {
	l := &lockPlan{query: p.query, nargs: p.nargs, stmt: s}
	f := fromItemsOf(s)
	seen := map[string]bool{}
	add := func(ref string) error {
		r, ok := f.bases[ref]
		if !ok {
			return datasource.Unsupported(p.query, "the locking clause names %q, which is not a base table of the statement", ref)
		}
		if !seen[ref] {
			seen[ref] = true
			l.locked = append(l.locked, r)
		}
		return nil
	}
	for _, lc := range s.LockingClause {
		c := lc.GetLockingClause()
		if c == nil {
			continue
		}
		refs := f.order
		if len(c.LockedRels) == 0 && len(f.others) > 0 {
			return nil, datasource.Unsupported(p.query, "a locking clause without OF over a sub-select, function or WITH query: the rows it locks cannot be keyed")
		}
		if len(c.LockedRels) > 0 {
			refs = nil
			for _, rel := range c.LockedRels {
				refs = append(refs, rel.GetRangeVar().GetRelname())
			}
		}
		for _, ref := range refs {
			if err := add(ref); err != nil {
				return nil, err
			}
		}
	}
	if len(l.locked) == 0 {
		return passthrough{}, nil
	}
	return l, nil
}

// fromItems are the FROM items of a SELECT by the name the statement
// refers to each with: base tables (in order of appearance) and the
// others (sub-selects, joins with an alias, functions, WITH queries).
type fromItems struct {
	bases  map[string]relRef
	order  []string
	others map[string]bool
}

func fromItemsOf(s *pg.SelectStmt) *fromItems {
	ctes := map[string]bool{}
	if s.WithClause != nil {
		for _, c := range s.WithClause.Ctes {
			ctes[c.GetCommonTableExpr().GetCtename()] = true
		}
	}
	f := &fromItems{bases: map[string]relRef{}, others: map[string]bool{}}
	var visit func(n *pg.Node)
	visit = func(n *pg.Node) {
		switch x := n.Node.(type) {
		case *pg.Node_RangeVar:
			r := refOf(x.RangeVar)
			if r.schema == "" && ctes[r.name] {
				f.others[r.ref] = true
				return
			}
			if _, dup := f.bases[r.ref]; !dup {
				f.order = append(f.order, r.ref)
			}
			f.bases[r.ref] = r
		case *pg.Node_JoinExpr:
			if x.JoinExpr.Alias != nil {
				f.others[x.JoinExpr.Alias.Aliasname] = true
			}
			visit(x.JoinExpr.Larg)
			visit(x.JoinExpr.Rarg)
		case *pg.Node_RangeSubselect:
			if x.RangeSubselect.Alias != nil {
				f.others[x.RangeSubselect.Alias.Aliasname] = true
			}
		default:
			f.others[nodeName(n)] = true
		}
	}
	for _, n := range s.FromClause {
		visit(n)
	}
	return f
}

func (l *lockPlan) Kind() datasource.Kind { return datasource.LockingRead }

func (l *lockPlan) Exec(context.Context, *datasource.Exec, []driver.NamedValue, func() (driver.Result, error)) (driver.Result, error) {
	return nil, datasource.Unsupported(l.query, "not a write")
}

// Query runs the statement once with the primary keys of the locked
// tables appended to its select list (positional ORDER BY references
// keep their meaning; a locking read has no DISTINCT, GROUP BY or set
// operation that extra columns could change), waits for the rows' global
// locks, and returns the rows without the keys. Under READ COMMITTED a
// second run could return a row that started to match in between, whose
// global lock nobody checked; one run returns exactly the checked rows.
func (l *lockPlan) Query(ctx context.Context, x *datasource.Exec, args []driver.NamedValue) (driver.Rows, error) {
	ms, tx, err := l.prepare(ctx, x, args)
	if err != nil {
		return nil, err
	}
	keys, rows, err := x.QueryLocking(ctx, tx.once, pick(args, tx.onceArgs), tx.nkeys())
	if err != nil {
		return nil, err
	}
	if err := l.guard(ctx, x, ms, keys); err != nil {
		return nil, err
	}
	return rows, nil
}

func (tx *lockTexts) nkeys() int {
	n := 0
	for _, m := range tx.ts {
		n += len(m.PK)
	}
	return n
}

// prepare checks the arguments and returns the locked tables' metadata
// and the plan's texts for them.
func (l *lockPlan) prepare(ctx context.Context, x *datasource.Exec, args []driver.NamedValue) ([]*datasource.Table, *lockTexts, error) {
	if err := datasource.CheckArgs(l.query, l.nargs, args); err != nil {
		return nil, nil, err
	}
	ms := make([]*datasource.Table, len(l.locked))
	for i, r := range l.locked {
		m, _, err := table(ctx, x, r, false)
		if err != nil {
			return nil, nil, err
		}
		ms[i] = m
	}
	tx, err := l.textsFor(ms)
	if err != nil {
		return nil, nil, err
	}
	return ms, tx, nil
}

// guard waits for the global locks of the rows whose keys (the locked
// tables' primary keys, in table order) rows holds.
func (l *lockPlan) guard(ctx context.Context, x *datasource.Exec, ms []*datasource.Table, rows []undo.Row) error {
	at := 0
	for _, m := range ms {
		var keys []undo.Row
	row:
		for _, r := range rows {
			k := make(undo.Row, len(m.PK))
			for j, c := range m.PK {
				v := r[at+j].Value
				if v.IsNull() { // an outer join without a match
					continue row
				}
				k[j] = undo.Column{Name: c, Value: v}
			}
			keys = append(keys, k)
		}
		at += len(m.PK)
		if err := x.Guard(ctx, m.LockTable(), m.PK, datasource.Dedupe(m.PK, keys), true); err != nil {
			return err
		}
	}
	return nil
}

// LockKeys runs the statement with the primary keys of the locked tables
// as its select list (the user's list kept when ORDER BY may refer to
// it), with the user's own locking clauses, and waits for the rows'
// global locks.
func (l *lockPlan) LockKeys(ctx context.Context, x *datasource.Exec, args []driver.NamedValue) error {
	ms, tx, err := l.prepare(ctx, x, args)
	if err != nil {
		return err
	}
	rows, err := x.QueryArgs(ctx, tx.keys, pick(args, tx.args))
	if err != nil {
		return err
	}
	return l.guard(ctx, x, ms, rows)
}

func (l *lockPlan) textsFor(ms []*datasource.Table) (*lockTexts, error) {
	if tx := l.texts.Load(); tx != nil && len(tx.ts) == len(ms) {
		same := true
		for i := range ms {
			same = same && tx.ts[i] == ms[i]
		}
		if same {
			return tx, nil
		}
	}
	once := clone(l.stmt)
	sel := clone(l.stmt)
	var keys []*pg.Node
	var names []string
	for i, r := range l.locked {
		for j, c := range ms[i].PK {
			name := "txc_k" + strconv.Itoa(i) + "_" + strconv.Itoa(j)
			keys = append(keys, target(colRef(r.ref, c), name))
			names = append(names, name)
		}
	}
	var stmt *pg.SelectStmt
	if len(sel.SortClause) == 0 {
		sel.TargetList = keys
		stmt = sel
	} else {
		// ORDER BY may name output columns: keep them, read ours from
		// a wrapping query.
		sel.TargetList = append(sel.TargetList, keys...)
		outer := make([]*pg.Node, len(names))
		for i, n := range names {
			outer[i] = target(colRef("", n), "")
		}
		stmt = &pg.SelectStmt{TargetList: outer, FromClause: []*pg.Node{{Node: &pg.Node_RangeSubselect{RangeSubselect: &pg.RangeSubselect{
			Subquery: selectNode(sel), Alias: &pg.Alias{Aliasname: "txc_s"}}}}}}
	}
	args := renumber(stmt)
	text, err := deparseChecked(selectNode(stmt))
	if err != nil {
		return nil, txc.Errorf(txc.CodeUnsupported, "datasource/postgres: lock keys of %s: %v", datasource.Shorten(l.query), err)
	}
	tx := &lockTexts{ts: ms, keys: text, args: args}
	for _, k := range keys {
		once.TargetList = append(once.TargetList, clone(k))
	}
	tx.onceArgs = renumber(once)
	if tx.once, err = deparseChecked(selectNode(once)); err != nil {
		return nil, txc.Errorf(txc.CodeUnsupported, "datasource/postgres: lock keys of %s: %v", datasource.Shorten(l.query), err)
	}
	l.texts.Store(tx)
	return tx, nil
}
