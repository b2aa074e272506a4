package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/sqlstore"
)

// TestClusterMovesSingleNodeLayout: a cluster started on a database where
// a single node left unfinished transactions (in the tables under the
// base prefix, which a cluster does not read) moves them to their
// partition, a node adopts that partition (no node has its name), and the
// transactions are driven to their end: a timed-out one rolled back, a
// committing one committed, on an RM that connects to the cluster; no
// branch, lock row or base record is left.
func TestClusterMovesSingleNodeLayout(t *testing.T) {
	for _, s := range clusterStores {
		t.Run(s.store, func(t *testing.T) {
			db := s.db(t)
			c := newCluster(t, db)
			solo := "solo-" + strings.TrimSuffix(c.prefix[4:], "_")
			resource := "old-orders-" + solo
			timedOut, committing := txc.NewXID(solo, 11), txc.NewXID(solo, 12)
			writeSingleNodeState(t, s.store, s.dsn, c.prefix, resource, timedOut, committing)

			c.start(s.store, s.dsn, 2, nil)
			c.hostedBy(solo, 30*time.Second, nil)
			led := newLedger()
			if err := rm.New(dial(t, c.target(), "rm")).AddResource(resource, txc.BranchGeneric, led); err != nil {
				t.Fatal(err)
			}
			tmc := dial(t, c.target(), "tm")
			for xid, want := range map[txc.XID]txc.GlobalStatus{timedOut: txc.GlobalTimeoutRollbacked, committing: txc.GlobalCommitted} {
				waitFor(t, 20*time.Second, func() bool { st, _ := tmc.Status(context.Background(), xid); return st == want },
					"status "+want.String()+" of "+string(xid))
			}
			if a, _ := led.get(13); a != "rollback" {
				t.Fatalf("branch 13 of the timed-out transaction: %q, want rollback", a)
			}
			if a, _ := led.get(14); a != "commit" {
				t.Fatalf("branch 14 of the committing transaction: %q, want commit", a)
			}
			c.checkNoBranches()
			part, err := sqlstore.PartitionPrefix(c.prefix, solo)
			if err != nil {
				t.Fatal(err)
			}
			waitNoBranches(t, db, part)
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM " + c.prefix + "global").Scan(&n); err != nil || n != 0 {
				t.Fatalf("base records left: %d, %v", n, err)
			}
		})
	}
}

// writeSingleNodeState stores, as a single node on the base prefix would,
// a transaction past its deadline whose branch holds a row, and one whose
// commit was decided, each with a branch on resource.
func writeSingleNodeState(t *testing.T, kind, dsn, prefix, resource string, timedOut, committing txc.XID) {
	t.Helper()
	d, err := sqlstore.ParseDialect(kind)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.Open(t.Context(), sqlstore.Options{Dialect: d, DSN: dsn, TablePrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	err = st.Apply(t.Context(), &store.Batch{
		PutGlobals: []store.Global{
			{XID: timedOut, Name: "old", Status: txc.GlobalBegin, Begun: now.Add(-time.Minute), Deadline: now.Add(-time.Second), Updated: now},
			{XID: committing, Name: "old", Status: txc.GlobalCommitting, Begun: now.Add(-time.Minute), Deadline: now.Add(time.Hour), Updated: now},
		},
		PutBranches: []store.Branch{
			{XID: timedOut, ID: 13, Type: txc.BranchGeneric, ResourceID: resource, Status: txc.BranchRegistered,
				LockKeys: []txc.LockKey{{Table: "orders", Rows: []string{"1"}}}},
			{XID: committing, ID: 14, Type: txc.BranchGeneric, ResourceID: resource, Status: txc.BranchPhaseOneDone},
		},
		NextID: 15,
	})
	if err != nil {
		t.Fatal(err)
	}
}
