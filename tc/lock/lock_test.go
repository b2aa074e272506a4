package lock

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

func keys(table string, rows ...string) []txc.LockKey {
	return []txc.LockKey{{Table: table, Rows: rows}}
}

func TestAcquireIsAllOrNothing(t *testing.T) {
	tb := New()
	if _, ok := tb.Acquire("n:1", 1, "db", keys("t", "1", "2")); !ok {
		t.Fatal("first acquire failed")
	}
	holder, ok := tb.Acquire("n:2", 2, "db", keys("t", "3", "2"))
	if ok || holder != "n:1" {
		t.Fatalf("conflict = %q %v, want n:1 false", holder, ok)
	}
	if _, locked := tb.Query("", "db", keys("t", "3")); locked {
		t.Fatal("row 3 taken by a failed acquire")
	}
	if tb.Len() != 2 {
		t.Fatalf("Len = %d, want 2", tb.Len())
	}
}

func TestResourcesAndTablesAreSeparate(t *testing.T) {
	tb := New()
	tb.Acquire("n:1", 1, "db1", keys("t", "1"))
	for _, c := range []struct{ res, table string }{{"db2", "t"}, {"db1", "u"}} {
		if _, ok := tb.Acquire("n:2", 2, c.res, keys(c.table, "1")); !ok {
			t.Errorf("%s.%s row 1 conflicted with db1.t", c.res, c.table)
		}
	}
}

func TestReentrantPerTransaction(t *testing.T) {
	tb := New()
	tb.Acquire("n:1", 1, "db", keys("t", "1"))
	if _, ok := tb.Acquire("n:1", 2, "db", keys("t", "1")); !ok {
		t.Fatal("second branch of the same transaction conflicted")
	}
	tb.Release("n:1", 1, "db", keys("t", "1"), nil)
	if h, locked := tb.Query("n:9", "db", keys("t", "1")); !locked || h != "n:1" {
		t.Fatal("row freed while branch 2 still holds it")
	}
	tb.Release("n:1", 2, "db", keys("t", "1"), nil)
	if _, locked := tb.Query("n:9", "db", keys("t", "1")); locked || tb.Len() != 0 {
		t.Fatal("row still held after both branches released")
	}
}

func TestReleaseLeavesOthersAlone(t *testing.T) {
	tb := New()
	tb.Acquire("n:1", 1, "db", keys("t", "1"))
	tb.Release("n:2", 2, "db", keys("t", "1"), nil)
	if _, locked := tb.Query("", "db", keys("t", "1")); !locked {
		t.Fatal("another transaction's release freed the row")
	}
}

func TestQueryIgnoresOwnLocks(t *testing.T) {
	tb := New()
	tb.Acquire("n:1", 1, "db", keys("t", "1"))
	if _, locked := tb.Query("n:1", "db", keys("t", "1")); locked {
		t.Fatal("own lock reported as locked")
	}
}

func TestCompositeKeysCannotForge(t *testing.T) {
	tb := New()
	tb.Acquire("n:1", 1, "db", keys("t", txc.RowKey("a,b", "c")))
	if _, ok := tb.Acquire("n:2", 2, "db", keys("t", txc.RowKey("a", "b,c"))); !ok {
		t.Fatal("(a,b | c) and (a | b,c) collided")
	}
}

func TestValidate(t *testing.T) {
	many := make([]string, txc.MaxLockRows+1)
	for i := range many {
		many[i] = "x"
	}
	cases := []struct {
		name string
		res  string
		keys []txc.LockKey
		ok   bool
	}{
		{"fine", "db", keys("t", "1"), true},
		{"no keys", "db", nil, true},
		{"empty table", "db", keys("", "1"), false},
		{"nul table", "db", keys("t\x00u", "1"), false},
		{"nul resource", "d\x00b", keys("t", "1"), false},
		{"long row", "db", keys("t", strings.Repeat("r", txc.MaxLockKeyLen+1)), false},
		{"too many rows", "db", keys("t", many...), false},
	}
	for _, c := range cases {
		err := Validate(c.res, c.keys)
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v", c.name, err)
		}
		if err != nil && !errors.Is(err, txc.ErrInvalidArgument) {
			t.Errorf("%s: err %v is not InvalidArgument", c.name, err)
		}
	}
}

// TestReleaseReportsFreedRows: Release appends the rows that became free,
// and only those: a row another branch of the transaction still holds,
// or that another transaction holds, is not reported.
func TestReleaseReportsFreedRows(t *testing.T) {
	tb := New()
	tb.Acquire("n:1", 1, "db", keys("t", "1", "2", "2"))
	tb.Acquire("n:1", 2, "db", keys("t", "2"))
	tb.Acquire("n:3", 3, "db", keys("u", "9"))
	var freed []store.LockRow
	tb.Release("n:1", 1, "db", []txc.LockKey{{Table: "t", Rows: []string{"1", "2", "2"}}, {Table: "u", Rows: []string{"9"}}}, &freed)
	want := []store.LockRow{{XID: "n:1", Resource: "db", Table: "t", Row: "1"}}
	if !slices.Equal(freed, want) {
		t.Fatalf("freed %v, want %v", freed, want)
	}
	tb.Release("n:1", 2, "db", keys("t", "2"), &freed)
	tb.Release("n:1", 2, "db", keys("t", "2"), &freed) // again: nothing more
	want = append(want, store.LockRow{XID: "n:1", Resource: "db", Table: "t", Row: "2"})
	if !slices.Equal(freed, want) {
		t.Fatalf("freed %v, want %v", freed, want)
	}
}

// TestReleaseWithoutFreedDoesNotAllocate: the single-node core asks for
// no freed rows and pays nothing for them.
func TestReleaseWithoutFreedDoesNotAllocate(t *testing.T) {
	tb := New()
	k := keys("t", "1", "2")
	acquire := testing.AllocsPerRun(100, func() {
		tb.Acquire("n:1", 1, "db", k)
		clear(tb.rows)
	})
	both := testing.AllocsPerRun(100, func() {
		tb.Acquire("n:1", 1, "db", k)
		tb.Release("n:1", 1, "db", k, nil)
	})
	if both != acquire {
		t.Fatalf("%v allocations per acquire and release, %v per acquire alone", both, acquire)
	}
}

// TestNotHeld: the rows of keys the transaction does not hold, free or
// held by another.
func TestNotHeld(t *testing.T) {
	tb := New()
	tb.Acquire("n:1", 1, "db", keys("t", "1"))
	tb.Acquire("n:2", 2, "db", keys("t", "2"))
	got := tb.NotHeld(nil, "n:1", "db", keys("t", "1", "2", "3"))
	want := []store.LockRow{{XID: "n:1", Resource: "db", Table: "t", Row: "2"}, {XID: "n:1", Resource: "db", Table: "t", Row: "3"}}
	if !slices.Equal(got, want) {
		t.Fatalf("NotHeld = %v, want %v", got, want)
	}
}

// Taking and freeing a row allocates its key only: holders are kept by
// value in the map.
func TestAcquireReleaseAllocatesTheKeyOnly(t *testing.T) {
	tb := New()
	ks := keys("t", "1")
	if n := testing.AllocsPerRun(100, func() {
		tb.Acquire("n:1", 1, "db", ks)
		tb.Release("n:1", 1, "db", ks, nil)
	}); n > 1 {
		t.Errorf("%v allocations per row taken and freed, want 1", n)
	}
}

// A row several branches of one transaction hold stays held until the
// last of them frees it, whichever order they free it in.
func TestReentrantRowFreedByTheLastBranch(t *testing.T) {
	for _, order := range [][]txc.BranchID{{1, 2, 3}, {3, 2, 1}, {2, 1, 3}} {
		tb := New()
		for b := txc.BranchID(1); b <= 3; b++ {
			tb.Acquire("n:1", b, "db", keys("t", "1"))
		}
		for i, b := range order {
			tb.Release("n:1", b, "db", keys("t", "1"), nil)
			if held := tb.Len() == 1; held != (i < 2) {
				t.Fatalf("order %v: after freeing %v held = %v", order, order[:i+1], held)
			}
		}
	}
}
