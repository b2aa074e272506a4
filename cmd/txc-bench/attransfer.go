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

	"github.com/spf13/cobra"

	"github.com/txcio/txc/client"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tm"
)

// atTransfer is one database's side of the at-mysql and at-postgres
// scenarios: the same transfer between two rows (two UPDATEs in one local
// transaction) run first as a plain local transaction, then as an AT
// global transaction through the proxy, with the same clients, in the
// same run. Each client moves money between its own two rows 2i and 2i+1,
// so the figures measure the cost of AT mode, not lock waits.
type atTransfer struct {
	scenario string
	mode     datasource.Mode // of the proxy: AT, or XA for xa-mysql and xa-postgres
	// prepared counts the XA branches the database holds prepared (XA
	// mode): the run waits for their phase 2 before its RMs go.
	prepared func(ctx context.Context, db *sql.DB) (int, error)
	table    string  // created and seeded by the caller: rows 0 … 2·clients−1
	plain    *sql.DB // the wrapped driver, for the plain run and the final check
	// open opens the proxy for one RM.
	open func(m *rm.Manager) (*sql.DB, error)
	// debit and credit are the two UPDATEs, each taking (amount, id).
	debit, credit string
	// floor and floorDialect are the --floor half: the SQL the proxy sends
	// for the transfer, replayed on the plain driver (see runFloor).
	floor        floorOpener
	floorDialect undo.Dialect
	// floorSteps are the steps of floor that --floor-omit may leave out.
	floorSteps []string
	// xaFloor is the --floor half in XA mode (see runXAFloor).
	xaFloor floorOpener
}

// atCommand is the command of an AT transfer scenario: the load flags
// (16 clients by default) and --dsn, then run with them.
func atCommand(use, short, dsnDefault, dsnUsage string, run func(ctx context.Context, w io.Writer, lf loadFlags, dsn string) error) *cobra.Command {
	var (
		lf  loadFlags
		dsn string
	)
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
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
			return run(cmd.Context(), cmd.OutOrStdout(), lf, dsn)
		},
	}
	f := cmd.Flags()
	lf.register(f, "client connections to the coordinator (each with its TM and RM)")
	lf.registerOnly(f)
	lf.clients = 16
	f.Lookup("clients").DefValue = "16"
	f.StringVar(&dsn, "dsn", dsnDefault, dsnUsage)
	return cmd
}

// openPlain opens the plain run's pool on the wrapped driver, sized for
// the clients, and runs setup on it (the table's creation and seeding).
func openPlain(ctx context.Context, driverName, dsn string, clients int, setup func(*sql.DB) error) (*sql.DB, error) {
	plain, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	plain.SetMaxOpenConns(clients + 8)
	plain.SetMaxIdleConns(clients + 8)
	if err := setup(plain); err != nil {
		plain.Close()
		return nil, err
	}
	return plain, nil
}

// waitPhase2 waits, in XA mode, until phase 2 has finished every branch
// the run prepared: a branch left prepared would keep its rows locked
// after the run, with no RM left to finish it.
func (t atTransfer) waitPhase2(ctx context.Context) error {
	if t.prepared == nil {
		return nil
	}
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := t.prepared(ctx, t.plain)
		if err != nil || n == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d branches still prepared a minute after the run", t.scenario, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scenarioName is "at-" or "xa-" and the database.
func scenarioName(mode datasource.Mode, db string) string {
	if mode == datasource.XA {
		return "xa-" + db
	}
	return "at-" + db
}

// atResult is the scenarios' last line (in the xa scenarios the at_
// fields are the XA half's).
type atResult struct {
	Scenario   string  `json:"scenario"`
	Clients    int     `json:"clients"`
	Seconds    float64 `json:"seconds"`
	PlainTxSec float64 `json:"plain_tx_per_sec"`
	PlainP50   float64 `json:"plain_p50_ms"`
	PlainP99   float64 `json:"plain_p99_ms"`
	ATTxSec    float64 `json:"at_tx_per_sec"`
	ATP50      float64 `json:"at_p50_ms"`
	ATP99      float64 `json:"at_p99_ms"`
	Ratio      float64 `json:"ratio"`
	// The --floor half: the AT (XA) transfer's SQL alone, and its ratio to plain.
	FloorTxSec float64 `json:"floor_tx_per_sec,omitempty"`
	FloorP50   float64 `json:"floor_p50_ms,omitempty"`
	FloorP99   float64 `json:"floor_p99_ms,omitempty"`
	FloorRatio float64 `json:"floor_ratio,omitempty"`
	Errors     int64   `json:"errors"`
	// CPU is each half's CPU per transaction of the watched processes over
	// its measured window (--cpu-watch), in µs, by half ("plain", "at",
	// "floor") and process name.
	CPU map[string]map[string]float64 `json:"cpu_us_per_tx,omitempty"`
}

// runATTransfer runs both halves of the scenario, checks that no money was
// created or lost, and reports.
func runATTransfer(ctx context.Context, w io.Writer, lf loadFlags, t atTransfer) error {
	if err := t.checkOmit(lf); err != nil {
		return err
	}
	ps, err := dialParticipants(ctx, lf, t)
	defer ps.close()
	if err != nil {
		return err
	}
	var pl, at, fl load
	if lf.only == "" || lf.only == "plain" {
		fmt.Fprintf(w, "plain local transactions, %d clients, %v\n", lf.clients, lf.duration)
		pl = lf.run(func(id, n int) error { return t.transfer(ctx, t.plain, id, n) })
	}
	if lf.floor {
		fmt.Fprintf(w, "floor: the %v transfer's SQL alone on the plain driver, %d clients, %v\n", t.mode, lf.clients, lf.duration)
		if fl, err = runFloorHalf(ctx, lf, t); err != nil {
			return err
		}
	}
	if lf.only == "" || lf.only == "at" {
		if err := ps.prime(ctx, t); err != nil {
			return err
		}
		fmt.Fprintf(w, "%v global transactions, %d clients, %v\n", t.mode, lf.clients, lf.duration)
		at = lf.run(func(id, n int) error {
			k := id % len(ps.tms)
			return ps.tms[k].WithGlobalTx(ctx, tm.Config{Name: "bench-" + t.scenario, Timeout: 30 * time.Second}, func(ctx context.Context) error {
				return t.transfer(ctx, ps.dbs[k], id, n)
			})
		})
	}
	if err := t.waitPhase2(ctx); err != nil {
		return err
	}
	if err := t.checkTotal(ctx, lf.clients); err != nil {
		return err
	}
	return reportAT(w, lf, t, pl, at, fl)
}

// participants are the bench's coordinator connections, each with a TM
// and a proxied database of its own RM.
type participants struct {
	conns []*client.Conn
	tms   []*tm.Manager
	dbs   []*sql.DB
}

func (ps *participants) close() {
	for _, db := range ps.dbs {
		db.Close()
	}
	for _, c := range ps.conns {
		c.Close()
	}
}

// prime runs one global transaction on each connection before the
// measured load, so that the proxies' first-use work (metadata, undo
// table check) is not timed: on a busy database its catalog reads can
// outlast the warm-up.
func (ps *participants) prime(ctx context.Context, t atTransfer) error {
	for k := range ps.tms {
		err := ps.tms[k].WithGlobalTx(ctx, tm.Config{Name: "bench-" + t.scenario + "-prime", Timeout: time.Minute}, func(ctx context.Context) error {
			return t.transfer(ctx, ps.dbs[k], 0, 2*k)
		})
		if err != nil {
			return fmt.Errorf("%s: first global transaction: %w", t.scenario, err)
		}
	}
	return nil
}

// dialParticipants opens lf.conns connections to the coordinator, a TM
// on each and the scenario's proxied database on each one's RM.
func dialParticipants(ctx context.Context, lf loadFlags, t atTransfer) (*participants, error) {
	ps := &participants{}
	for i := 0; i < lf.conns; i++ {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := client.Dial(dctx, lf.addr, client.WithName(fmt.Sprintf("txc-bench-%s-%d", t.scenario, i)))
		cancel()
		if err != nil {
			return ps, err
		}
		ps.conns = append(ps.conns, c)
		ps.tms = append(ps.tms, tm.New(c))
		db, err := t.open(rm.New(c))
		if err != nil {
			return ps, err
		}
		db.SetMaxOpenConns(lf.clients/lf.conns + 8)
		db.SetMaxIdleConns(lf.clients/lf.conns + 8)
		ps.dbs = append(ps.dbs, db)
	}
	if err := roundTrip(ctx, ps.conns[0]); errors.Is(err, context.Canceled) {
		return ps, err
	}
	return ps, nil
}

// transfer moves 1 between the two accounts of client id, one way or the
// other by n's parity, in one local transaction on db.
func (t atTransfer) transfer(ctx context.Context, db *sql.DB, id, n int) error {
	from, to := 2*id, 2*id+1
	if n%2 == 1 {
		from, to = to, from
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, t.debit, 1, from); err != nil {
		tx.Rollback()
		return err
	}
	if _, err := tx.ExecContext(ctx, t.credit, 1, to); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// checkTotal fails unless the accounts still hold what they began with.
func (t atTransfer) checkTotal(ctx context.Context, clients int) error {
	var total int64
	if err := t.plain.QueryRowContext(ctx, "SELECT SUM(balance) FROM "+t.table).Scan(&total); err != nil {
		return err
	}
	if want := int64(2*clients) * 1000000000; total != want {
		return fmt.Errorf("%s: the accounts hold %d, want %d", t.scenario, total, want)
	}
	return nil
}

// reportAT prints the figures and, last, the JSON line.
func reportAT(w io.Writer, lf loadFlags, t atTransfer, pl, at, fl load) error {
	secs := lf.duration.Seconds()
	slices.Sort(pl.lat)
	slices.Sort(at.lat)
	slices.Sort(fl.lat)
	r := atResult{Scenario: t.scenario, Clients: lf.clients, Seconds: secs,
		PlainTxSec: float64(pl.measured) / secs, PlainP50: ms(pl.lat.percentile(0.5)), PlainP99: ms(pl.lat.percentile(0.99)),
		ATTxSec: float64(at.measured) / secs, ATP50: ms(at.lat.percentile(0.5)), ATP99: ms(at.lat.percentile(0.99)),
		Errors: pl.failed + at.failed + fl.failed}
	if r.PlainTxSec > 0 {
		r.Ratio = r.ATTxSec / r.PlainTxSec
	}
	if lf.floor {
		r.FloorTxSec, r.FloorP50, r.FloorP99 = float64(fl.measured)/secs, ms(fl.lat.percentile(0.5)), ms(fl.lat.percentile(0.99))
		if r.PlainTxSec > 0 {
			r.FloorRatio = r.FloorTxSec / r.PlainTxSec
		}
		fmt.Fprintf(w, "floor      %.0f tx/s  p50 %.2f ms  p99 %.2f ms  (ratio %.2f)\n", r.FloorTxSec, r.FloorP50, r.FloorP99, r.FloorRatio)
	}
	fmt.Fprintf(w, "plain      %.0f tx/s  p50 %.2f ms  p99 %.2f ms\n%-10v %.0f tx/s  p50 %.2f ms  p99 %.2f ms\nratio      %.2f\n",
		r.PlainTxSec, r.PlainP50, r.PlainP99, t.mode, r.ATTxSec, r.ATP50, r.ATP99, r.Ratio)
	for _, h := range []struct {
		name string
		l    load
	}{{"plain", pl}, {"floor", fl}, {"at", at}} {
		if h.l.cpu == nil {
			continue
		}
		if r.CPU == nil {
			r.CPU = map[string]map[string]float64{}
		}
		r.CPU[h.name] = h.l.cpu
		fmt.Fprintf(w, "%-10s %s\n", h.name, lf.watch.cpuLine(h.l.cpu))
	}
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(line))
	return err
}
