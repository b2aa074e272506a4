package main

import (
	"context"
	"database/sql"
	"io"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx", the plain run's driver
	"github.com/spf13/cobra"

	"github.com/txcio/txc/datasource"
	txcpg "github.com/txcio/txc/datasource/postgres"
	"github.com/txcio/txc/rm"
)

// atPostgresCommand is the "at-postgres" scenario: the at-mysql transfer
// on PostgreSQL. Two UPDATEs in one local transaction, run first as a
// plain local transaction through pgx's database/sql driver, then as an AT
// global transaction through the proxy (begin → two UPDATEs, each locking,
// imaging and writing its rows in one joined statement → register, then
// undo log + local commit in one round trip → global commit → undo
// cleanup in phase 2), with the same clients, in the same run. Each client
// moves money between its own two rows, so the figures measure the cost of
// AT mode, not lock waits.
func atPostgresCommand() *cobra.Command {
	return atCommand("at-postgres", "a two-row transfer on PostgreSQL: plain local transaction vs AT global transaction",
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL DSN (pgx syntax)", runATPostgres)
}

func runATPostgres(ctx context.Context, w io.Writer, lf loadFlags, dsn string) error {
	const table = "txc_bench_pg_account"
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	plain, err := openPlain(ctx, "pgx", dsn, lf.clients, func(db *sql.DB) error {
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, "CREATE TABLE "+table+" (id bigint PRIMARY KEY, balance bigint NOT NULL)"); err != nil {
			return err
		}
		_, err := db.ExecContext(ctx, "INSERT INTO "+table+" SELECT g, 1000000000 FROM generate_series(0, $1) g", 2*lf.clients-1)
		return err
	})
	if err != nil {
		return err
	}
	defer plain.Close()
	return runATTransfer(ctx, w, lf, atTransfer{scenario: "at-postgres", table: table, plain: plain,
		open: func(m *rm.Manager) (*sql.DB, error) {
			return txcpg.OpenDB(cfg, datasource.WithManager(m), datasource.WithCreateUndoTable())
		},
		debit:  "UPDATE " + table + " SET balance = balance - $1 WHERE id = $2",
		credit: "UPDATE " + table + " SET balance = balance + $1 WHERE id = $2",
	})
}
