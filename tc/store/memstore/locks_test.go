package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
	"github.com/txcio/txc/tc/store/storetest"
)

func claim(xid txc.XID, resource, table string, rows ...string) store.LockClaim {
	return store.LockClaim{XID: xid, Resource: resource, Keys: []txc.LockKey{{Table: table, Rows: rows}}}
}

func TestLocksClaimIsAllOrNoneAndEarlierWins(t *testing.T) {
	l := memstore.NewLocks()
	ctx := context.Background()
	res, err := l.Claim(ctx, []store.LockClaim{
		claim("a:1", "db", "t", "1", "2"),
		claim("b:1", "db", "t", "2", "3"), // row 2 went to a:1 just before
		claim("a:1", "db", "t", "2", "4"), // re-claim: only row 4 is new
		claim("b:2", "db", "u", "2"),      // another table: no conflict
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Holder != "" || len(res[0].Added) != 2 {
		t.Fatalf("first claim = %+v", res[0])
	}
	if res[1].Holder != "a:1" || res[1].Table != "t" || len(res[1].Added) != 0 {
		t.Fatalf("conflicting claim = %+v", res[1])
	}
	if res[2].Holder != "" || len(res[2].Added) != 1 || res[2].Added[0].Row != "4" {
		t.Fatalf("re-claim = %+v", res[2])
	}
	if res[3].Holder != "" || len(res[3].Added) != 1 {
		t.Fatalf("other table = %+v", res[3])
	}
	want := []store.LockRow{{XID: "a:1", Resource: "db", Table: "t", Row: "1"}, {XID: "a:1", Resource: "db", Table: "t", Row: "2"},
		{XID: "a:1", Resource: "db", Table: "t", Row: "4"}, {XID: "b:2", Resource: "db", Table: "u", Row: "2"}}
	if got := l.Rows(); !slices.Equal(got, want) {
		t.Fatalf("rows = %v, want %v (row 3 of the refused claim must not be taken)", got, want)
	}
}

func TestLocksFreeOnlyOwnRowsAndQuery(t *testing.T) {
	l := memstore.NewLocks()
	ctx := context.Background()
	if _, err := l.Claim(ctx, []store.LockClaim{claim("a:1", "db", "t", "1")}); err != nil {
		t.Fatal(err)
	}
	keys := []txc.LockKey{{Table: "t", Rows: []string{"1"}}}
	if h, locked, err := l.Query(ctx, "b:1", "db", keys); err != nil || !locked || h != "a:1" {
		t.Fatalf("query by b:1 = %v %v %v", h, locked, err)
	}
	if _, locked, _ := l.Query(ctx, "a:1", "db", keys); locked {
		t.Fatal("a:1's own row reported locked to it")
	}
	// b:1 cannot free a:1's row.
	if err := l.Free(ctx, []store.LockRow{{XID: "b:1", Resource: "db", Table: "t", Row: "1"}}); err != nil {
		t.Fatal(err)
	}
	if len(l.Rows()) != 1 {
		t.Fatal("a row was freed by a transaction not holding it")
	}
	if err := l.Free(ctx, []store.LockRow{{XID: "a:1", Resource: "db", Table: "t", Row: "1"}}); err != nil {
		t.Fatal(err)
	}
	if _, locked, _ := l.Query(ctx, "", "db", keys); locked {
		t.Fatal("row still locked after its holder freed it")
	}
}

func TestLocksReconcileTouchesOnlyItsPartition(t *testing.T) {
	l := memstore.NewLocks()
	ctx := context.Background()
	if _, err := l.Claim(ctx, []store.LockClaim{claim("a:1", "db", "t", "1"), claim("a:2", "db", "t", "2"),
		claim("b:1", "db", "t", "3")}); err != nil {
		t.Fatal(err)
	}
	// Partition a's stored branches hold row 1 and row 5 (a claim stored
	// but missing from the table); a:2's claim was never stored.
	held := []store.LockRow{{XID: "a:1", Resource: "db", Table: "t", Row: "1"}, {XID: "a:1", Resource: "db", Table: "t", Row: "5"}}
	if err := l.Reconcile(ctx, "a", held); err != nil {
		t.Fatal(err)
	}
	want := []store.LockRow{{XID: "a:1", Resource: "db", Table: "t", Row: "1"}, {XID: "b:1", Resource: "db", Table: "t", Row: "3"},
		{XID: "a:1", Resource: "db", Table: "t", Row: "5"}}
	if got := l.Rows(); !slices.Equal(got, want) {
		t.Fatalf("rows = %v, want %v", got, want)
	}
}

func TestLocksFailChangesNothing(t *testing.T) {
	l := memstore.NewLocks()
	ctx := context.Background()
	down := errors.New("down")
	l.Fail(down)
	if _, err := l.Claim(ctx, []store.LockClaim{claim("a:1", "db", "t", "1")}); !errors.Is(err, down) {
		t.Fatalf("err = %v", err)
	}
	if len(l.Rows()) != 0 {
		t.Fatal("a failed claim took rows")
	}
	if _, err := l.Claim(ctx, []store.LockClaim{claim("a:1", "db", "t", "1")}); err != nil {
		t.Fatalf("the failure outlived one call: %v", err)
	}
}

// Two claimers racing for the same rows: exactly one wins each round.
func TestLocksConcurrentClaimsOneWinner(t *testing.T) {
	l := memstore.NewLocks()
	ctx := context.Background()
	for round := range 200 {
		row := fmt.Sprint(round)
		var wg sync.WaitGroup
		wins := make([]bool, 2)
		for i, xid := range []txc.XID{"a:1", "b:1"} {
			wg.Go(func() {
				res, err := l.Claim(ctx, []store.LockClaim{claim(xid, "db", "t", row, "x"+row)})
				wins[i] = err == nil && res[0].Holder == ""
			})
		}
		wg.Wait()
		if wins[0] == wins[1] {
			t.Fatalf("round %d: wins = %v", round, wins)
		}
	}
}

// TestLocksConformance runs the shared-lock suite the SQL table passes.
func TestLocksConformance(t *testing.T) {
	storetest.Locks(t, func(t *testing.T) func() store.SharedLocks {
		l := memstore.NewLocks()
		return func() store.SharedLocks { return l }
	})
}
