package main

import (
	"slices"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/sqlstore"
)

// TestMoveOldLayoutAdoptsOthers: a node starting on a single node's
// tables moves their state and returns, to record for adoption, the
// moved partitions other than its own.
func TestMoveOldLayoutAdoptsOthers(t *testing.T) {
	db := dbtest.Postgres(t)
	base := dbtest.Name("cm") + "_"
	cfg := &config{Store: "postgres", StoreDSN: dbtest.PostgresDSN, StorePrefix: base, Node: "me"}
	t.Cleanup(func() {
		for _, p := range []string{base, mustPartition(t, base, "me"), mustPartition(t, base, "other")} {
			for _, name := range []string{"schema", "global", "branch", "sequence"} {
				db.Exec("DROP TABLE IF EXISTS " + p + name)
			}
		}
		for _, name := range []string{"locks", "locks_schema", "moved", "moved_schema"} {
			db.Exec("DROP TABLE IF EXISTS " + base + name)
		}
	})
	st, err := sqlstore.Open(t.Context(), sqlstore.Options{Dialect: sqlstore.Postgres, DSN: dbtest.PostgresDSN, TablePrefix: base})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Apply(t.Context(), &store.Batch{PutGlobals: []store.Global{
		{XID: "me:1", Name: "a", Status: txc.GlobalBegin}, {XID: "other:2", Name: "b", Status: txc.GlobalBegin}}})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err := moveOldLayout(t.Context(), cfg, nil)
		if err != nil || !slices.Equal(got, []string{"other"}) {
			t.Fatalf("moveOldLayout = %q, %v; want [other]", got, err)
		}
	}
}

func mustPartition(t *testing.T, base, node string) string {
	p, err := sqlstore.PartitionPrefix(base, node)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
