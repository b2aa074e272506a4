package datasource

import (
	"context"
	"database/sql/driver"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// optional lists every optional interface database/sql/driver defines for
// one kind of object, and whether the proxy's wrapper forwards it.
type optional struct {
	iface     reflect.Type
	forwarded bool
}

func ifaceOf[T any](forwarded bool) optional { return optional{reflect.TypeFor[T](), forwarded} }

// The interfaces of database/sql/driver per kind. The deprecated
// context-free Execer and Queryer are not forwarded: without a context a
// statement could not join its global transaction.
var (
	connIfaces = []optional{
		ifaceOf[driver.ConnPrepareContext](true), ifaceOf[driver.ConnBeginTx](true),
		ifaceOf[driver.ExecerContext](true), ifaceOf[driver.QueryerContext](true),
		ifaceOf[driver.Pinger](true), ifaceOf[driver.SessionResetter](true),
		ifaceOf[driver.Validator](true), ifaceOf[driver.NamedValueChecker](true),
		ifaceOf[driver.Execer](false), ifaceOf[driver.Queryer](false), //nolint:staticcheck // checked not forwarded
	}
	stmtIfaces = []optional{
		ifaceOf[driver.StmtExecContext](true), ifaceOf[driver.StmtQueryContext](true),
		ifaceOf[driver.NamedValueChecker](true), ifaceOf[driver.ColumnConverter](true), //nolint:staticcheck // forwarded
	}
	rowsIfaces = []optional{
		ifaceOf[driver.RowsNextResultSet](true), ifaceOf[driver.RowsColumnTypeDatabaseTypeName](true),
		ifaceOf[driver.RowsColumnTypeLength](true), ifaceOf[driver.RowsColumnTypeNullable](true),
		ifaceOf[driver.RowsColumnTypePrecisionScale](true), ifaceOf[driver.RowsColumnTypeScanType](true),
	}
)

// TestWrapperInterfaces checks that each wrapper implements exactly the
// optional interfaces it forwards, and that the full fake implements them
// all (so TestForwarding below calls each one on a wrapped object that has
// it).
func TestWrapperInterfaces(t *testing.T) {
	for _, c := range []struct {
		name          string
		wrapper, full any
		ifaces        []optional
	}{
		{"conn", (*conn)(nil), (*fullConn)(nil), connIfaces},
		{"stmt", (*stmt)(nil), (*fullStmt)(nil), stmtIfaces},
		{"rows", (*wrappedRows)(nil), (*fullRows)(nil), rowsIfaces},
	} {
		for _, o := range c.ifaces {
			if got := reflect.TypeOf(c.wrapper).Implements(o.iface); got != o.forwarded {
				t.Errorf("%s wrapper implements %v: %v, want %v", c.name, o.iface, got, o.forwarded)
			}
			if !reflect.TypeOf(c.full).Implements(o.iface) {
				t.Errorf("the full fake %s lacks %v", c.name, o.iface)
			}
		}
	}
}

// probe calls one forwarded method on a wrapper (outside any global
// transaction) and renders its answer.
type probe struct {
	iface string
	call  func(ctx context.Context, c *conn, s driver.Stmt, r driver.Rows) string
	// calls is what the full fake records; legacy is the wrapper's
	// answer over a wrapped object without the interface: what
	// database/sql does without it.
	calls        []string
	full, legacy string
}

func answer(vals ...any) string { return fmt.Sprint(vals...) }

var probes = []probe{
	{"Pinger", func(ctx context.Context, c *conn, _ driver.Stmt, _ driver.Rows) string { return answer(c.Ping(ctx)) },
		[]string{"ping"}, "<nil>", "<nil>"},
	{"SessionResetter", func(ctx context.Context, c *conn, _ driver.Stmt, _ driver.Rows) string {
		return answer(c.ResetSession(ctx))
	},
		[]string{"reset"}, "<nil>", "<nil>"},
	{"Validator", func(_ context.Context, c *conn, _ driver.Stmt, _ driver.Rows) string { return answer(c.IsValid()) },
		[]string{"valid"}, "true", "true"},
	{"conn NamedValueChecker", func(_ context.Context, c *conn, _ driver.Stmt, _ driver.Rows) string {
		return answer(c.CheckNamedValue(&driver.NamedValue{Ordinal: 1, Value: 1}))
	}, []string{"conn.check"}, driver.ErrSkip.Error(), driver.ErrSkip.Error()},
	{"ConnPrepareContext", func(ctx context.Context, c *conn, _ driver.Stmt, _ driver.Rows) string {
		_, err := c.PrepareContext(ctx, "SELECT 2")
		return answer(err)
	}, []string{"preparectx SELECT 2"}, "<nil>", "<nil>"},
	{"ConnBeginTx", func(ctx context.Context, c *conn, _ driver.Stmt, _ driver.Rows) string {
		tx, err := c.BeginTx(ctx, driver.TxOptions{})
		if err == nil {
			err = tx.Rollback()
		}
		return answer(err)
	}, []string{"begintx", "rollback"}, "<nil>", "<nil>"},
	{"ExecerContext", func(ctx context.Context, c *conn, _ driver.Stmt, _ driver.Rows) string {
		_, err := c.ExecContext(ctx, "SELECT 3", nil)
		return answer(err)
	}, []string{"execctx SELECT 3 []"}, "<nil>", driver.ErrSkip.Error()},
	{"QueryerContext", func(ctx context.Context, c *conn, _ driver.Stmt, _ driver.Rows) string {
		_, err := c.QueryContext(ctx, "SELECT 4", nil)
		return answer(err)
	}, []string{"queryctx SELECT 4 []"}, "<nil>", driver.ErrSkip.Error()},
	{"StmtExecContext", func(ctx context.Context, _ *conn, s driver.Stmt, _ driver.Rows) string {
		_, err := s.(driver.StmtExecContext).ExecContext(ctx, nil)
		return answer(err)
	}, []string{"stmt.exec SELECT 1 []"}, "<nil>", "<nil>"},
	{"StmtQueryContext", func(ctx context.Context, _ *conn, s driver.Stmt, _ driver.Rows) string {
		_, err := s.(driver.StmtQueryContext).QueryContext(ctx, nil)
		return answer(err)
	}, []string{"stmt.query SELECT 1 []"}, "<nil>", "<nil>"},
	{"stmt NamedValueChecker", func(_ context.Context, _ *conn, s driver.Stmt, _ driver.Rows) string {
		return answer(s.(driver.NamedValueChecker).CheckNamedValue(&driver.NamedValue{Ordinal: 1, Value: 1}))
	}, []string{"stmt.check"}, driver.ErrSkip.Error(), driver.ErrSkip.Error()},
	{"ColumnConverter", func(_ context.Context, _ *conn, s driver.Stmt, _ driver.Rows) string {
		return answer(s.(driver.ColumnConverter).ColumnConverter(0) == driver.DefaultParameterConverter) //nolint:staticcheck // forwarded
	}, []string{"stmt.converter"}, "true", "true"},
	{"RowsNextResultSet", func(_ context.Context, _ *conn, _ driver.Stmt, r driver.Rows) string {
		n := r.(driver.RowsNextResultSet)
		return answer(n.HasNextResultSet(), " ", n.NextResultSet())
	}, []string{"rows.hasnext", "rows.nextset"}, "false EOF", "false EOF"},
	{"RowsColumnTypeDatabaseTypeName", func(_ context.Context, _ *conn, _ driver.Stmt, r driver.Rows) string {
		return answer(r.(driver.RowsColumnTypeDatabaseTypeName).ColumnTypeDatabaseTypeName(0))
	}, []string{"rows.typename"}, "FAKE", ""},
	{"RowsColumnTypeLength", func(_ context.Context, _ *conn, _ driver.Stmt, r driver.Rows) string {
		n, ok := r.(driver.RowsColumnTypeLength).ColumnTypeLength(0)
		return answer(n, " ", ok)
	}, []string{"rows.length"}, "7 true", "0 false"},
	{"RowsColumnTypeNullable", func(_ context.Context, _ *conn, _ driver.Stmt, r driver.Rows) string {
		n, ok := r.(driver.RowsColumnTypeNullable).ColumnTypeNullable(0)
		return answer(n, " ", ok)
	}, []string{"rows.nullable"}, "true true", "false false"},
	{"RowsColumnTypePrecisionScale", func(_ context.Context, _ *conn, _ driver.Stmt, r driver.Rows) string {
		p, s, ok := r.(driver.RowsColumnTypePrecisionScale).ColumnTypePrecisionScale(0)
		return answer(p, " ", s, " ", ok)
	}, []string{"rows.precision"}, "9 2 true", "0 0 false"},
	{"RowsColumnTypeScanType", func(_ context.Context, _ *conn, _ driver.Stmt, r driver.Rows) string {
		return answer(r.(driver.RowsColumnTypeScanType).ColumnTypeScanType(0))
	}, []string{"rows.scantype"}, "int64", "interface {}"},
}

// TestForwarding calls every forwarded method of the proxy's connection,
// statement and result set: over a full fake the call reaches the wrapped
// object and its answer comes back; over a legacy fake the wrapper answers
// as database/sql does for a driver without the interface.
func TestForwarding(t *testing.T) {
	for _, full := range []bool{true, false} {
		t.Run(map[bool]string{true: "full", false: "legacy"}[full], func(t *testing.T) {
			db := &fakeDB{full: full}
			c := proxyConn(t, openFake(t, db), db)
			for _, p := range probes {
				s, err := c.PrepareContext(t.Context(), "SELECT 1")
				if err != nil {
					t.Fatal(err)
				}
				r, err := s.(driver.StmtQueryContext).QueryContext(t.Context(), nil)
				if err != nil {
					t.Fatal(err)
				}
				db.take()
				got := p.call(t.Context(), c, s, r)
				calls := db.take()
				want, wantCalls := p.full, p.calls
				if !full {
					want, wantCalls = p.legacy, legacyCalls(p.calls)
				}
				if got != want {
					t.Errorf("%s: answered %q, want %q", p.iface, got, want)
				}
				if !slices.Equal(calls, wantCalls) {
					t.Errorf("%s: wrapped calls %q, want %q", p.iface, calls, wantCalls)
				}
			}
		})
	}
}

// legacyCalls is what a legacy fake records for the calls a full one
// records: the required methods the wrapper falls back to, nothing for an
// optional method the wrapped object lacks.
func legacyCalls(full []string) []string {
	var out []string
	for _, c := range full {
		switch c {
		case "preparectx SELECT 2":
			out = append(out, "prepare SELECT 2")
		case "begintx":
			out = append(out, "begin")
		case "rollback", "stmt.exec SELECT 1 []", "stmt.query SELECT 1 []":
			out = append(out, c)
		}
	}
	return out
}
