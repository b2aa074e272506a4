package server

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
)

// Resource IDs and table names come from clients: one that made lock
// conflicts on ever new tables (or resources) added a series each to
// /metrics, kept for the process's life. Past MaxResourceLabels the
// values count as "other".
func TestLockConflictLabelsAreBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := startWithMetrics(t, reg)
	conn := dial(t, r.addr)
	ctx := context.Background()
	holder, err := conn.Begin(ctx, "holder", 0)
	if err != nil {
		t.Fatal(err)
	}
	waiter, err := conn.Begin(ctx, "waiter", 0)
	if err != nil {
		t.Fatal(err)
	}
	n := MaxResourceLabels + 50
	for i := range n {
		keys := []txc.LockKey{{Table: fmt.Sprintf("t%d", i), Rows: []string{"1"}}}
		res := fmt.Sprintf("db%d", i)
		if _, err := conn.Register(ctx, client.Branch{XID: holder, Type: txc.BranchGeneric, ResourceID: res, LockKeys: keys}); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Register(ctx, client.Branch{XID: waiter, Type: txc.BranchGeneric, ResourceID: res, LockKeys: keys}); txc.CodeOf(err) != txc.CodeLockConflict {
			t.Fatalf("conflict %d: %v", i, err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "txc_lock_conflicts_total" && len(mf.GetMetric()) > MaxResourceLabels+1 {
			t.Fatalf("%d series of txc_lock_conflicts_total after %d conflicts on distinct tables, want at most %d",
				len(mf.GetMetric()), n, MaxResourceLabels+1)
		}
	}
}
