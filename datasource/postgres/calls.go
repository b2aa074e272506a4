package postgres

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"slices"

	"github.com/jackc/pgx/v5"
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/txcio/txc/datasource"
)

// A statement that calls a function runs whatever the function does:
// a VOLATILE function may write rows (SELECT create_order(…), UPDATE t SET
// n = log_change(n)), and those writes are in no image. A global
// rollback then reported the transaction rolled back with the function's
// rows still there (a review found it). PostgreSQL runs a function that
// is not VOLATILE read-only (INSERT, UPDATE and DELETE fail in it), and
// the built-in functions write no table rows, but for those of large
// objects. So in a global transaction a statement that calls, by name, a
// VOLATILE function that is not built in (in any schema: which of a
// name's functions the call means is the server's choice), or a large
// object writer, is refused before it runs. CALL and DO are refused in
// any case (utility).
//
// A view runs the functions of its definition for the statement that
// reads it: SELECT * FROM v, with v calling such a function, wrote rows
// no image held just the same. So the relations the statement names are
// resolved (to_regclass, under the session's search_path) in the same
// catalog query, and a view among them whose definition, at any depth (a
// view over a view), depends on such a function (pg_depend of its rule:
// the exact function, not a name) refuses the statement too.
//
// Not seen: functions the statement does not name, which the server
// calls for it: a column's DEFAULT, an operator's or a cast's function,
// a domain's CHECK; a VOLATILE function called inside a function that is
// not VOLATILE.
//
// The names found harmless are kept until the local transaction ends (a
// TxValue, dropped with the other probes by a session change): a view or
// function replaced by another session after the check runs unseen until
// then, the window a table's probe has; replacing them is DDL, which AT
// mode does not undo either.

// largeObjectWriters are the built-in functions that write large objects.
var largeObjectWriters = []string{"lo_creat", "lo_create", "lo_from_bytea", "lo_import", "lo_put", "lo_truncate", "lo_truncate64", "lo_unlink", "lowrite"}

// callees are what a statement may run the functions of: the functions
// it calls by name and the relations it names (views among them).
type callees struct {
	funcs []string // by name, but those qualified with pg_catalog that write no large object
	rels  []string // quoted, schema-qualified when the statement qualifies them
}

func (c callees) empty() bool { return len(c.funcs) == 0 && len(c.rels) == 0 }

// calleesOf returns what n may run the functions of (each list sorted,
// once each).
func calleesOf(n *pg.Node) callees {
	var c callees
	walk(n, func(m proto.Message) bool {
		switch x := m.(type) {
		case *pg.FuncCall:
			if len(x.Funcname) == 0 {
				return true
			}
			name := x.Funcname[len(x.Funcname)-1].GetString_().GetSval()
			builtin := len(x.Funcname) == 2 && x.Funcname[0].GetString_().GetSval() == "pg_catalog"
			if !builtin || slices.Contains(largeObjectWriters, name) {
				c.funcs = append(c.funcs, name)
			}
		case *pg.RangeVar:
			c.rels = append(c.rels, relName(x))
		}
		return true
	})
	slices.Sort(c.funcs)
	slices.Sort(c.rels)
	return callees{funcs: slices.Compact(c.funcs), rels: slices.Compact(c.rels)}
}

// relName is how callees lists the relation rv names.
func relName(rv *pg.RangeVar) string {
	if rv.Schemaname != "" {
		return quoteIdent(rv.Schemaname) + "." + quoteIdent(rv.Relname)
	}
	return quoteIdent(rv.Relname)
}

// written returns c without the table a write's plan writes, target: the
// table probe refuses a target that is not a table (a view among them),
// and a statement naming no other relation and calling no function then
// needs no catalog query.
func (c callees) written(target *pg.RangeVar) callees {
	name := relName(target)
	c.rels = slices.DeleteFunc(slices.Clone(c.rels), func(r string) bool { return r == name })
	return c
}

// writesRows is the condition on pg_proc p of a function that may write
// rows.
const writesRows = `(p.provolatile = 'v' AND p.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace OR p.proname = ANY ($2::text[]))`

// volatileCallSQL returns one function that may write rows: among the
// names in the JSON array $1 (view and top NULL), or one the definition
// of a view among the relations in the JSON array $3 (top), or of a view
// it reads at any depth (view), depends on.
const volatileCallSQL = `WITH RECURSIVE views(oid, top) AS (
  SELECT c.oid, c.oid FROM pg_catalog.pg_class c
   WHERE c.relkind = 'v' AND c.oid = ANY (ARRAY(SELECT pg_catalog.to_regclass(r) FROM pg_catalog.json_array_elements_text($3::pg_catalog.json) r))
  UNION
  SELECT c.oid, v.top FROM views v
   JOIN pg_catalog.pg_rewrite w ON w.ev_class = v.oid
   JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = w.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
   JOIN pg_catalog.pg_class c ON c.oid = d.refobjid AND c.relkind = 'v')
SELECT NULL::text, NULL::text, p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
 WHERE p.proname = ANY (ARRAY(SELECT pg_catalog.json_array_elements_text($1::pg_catalog.json))) AND ` + writesRows + `
UNION ALL
SELECT v.top::pg_catalog.regclass::text, v.oid::pg_catalog.regclass::text, p.oid::pg_catalog.regprocedure::text FROM views v
 JOIN pg_catalog.pg_rewrite w ON w.ev_class = v.oid
 JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = w.oid AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
 JOIN pg_catalog.pg_proc p ON p.oid = d.refobjid
 WHERE ` + writesRows + `
 ORDER BY 1 NULLS FIRST, 2, 3 LIMIT 1`

// checkedCalls is the TxValue key of the names (funcs "f:" and rels
// "r:" prefixed) checkCalls found harmless in the local transaction.
type checkedCalls struct{}

// checkCalls refuses, in a global transaction, a statement that calls a
// function that may write rows, or reads a view whose definition does
// (see above): one catalog query per local transaction and new set of
// names.
func checkCalls(ctx context.Context, x *datasource.Exec, query string, c callees) error {
	if !x.InGlobalTx() || c.empty() {
		return nil
	}
	done, _ := x.TxValue(checkedCalls{}).(map[string]bool)
	keys := make([]string, 0, len(c.funcs)+len(c.rels))
	for _, f := range c.funcs {
		keys = append(keys, "f:"+f)
	}
	for _, r := range c.rels {
		keys = append(keys, "r:"+r)
	}
	if !slices.ContainsFunc(keys, func(k string) bool { return !done[k] }) {
		return nil
	}
	if err := queryCalls(ctx, x, query, c); err != nil {
		return err
	}
	if done == nil {
		done = map[string]bool{}
	}
	for _, k := range keys {
		done[k] = true
	}
	x.SetTxValue(checkedCalls{}, done)
	return nil
}

// queryCalls runs volatileCallSQL for c and refuses query when it finds
// a function. A BEGIN held back goes in its round trip (see heldBatch):
// a local transaction that only reads costs no more round trips than
// before the check.
func queryCalls(ctx context.Context, x *datasource.Exec, query string, c callees) error {
	funcs, err := json.Marshal(append([]string{}, c.funcs...))
	if err != nil {
		return err
	}
	rels, err := json.Marshal(append([]string{}, c.rels...))
	if err != nil {
		return err
	}
	pc, b, d, folded, err := heldBatch(x)
	if err != nil {
		return err
	}
	b.Queue(volatileCallSQL, string(funcs), largeObjectWriters, string(rels))
	br := pc.Conn().SendBatch(ctx, b)
	found, err := readCalls(br, folded, d.Begun)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil || found == nil {
		return err
	}
	top, view, fn := found[0], found[1], found[2]
	switch {
	case top == nil:
		return datasource.Unsupported(query, "it calls a function that may write rows no undo image would hold (%s is VOLATILE and not built in, or writes large objects); a global rollback would leave its writes", *fn)
	case *top != *view:
		return datasource.Unsupported(query, "it reads view %s, over view %s, whose definition calls a function that may write rows no undo image would hold (%s is VOLATILE and not built in, or writes large objects); a global rollback would leave its writes", *top, *view, *fn)
	}
	return datasource.Unsupported(query, "it reads view %s, whose definition calls a function that may write rows no undo image would hold (%s is VOLATILE and not built in, or writes large objects); a global rollback would leave its writes", *view, *fn)
}

// readCalls reads queryCalls' answers from br: the BEGIN's, when folded
// (reported to begun), then volatileCallSQL's row (top, view, function;
// nil: none).
func readCalls(br pgx.BatchResults, folded bool, begun func(error)) ([]*string, error) {
	if err := readBegun(br, folded, begun); err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	found := make([]*string, 3)
	if err := rows.Scan(&found[0], &found[1], &found[2]); err != nil {
		return nil, err
	}
	return found, rows.Err()
}

// callStmt is a read that calls functions by name or names relations,
// checked before it runs (see checkCalls): a LockingRead that locks
// nothing, as sessionStmt.
type callStmt struct {
	query string
	calls callees
}

func (callStmt) Kind() datasource.Kind { return datasource.LockingRead }
func (callStmt) Exec(_ context.Context, _ *datasource.Exec, _ []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	return run()
}
func (c callStmt) LockKeys(ctx context.Context, x *datasource.Exec, _ []driver.NamedValue) error {
	return checkCalls(ctx, x, c.query, c.calls)
}
