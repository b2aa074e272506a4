// Command bank-transfer moves money from an account on MariaDB/MySQL to an
// account on PostgreSQL in one AT global transaction: each database is
// opened through its txc proxy (txc-mysql, txc-postgres), each local
// transaction becomes a branch with its undo log, and the coordinator
// commits or rolls back both. The first transfer commits; the second fails
// after both local commits and is rolled back on both databases from
// their undo logs.
//
//	make run                           # the coordinator, in another terminal
//	go run ./examples/bank-transfer    # MariaDB root@127.0.0.1:3306/test, PostgreSQL postgres@127.0.0.1:5432/test
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/datasource"
	txcmysql "github.com/txcio/txc/datasource/mysql"
	txcpg "github.com/txcio/txc/datasource/postgres"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tm"
)

func main() {
	tc := flag.String("addr", "127.0.0.1:8091", "txc-server gRPC address")
	myDSN := flag.String("mysql", "root@tcp(127.0.0.1:3306)/test", "MariaDB/MySQL DSN (go-sql-driver syntax)")
	pgDSN := flag.String("postgres", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL DSN (pgx syntax)")
	flag.Parse()
	ctx := context.Background()

	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	sec, err := client.OptionsFromEnv(os.Getenv) // TXC_TLS_CA, TXC_TOKEN, …: see README "Security"
	if err != nil {
		log.Fatal(err)
	}
	conn, err := client.Dial(dctx, *tc, sec...)
	cancel()
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	tm.SetDefault(tm.New(conn))
	datasource.SetDefaultManager(rm.New(conn)) // registers branches, serves phase 2

	// sql.Open("txc-mysql", dsn) and sql.Open("txc-postgres", dsn) work
	// too; the openers here also create the undo_log tables.
	mcfg, err := gomysql.ParseDSN(*myDSN)
	if err != nil {
		log.Fatal(err)
	}
	bank1, err := txcmysql.OpenDB(mcfg, datasource.WithCreateUndoTable())
	if err != nil {
		log.Fatal(err)
	}
	defer bank1.Close()
	pcfg, err := pgx.ParseConfig(*pgDSN)
	if err != nil {
		log.Fatal(err)
	}
	bank2, err := txcpg.OpenDB(pcfg, datasource.WithCreateUndoTable())
	if err != nil {
		log.Fatal(err)
	}
	defer bank2.Close()

	must(bank1.Exec(`CREATE TABLE IF NOT EXISTS txc_example_account (id VARCHAR(16) PRIMARY KEY, balance BIGINT NOT NULL)`))
	must(bank1.Exec(`INSERT INTO txc_example_account VALUES ('alice', 100) ON DUPLICATE KEY UPDATE balance = VALUES(balance)`))
	must(bank2.Exec(`CREATE TABLE IF NOT EXISTS txc_example_account (id text PRIMARY KEY, balance bigint NOT NULL)`))
	must(bank2.Exec(`INSERT INTO txc_example_account VALUES ('bob', 0) ON CONFLICT (id) DO UPDATE SET balance = excluded.balance`))

	xid, err := transfer(ctx, bank1, bank2, 30, false)
	fmt.Printf("transfer 30: %v (%s)\n", orOK(err), xid)
	show(bank1, bank2)
	xid, err = transfer(ctx, bank1, bank2, 50, true)
	fmt.Printf("transfer 50, then fail: %v (%s)\n", orOK(err), xid) // returns once both banks are restored
	show(bank1, bank2)
}

// transfer debits alice on bank 1 and credits bob on bank 2 in one global
// transaction; fail makes the business code fail once both banks have
// committed locally.
func transfer(ctx context.Context, bank1, bank2 *sql.DB, amount int64, fail bool) (txc.XID, error) {
	var xid txc.XID
	err := tm.WithGlobalTx(ctx, tm.Config{Name: "bank-transfer", Timeout: 10 * time.Second}, func(ctx context.Context) error {
		xid, _ = tm.XIDFromContext(ctx)
		// A statement outside db.BeginTx runs in a local transaction
		// of its own, which is its branch.
		if _, err := bank1.ExecContext(ctx, "UPDATE txc_example_account SET balance = balance - ? WHERE id = ? AND balance >= ?", amount, "alice", amount); err != nil {
			return err
		}
		tx, err := bank2.BeginTx(ctx, nil) // bound to the global transaction in ctx
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE txc_example_account SET balance = balance + $1 WHERE id = $2", amount, "bob"); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil { // registers the branch, writes the undo log
			return err
		}
		if fail {
			return errors.New("the payment provider said no")
		}
		return nil
	})
	return xid, err
}

func show(bank1, bank2 *sql.DB) {
	var a, b int64
	if err := bank1.QueryRow("SELECT balance FROM txc_example_account WHERE id = 'alice'").Scan(&a); err != nil {
		log.Fatal(err)
	}
	if err := bank2.QueryRow("SELECT balance FROM txc_example_account WHERE id = 'bob'").Scan(&b); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("  alice (MariaDB)    %d\n  bob   (PostgreSQL) %d\n", a, b)
}

func orOK(err error) any {
	if err == nil {
		return "ok"
	}
	return err
}

func must(_ sql.Result, err error) {
	if err != nil {
		log.Fatal(err)
	}
}
