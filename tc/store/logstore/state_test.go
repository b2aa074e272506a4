package logstore

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

// BenchmarkStateApply is the in-memory state's part of Apply per
// transaction as the coordinator writes it (begin, two branches, commit,
// finish, and forgetting one finished 200,000 transactions earlier), in
// batches each carrying that step of txs transactions: no encoding, no
// disk.
func BenchmarkStateApply(b *testing.B) {
	for _, txs := range []int{1, 32} {
		b.Run(fmt.Sprintf("txs=%d", txs), func(b *testing.B) {
			st := newState()
			const kept = 200_000
			var bt store.Batch
			for n := 0; n < kept; n += txs {
				stateSteps(st, &bt, n, txs, kept)
			}
			n := kept
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += txs {
				stateSteps(st, &bt, n, txs, kept)
				n += txs
			}
		})
	}
}

// stateSteps applies the batches of transactions n..n+txs-1.
func stateSteps(st *state, bt *store.Batch, n, txs, kept int) {
	now := time.UnixMilli(1_700_000_000_000)
	global := func(i int, s txc.GlobalStatus) store.Global {
		return store.Global{XID: txc.NewXID("b", uint64(i)), Name: "bench", Status: s, Begun: now, Deadline: now.Add(time.Minute), Updated: now}
	}
	step := func(fill func(i int)) {
		bt.Reset()
		for i := n; i < n+txs; i++ {
			fill(i)
		}
		st.apply(bt, false)
	}
	step(func(i int) { bt.PutGlobals = append(bt.PutGlobals, global(i, txc.GlobalBegin)) })
	for k := range 2 {
		step(func(i int) {
			bt.PutBranches = append(bt.PutBranches, store.Branch{XID: txc.NewXID("b", uint64(i)), ID: txc.BranchID(i*4 + k),
				Type: txc.BranchTCC, ResourceID: "r", Status: txc.BranchRegistered,
				LockKeys: []txc.LockKey{{Table: "t", Rows: []string{strconv.Itoa(i)}}}})
		})
	}
	step(func(i int) { bt.PutGlobals = append(bt.PutGlobals, global(i, txc.GlobalCommitting)) })
	step(func(i int) {
		bt.PutGlobals = append(bt.PutGlobals, global(i, txc.GlobalCommitted))
		bt.DeleteBranches = append(bt.DeleteBranches, txc.NewXID("b", uint64(i)))
		if i >= kept {
			bt.DeleteGlobals = append(bt.DeleteGlobals, txc.NewXID("b", uint64(i-kept)))
		}
	})
}

// TestLargeBranchNotPinnedByItsBatch: a branch with large application
// data, or many lock keys (a key may hold no row), gets copies of its
// own, so that once its transaction is forgotten a small branch of the
// same batch, still in the state, does not keep them alive.
func TestLargeBranchNotPinnedByItsBatch(t *testing.T) {
	const big = 8 << 20
	bigData := func() store.Branch { return store.Branch{ApplicationData: make([]byte, big)} }
	manyKeys := func() store.Branch {
		keys := make([]txc.LockKey, big/40) // 40 bytes each
		for i := range keys {
			keys[i].Table = "t"
		}
		return store.Branch{LockKeys: keys}
	}
	for _, makeLarge := range []func() store.Branch{bigData, manyKeys} {
		st := newState()
		large := makeLarge()
		x1, x2 := txc.NewXID("p", 1), txc.NewXID("p", 2)
		large.XID, large.ID, large.Type, large.ResourceID = x1, 1, txc.BranchTCC, "r"
		var bt store.Batch
		bt.PutBranches = []store.Branch{large,
			{XID: x2, ID: 2, Type: txc.BranchTCC, ResourceID: "r", ApplicationData: []byte("small"),
				LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"1"}}}},
		}
		st.apply(&bt, false)
		bt.Reset()
		bt.DeleteGlobals = []txc.XID{x1}
		st.apply(&bt, false)
		bt.Reset()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if m.HeapAlloc > big {
			t.Fatalf("heap %d bytes after the large branch's transaction was forgotten: its copies are kept alive", m.HeapAlloc)
		}
		if got := st.txns[x2].branches[0].ApplicationData; string(got) != "small" {
			t.Fatalf("small branch's data %q", got)
		}
		runtime.KeepAlive(st)
	}
}
