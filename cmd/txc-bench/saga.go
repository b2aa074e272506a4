package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the log's driver
	"github.com/spf13/cobra"

	"github.com/txcio/txc/client"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/saga"
	"github.com/txcio/txc/saga/sqllog"
)

// sagaCommand is the "saga" scenario: each client runs a two-step saga with
// empty steps (saga.Engine.Run, waiting for the end) on engines served by
// this process, with the execution log on PostgreSQL. One saga is begin →
// register the saga branch → commit at the coordinator, the branch's
// phase-2 commit delivered back here, and three log saves (instance + start
// of step 1; end of 1 + start of 2; end of 2 + final status), shared with
// concurrent sagas by the store's batching.
func sagaCommand() *cobra.Command {
	var (
		lf       loadFlags
		dsn      string
		writers  int
		maxBatch int
		keep     bool
		memory   bool
	)
	cmd := &cobra.Command{
		Use:   "saga",
		Short: "two-step sagas with empty steps, execution log on PostgreSQL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := lf.validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			if memory {
				r, lat, err := runSaga(ctx, lf, saga.NewMemoryStore())
				if err != nil {
					return err
				}
				r.Scenario = "saga-memory-log"
				return report(cmd.OutOrStdout(), r, lat)
			}
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				return err
			}
			defer db.Close()
			db.SetMaxOpenConns(writers*lf.conns + 8)
			db.SetMaxIdleConns(writers*lf.conns + 8)
			store, err := sqllog.New(ctx, db, sqllog.Options{TablePrefix: "txc_bench_saga", CreateTables: true, Writers: writers, MaxBatch: maxBatch})
			if err != nil {
				return err
			}
			defer store.Close()
			if !keep {
				for _, t := range []string{"txc_bench_saga_step", "txc_bench_saga_instance"} {
					if _, err := db.ExecContext(ctx, "TRUNCATE "+t); err != nil {
						return err
					}
				}
			}
			stopProfile, err := lf.startProfile()
			if err != nil {
				return err
			}
			defer stopProfile()
			r, lat, err := runSaga(ctx, lf, store)
			if err != nil {
				return err
			}
			var n int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM txc_bench_saga_instance WHERE status = 3").Scan(&n); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "log        %d succeeded instances in txc_bench_saga_instance\n", n)
			r.Scenario = "saga"
			return report(cmd.OutOrStdout(), r, lat)
		},
	}
	f := cmd.Flags()
	lf.register(f, "client connections, each with its own saga engine")
	f.StringVar(&dsn, "dsn", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL DSN of the execution log")
	f.IntVar(&writers, "writers", 2, "log transactions in flight at once (sqllog.Options.Writers)")
	f.IntVar(&maxBatch, "max-batch", 1024, "records per log transaction at most")
	f.BoolVar(&memory, "memory-log", false, "keep the log in memory instead (scenario saga-memory-log: the coordinator's share alone)")
	f.BoolVar(&keep, "keep", false, "keep the log of earlier runs (default: truncate the bench tables first)")
	return cmd
}

func runSaga(ctx context.Context, lf loadFlags, store saga.Store) (result, latencies, error) {
	var engines []*saga.Engine
	var conns []*client.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	empty := saga.ServiceFunc(func(context.Context, *saga.Request) (json.RawMessage, error) { return nil, nil })
	host, _ := os.Hostname()
	for i := 0; i < lf.conns; i++ {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := client.Dial(dctx, lf.addr, client.WithName(fmt.Sprintf("txc-bench-saga-%d", i)))
		cancel()
		if err != nil {
			return result{}, nil, err
		}
		conns = append(conns, c)
		eng, err := saga.NewEngine(saga.Config{Name: fmt.Sprintf("bench-%s-%d-%d", host, os.Getpid(), i),
			Coordinator: saga.Coordinated(rm.New(c)), Store: store})
		if err != nil {
			return result{}, nil, err
		}
		def, err := saga.Define("bench").
			Step(saga.Step("one").Func(empty).CompensateFunc(empty)).
			Step(saga.Step("two").Func(empty).CompensateFunc(empty)).
			Build()
		if err != nil {
			return result{}, nil, err
		}
		if err := eng.Register(def); err != nil {
			return result{}, nil, err
		}
		engines = append(engines, eng)
		// Serve does not wait for the coordinator; a round trip after it does.
		if err := roundTrip(ctx, c); errors.Is(err, context.Canceled) {
			return result{}, nil, err
		}
	}
	l := runLoad(lf.clients, lf.warmup, lf.duration, func(id, n int) error {
		_, err := engines[id%len(engines)].Run(ctx, "bench", benchArgs{id, n})
		return err
	})
	secs := lf.duration.Seconds()
	r := result{Clients: lf.clients, Tx: int(l.measured), Errors: int(l.failed), Seconds: secs, TxPerSec: float64(l.measured) / secs}
	return r, l.lat, nil
}
