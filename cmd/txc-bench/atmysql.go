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
		"root@tcp(127.0.0.1:3306)/test", "MySQL/MariaDB DSN (go-sql-driver syntax)", runMySQLTransfer(datasource.AT))
}

// xaMySQLCommand is the "xa-mysql" scenario: the at-mysql transfer with
// the proxy in XA mode (begin → register + XA START → two UPDATEs → XA
// END + XA PREPARE → global commit → XA COMMIT in phase 2).
func xaMySQLCommand() *cobra.Command {
	return atCommand("xa-mysql", "a two-row transfer on MariaDB/MySQL: plain local transaction vs XA global transaction",
		"root@tcp(127.0.0.1:3306)/test", "MySQL/MariaDB DSN (go-sql-driver syntax)", runMySQLTransfer(datasource.XA))
}

// runMySQLTransfer runs the MySQL transfer with the proxy in mode.
func runMySQLTransfer(mode datasource.Mode) func(ctx context.Context, w io.Writer, lf loadFlags, dsn string) error {
	return func(ctx context.Context, w io.Writer, lf loadFlags, dsn string) error {
		return runATMySQL(ctx, w, lf, dsn, mode)
	}
}

func runATMySQL(ctx context.Context, w io.Writer, lf loadFlags, dsn string, mode datasource.Mode) error {
	table := benchTable("txc_bench_account", mode)
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
	defer plain.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+table)
	var prepared func(context.Context, *sql.DB) (int, error)
	if mode == datasource.XA {
		prepared = mysqlPrepared
	}
	return runATTransfer(ctx, w, lf, atTransfer{scenario: scenarioName(mode, "mysql"), mode: mode, prepared: prepared, table: table, plain: plain,
		open: func(m *rm.Manager) (*sql.DB, error) {
			return txcmysql.OpenDB(cfg, datasource.WithManager(m), datasource.WithCreateUndoTable(), datasource.WithMode(mode))
		},
		debit:  "UPDATE " + table + " SET balance = balance - ? WHERE id = ?",
		credit: "UPDATE " + table + " SET balance = balance + ? WHERE id = ?",
		floor:  mysqlFloor(table, lf.floorOmit), floorDialect: undo.MySQL, xaFloor: mysqlXAFloor(table),
		floorSteps: []string{omitBefore, omitAfter, omitInsert},
	})
}

// mysqlPrepared counts the txc XA branches (formatID "txc") the server
// holds prepared.
func mysqlPrepared(ctx context.Context, db *sql.DB) (int, error) {
	rows, err := db.QueryContext(ctx, "XA RECOVER")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var format, gl, bl int
		var data []byte
		if err := rows.Scan(&format, &gl, &bl, &data); err != nil {
			return 0, err
		}
		if format == 0x747863 {
			n++
		}
	}
	return n, rows.Err()
}
