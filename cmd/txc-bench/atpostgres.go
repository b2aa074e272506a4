package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib" // "pgx", the plain run's driver
	"github.com/spf13/cobra"

	"github.com/txcio/txc/datasource"
	txcpg "github.com/txcio/txc/datasource/postgres"
	"github.com/txcio/txc/datasource/undo"
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
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL DSN (pgx syntax)", runPostgresTransfer(datasource.AT))
}

// xaPostgresCommand is the "xa-postgres" scenario: the at-postgres
// transfer with the proxy in XA mode (begin → register + BEGIN → two
// UPDATEs → PREPARE TRANSACTION → global commit → COMMIT PREPARED in
// phase 2). The server needs max_prepared_transactions ≥ the clients.
func xaPostgresCommand() *cobra.Command {
	return atCommand("xa-postgres", "a two-row transfer on PostgreSQL: plain local transaction vs XA global transaction",
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL DSN (pgx syntax); the server needs max_prepared_transactions > 0", runPostgresTransfer(datasource.XA))
}

// runPostgresTransfer runs the PostgreSQL transfer with the proxy in mode.
func runPostgresTransfer(mode datasource.Mode) func(ctx context.Context, w io.Writer, lf loadFlags, dsn string) error {
	return func(ctx context.Context, w io.Writer, lf loadFlags, dsn string) error {
		return runATPostgres(ctx, w, lf, dsn, mode)
	}
}

func runATPostgres(ctx context.Context, w io.Writer, lf loadFlags, dsn string, mode datasource.Mode) error {
	table := benchTable("txc_bench_pg_account", mode)
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
	defer plain.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+table)
	var prepared func(context.Context, *sql.DB) (int, error)
	if mode == datasource.XA {
		prepared = func(ctx context.Context, db *sql.DB) (n int, err error) {
			err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM pg_prepared_xacts WHERE database = current_database() AND gid LIKE 'txc:%'").Scan(&n)
			return n, err
		}
	}
	return runATTransfer(ctx, w, lf, atTransfer{scenario: scenarioName(mode, "postgres"), mode: mode, prepared: prepared, table: table, plain: plain,
		open: func(m *rm.Manager) (*sql.DB, error) {
			return txcpg.OpenDB(cfg, datasource.WithManager(m), datasource.WithCreateUndoTable(), datasource.WithMode(mode))
		},
		debit:  "UPDATE " + table + " SET balance = balance - $1 WHERE id = $2",
		credit: "UPDATE " + table + " SET balance = balance + $1 WHERE id = $2",
		floor:  postgresFloor(table, lf.floorOmit), floorDialect: undo.Postgres, xaFloor: postgresXAFloor(table),
		floorSteps: []string{omitProbe, omitInsert},
	})
}

// postgresFloor is the at-postgres floor: the statements the PostgreSQL
// proxy sends for the transfer, through pgx as the proxy sends them:
// BEGIN with the table's lock and catalog probe in one batch; each UPDATE
// as the one joined statement that locks, images and writes its row; the
// undo insert and COMMIT in one batch. 4 round trips, as many as the plain
// transfer's. omit leaves one step out (see checkOmit): without the probe
// the BEGIN goes alone, as the UPDATEs would then send it.
func postgresFloor(table, omit string) floorOpener {
	return func(ctx context.Context, c *sql.Conn, undoRef string) (floorTx, error) {
		rel := `"` + table + `"`
		lock, probe := txcpg.TableProbe(rel)
		joined := func(op string) string {
			t := "public." + table
			return "UPDATE ONLY " + t + " SET balance = balance " + op + " $1 FROM (SELECT " + table + ".id, " + table +
				".balance FROM ONLY " + t + " WHERE id = $2 FOR UPDATE OF " + table + ") txc_old(txc_old_0, txc_old_1) WHERE " +
				table + ".id = txc_old.txc_old_0 RETURNING txc_old.txc_old_0, txc_old.txc_old_1, " + table + ".id, " + table + ".balance"
		}
		debit, credit := joined("-"), joined("+")
		insert := "INSERT INTO " + undoRef + " (xid, branch_id, state, log) VALUES ($1, $2, 0, $3)"
		return func(ctx context.Context, from, to int, xid string, branch int64) error {
			return c.Raw(func(dc any) error {
				pc, ok := dc.(*stdlib.Conn)
				if !ok {
					return fmt.Errorf("floor: %T is not pgx's connection", dc)
				}
				conn := pc.Conn()
				b := &pgx.Batch{}
				b.Queue("BEGIN")
				if omit != omitProbe {
					b.Queue(lock)
					b.Queue(probe, rel)
				}
				if err := conn.SendBatch(ctx, b).Close(); err != nil {
					return err
				}
				for _, w := range []struct {
					q  string
					id int
				}{{debit, from}, {credit, to}} {
					rows, err := conn.Query(ctx, w.q, 1, w.id)
					if err != nil {
						return err
					}
					for rows.Next() {
					}
					if rows.Close(); rows.Err() != nil {
						return rows.Err()
					}
				}
				b = &pgx.Batch{}
				if omit != omitInsert {
					b.Queue(insert, xid, branch, floorLog)
				}
				b.Queue("COMMIT")
				return conn.SendBatch(ctx, b).Close()
			})
		}, nil
	}
}
