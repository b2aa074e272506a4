package datasource

import (
	"testing"
	"time"

	"github.com/txcio/txc"
)

// TestXATwice: of a branch's two finishers in this process, the second
// one finds it committed by the first (either order, or both at once);
// a branch forgotten, never expected, or whose commit failed is not
// taken as committed; entries left behind go at the next sweep.
func TestXATwice(t *testing.T) {
	key := func(b txc.BranchID) heldKey {
		return heldKey{"twice-test", XAID{XID: "n1:1", Branch: b}}
	}
	k := key(1)
	expectTwice(k)
	if takeCommitted(k) {
		t.Fatal("committed before either finisher ran")
	}
	noteCommitted(k) // the first finisher committed it
	if !takeCommitted(k) || takeCommitted(k) {
		t.Fatal("the second finisher must find it committed, once")
	}

	// Both finishers ran the same commit (one waited for the other's):
	// each notes it, and nothing is left. A forgotten branch (its hook
	// will not commit it) and one never expected are not taken.
	for _, c := range []struct {
		name    string
		b       txc.BranchID
		prepare func(heldKey)
		notes   int
	}{
		{"both noted", 2, expectTwice, 2},
		{"forgotten", 3, func(k heldKey) { expectTwice(k); forgetTwice(k) }, 1},
		{"never expected", 4, func(heldKey) {}, 1},
	} {
		k := key(c.b)
		c.prepare(k)
		for range c.notes {
			noteCommitted(k)
		}
		if takeCommitted(k) {
			t.Errorf("%s: taken as committed", c.name)
		}
	}

	old := key(5)
	expectTwice(old)
	twiceMu.Lock()
	twice[old].since = time.Now().Add(-2 * twiceMaxAge)
	twiceMu.Unlock()
	for b := txc.BranchID(100); b < 100+twiceSweepAt; b++ {
		expectTwice(key(b))
	}
	twiceMu.Lock()
	_, kept := twice[old]
	n := len(twice)
	twiceMu.Unlock()
	for b := txc.BranchID(100); b < 100+twiceSweepAt; b++ {
		forgetTwice(key(b))
	}
	if kept || n > twiceSweepAt {
		t.Fatalf("after a sweep: old entry kept %v, %d entries", kept, n)
	}
}
