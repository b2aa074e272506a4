package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/datasource"
	txcpg "github.com/txcio/txc/datasource/postgres"
	"github.com/txcio/txc/internal/logtest"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tc/server/servertest"
	"github.com/txcio/txc/tm"
)

// reportCounter counts the PhaseOneDone reports a client sends.
type reportCounter struct{ n atomic.Int64 }

// dialOption makes a client stream count its PhaseOneDone reports.
func (rc *reportCounter) dialOption() grpc.DialOption {
	return grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		cs, err := streamer(ctx, desc, cc, method, opts...)
		return countingStream{cs, rc}, err
	})
}

type countingStream struct {
	grpc.ClientStream
	rc *reportCounter
}

func (s countingStream) SendMsg(m any) error {
	if f, ok := m.(*txcv1.ClientFrame); ok {
		for _, msg := range f.GetMessages() {
			if r := msg.GetReport(); r != nil && txc.BranchStatus(r.GetStatus()) == txc.BranchPhaseOneDone {
				s.rc.n.Add(1)
			}
		}
	}
	return s.ClientStream.SendMsg(m)
}

// reports is the PhaseOneDone reports sent so far.
func (e *xaOutcomeEnv) reports() int { return int(e.counter.n.Load()) }

// xaOutcomeEnv is xaEnv whose TM and RM share a client that counts the
// PhaseOneDone reports it sends.
type xaOutcomeEnv struct {
	*xaEnv
	counter *reportCounter
}

func newXAOutcomeEnv(t *testing.T) *xaOutcomeEnv {
	e := newXAEnv(t)
	rc := &reportCounter{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, servertest.Addr(t, "dspgxo"), client.WithDialOptions(rc.dialOption()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	e.conn, e.tm, e.rm = conn, tm.New(conn), rm.New(conn)
	e.xa = e.openXA()
	return &xaOutcomeEnv{xaEnv: e, counter: rc}
}

// updateAndCommit runs one local transaction that sets v in tbl with ctx
// (which carries a global transaction) and commits it: the branch is
// prepared.
func (e *xaEnv) updateAndCommit(ctx context.Context, tbl string, v int) error {
	tx, err := e.xa.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = $1", v); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// TestXAOutcome: a prepared branch learns whether its transaction was
// decided meanwhile from the TM of its own process when that TM began
// the transaction (no report to the coordinator), and from the
// coordinator otherwise (its PhaseOneDone report). Either way a branch
// prepared after the rollback passed it by is rolled back.
func TestXAOutcome(t *testing.T) {
	e := newXAOutcomeEnv(t)
	ctx := context.Background()

	t.Run("LocalTMSendsNoReport", func(t *testing.T) {
		e.t = t
		tbl := e.table("CREATE TABLE %s (id INT, v INT)", "INSERT INTO %s VALUES (1, 10)")
		before := e.reports()
		for i := range 5 {
			xid, err := e.global(func(ctx context.Context) error { return e.updateAndCommit(ctx, tbl, i) })
			if err != nil {
				t.Fatal(err)
			}
			e.wait(xid, txc.GlobalCommitted)
		}
		if n := e.reports() - before; n != 0 {
			t.Fatalf("%d reports for branches whose TM runs in this process, want none", n)
		}
		if v := e.value(tbl, 1); v != 4 {
			t.Fatalf("v = %d, want 4", v)
		}
	})

	// The XID came from elsewhere (here: begun on the bare connection,
	// as a service called by another process would get it).
	t.Run("RemoteTMReports", func(t *testing.T) {
		e.t = t
		tbl := e.table("CREATE TABLE %s (id INT, v INT)", "INSERT INTO %s VALUES (1, 10)")
		before := e.reports()
		xid, err := e.conn.Begin(ctx, "remote", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.updateAndCommit(tm.ContextWithXID(ctx, xid), tbl, 11); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); e.reports()-before != 1; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d reports, want 1", e.reports()-before)
			}
		}
		if _, err := e.conn.Commit(ctx, xid); err != nil {
			t.Fatal(err)
		}
		e.waitNoPrepared(xid)
		if v := e.value(tbl, 1); v != 11 {
			t.Fatalf("v = %d, want 11", v)
		}
	})

	// A branch prepared after the rollback passed it by is rolled back
	// when the TM is elsewhere (its report is refused), and when the
	// GlobalTx begun here never ends (after xaOutcomeWait, it reports).
	for _, tc := range []struct {
		name  string
		begin func(t *testing.T) (txc.XID, context.Context)
	}{
		{"RemoteTMRollbackBeforePrepare", func(t *testing.T) (txc.XID, context.Context) {
			xid, err := e.conn.Begin(ctx, "remote", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return xid, tm.ContextWithXID(ctx, xid)
		}},
		{"LocalTMNeverEnds", func(t *testing.T) (txc.XID, context.Context) {
			gtx, txCtx, err := e.tm.Begin(ctx, tm.Config{Name: "abandoned", Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			return gtx.XID(), txCtx
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			tbl := e.table("CREATE TABLE %s (id INT, v INT)", "INSERT INTO %s VALUES (1, 10)")
			xid, txCtx := tc.begin(t)
			e.prepareAfter(txCtx, tbl, xid)
			e.waitNoPrepared(xid)
			if v := e.value(tbl, 1); v != 10 {
				t.Fatalf("v = %d, want 10", v)
			}
		})
	}
}

// TestXAAppRollbackAfterPrepare: global transactions whose branch was
// prepared and whose fn then fails are rolled back by the coordinator's
// phase 2 and by the branch itself, which learns the rollback from its
// TM, at once: the two finishes of one branch do not race (PostgreSQL
// would answer one "is busy", and the coordinator retry it later).
func TestXAAppRollbackAfterPrepare(t *testing.T) {
	e := newXAEnv(t)
	var logged logtest.Buffer
	e.rm = rm.New(e.conn, rm.WithLogger(logged.Logger()))
	cfg, err := pgx.ParseConfig(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := txcpg.OpenDB(cfg, datasource.WithManager(e.rm), datasource.WithMode(datasource.XA), datasource.WithLogger(logged.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.xa = db
	tbl := e.table("CREATE TABLE %s (id INT, v INT)", "INSERT INTO %s VALUES (1, 10)")
	failed := errors.New("test: fn failed after the local commit")
	for range 20 {
		xid, err := e.global(func(ctx context.Context) error {
			if err := e.updateAndCommit(ctx, tbl, 11); err != nil {
				return err
			}
			return failed
		})
		if !errors.Is(err, failed) {
			t.Fatal(err)
		}
		e.wait(xid, txc.GlobalRollbacked)
		e.waitNoPrepared(xid)
	}
	if v := e.value(tbl, 1); v != 10 {
		t.Fatalf("v = %d, want 10", v)
	}
	if out := logged.String(); strings.Contains(out, "will retry") || strings.Contains(out, "failed") {
		t.Fatalf("a rollback failed and was retried:\n%s", out)
	}
}

// prepareAfter runs a local transaction of xid (with ctx) that updates
// tbl, rolls xid back on the bare connection before the local commit, so
// that phase 2 finds the branch not prepared, then commits it locally:
// the branch is prepared after the rollback passed it by.
func (e *xaEnv) prepareAfter(ctx context.Context, tbl string, xid txc.XID) {
	e.t.Helper()
	tx, err := e.xa.BeginTx(ctx, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET v = 11"); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.conn.Rollback(context.Background(), xid); err != nil {
		e.t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	if err := tx.Commit(); err != nil {
		e.t.Fatal(err)
	}
}
