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
// global transaction through the proxy (begin → two UPDATEs, each a locked
// before image and the UPDATE … RETURNING its after image → register +
// undo log + local commit → global commit → asynchronous undo cleanup),
// with the same clients, in the same run. Each client moves money between
// its own two rows, so the figures measure the cost of AT mode, not lock
// waits.
func atPostgresCommand() *cobra.Command {
	var (
		lf  loadFlags
		dsn string
	)
	cmd := &cobra.Command{
		Use:   "at-postgres",
		Short: "a two-row transfer on PostgreSQL: plain local transaction vs AT global transaction",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := lf.validate(); err != nil {
				return err
			}
			stopProfile, err := lf.startProfile()
			if err != nil {
				return err
			}
			defer stopProfile()
			return runATPostgres(cmd.Context(), cmd.OutOrStdout(), lf, dsn)
		},
	}
	f := cmd.Flags()
	lf.register(f, "client connections to the coordinator (each with its TM and RM)")
	lf.registerOnly(f)
	lf.clients = 16
	f.Lookup("clients").DefValue = "16"
	f.StringVar(&dsn, "dsn", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL DSN (pgx syntax)")
	return cmd
}

func runATPostgres(ctx context.Context, w io.Writer, lf loadFlags, dsn string) error {
	const table = "txc_bench_pg_account"
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	plain, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer plain.Close()
	plain.SetMaxOpenConns(lf.clients + 8)
	plain.SetMaxIdleConns(lf.clients + 8)
	for _, q := range []string{"DROP TABLE IF EXISTS " + table, "CREATE TABLE " + table + " (id bigint PRIMARY KEY, balance bigint NOT NULL)",
		"INSERT INTO " + table + " SELECT g, 1000000000 FROM generate_series(0, $1) g"} {
		var args []any
		if len(q) > 6 && q[:6] == "INSERT" {
			args = append(args, 2*lf.clients-1)
		}
		if _, err := plain.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}

	return runATTransfer(ctx, w, lf, atTransfer{scenario: "at-postgres", table: table, plain: plain,
		open: func(m *rm.Manager) (*sql.DB, error) {
			return txcpg.OpenDB(cfg, datasource.WithManager(m), datasource.WithCreateUndoTable())
		},
		debit:  "UPDATE " + table + " SET balance = balance - $1 WHERE id = $2",
		credit: "UPDATE " + table + " SET balance = balance + $1 WHERE id = $2",
	})
}
