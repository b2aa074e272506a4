package main

import (
	"context"
	"database/sql"
	"io"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/spf13/cobra"

	"github.com/txcio/txc/datasource"
	txcmysql "github.com/txcio/txc/datasource/mysql"
	"github.com/txcio/txc/datasource/undo"
	"github.com/txcio/txc/rm"
)

// atMySQLCommand is the "at-mysql" scenario: a transfer between two rows
// (two UPDATEs in one local transaction) run first as a plain local
// transaction through go-sql-driver, then as an AT global transaction
// through the proxy (begin → two imaged UPDATEs → register + undo log +
// local commit → global commit → undo cleanup in phase 2), with the same
// clients, in the same run. Each client moves money between its own two
// rows, so the figures measure the cost of AT mode, not lock waits.
func atMySQLCommand() *cobra.Command {
	return atCommand("at-mysql", "a two-row transfer on MariaDB/MySQL: plain local transaction vs AT global transaction",
		"root@tcp(127.0.0.1:3306)/test", "MySQL/MariaDB DSN (go-sql-driver syntax)", runATMySQL)
}

func runATMySQL(ctx context.Context, w io.Writer, lf loadFlags, dsn string) error {
	const table = "txc_bench_account"
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return err
	}
	plain, err := openPlain(ctx, "mysql", dsn, lf.clients, func(db *sql.DB) error {
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, "CREATE TABLE "+table+" (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB"); err != nil {
			return err
		}
		for i := 0; i < 2*lf.clients; i++ {
			if _, err := db.ExecContext(ctx, "INSERT INTO "+table+" VALUES (?, 1000000000)", i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer plain.Close()
	return runATTransfer(ctx, w, lf, atTransfer{scenario: "at-mysql", table: table, plain: plain,
		open: func(m *rm.Manager) (*sql.DB, error) {
			return txcmysql.OpenDB(cfg, datasource.WithManager(m), datasource.WithCreateUndoTable())
		},
		debit:  "UPDATE " + table + " SET balance = balance - ? WHERE id = ?",
		credit: "UPDATE " + table + " SET balance = balance + ? WHERE id = ?",
		floor:  mysqlFloor(table), floorDialect: undo.MySQL,
	})
}
