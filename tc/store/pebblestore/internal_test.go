package pebblestore

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

// TestStatusMergeThroughCompaction checks that blind status updates
// resolve the same whether they are read from the memtable, from flushed
// tables or after a compaction has merged them.
func TestStatusMergeThroughCompaction(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	br := func(x txc.XID, id txc.BranchID) store.Branch {
		return store.Branch{XID: x, ID: id, Type: txc.BranchTCC, ResourceID: "r", Status: txc.BranchRegistered,
			LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"1"}}}, ApplicationData: []byte{1, 2, 3}}
	}
	apply := func(b store.Batch) {
		t.Helper()
		if err := s.Apply(ctx, &b); err != nil {
			t.Fatal(err)
		}
	}
	apply(store.Batch{PutBranches: []store.Branch{br("m:1", 1), br("m:1", 2)}})
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	// Updates stacked over a flushed record, over each other, and over
	// nothing (branch 3 does not exist).
	for _, st := range []txc.BranchStatus{txc.BranchPhaseOneDone, txc.BranchCommitFailedRetryable, txc.BranchCommitted} {
		apply(store.Batch{SetBranchStatus: []store.BranchStatus{{XID: "m:1", ID: 1, Status: st}, {XID: "m:1", ID: 3, Status: st}}})
		if err := s.db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	want := func() []store.Branch {
		b1, b2 := br("m:1", 1), br("m:1", 2)
		b1.Status = txc.BranchCommitted
		return []store.Branch{b1, b2}
	}()
	check := func(when string) {
		t.Helper()
		st, err := s.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(st.Branches, func(a, b store.Branch) int { return int(a.ID) - int(b.ID) })
		if len(st.Branches) != len(want) {
			t.Fatalf("%s: %d branches, want %d: %+v", when, len(st.Branches), len(want), st.Branches)
		}
		for i := range want {
			g, w := st.Branches[i], want[i]
			if g.Status != w.Status || g.ResourceID != w.ResourceID || !bytes.Equal(g.ApplicationData, w.ApplicationData) || len(g.LockKeys) != 1 {
				t.Fatalf("%s: branch %d = %+v, want %+v", when, g.ID, g, w)
			}
		}
	}
	check("flushed")
	if err := s.db.Compact([]byte{keyTxn}, []byte{keyTxn + 1}, true); err != nil {
		t.Fatal(err)
	}
	check("compacted")
	// A branch put over a merged update starts afresh.
	apply(store.Batch{PutBranches: []store.Branch{br("m:1", 3)}})
	want = append(want, br("m:1", 3))
	check("put after orphan update")
	if err := s.db.Compact([]byte{keyTxn}, []byte{keyTxn + 1}, true); err != nil {
		t.Fatal(err)
	}
	check("compacted again")
	// Deletion removes records and updates alike.
	apply(store.Batch{DeleteGlobals: []txc.XID{"m:1"}})
	want = nil
	check("deleted")
	if err := s.db.Compact([]byte{keyTxn}, []byte{keyTxn + 1}, true); err != nil {
		t.Fatal(err)
	}
	check("deleted and compacted")
}

func TestCodecRejectsUnknownVersion(t *testing.T) {
	g := store.Global{XID: "v:1", Status: txc.GlobalBegin, Begun: time.UnixMilli(5)}
	v := appendGlobal(nil, &g)
	if _, err := decodeGlobal("v:1", v); err != nil {
		t.Fatal(err)
	}
	v[0] = 2
	if _, err := decodeGlobal("v:1", v); err == nil {
		t.Fatal("decoded a global record of unknown version")
	}
	b := store.Branch{XID: "v:1", ID: 1, LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"a"}}}}
	v = appendBranch(nil, &b)
	v[0] = 9
	if _, err := decodeBranch("v:1", 1, v); err == nil {
		t.Fatal("decoded a branch record of unknown version")
	}
}

// FuzzDecodeBranch checks that no input makes the decoder panic and that
// whatever it accepts survives an encode/decode round trip.
func FuzzDecodeBranch(f *testing.F) {
	b := store.Branch{XID: "f:1", ID: 1, Type: txc.BranchAT, ResourceID: "r", Status: txc.BranchRegistered,
		LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"a", ""}}, {Table: "u"}}, ApplicationData: []byte("data")}
	f.Add(appendBranch(nil, &b))
	b.LockKeys = nil
	f.Add(appendBranch(nil, &b))
	f.Add([]byte{branchV1, 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, v []byte) {
		got, err := decodeBranch("f:1", 1, v)
		if err != nil {
			return
		}
		again, err := decodeBranch("f:1", 1, appendBranch(nil, &got))
		if err != nil {
			t.Fatalf("decoding the re-encoding of %x: %v", v, err)
		}
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("round trip of %x: got %+v, want %+v", v, again, got)
		}
	})
}

func TestKeyLayout(t *testing.T) {
	xids := []txc.XID{"", "n", "n:", "n:1", "n:10", "n:1:0", txc.XID(bytes.Repeat([]byte("x"), 300))}
	for _, x := range xids {
		lo := appendGlobalKey(nil, x)
		hi := append(appendTxnPrefix(nil, x), kindTxnLimit)
		for _, y := range xids {
			for _, k := range [][]byte{appendGlobalKey(nil, y), appendBranchKey(nil, y, 0), appendBranchKey(nil, y, 1<<64-1)} {
				in := bytes.Compare(k, lo) >= 0 && bytes.Compare(k, hi) < 0
				if in != (x == y) {
					t.Errorf("key %q of %q in the range of %q: %v", k, y, x, in)
				}
				px, _, _, err := parseTxnKey(k)
				if err != nil || px != y {
					t.Errorf("parseTxnKey(%q) = %q, %v; want %q", k, px, err, y)
				}
			}
		}
	}
}
