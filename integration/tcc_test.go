package integration

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/rm/tcc"
	"github.com/txcio/txc/tm"
)

// The databases of this machine (scripts/databases.sh).
var tccDatabases = map[tcc.Dialect]struct{ driver, dsn string }{
	tcc.MySQL:    {"mysql", dbtest.MySQLDSN},
	tcc.Postgres: {"pgx", dbtest.PostgresDSN},
}

// tccDB opens a real database (see internal/dbtest).
func tccDB(t *testing.T, d tcc.Dialect) *sql.DB {
	t.Helper()
	c := tccDatabases[d]
	return dbtest.Open(t, c.driver, c.dsn)
}

// tccTables makes unique business-log and fence table names on db, dropped
// at the end of the test. The business log records every business call:
// (xid, branch_id, phase, amount).
func tccTables(t *testing.T, db *sql.DB) (biz, fence string) {
	t.Helper()
	n := fmt.Sprintf("%d_%d", time.Now().UnixNano()%1e9, rand.IntN(1e6))
	biz, fence = "it_tcc_biz_"+n, "it_tcc_fence_"+n
	if _, err := db.Exec("CREATE TABLE " + biz + " (xid VARCHAR(128) NOT NULL, branch_id BIGINT NOT NULL, phase VARCHAR(16) NOT NULL, amount BIGINT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Exec("DROP TABLE IF EXISTS " + biz)
		db.Exec("DROP TABLE IF EXISTS " + fence)
	})
	return biz, fence
}

func ph(d tcc.Dialect, q string) string {
	if d == tcc.MySQL {
		return q
	}
	for i := 1; strings.Contains(q, "?"); i++ {
		q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
	}
	return q
}

// phaseCalls counts business calls of xid in phase, and sums their amounts.
func phaseCalls(t *testing.T, db *sql.DB, d tcc.Dialect, biz string, xid txc.XID, phase string) (n, amount int64) {
	t.Helper()
	if err := db.QueryRow(ph(d, "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM "+biz+" WHERE xid = ? AND phase = ?"), string(xid), phase).Scan(&n, &amount); err != nil {
		t.Fatal(err)
	}
	return n, amount
}

// waitCalls waits until xid has want calls in phase (or fails).
func waitCalls(t *testing.T, db *sql.DB, d tcc.Dialect, biz string, xid txc.XID, phase string, want int64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, _ := phaseCalls(t, db, d, biz, xid, phase)
		if n == want {
			return
		}
		if n > want || time.Now().After(deadline) {
			t.Fatalf("%s: %d %s calls, want %d", xid, n, phase, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fenceRecorder is a local fenced participant "charge" on resource
// "tcc:payment" of db, in this test process.
type fenceRecorder struct {
	d      tcc.Dialect
	db     *sql.DB
	biz    string
	fence  *tcc.Fence
	p      *tcc.Participant[int64]
	failTo atomic.Int64 // Try fails for amounts ≥ this (0: never)
}

func newLocalParticipant(t *testing.T, addr string, d tcc.Dialect, delay func(phase string) time.Duration, opts ...tcc.Option) *fenceRecorder {
	t.Helper()
	r := &fenceRecorder{d: d, db: tccDB(t, d)}
	var fenceTable string
	r.biz, fenceTable = tccTables(t, r.db)
	var err error
	if r.fence, err = tcc.NewFence(context.Background(), r.db, tcc.FenceOptions{Table: fenceTable, CreateTable: true}); err != nil {
		t.Fatal(err)
	}
	res, err := tcc.NewResource(rm.New(dial(t, addr, "payment")), "tcc:payment", opts...)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(phase string) func(ctx context.Context, tx *sql.Tx, amount int64) error {
		return func(ctx context.Context, tx *sql.Tx, amount int64) error {
			if f := r.failTo.Load(); phase == "try" && f > 0 && amount >= f {
				return fmt.Errorf("payment: %d declined", amount)
			}
			b, _ := tcc.BranchFromContext(ctx)
			if _, err := tx.ExecContext(ctx, ph(d, "INSERT INTO "+r.biz+" (xid, branch_id, phase, amount) VALUES (?, ?, ?, ?)"),
				string(b.XID), int64(b.ID), phase, amount); err != nil {
				return err
			}
			if delay != nil {
				time.Sleep(delay(phase))
			}
			return nil
		}
	}
	if r.p, err = tcc.DeclareFenced(res, "charge", r.fence, tcc.FencedFuncs[int64]{Try: rec("try"), Confirm: rec("confirm"), Cancel: rec("cancel")}); err != nil {
		t.Fatal(err)
	}
	return r
}

// participantProc is a testdata/tccparticipant process: resource
// "tcc:stock", fenced on PostgreSQL, Try over HTTP.
type participantProc struct{ childProc }

func startParticipant(t *testing.T, tcAddr, biz, fence string) *participantProc {
	t.Helper()
	buildTestdata(t, "tccparticipant")
	p := &participantProc{childProc{t: t, name: "tccparticipant", args: []string{"--tc", tcAddr, "--biz-table", biz, "--fence-table", fence,
		"--dsn", tccDatabases[tcc.Postgres].dsn}}}
	p.start()
	t.Cleanup(func() {
		p.kill9()
		if t.Failed() {
			t.Logf("tccparticipant log:\n%s", tail(p.logText(), 4000))
		}
	})
	return p
}

// reserve calls the remote participant's Try over HTTP with ctx's XID.
func (p *participantProc) reserve(ctx context.Context, amount int64) error {
	req, _ := http.NewRequestWithContext(ctx, "POST", fmt.Sprintf("%s/reserve?sku=apple&amount=%d", p.url, amount), nil)
	resp, err := (&http.Client{Transport: tm.RoundTripper(nil)}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("stock service: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// TestTCCTwoParticipantsTwoProcesses: a local participant (MariaDB fence)
// and a remote one (another process, PostgreSQL fence, Try over HTTP with
// the XID propagated) commit together, roll back together, and a failed
// remote Try rolls both back (the remote Cancel being an empty rollback).
func TestTCCTwoParticipantsTwoProcesses(t *testing.T) {
	p := startTC(t, "--retry-min", "50ms", "--retry-max", "500ms")
	pg := tccDB(t, tcc.Postgres)
	stockBiz, stockFence := tccTables(t, pg)
	stock := startParticipant(t, p.addr, stockBiz, stockFence)
	pay := newLocalParticipant(t, p.addr, tcc.MySQL, nil)
	tmm := tm.New(dial(t, p.addr, "tm"))

	run := func(amount int64, fail error) (txc.XID, error) {
		var xid txc.XID
		err := tmm.WithGlobalTx(context.Background(), tm.Config{Name: "order", Timeout: 10 * time.Second}, func(ctx context.Context) error {
			xid, _ = tm.XIDFromContext(ctx)
			if err := pay.p.Try(ctx, amount); err != nil {
				return err
			}
			if err := stock.reserve(ctx, amount); err != nil {
				return err
			}
			return fail
		})
		return xid, err
	}

	xid, err := run(5, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitCalls(t, pay.db, tcc.MySQL, pay.biz, xid, "confirm", 1)
	waitCalls(t, pg, tcc.Postgres, stockBiz, xid, "confirm", 1)
	if _, amt := phaseCalls(t, pg, tcc.Postgres, stockBiz, xid, "confirm"); amt != 5 {
		t.Fatalf("remote confirm got amount %d, want 5", amt)
	}

	abort := errors.New("customer changed their mind")
	xid, err = run(6, abort)
	if !errors.Is(err, abort) {
		t.Fatalf("rolled-back transaction returned %v", err)
	}
	waitCalls(t, pay.db, tcc.MySQL, pay.biz, xid, "cancel", 1)
	waitCalls(t, pg, tcc.Postgres, stockBiz, xid, "cancel", 1)

	// The remote Try fails: its branch is registered, its Try left nothing,
	// so its Cancel is an empty rollback; the local one is cancelled.
	xid, err = run(-1, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot reserve") {
		t.Fatalf("failed remote try returned %v", err)
	}
	waitCalls(t, pay.db, tcc.MySQL, pay.biz, xid, "cancel", 1)
	waitQuiet(t, p, 15*time.Second)
	for _, phase := range []string{"try", "confirm", "cancel"} {
		if n, _ := phaseCalls(t, pg, tcc.Postgres, stockBiz, xid, phase); n != 0 {
			t.Fatalf("remote %s ran %d times for a failed try", phase, n)
		}
	}
	var st int
	if err := pg.QueryRow("SELECT status FROM "+stockFence+" WHERE xid = $1", string(xid)).Scan(&st); err != nil || st != 4 {
		t.Fatalf("remote fence row after a failed try and its cancel: status %d (%v), want 4 (suspended)", st, err)
	}
}

// TestTCCParticipantKilledAfterTry: the remote participant is killed -9
// after its Try, the transaction commits meanwhile, and the restarted
// process confirms with the arguments stored in the branch.
func TestTCCParticipantKilledAfterTry(t *testing.T) {
	p := startTC(t, "--retry-min", "50ms", "--retry-max", "300ms")
	pg := tccDB(t, tcc.Postgres)
	biz, fence := tccTables(t, pg)
	stock := startParticipant(t, p.addr, biz, fence)
	tmm := tm.New(dial(t, p.addr, "tm"))
	ctx := context.Background()
	gtx, tctx, err := tmm.Begin(ctx, tm.Config{Name: "order", Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := stock.reserve(tctx, 42); err != nil {
		t.Fatal(err)
	}
	stock.kill9()
	if err := gtx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// Once the coordinator has tried to confirm and found no process
	// serving the participant, no confirm may have run.
	waitFor(t, 10*time.Second, func() bool { s, _ := gtx.Status(ctx); return s == txc.GlobalCommitRetrying }, "a confirm attempt")
	if n, _ := phaseCalls(t, pg, tcc.Postgres, biz, gtx.XID(), "confirm"); n != 0 {
		t.Fatal("confirmed by a dead process")
	}
	stock.start()
	waitCalls(t, pg, tcc.Postgres, biz, gtx.XID(), "confirm", 1)
	if _, amt := phaseCalls(t, pg, tcc.Postgres, biz, gtx.XID(), "confirm"); amt != 42 {
		t.Fatalf("confirm after restart got amount %d, want 42", amt)
	}
	waitQuiet(t, p, 15*time.Second)
	if s, _ := gtx.Status(ctx); s != txc.GlobalCommitted {
		t.Fatalf("status %v", s)
	}
}

// deliveries counts the phase-2 deliveries a Resource logs.
type deliveries struct{ n atomic.Int64 }

func (d *deliveries) Enabled(context.Context, slog.Level) bool { return true }
func (d *deliveries) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "tcc: phase 2 delivery" {
		d.n.Add(1)
	}
	return nil
}
func (d *deliveries) WithAttrs([]slog.Attr) slog.Handler { return d }
func (d *deliveries) WithGroup(string) slog.Handler      { return d }

// TestTCCDuplicateDeliveries: Confirm and Cancel are slower than the
// coordinator's ack timeout, so it delivers them again while the first is
// running; the business function still runs once, on both databases.
func TestTCCDuplicateDeliveries(t *testing.T) {
	p := startTC(t, "--ack-timeout", "250ms", "--retry-min", "50ms", "--retry-max", "300ms")
	tmm := tm.New(dial(t, p.addr, "tm"))
	for _, d := range []tcc.Dialect{tcc.MySQL, tcc.Postgres} {
		t.Run(d.String(), func(t *testing.T) {
			var seen deliveries
			slow := func(phase string) time.Duration {
				if phase == "try" {
					return 0
				}
				return 900 * time.Millisecond
			}
			pay := newLocalParticipant(t, p.addr, d, slow, tcc.WithLogger(slog.New(&seen)))
			for _, commit := range []bool{true, false} {
				before := seen.n.Load()
				var xid txc.XID
				tmm.WithGlobalTx(context.Background(), tm.Config{Timeout: 10 * time.Second}, func(ctx context.Context) error {
					xid, _ = tm.XIDFromContext(ctx)
					if err := pay.p.Try(ctx, 3); err != nil {
						return err
					}
					if !commit {
						return errors.New("roll back")
					}
					return nil
				})
				phase := map[bool]string{true: "confirm", false: "cancel"}[commit]
				waitCalls(t, pay.db, d, pay.biz, xid, phase, 1)
				waitQuiet(t, p, 15*time.Second)
				if n, _ := phaseCalls(t, pay.db, d, pay.biz, xid, phase); n != 1 {
					t.Fatalf("%s ran %d times", phase, n)
				}
				if got := seen.n.Load() - before; got < 2 {
					t.Fatalf("%s was delivered %d times; the test needs a duplicate", phase, got)
				} else {
					t.Logf("%s delivered %d times, ran once", phase, got)
				}
			}
		})
	}
}

// TestTCCCancelBeforeTry: Try stalls after registering until the
// coordinator has rolled the transaction back at its deadline; the Cancel
// that arrives first is an empty rollback, and the late Try does not run.
func TestTCCCancelBeforeTry(t *testing.T) {
	p := startTC(t, "--retry-min", "50ms", "--retry-max", "300ms")
	tc := dial(t, p.addr, "tm")
	tmm := tm.New(tc)
	for _, d := range []tcc.Dialect{tcc.MySQL, tcc.Postgres} {
		t.Run(d.String(), func(t *testing.T) {
			var pay *fenceRecorder
			stall := func(ctx context.Context, b tcc.Branch) {
				// Wait for the Cancel's suspended row.
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
					var st int
					if pay.db.QueryRow(ph(d, "SELECT status FROM "+pay.fence.Table()+" WHERE xid = ?"), string(b.XID)).Scan(&st) == nil && st == 4 {
						return
					}
				}
			}
			pay = newLocalParticipant(t, p.addr, d, nil, tcc.WithRegisteredHook(stall))
			var xid txc.XID
			err := tmm.WithGlobalTx(context.Background(), tm.Config{Timeout: 500 * time.Millisecond}, func(ctx context.Context) error {
				xid, _ = tm.XIDFromContext(ctx)
				return pay.p.Try(ctx, 9)
			})
			if !errors.Is(err, tcc.ErrTryAfterCancel) || !errors.Is(err, txc.ErrRolledBack) {
				t.Fatalf("late try returned %v", err)
			}
			waitQuiet(t, p, 15*time.Second)
			for _, phase := range []string{"try", "cancel", "confirm"} {
				if n, _ := phaseCalls(t, pay.db, d, pay.biz, xid, phase); n != 0 {
					t.Fatalf("%s ran %d times", phase, n)
				}
			}
			if s, err := tc.Status(context.Background(), xid); s != txc.GlobalTimeoutRollbacked {
				t.Fatalf("status %v (%v), want TimeoutRollbacked", s, err)
			}
		})
	}
}

// TestTCCConcurrentTransactions: many transactions at once on one fenced
// participant (two branches of it per transaction), some committed, some
// rolled back, some with a failing Try; every branch ends confirmed once or
// cancelled at most once, never both.
func TestTCCConcurrentTransactions(t *testing.T) {
	p := startTC(t, "--retry-min", "50ms", "--retry-max", "300ms")
	tmm := tm.New(dial(t, p.addr, "tm"))
	pay := newLocalParticipant(t, p.addr, tcc.Postgres, nil)
	pay.failTo.Store(1000)
	type told struct {
		xid    txc.XID
		commit bool
	}
	var (
		mu  sync.Mutex
		all []told
		wg  sync.WaitGroup
	)
	for w := range 8 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			for range 20 {
				var xid txc.XID
				err := tmm.WithGlobalTx(context.Background(), tm.Config{Timeout: 10 * time.Second}, func(ctx context.Context) error {
					xid, _ = tm.XIDFromContext(ctx)
					for range 2 {
						amount := int64(1 + rnd.IntN(100))
						if rnd.IntN(10) == 0 {
							amount = 1000 // declined: Try fails
						}
						if err := pay.p.Try(ctx, amount); err != nil {
							return err
						}
					}
					if rnd.IntN(4) == 0 {
						return errors.New("abort")
					}
					return nil
				})
				mu.Lock()
				all = append(all, told{xid, err == nil})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	waitQuiet(t, p, 30*time.Second)
	commits := 0
	for _, o := range all {
		tries, _ := phaseCalls(t, pay.db, tcc.Postgres, pay.biz, o.xid, "try")
		confirms, _ := phaseCalls(t, pay.db, tcc.Postgres, pay.biz, o.xid, "confirm")
		cancels, _ := phaseCalls(t, pay.db, tcc.Postgres, pay.biz, o.xid, "cancel")
		switch {
		case o.commit && (tries != 2 || confirms != 2 || cancels != 0):
			t.Errorf("committed %s: %d tries, %d confirms, %d cancels", o.xid, tries, confirms, cancels)
		case !o.commit && (confirms != 0 || cancels != tries):
			t.Errorf("rolled back %s: %d tries, %d confirms, %d cancels", o.xid, tries, confirms, cancels)
		}
		if o.commit {
			commits++
		}
	}
	if commits == 0 || commits == len(all) {
		t.Fatalf("%d of %d committed: the mix did not run", commits, len(all))
	}
	t.Logf("%d transactions, %d committed", len(all), commits)
}

// TestTCCRetriesAndManualAction: a Confirm that fails is retried by the
// coordinator until it succeeds; one that fails permanently parks the
// transaction as needing manual action.
func TestTCCRetriesAndManualAction(t *testing.T) {
	p := startTC(t, "--retry-min", "50ms", "--retry-max", "200ms")
	c := dial(t, p.addr, "tm+rm")
	tmm := tm.New(c)
	res, err := tcc.NewResource(rm.New(c), "tcc:api")
	if err != nil {
		t.Fatal(err)
	}
	var attempts atomic.Int64
	call, err := tcc.Declare(res, "call", tcc.Funcs[string]{
		Try: func(context.Context, string) error { return nil },
		Confirm: func(_ context.Context, mode string) error {
			switch {
			case mode == "permanent":
				return txc.Permanent(errors.New("api: account closed"))
			case attempts.Add(1) < 3:
				return errors.New("api: 503")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	run := func(mode string) txc.XID {
		var xid txc.XID
		if err := tmm.WithGlobalTx(context.Background(), tm.Config{}, func(ctx context.Context) error {
			xid, _ = tm.XIDFromContext(ctx)
			return call.Try(ctx, mode)
		}); err != nil {
			t.Fatal(err)
		}
		return xid
	}
	xid := run("flaky")
	waitQuiet(t, p, 15*time.Second)
	if s, _ := c.Status(context.Background(), xid); s != txc.GlobalCommitted || attempts.Load() != 3 {
		t.Fatalf("flaky confirm: status %v after %d attempts", s, attempts.Load())
	}
	xid = run("permanent")
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, _ := c.Status(context.Background(), xid)
		if s == txc.GlobalCommitFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("permanent confirm failure: status %v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, body := p.get("/v1/transactions?manual=1"); code != 200 || !strings.Contains(body, string(xid)) {
		t.Fatalf("manual-action list (%d): %s", code, body)
	}
}
