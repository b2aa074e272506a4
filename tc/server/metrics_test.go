package server

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store/memstore"
)

// startWithMetrics runs a server whose metrics and state gauges are in reg.
func startWithMetrics(t *testing.T, reg *prometheus.Registry) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := New(ctx, Config{Core: tc.Config{Node: "met1", RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond},
		Store: memstore.New(), TickInterval: 10 * time.Millisecond, Metrics: NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(srv.StateCollector())
	lis, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	r := &running{srv: srv, addr: lis.Addr().String(), done: make(chan error, 1), stop: cancel}
	go func() { r.done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

func waitStatus(t *testing.T, conn *client.Conn, xid txc.XID, want txc.GlobalStatus) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if s, _ := conn.Status(context.Background(), xid); s == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached %v", xid, want)
		}
	}
}

func TestMetricsAnswerOperatorsQuestions(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := startWithMetrics(t, reg)
	conn := dial(t, r.addr)
	m := rm.New(conn)
	rec := newRecorder()
	m.AddResource("db", txc.BranchGeneric, rec)
	ctx := context.Background()
	row := []txc.LockKey{{Table: "accounts", Rows: []string{"1"}}}

	a, _ := conn.Begin(ctx, "pay", 0)
	if _, err := m.RegisterBranch(ctx, client.Branch{XID: a, Type: txc.BranchGeneric, ResourceID: "db", LockKeys: row}); err != nil {
		t.Fatal(err)
	}
	b, _ := conn.Begin(ctx, "pay", 0)
	if _, err := conn.Register(ctx, client.Branch{XID: b, Type: txc.BranchGeneric, ResourceID: "db", LockKeys: row}); !errors.Is(err, txc.ErrLockConflict) {
		t.Fatalf("second register: %v", err)
	}
	conn.Rollback(ctx, b)
	if _, err := conn.Commit(ctx, a); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, 1)
	waitStatus(t, conn, a, txc.GlobalCommitted)
	slow, _ := conn.Begin(ctx, "slow", 30*time.Millisecond)
	waitStatus(t, conn, slow, txc.GlobalTimeoutRollbacked)
	parkOnServer(t, r.addr, "bad")
	var failedOnce atomic.Bool
	m.AddResource("flaky", txc.BranchTCC, rm.HandlerFuncs{RollbackFunc: func(context.Context, rm.Branch) error {
		if failedOnce.CompareAndSwap(false, true) {
			return errors.New("database restarting")
		}
		return nil
	}})
	f, _ := conn.Begin(ctx, "refund", 0)
	if _, err := m.RegisterBranch(ctx, client.Branch{XID: f, Type: txc.BranchTCC, ResourceID: "flaky"}); err != nil {
		t.Fatal(err)
	}
	conn.Rollback(ctx, f)
	waitStatus(t, conn, f, txc.GlobalRollbacked)

	var sb strings.Builder
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			sb.WriteString(mf.GetName())
			for _, l := range mt.GetLabel() {
				sb.WriteString(" " + l.GetName() + "=" + l.GetValue())
			}
			switch {
			case mt.Counter != nil:
				sb.WriteString(" " + ftoa(mt.Counter.GetValue()))
			case mt.Gauge != nil:
				sb.WriteString(" " + ftoa(mt.Gauge.GetValue()))
			case mt.Histogram != nil:
				sb.WriteString(" count " + ftoa(float64(mt.Histogram.GetSampleCount())))
			}
			sb.WriteString("\n")
		}
	}
	got := sb.String()
	for _, want := range []string{
		"txc_transactions_begun_total name=pay 2\n",
		"txc_transactions_begun_total name=slow 1\n",
		"txc_transactions_finished_total name=pay status=Committed 1\n",
		"txc_transactions_finished_total name=pay status=Rollbacked 1\n",
		"txc_transactions_finished_total name=slow status=TimeoutRollbacked 1\n",
		"txc_timeouts_total name=slow 1\n",
		"txc_lock_conflicts_total resource=db table=accounts 1\n",
		"txc_phase2_seconds action=commit branch_type=Generic outcome=done resource=db count 1\n",
		"txc_phase2_seconds action=rollback branch_type=Generic outcome=unretryable resource=bad count 1\n",
		"txc_manual_action_total branch_type=Generic name=transfer resource=bad 1\n",
		"txc_transactions_needing_manual_action 1\n",
		"txc_transactions_live status=RollbackFailed 1\n",
		"txc_rm_streams resource=db 1\n",
		"txc_rm_streams resource=bad 1\n",
		"txc_locked_rows 1\n",
		"txc_phase2_retries_total branch_type=TCC resource=flaky 1\n",
		"txc_phase2_seconds action=rollback branch_type=TCC outcome=retryable resource=flaky count 1\n",
		"txc_phase2_seconds action=rollback branch_type=TCC outcome=done resource=flaky count 1\n",
		"txc_store_sync_seconds count ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("metrics lack %q", strings.TrimSpace(want))
		}
	}
	if t.Failed() {
		t.Log(got)
	}
	checkDashboard(t, mfs)
}

// checkDashboard checks that the Grafana dashboard shipped in the repo is
// JSON and queries only metrics the coordinator exports.
func checkDashboard(t *testing.T, mfs []*dto.MetricFamily) {
	t.Helper()
	data, err := os.ReadFile("../../deploy/grafana/txc-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil || len(dash.Panels) == 0 {
		t.Fatalf("dashboard: %v", err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	name := regexp.MustCompile(`txc_[a-z0-9_]+`)
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")
				if !have[base] {
					t.Errorf("dashboard panel %q queries %s, which the coordinator does not export", p.Title, n)
				}
			}
		}
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
