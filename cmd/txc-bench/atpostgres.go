package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx", the plain run's driver
	"github.com/spf13/cobra"

	"github.com/txcio/txc/client"
	"github.com/txcio/txc/datasource"
	txcpg "github.com/txcio/txc/datasource/postgres"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tm"
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

	var conns []*client.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var tms []*tm.Manager
	var mgrs []*rm.Manager
	for i := 0; i < lf.conns; i++ {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := client.Dial(dctx, lf.addr, client.WithName(fmt.Sprintf("txc-bench-atpg-%d", i)))
		cancel()
		if err != nil {
			return err
		}
		conns = append(conns, c)
		tms = append(tms, tm.New(c))
		mgrs = append(mgrs, rm.New(c))
	}
	var dbs []*sql.DB
	for _, m := range mgrs {
		db, err := txcpg.OpenDB(cfg, datasource.WithManager(m), datasource.WithCreateUndoTable())
		if err != nil {
			return err
		}
		defer db.Close()
		db.SetMaxOpenConns(lf.clients/len(mgrs) + 8)
		db.SetMaxIdleConns(lf.clients/len(mgrs) + 8)
		dbs = append(dbs, db)
	}
	if _, err := conns[0].Status(ctx, "bench:1"); errors.Is(err, context.Canceled) {
		return err
	}

	transfer := func(ctx context.Context, db *sql.DB, id, n int) error {
		from, to := 2*id, 2*id+1
		if n%2 == 1 {
			from, to = to, from
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+table+" SET balance = balance - $1 WHERE id = $2", 1, from); err != nil {
			tx.Rollback()
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+table+" SET balance = balance + $1 WHERE id = $2", 1, to); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	fmt.Fprintf(w, "plain local transactions, %d clients, %v\n", lf.clients, lf.duration)
	pl := runLoad(lf.clients, lf.warmup, lf.duration, func(id, n int) error { return transfer(ctx, plain, id, n) })
	fmt.Fprintf(w, "AT global transactions, %d clients, %v\n", lf.clients, lf.duration)
	at := runLoad(lf.clients, lf.warmup, lf.duration, func(id, n int) error {
		k := id % len(tms)
		return tms[k].WithGlobalTx(ctx, tm.Config{Name: "bench-at-pg", Timeout: 30 * time.Second}, func(ctx context.Context) error {
			return transfer(ctx, dbs[k], id, n)
		})
	})
	var total int64
	if err := plain.QueryRowContext(ctx, "SELECT SUM(balance) FROM "+table).Scan(&total); err != nil {
		return err
	}
	if want := int64(2*lf.clients) * 1000000000; total != want {
		return fmt.Errorf("at-postgres: the accounts hold %d, want %d", total, want)
	}
	secs := lf.duration.Seconds()
	slices.Sort(pl.lat)
	slices.Sort(at.lat)
	r := atMySQLResult{Scenario: "at-postgres", Clients: lf.clients, Seconds: secs,
		PlainTxSec: float64(pl.measured) / secs, PlainP50: ms(pl.lat.percentile(0.5)), PlainP99: ms(pl.lat.percentile(0.99)),
		ATTxSec: float64(at.measured) / secs, ATP50: ms(at.lat.percentile(0.5)), ATP99: ms(at.lat.percentile(0.99)),
		Errors: pl.failed + at.failed}
	if r.PlainTxSec > 0 {
		r.Ratio = r.ATTxSec / r.PlainTxSec
	}
	fmt.Fprintf(w, "plain      %.0f tx/s  p50 %.2f ms  p99 %.2f ms\nAT         %.0f tx/s  p50 %.2f ms  p99 %.2f ms\nratio      %.2f\n",
		r.PlainTxSec, r.PlainP50, r.PlainP99, r.ATTxSec, r.ATP50, r.ATP99, r.Ratio)
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(line))
	return err
}
