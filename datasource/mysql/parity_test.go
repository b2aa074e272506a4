package mysql_test

import (
	"context"
	"database/sql/driver"
	"io"
	"reflect"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc/datasource"
	txcmysql "github.com/txcio/txc/datasource/mysql"
	"github.com/txcio/txc/internal/dbtest"
)

// optional lists every optional interface of database/sql/driver the
// proxy must forward when the wrapped driver has it. The context-free
// Execer and Queryer are left out on purpose (see conn.go).
var optional = []reflect.Type{
	reflect.TypeFor[driver.ConnPrepareContext](),
	reflect.TypeFor[driver.ConnBeginTx](),
	reflect.TypeFor[driver.ExecerContext](),
	reflect.TypeFor[driver.QueryerContext](),
	reflect.TypeFor[driver.Pinger](),
	reflect.TypeFor[driver.SessionResetter](),
	reflect.TypeFor[driver.Validator](),
	reflect.TypeFor[driver.NamedValueChecker](),
	reflect.TypeFor[driver.StmtExecContext](),
	reflect.TypeFor[driver.StmtQueryContext](),
	reflect.TypeFor[driver.ColumnConverter](),
	reflect.TypeFor[driver.RowsNextResultSet](),
	reflect.TypeFor[driver.RowsColumnTypeDatabaseTypeName](),
	reflect.TypeFor[driver.RowsColumnTypeLength](),
	reflect.TypeFor[driver.RowsColumnTypeNullable](),
	reflect.TypeFor[driver.RowsColumnTypePrecisionScale](),
	reflect.TypeFor[driver.RowsColumnTypeScanType](),
	reflect.TypeFor[driver.DriverContext](),
	reflect.TypeFor[io.Closer](),
}

func parity(t *testing.T, what string, wrapped, proxy any) {
	t.Helper()
	for _, it := range optional {
		if reflect.TypeOf(wrapped).Implements(it) && !reflect.TypeOf(proxy).Implements(it) {
			t.Errorf("%s: go-sql-driver's %T implements %v, the proxy's %T does not", what, wrapped, it, proxy)
		}
	}
}

// TestInterfaceParity: the proxy's driver, connector, conn, stmt and rows
// implement every optional interface go-sql-driver's do.
func TestInterfaceParity(t *testing.T) {
	dbtest.MySQL(t) // reachable, or skip/fail
	cfg, err := gomysql.ParseDSN(dbtest.MySQLDSN)
	if err != nil {
		t.Fatal(err)
	}
	wc, err := gomysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := txcmysql.NewConnector(cfg, datasource.WithManager(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx := context.Background()
	parity(t, "driver", wc.Driver(), pc.Driver())
	wconn, err := wc.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer wconn.Close()
	pconn, err := pc.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pconn.Close()
	parity(t, "conn", wconn, pconn)
	wst, err := wconn.(driver.ConnPrepareContext).PrepareContext(ctx, "SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	defer wst.Close()
	pst, err := pconn.(driver.ConnPrepareContext).PrepareContext(ctx, "SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	defer pst.Close()
	parity(t, "stmt", wst, pst)
	for _, q := range []func(driver.Stmt) (driver.Rows, error){
		func(s driver.Stmt) (driver.Rows, error) { return s.(driver.StmtQueryContext).QueryContext(ctx, nil) },
	} {
		wr, err := q(wst)
		if err != nil {
			t.Fatal(err)
		}
		pr, err := q(pst)
		if err != nil {
			t.Fatal(err)
		}
		parity(t, "binary rows", wr, pr)
		wr.Close()
		pr.Close()
	}
	wr, err := wconn.(driver.QueryerContext).QueryContext(ctx, "SELECT 1", nil)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := pconn.(driver.QueryerContext).QueryContext(ctx, "SELECT 1", nil)
	if err != nil {
		t.Fatal(err)
	}
	parity(t, "text rows", wr, pr)
	wr.Close()
	pr.Close()
	// ErrSkip reaches database/sql unwrapped.
	_, err = pconn.(driver.ExecerContext).ExecContext(ctx, "SELECT ?", []driver.NamedValue{{Ordinal: 1, Value: int64(1)}})
	if err != driver.ErrSkip {
		t.Fatalf("ExecContext with arguments: %v, want driver.ErrSkip itself", err)
	}
}
