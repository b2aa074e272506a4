package postgres

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"slices"

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
// Not seen: functions the statement does not name, which the server
// calls for it: a column's DEFAULT, an operator's or a cast's function,
// a domain's CHECK.

// largeObjectWriters are the built-in functions that write large objects.
var largeObjectWriters = []string{"lo_creat", "lo_create", "lo_from_bytea", "lo_import", "lo_put", "lo_truncate", "lo_truncate64", "lo_unlink", "lowrite"}

// calledFunctions returns the names of the functions n calls by name
// (sorted, once each), but those qualified with pg_catalog that write no
// large object.
func calledFunctions(n *pg.Node) []string {
	var names []string
	walk(n, func(m proto.Message) bool {
		f, ok := m.(*pg.FuncCall)
		if !ok || len(f.Funcname) == 0 {
			return true
		}
		name := f.Funcname[len(f.Funcname)-1].GetString_().GetSval()
		builtin := len(f.Funcname) == 2 && f.Funcname[0].GetString_().GetSval() == "pg_catalog"
		if !builtin || slices.Contains(largeObjectWriters, name) {
			names = append(names, name)
		}
		return true
	})
	slices.Sort(names)
	return slices.Compact(names)
}

// volatileCallSQL returns one function of the names in the JSON array $1
// that may write rows.
const volatileCallSQL = `SELECT p.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc p
 WHERE p.proname = ANY (ARRAY(SELECT pg_catalog.json_array_elements_text($1::pg_catalog.json)))
  AND (p.provolatile = 'v' AND p.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace OR p.proname = ANY ($2::text[]))
 ORDER BY 1 LIMIT 1`

// checkedCalls is the TxValue key of the names checkCalls found in no
// function that may write, in the local transaction.
type checkedCalls struct{}

// checkCalls refuses, in a global transaction, a statement that calls a
// function that may write rows (see above): one catalog query per local
// transaction and new set of names.
func checkCalls(ctx context.Context, x *datasource.Exec, query string, names []string) error {
	if !x.InGlobalTx() || len(names) == 0 {
		return nil
	}
	done, _ := x.TxValue(checkedCalls{}).(map[string]bool)
	if !slices.ContainsFunc(names, func(n string) bool { return !done[n] }) {
		return nil
	}
	list, err := json.Marshal(names)
	if err != nil {
		return err
	}
	lo, _ := json.Marshal(largeObjectWriters)
	rows, err := x.Query(ctx, volatileCallSQL, string(list), "{"+string(lo[1:len(lo)-1])+"}")
	if err != nil {
		return err
	}
	if len(rows) > 0 {
		return datasource.Unsupported(query, "it calls a function that may write rows no undo image would hold (%s is VOLATILE and not built in, or writes large objects); a global rollback would leave its writes", rows[0][0].Value.Str())
	}
	if done == nil {
		done = map[string]bool{}
	}
	for _, n := range names {
		done[n] = true
	}
	x.SetTxValue(checkedCalls{}, done)
	return nil
}

// callStmt is a read that calls functions by name (see checkCalls). It
// is a LockingRead only so that the proxy hands it to LockKeys on both
// its Exec and Query paths, as sessionStmt; it locks nothing.
type callStmt struct {
	query string
	names []string
}

func (callStmt) Kind() datasource.Kind { return datasource.LockingRead }
func (callStmt) Exec(_ context.Context, _ *datasource.Exec, _ []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	return run()
}
func (c callStmt) LockKeys(ctx context.Context, x *datasource.Exec, _ []driver.NamedValue) error {
	return checkCalls(ctx, x, c.query, c.names)
}
