package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

// LocksOpener gives a test of the shared-lock suite a fresh, empty shared
// lock table: every call of the function it returns opens another handle
// on that same table, on connections of its own (as another node would),
// closed when the test ends.
type LocksOpener func(t *testing.T) (open func() store.SharedLocks)

// Locks runs the conformance suite of store.SharedLocks.
func Locks(t *testing.T, opener LocksOpener) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.SharedLocks)
	}{
		{"ClaimAndConflict", testClaimAndConflict},
		{"EarlierClaimWins", testEarlierClaimWins},
		{"Reclaim", testReclaim},
		{"FreeOnlyOwnRows", testFreeOnlyOwnRows},
		{"Query", testLockQuery},
		{"Reconcile", testReconcile},
		{"ReconcileConflict", testReconcileConflict},
		{"BadInput", testLocksBadInput},
		{"OddKeys", testOddKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, opener(t)()) })
	}
	t.Run("Race", func(t *testing.T) { testClaimRace(t, opener(t)) })
}

func keys(table string, rows ...string) []txc.LockKey {
	return []txc.LockKey{{Table: table, Rows: rows}}
}

func claim(xid txc.XID, rows ...string) store.LockClaim {
	return store.LockClaim{XID: xid, Resource: "db", Keys: keys("t", rows...)}
}

func mustClaim(t *testing.T, l store.SharedLocks, claims ...store.LockClaim) []store.ClaimResult {
	t.Helper()
	res, err := l.Claim(t.Context(), claims)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if len(res) != len(claims) {
		t.Fatalf("Claim answered %d claims of %d", len(res), len(claims))
	}
	return res
}

// holderOf returns who holds row of db.t ("" if nobody).
func holderOf(t *testing.T, l store.SharedLocks, row string) txc.XID {
	t.Helper()
	h, locked, err := l.Query(t.Context(), "", "db", keys("t", row))
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if locked != (h != "") {
		t.Fatalf("Query = %q, %v", h, locked)
	}
	return h
}

// wantHolders checks the holder of each row: rows[i] held by want[i].
func wantHolders(t *testing.T, l store.SharedLocks, rows []string, want ...txc.XID) {
	t.Helper()
	for i, r := range rows {
		if h := holderOf(t, l, r); h != want[i] {
			t.Errorf("row %s held by %q, want %q", r, h, want[i])
		}
	}
}

func added(xid txc.XID, rows ...string) []store.LockRow {
	var out []store.LockRow
	for _, r := range rows {
		out = append(out, store.LockRow{XID: xid, Resource: "db", Table: "t", Row: r})
	}
	return out
}

func testClaimAndConflict(t *testing.T, l store.SharedLocks) {
	res := mustClaim(t, l, claim("n1:1", "a", "b"))
	if res[0].Holder != "" || !slices.Equal(res[0].Added, added("n1:1", "a", "b")) {
		t.Fatalf("first claim = %+v", res[0])
	}
	res = mustClaim(t, l, claim("n2:1", "c", "b"))
	if res[0].Holder != "n1:1" || res[0].Table != "t" || len(res[0].Added) != 0 {
		t.Fatalf("conflicting claim = %+v, want holder n1:1 on t", res[0])
	}
	wantHolders(t, l, []string{"a", "b", "c"}, "n1:1", "n1:1", "")
	other := store.LockClaim{XID: "n2:1", Resource: "db2", Keys: keys("t", "a")}
	if res := mustClaim(t, l, other, store.LockClaim{XID: "n2:1", Resource: "db", Keys: keys("u", "a")}); res[0].Holder != "" || res[1].Holder != "" {
		t.Fatalf("the same row key in another resource or table conflicted: %+v", res)
	}
}

func testEarlierClaimWins(t *testing.T, l store.SharedLocks) {
	res := mustClaim(t, l, claim("n1:1", "a"), claim("n1:2", "b", "a"), claim("n2:3", "b"), claim("n1:1", "c"))
	if res[0].Holder != "" || res[1].Holder != "n1:1" || res[2].Holder != "" || res[3].Holder != "" {
		t.Fatalf("results %+v: want the first, third and fourth to succeed, the second to meet n1:1", res)
	}
	if len(res[1].Added) != 0 || !slices.Equal(res[2].Added, added("n2:3", "b")) {
		t.Fatalf("Added %v and %v", res[1].Added, res[2].Added)
	}
	wantHolders(t, l, []string{"a", "b", "c"}, "n1:1", "n2:3", "n1:1")
}

func testReclaim(t *testing.T, l store.SharedLocks) {
	mustClaim(t, l, claim("n1:1", "a"))
	res := mustClaim(t, l, claim("n1:1", "a", "b", "b"))
	if res[0].Holder != "" || !slices.Equal(res[0].Added, added("n1:1", "b")) {
		t.Fatalf("re-claim = %+v, want only b added", res[0])
	}
	if res := mustClaim(t, l, claim("n1:1")); res[0].Holder != "" || len(res[0].Added) != 0 {
		t.Fatalf("empty claim = %+v", res[0])
	}
	if res := mustClaim(t, l); len(res) != 0 {
		t.Fatalf("no claims = %+v", res)
	}
}

func testFreeOnlyOwnRows(t *testing.T, l store.SharedLocks) {
	mustClaim(t, l, claim("n1:1", "a", "b"), claim("n2:1", "c"))
	rows := append(added("n1:9", "a"), added("n1:1", "b", "b", "zz")...)
	if err := l.Free(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	wantHolders(t, l, []string{"a", "b", "c"}, "n1:1", "", "n2:1")
	if err := l.Free(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
}

func testLockQuery(t *testing.T, l store.SharedLocks) {
	mustClaim(t, l, claim("n1:1", "a"))
	ctx := t.Context()
	if h, locked, err := l.Query(ctx, "n1:1", "db", keys("t", "a", "b")); err != nil || locked || h != "" {
		t.Fatalf("Query by the holder = %q %v %v", h, locked, err)
	}
	if h, locked, err := l.Query(ctx, "n2:1", "db", keys("t", "b", "a")); err != nil || !locked || h != "n1:1" {
		t.Fatalf("Query by another = %q %v %v", h, locked, err)
	}
	if _, locked, err := l.Query(ctx, "", "db", nil); err != nil || locked {
		t.Fatalf("Query of no rows = %v %v", locked, err)
	}
}

func testReconcile(t *testing.T, l store.SharedLocks) {
	mustClaim(t, l, claim("n1:1", "a", "b"), claim("n1:2", "c"), claim("n2:1", "x"))
	held := append(added("n1:1", "a", "d"), added("n1:3", "c")...)
	if err := l.Reconcile(t.Context(), "n1", held); err != nil {
		t.Fatal(err)
	}
	wantHolders(t, l, []string{"a", "b", "c", "d", "x"}, "n1:1", "", "n1:3", "n1:1", "n2:1")
	if err := l.Reconcile(t.Context(), "n1", nil); err != nil {
		t.Fatal(err)
	}
	wantHolders(t, l, []string{"a", "c", "d", "x"}, "", "", "", "n2:1")
}

func testReconcileConflict(t *testing.T, l store.SharedLocks) {
	mustClaim(t, l, claim("n2:1", "x"), claim("n1:1", "old"))
	err := l.Reconcile(t.Context(), "n1", added("n1:1", "a", "x"))
	if txc.CodeOf(err) != txc.CodeLockConflict || !strings.Contains(err.Error(), "n2:1") {
		t.Fatalf("Reconcile over another partition's row = %v, want a lock conflict naming n2:1", err)
	}
	wantHolders(t, l, []string{"a", "x", "old"}, "n1:1", "n2:1", "")
}

func testLocksBadInput(t *testing.T, l store.SharedLocks) {
	ctx := t.Context()
	bad := [][]store.LockClaim{
		{claim("n1:1", "a"), claim("nonsense", "b")},
		{claim("n1:1", "a"), {XID: "n1:2", Resource: "", Keys: keys("t", "c")}},
		{claim("n1:1", "a"), {XID: "n1:2", Resource: "db", Keys: keys("", "c")}},
		{claim("n1:1", "a"), {XID: "n1:2", Resource: "db", Keys: keys("t", strings.Repeat("r", txc.MaxLockKeyLen+1))}},
	}
	for i, claims := range bad {
		if _, err := l.Claim(ctx, claims); txc.CodeOf(err) != txc.CodeInvalidArgument {
			t.Errorf("bad claim %d: err = %v, want invalid argument", i, err)
		}
	}
	if h := holderOf(t, l, "a"); h != "" {
		t.Fatalf("a refused call took a row for %s", h)
	}
	if _, _, err := l.Query(ctx, "bad", "db", keys("t", "a")); txc.CodeOf(err) != txc.CodeInvalidArgument {
		t.Errorf("Query with a bad XID: %v", err)
	}
	mustClaim(t, l, claim("n1:1", "a"))
	for _, c := range []struct {
		part string
		held []store.LockRow
	}{{"", nil}, {"n 1", nil}, {"n1", added("n2:1", "a")}, {"n1", added("junk", "a")}} {
		if err := l.Reconcile(ctx, c.part, c.held); txc.CodeOf(err) != txc.CodeInvalidArgument {
			t.Errorf("Reconcile(%q, %v) = %v, want invalid argument", c.part, c.held, err)
		}
	}
	wantHolders(t, l, []string{"a"}, "n1:1")
}

// testOddKeys: the longest keys, and bytes that need escaping, round-trip.
func testOddKeys(t *testing.T, l store.SharedLocks) {
	long := strings.Repeat("k", txc.MaxLockKeyLen)
	odd := "'\\\x00\xff\"" + txc.RowKey("a,b", "c")
	res := mustClaim(t, l, claim("n1:1", long, odd))
	if res[0].Holder != "" {
		t.Fatal(res[0])
	}
	wantHolders(t, l, []string{long, odd, txc.RowKey("a", "b,c")}, "n1:1", "n1:1", "")
}

// testClaimRace: two handles on separate connections (two nodes) claim
// overlapping rows at the same time, round after round: each time exactly
// one of two claims of the same rows wins, and the table holds exactly
// the winners' rows.
func testClaimRace(t *testing.T, open func() store.SharedLocks) {
	nodes := []store.SharedLocks{open(), open()}
	const rounds = 60
	for round := range rounds {
		rows := []string{fmt.Sprintf("r%d-1", round), fmt.Sprintf("r%d-2", round), fmt.Sprintf("r%d-3", round)}
		results := make([][]store.ClaimResult, 2)
		var wg sync.WaitGroup
		for i, l := range nodes {
			xid := txc.NewXID(fmt.Sprintf("n%d", i), uint64(round+1))
			mine := slices.Clone(rows)
			if i == 1 {
				slices.Reverse(mine)
			}
			wg.Go(func() {
				res, err := l.Claim(t.Context(), []store.LockClaim{claim(xid, mine...)})
				if err != nil {
					t.Errorf("round %d node %d: %v", round, i, err)
				}
				results[i] = res
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		won := []bool{results[0][0].Holder == "", results[1][0].Holder == ""}
		if won[0] == won[1] {
			t.Fatalf("round %d: results %+v: want exactly one winner", round, results)
		}
		winner, loser := txc.NewXID("n1", uint64(round+1)), results[0][0]
		if won[0] {
			winner, loser = txc.NewXID("n0", uint64(round+1)), results[1][0]
		}
		if loser.Holder != winner || len(loser.Added) != 0 {
			t.Fatalf("round %d: the loser got %+v, want the holder %s", round, loser, winner)
		}
		wantHolders(t, nodes[0], rows, winner, winner, winner)
	}
}
