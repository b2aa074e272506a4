package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the fence's driver
	"github.com/spf13/cobra"

	"github.com/txcio/txc/client"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/rm/tcc"
	"github.com/txcio/txc/tm"
)

// tccCommand is the "tcc" scenario: each client runs tm.WithGlobalTx with
// two TCC participants (on two resources) served by this same process, so
// a transaction is begin → register+Try ×2 → commit → Confirm ×2. Without
// --fence-dsn the bodies are empty; with it both participants are fenced on
// PostgreSQL (each Try and each Confirm is one local transaction writing a
// fence row) and the scenario is "tcc-fence-postgres".
func tccCommand() *cobra.Command {
	var (
		lf        loadFlags
		fenceDSN  string
		waitBegin bool
	)
	cmd := &cobra.Command{
		Use:   "tcc",
		Short: "tm.WithGlobalTx with two in-process TCC participants (empty bodies, or fenced on PostgreSQL)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := lf.validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			var fence *tcc.Fence
			scenario := "tcc"
			if fenceDSN != "" {
				db, err := sql.Open("pgx", fenceDSN)
				if err != nil {
					return err
				}
				defer db.Close()
				db.SetMaxOpenConns(lf.clients + 8)
				db.SetMaxIdleConns(lf.clients + 8)
				fence, err = tcc.NewFence(ctx, db, tcc.FenceOptions{Table: "txc_bench_tcc_fence", CreateTable: true})
				if err != nil {
					return err
				}
				defer fence.Cleanup(context.WithoutCancel(ctx), 0)
				scenario = "tcc-fence-postgres"
			}
			stopProfile, err := lf.startProfile()
			if err != nil {
				return err
			}
			defer stopProfile()
			r, lat, confirmed, err := runTCC(ctx, lf.addr, lf.clients, lf.conns, lf.warmup, lf.duration, fence, waitBegin)
			if err != nil {
				return err
			}
			r.Scenario = scenario
			fmt.Fprintf(cmd.OutOrStdout(), "phase 2    %d confirms run\n", confirmed)
			return report(cmd.OutOrStdout(), r, lat)
		},
	}
	f := cmd.Flags()
	lf.register(f, "client connections (each with its TM and RM) the transactions share")
	f.StringVar(&fenceDSN, "fence-dsn", "", "PostgreSQL DSN: fence both participants there (e.g. postgres://postgres@127.0.0.1:5432/test)")
	f.BoolVar(&waitBegin, "wait-begin", false, "turn pipelined begins off (tm.WithPipelinedBegin(false))")
	return cmd
}

// benchArgs are the participants' arguments (stored with each branch).
type benchArgs struct {
	Client int `json:"c"`
	N      int `json:"n"`
}

type tccEndpoint struct {
	tm   *tm.Manager
	a, b *tcc.Participant[benchArgs]
}

func runTCC(ctx context.Context, addr string, clients, nconns int, warmup, duration time.Duration, fence *tcc.Fence, waitBegin bool) (result, latencies, int64, error) {
	var confirmed atomic.Int64
	var eps []tccEndpoint
	var conns []*client.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < nconns; i++ {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := client.Dial(dctx, addr, client.WithName(fmt.Sprintf("txc-bench-tcc-%d", i)))
		cancel()
		if err != nil {
			return result{}, nil, 0, err
		}
		conns = append(conns, c)
		mgr := rm.New(c)
		ep := tccEndpoint{tm: tm.New(c, tm.WithPipelinedBegin(!waitBegin))}
		for j, p := range []**tcc.Participant[benchArgs]{&ep.a, &ep.b} {
			res, err := tcc.NewResource(mgr, fmt.Sprintf("bench-tcc-%c", 'a'+j))
			if err != nil {
				return result{}, nil, 0, err
			}
			if fence == nil {
				*p, err = tcc.Declare(res, "reserve", tcc.Funcs[benchArgs]{
					Try:     func(context.Context, benchArgs) error { return nil },
					Confirm: func(context.Context, benchArgs) error { confirmed.Add(1); return nil },
				})
			} else {
				*p, err = tcc.DeclareFenced(res, "reserve", fence, tcc.FencedFuncs[benchArgs]{
					Try:     func(context.Context, *sql.Tx, benchArgs) error { return nil },
					Confirm: func(context.Context, *sql.Tx, benchArgs) error { confirmed.Add(1); return nil },
				})
			}
			if err != nil {
				return result{}, nil, 0, err
			}
		}
		eps = append(eps, ep)
		// Serve does not wait for the coordinator; a round trip after it does.
		if err := roundTrip(ctx, c); errors.Is(err, context.Canceled) {
			return result{}, nil, 0, err
		}
	}
	txTimeout := 30 * time.Second
	l := runLoad(clients, warmup, duration, func(id, n int) error {
		ep := eps[id%len(eps)]
		return ep.tm.WithGlobalTx(ctx, tm.Config{Name: "bench-tcc", Timeout: txTimeout}, func(ctx context.Context) error {
			if err := ep.a.Try(ctx, benchArgs{id, n}); err != nil {
				return err
			}
			return ep.b.Try(ctx, benchArgs{id, n})
		})
	})
	// Let phase 2 finish: every committed transaction confirms two branches.
	for deadline := time.Now().Add(30 * time.Second); confirmed.Load() < 2*l.ok && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	secs := duration.Seconds()
	r := result{Clients: clients, Tx: int(l.measured), Errors: int(l.failed),
		Seconds: secs, TxPerSec: float64(l.measured) / secs}
	return r, l.lat, confirmed.Load(), nil
}
