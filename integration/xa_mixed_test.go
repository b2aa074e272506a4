package integration

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	txcmysql "github.com/txcio/txc/datasource/mysql"
	txcpg "github.com/txcio/txc/datasource/postgres"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/rm/tcc"
	"github.com/txcio/txc/tm"
)

// TestXAMixedWithATAndTCC: one global transaction with an XA branch on
// PostgreSQL (a private server with max_prepared_transactions set), an
// AT branch on MariaDB and a TCC participant commits all three, and
// rolls all three back when it fails after them.
func TestXAMixedWithATAndTCC(t *testing.T) {
	p := startTC(t)
	c := dial(t, p.addr, "xa-mixed")
	m := rm.New(c)
	tmm := tm.New(c)
	pgDSN := dbtest.PrivatePostgres(t, "max_prepared_transactions=20")
	pgPlain, myPlain := dbtest.Open(t, "pgx", pgDSN), dbtest.MySQL(t)
	pcfg, err := pgx.ParseConfig(pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	pgXA, err := txcpg.OpenDB(pcfg, datasource.WithManager(m), datasource.WithMode(datasource.XA))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pgXA.Close() })
	mcfg, err := gomysql.ParseDSN(dbtest.MySQLDSN)
	if err != nil {
		t.Fatal(err)
	}
	myAT, err := txcmysql.OpenDB(mcfg, datasource.WithManager(m), datasource.WithCreateUndoTable())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { myAT.Close() })
	pgTable, myTable := dbtest.Table(t, pgPlain, "xa_mix"), dbtest.Table(t, myPlain, "xa_mix")
	for db, qs := range map[*sql.DB][]string{
		pgPlain: {"CREATE TABLE " + pgTable + " (id INT, balance BIGINT)", "INSERT INTO " + pgTable + " VALUES (1, 100)"},
		myPlain: {"CREATE TABLE " + myTable + " (id INT PRIMARY KEY, balance BIGINT)", "INSERT INTO " + myTable + " VALUES (1, 0)"},
	} {
		for _, q := range qs {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}
	var mu sync.Mutex
	points := map[string]int64{} // the TCC participant's confirmed points
	res, err := tcc.NewResource(m, "tcc:points")
	if err != nil {
		t.Fatal(err)
	}
	award, err := tcc.Declare(res, "award", tcc.Funcs[int64]{
		Try: func(context.Context, int64) error { return nil },
		Confirm: func(ctx context.Context, n int64) error {
			b, _ := tcc.BranchFromContext(ctx)
			mu.Lock()
			points[string(b.XID)] = n
			mu.Unlock()
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	failure := errors.New("test: fail after the branches")
	transfer := func(amount int64, fail bool) (txc.XID, error) {
		var xid txc.XID
		err := tmm.WithGlobalTx(context.Background(), tm.Config{Name: "xa-mixed", Timeout: 30 * time.Second}, func(ctx context.Context) error {
			xid, _ = tm.XIDFromContext(ctx)
			if _, err := pgXA.ExecContext(ctx, "UPDATE "+pgTable+" SET balance = balance - $1 WHERE id = 1", amount); err != nil {
				return err
			}
			if _, err := myAT.ExecContext(ctx, "UPDATE "+myTable+" SET balance = balance + ? WHERE id = 1", amount); err != nil {
				return err
			}
			if err := award.Try(ctx, amount); err != nil {
				return err
			}
			if fail {
				return failure
			}
			return nil
		})
		return xid, err
	}
	balances := func() (int64, int64) {
		var a, b int64
		if err := pgPlain.QueryRow("SELECT balance FROM " + pgTable + " WHERE id = 1").Scan(&a); err != nil {
			t.Fatal(err)
		}
		if err := myPlain.QueryRow("SELECT balance FROM " + myTable + " WHERE id = 1").Scan(&b); err != nil {
			t.Fatal(err)
		}
		return a, b
	}
	waitStatus := func(xid txc.XID, want txc.GlobalStatus) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			st, err := c.Status(context.Background(), xid)
			if err == nil && st == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: status %v (%v), want %v", xid, st, err, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	xid, err := transfer(30, false)
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(xid, txc.GlobalCommitted)
	mu.Lock()
	confirmed := points[string(xid)]
	mu.Unlock()
	if a, b := balances(); a != 70 || b != 30 || confirmed != 30 {
		t.Fatalf("after commit: postgres %d, mariadb %d, points %d; want 70, 30, 30", a, b, confirmed)
	}
	xid, err = transfer(50, true)
	if !errors.Is(err, failure) {
		t.Fatal(err)
	}
	waitStatus(xid, txc.GlobalRollbacked)
	var prepared int
	if err := pgPlain.QueryRow("SELECT COUNT(*) FROM pg_prepared_xacts").Scan(&prepared); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	_, confirmed2 := points[string(xid)]
	mu.Unlock()
	if a, b := balances(); a != 70 || b != 30 || prepared != 0 || confirmed2 {
		t.Fatalf("after rollback: postgres %d, mariadb %d, %d prepared, confirmed %v; want 70, 30, 0, false", a, b, prepared, confirmed2)
	}
}
