// Command at-mysql is a bank transfer in AT mode on MariaDB/MySQL: two
// UPDATEs through the txc-mysql proxy inside tm.WithGlobalTx. The first
// transfer commits; the second fails after its writes and is rolled back
// by the coordinator from the undo log.
//
//	make run                    # the coordinator, in another terminal
//	go run ./examples/at-mysql  # MariaDB at root@tcp(127.0.0.1:3306)/test
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

	"github.com/txcio/txc/client"
	"github.com/txcio/txc/datasource"
	_ "github.com/txcio/txc/datasource/mysql" // registers "txc-mysql"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tm"
)

func main() {
	tc := flag.String("addr", "127.0.0.1:8091", "txc-server gRPC address")
	dsn := flag.String("dsn", "root@tcp(127.0.0.1:3306)/test", "MariaDB/MySQL DSN (go-sql-driver syntax)")
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

	// Set-up on a plain connection: AT mode needs the undo-log table
	// (datasource/undo/schema/mysql.sql) before the proxy's first
	// connection, which checks for it; mysql.OpenDB(cfg,
	// datasource.WithCreateUndoTable()) creates it instead.
	setup, err := sql.Open("mysql", *dsn)
	if err != nil {
		log.Fatal(err)
	}
	must(setup.Exec(`CREATE TABLE IF NOT EXISTS txc_undo_log (xid VARCHAR(128) NOT NULL, branch_id BIGINT NOT NULL, state TINYINT NOT NULL,
		log LONGBLOB NOT NULL, created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
		updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
		PRIMARY KEY (xid, branch_id), KEY txc_undo_log_created_idx (created_at)) ENGINE=InnoDB`))
	must(setup.Exec(`CREATE TABLE IF NOT EXISTS txc_example_account (id VARCHAR(16) PRIMARY KEY, balance BIGINT NOT NULL)`))
	must(setup.Exec(`INSERT INTO txc_example_account VALUES ('alice', 100), ('bob', 0) ON DUPLICATE KEY UPDATE balance = VALUES(balance)`))
	setup.Close()

	db, err := sql.Open("txc-mysql", *dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil { // a missing undo-log table shows here, with its DDL
		log.Fatal(err)
	}

	transfer := func(ctx context.Context, amount int64, fail bool) error {
		return tm.WithGlobalTx(ctx, tm.Config{Name: "transfer", Timeout: 10 * time.Second}, func(ctx context.Context) error {
			tx, err := db.BeginTx(ctx, nil) // bound to the global transaction in ctx
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "UPDATE txc_example_account SET balance = balance - ? WHERE id = ?", amount, "alice"); err != nil {
				tx.Rollback()
				return err
			}
			if _, err := tx.ExecContext(ctx, "UPDATE txc_example_account SET balance = balance + ? WHERE id = ?", amount, "bob"); err != nil {
				tx.Rollback()
				return err
			}
			if err := tx.Commit(); err != nil { // registers the AT branch, writes the undo log
				return err
			}
			if fail {
				return errors.New("the payment provider said no")
			}
			return nil
		})
	}
	fmt.Println("transfer 30:", transfer(ctx, 30, false))
	show(db)
	fmt.Println("transfer 50, then fail:", transfer(ctx, 50, true)) // returns once the rows are restored
	show(db)
}

func show(db *sql.DB) {
	rows, err := db.Query("SELECT id, balance FROM txc_example_account ORDER BY id")
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var b int64
		rows.Scan(&id, &b)
		fmt.Printf("  %-6s %d\n", id, b)
	}
}

func must(_ sql.Result, err error) {
	if err != nil {
		log.Fatal(err)
	}
}
