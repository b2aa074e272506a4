package postgres

import (
	"context"
	"database/sql/driver"
	"slices"
	"sync/atomic"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// mergePlan is MERGE, on a server that returns the rows it writes
// (PostgreSQL 17 and later: MERGE … RETURNING with merge_action()).
//
// The target rows a WHEN MATCHED clause may update or delete are the
// target's rows the source joins with the ON condition: they are read
// and locked first (SELECT … FROM target, source WHERE on FOR UPDATE OF
// target), which is their before image. The MERGE then runs with
// RETURNING merge_action() and every column: an inserted or updated row
// as written (the after image), a deleted row as it was. Every updated or
// deleted row must be among the locked ones (a row inserted concurrently
// since then that the MERGE matched has no before image: the local
// transaction is aborted, retry), and a deleted row must be as locked.
//
// Refused before it runs: an older server; WHEN NOT MATCHED BY SOURCE
// … UPDATE or DELETE (it writes target rows no source row joins: the
// before image would be the whole table); an UPDATE that sets a
// primary-key column; a target whose rows foreign keys with referential
// actions reference (the rows they would write are not imaged).
type mergePlan struct {
	query   string
	calls   callees // see checkCalls
	nargs   int
	rel     relRef
	stmt    *pg.MergeStmt // as parsed
	base    *pg.Node      // the MERGE without RETURNING
	ret     string        // its RETURNING list (see writer)
	set     []string      // the columns its UPDATE actions set
	ops     []datasource.WriteOp
	matched bool // some WHEN MATCHED clause updates or deletes
	texts   atomic.Pointer[mergeTexts]
}

// mergeTexts are the statements of one plan on one table's metadata.
type mergeTexts struct {
	t          *datasource.Table
	write      string // the MERGE with RETURNING merge_action(), every column
	keys       string // … with RETURNING the key (under a global lock)
	before     string // the locked before image ("": nothing to update or delete)
	beforeArgs []int
}

// mergeVersion is the first PostgreSQL major version whose MERGE takes a
// RETURNING list.
const mergeVersion = 17

func (p *planner) merge(s *pg.MergeStmt) (datasource.Statement, error) {
	if s.Relation == nil || s.SourceRelation == nil {
		return nil, datasource.Unsupported(p.query, "MERGE without a target or a source")
	}
	mp := &mergePlan{query: p.query, nargs: p.nargs, calls: p.calls.written(s.Relation), rel: refOf(s.Relation), stmt: s}
	for _, n := range s.MergeWhenClauses {
		w := n.GetMergeWhenClause()
		if w == nil {
			return nil, datasource.Unsupported(p.query, "a MERGE clause of kind %s", nodeName(n))
		}
		if err := mp.clause(w); err != nil {
			return nil, err
		}
	}
	ret, base, err := p.withoutReturning(&pg.Node{Node: &pg.Node_MergeStmt{MergeStmt: s}}, &s.ReturningList)
	if err != nil {
		return nil, err
	}
	mp.base, mp.ret = base, ret
	return mp, nil
}

// clause notes what one WHEN clause writes.
func (mp *mergePlan) clause(w *pg.MergeWhenClause) error {
	bySource := w.MatchKind == pg.MergeMatchKind_MERGE_WHEN_NOT_MATCHED_BY_SOURCE
	switch w.CommandType {
	case pg.CmdType_CMD_NOTHING:
		return nil
	case pg.CmdType_CMD_INSERT:
		mp.addOp(datasource.OpInsert)
		return nil
	case pg.CmdType_CMD_UPDATE, pg.CmdType_CMD_DELETE:
		if bySource {
			return datasource.Unsupported(mp.query, "WHEN NOT MATCHED BY SOURCE … UPDATE or DELETE writes target rows that no source row joins: their before image would be the whole table (write it as an UPDATE or DELETE … WHERE NOT EXISTS)")
		}
		mp.matched = true
		if w.CommandType == pg.CmdType_CMD_DELETE {
			mp.addOp(datasource.OpDelete)
			return nil
		}
		mp.addOp(datasource.OpUpdate)
		for _, t := range w.TargetList {
			rt := t.GetResTarget()
			if rt == nil {
				return datasource.Unsupported(mp.query, "a MERGE UPDATE SET entry of kind %s", nodeName(t))
			}
			if !slices.Contains(mp.set, rt.Name) {
				mp.set = append(mp.set, rt.Name)
			}
		}
		return nil
	}
	return datasource.Unsupported(mp.query, "a MERGE action of kind %s", w.CommandType)
}

func (mp *mergePlan) addOp(op datasource.WriteOp) {
	if !slices.Contains(mp.ops, op) {
		mp.ops = append(mp.ops, op)
	}
}

func (mp *mergePlan) Kind() datasource.Kind { return datasource.Write }

func (mp *mergePlan) LockKeys(context.Context, *datasource.Exec, []driver.NamedValue) error {
	return nil
}

func (mp *mergePlan) Exec(ctx context.Context, x *datasource.Exec, args []driver.NamedValue, _ func() (driver.Result, error)) (driver.Result, error) {
	res, _, err := mp.exec(ctx, x, args, &writer{stmt: mp.query})
	return res, err
}

// Query runs the statement for the application to read its RETURNING
// rows (see datasource.Returner).
func (mp *mergePlan) Query(ctx context.Context, x *datasource.Exec, args []driver.NamedValue) (driver.Rows, error) {
	_, rows, err := mp.exec(ctx, x, args, &writer{stmt: mp.query, asQuery: true, ret: mp.ret})
	return rows, err
}

// exec checks the server and the table, then runs the MERGE: under a
// global lock with RETURNING its keys, in a global transaction after its
// locked before image, with RETURNING its images.
func (mp *mergePlan) exec(ctx context.Context, x *datasource.Exec, args []driver.NamedValue, w *writer) (driver.Result, driver.Rows, error) {
	if err := datasource.CheckArgs(mp.query, mp.nargs, args); err != nil {
		return nil, nil, err
	}
	if err := checkCalls(ctx, x, mp.query, mp.calls); err != nil {
		return nil, nil, err
	}
	if err := mp.refuseServer(x); err != nil {
		return nil, nil, err
	}
	m, _, err := table(ctx, x, mp.rel, true)
	if err != nil {
		return nil, nil, err
	}
	if err := mp.refuse(x, m); err != nil {
		return nil, nil, err
	}
	tx, err := mp.textsFor(m)
	if err != nil {
		return nil, nil, err
	}
	if !x.InGlobalTx() {
		return w.runGuarded(ctx, x, m, tx.keys, args)
	}
	var before []undo.Row
	if tx.before != "" {
		if before, err = x.QueryArgs(ctx, tx.before, pick(args, tx.beforeArgs)); err != nil {
			return nil, nil, err
		}
		before = datasource.Dedupe(m.PK, before)
	}
	rows, err := w.run(ctx, x, tx.write, 1+len(m.Columns), args)
	if err != nil {
		return nil, nil, err
	}
	if err := mp.record(x, m, before, rows); err != nil {
		return nil, nil, poison(ctx, x, mp.query, err)
	}
	return w.done(len(rows))
}

// refuseServer refuses MERGE on a server older than mergeVersion, whose
// MERGE returns no rows to image.
func (mp *mergePlan) refuseServer(x *datasource.Exec) error {
	v, major, err := serverVersion(x)
	if err != nil {
		return err
	}
	if major < mergeVersion {
		return datasource.Unsupported(mp.query, "MERGE needs PostgreSQL %d or later, whose MERGE … RETURNING gives the rows it writes; this server is PostgreSQL %s, whose MERGE returns none, so its writes could not be imaged (write it as INSERT … ON CONFLICT, UPDATE and DELETE statements)", mergeVersion, v)
	}
	return nil
}

// refuse refuses the MERGE on m: an UPDATE of a primary-key column,
// referential actions its writes would set off, and what the hazard
// policy refuses for each kind of write it makes.
func (mp *mergePlan) refuse(x *datasource.Exec, m *datasource.Table) error {
	for _, c := range mp.set {
		if m.IsPK(c) {
			return datasource.Unsupported(mp.query, "MERGE … UPDATE sets primary-key column %q", c)
		}
	}
	for _, op := range mp.ops {
		var set []string
		if op == datasource.OpUpdate {
			set = mp.set
		}
		if datasource.Cascading(op, set, m) {
			return datasource.Unsupported(mp.query, "foreign keys with ON DELETE or ON UPDATE actions reference the rows of %s that MERGE would write, and MERGE does not image the rows those actions write (use UPDATE and DELETE statements)", m.Name)
		}
		if err := datasource.RefuseWrite(datasource.TableWrite{Statement: mp.query, Op: op, Assigned: set, Undo: x.InGlobalTx()}, m); err != nil {
			return err
		}
	}
	return nil
}

// record sorts the rows the MERGE returned by merge_action() into undo
// records: deleted rows (as locked), updated rows (before and after),
// inserted rows. Undone newest first, inserted rows go before deleted
// rows come back, so a key the MERGE deleted and inserted again never
// meets itself.
func (mp *mergePlan) record(x *datasource.Exec, m *datasource.Table, before, rows []undo.Row) error {
	locked := make(map[string]undo.Row, len(before))
	for _, b := range before {
		locked[datasource.RowKey(m.PK, b)] = b
	}
	var del, ub, ua, ins []undo.Row
	for _, r := range rows {
		action, row := r[0].Value, r[1:]
		if action.Str() == "INSERT" {
			ins = append(ins, row)
			continue
		}
		key := datasource.RowKey(m.PK, row)
		b, ok := locked[key]
		switch {
		case !ok:
			return txc.Errorf(txc.CodeLockConflict, "datasource/postgres: MERGE %s row (%s) of %s, which was not among the rows its before image locked (inserted concurrently, or a volatile source or condition); retry", action.Str(), key, m.Name)
		case action.Str() == "DELETE" && !b.Equal(row):
			return txc.Errorf(txc.CodeUnsupported, "datasource/postgres: MERGE deleted row (%s) of %s other than its before image locked it", key, m.Name)
		case action.Str() == "DELETE":
			del = append(del, b)
		case action.Str() == "UPDATE":
			ub, ua = append(ub, b), append(ua, row)
		default:
			return txc.Errorf(txc.CodeInternal, "datasource/postgres: merge_action() returned %s", action)
		}
	}
	x.Add(undo.Record{Table: m.Name, Kind: undo.Delete, Before: del, PK: m.PK, LockTable: m.LockName})
	x.Add(updateRecord(m, ub, ua))
	x.Add(undo.Record{Table: m.Name, Kind: undo.Insert, After: ins, PK: m.PK, LockTable: m.LockName})
	return nil
}

// textsFor builds (once per table metadata) the statements of the plan.
func (mp *mergePlan) textsFor(m *datasource.Table) (*mergeTexts, error) {
	if tx := mp.texts.Load(); tx != nil && tx.t == m {
		return tx, nil
	}
	tx := &mergeTexts{t: m}
	var err error
	if tx.write, err = rebuild(mp.query, mp.base, m, "merge_action(), "+columnList(mp.rel.ref, m.Columns)); err != nil {
		return nil, err
	}
	if tx.keys, err = rebuild(mp.query, mp.base, m, columnList(mp.rel.ref, m.PK)); err != nil {
		return nil, err
	}
	if mp.matched {
		s := mp.stmt
		targets := make([]*pg.Node, len(m.Columns))
		for i, c := range m.Columns {
			targets[i] = target(colRef(mp.rel.ref, c), "")
		}
		if tx.before, tx.beforeArgs, err = lockedRead(mp.query, s.Relation, m, mp.rel.ref, targets, []*pg.Node{s.SourceRelation}, s.JoinCondition, s.WithClause); err != nil {
			return nil, err
		}
	}
	mp.texts.Store(tx)
	return tx, nil
}

// serverVersion is the server's version as it reported it when the
// connection started (server_version, "17.2" or "18.1 (Debian 18.1-1)"),
// and its major number (0 when it does not start with one): no round
// trip.
func serverVersion(x *datasource.Exec) (string, int, error) {
	c := x.Peek()
	pc, ok := c.(pgxConn)
	if !ok {
		return "", 0, txc.Errorf(txc.CodeInternal, "datasource/postgres: the wrapped connection %T is not pgx's", c)
	}
	v := pc.Conn().PgConn().ParameterStatus("server_version")
	major := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			break
		}
		major = major*10 + int(c-'0')
	}
	return v, major, nil
}
