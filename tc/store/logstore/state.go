package logstore

import (
	"slices"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

// txn is one transaction in memory: its global record, if stored, and its
// branches in the order they were first put.
type txn struct {
	global    store.Global
	hasGlobal bool
	branches  []store.Branch
	inline    [2]store.Branch // branches' first entries, without an allocation of their own
}

// state is everything the store holds, in memory.
type state struct {
	txns      map[txc.XID]*txn
	nextID    uint64
	nGlobals  int
	nBranches int
}

func newState() *state { return &state{txns: map[txc.XID]*txn{}} }

// txn returns the transaction x, creating it if missing.
func (st *state) txn(x txc.XID) *txn {
	t := st.txns[x]
	if t == nil {
		t = &txn{}
		st.txns[x] = t
	}
	return t
}

func (t *txn) addBranch(br store.Branch) {
	if t.branches == nil {
		t.branches = t.inline[:0]
	}
	t.branches = append(t.branches, br)
}

// dropBranches forgets the branches, keeping nothing they refer to.
func (t *txn) dropBranches() {
	clear(t.inline[:])
	t.branches = nil
}

func (t *txn) find(id txc.BranchID) int {
	for i := range t.branches {
		if t.branches[i].ID == id {
			return i
		}
	}
	return -1
}

// apply adds b to the state in the order store.Batch defines. With own
// set the batch's slices belong to the state already (a decoded record);
// otherwise everything kept is copied.
func (st *state) apply(b *store.Batch, own bool) {
	for _, g := range b.PutGlobals {
		t := st.txn(g.XID)
		g.Begun, g.Deadline, g.Updated = msTime(g.Begun), msTime(g.Deadline), msTime(g.Updated)
		if !t.hasGlobal {
			st.nGlobals++
		}
		t.global, t.hasGlobal = g, true
	}
	for _, br := range b.PutBranches {
		if !own {
			br.LockKeys = cloneLockKeys(br.LockKeys)
			br.ApplicationData = slices.Clone(br.ApplicationData)
		}
		t := st.txn(br.XID)
		if i := t.find(br.ID); i >= 0 {
			t.branches[i] = br
		} else {
			t.addBranch(br)
			st.nBranches++
		}
	}
	for _, u := range b.SetBranchStatus {
		if t := st.txns[u.XID]; t != nil {
			if i := t.find(u.ID); i >= 0 {
				t.branches[i].Status = u.Status
			}
		}
	}
	for _, x := range b.DeleteBranches {
		if t := st.txns[x]; t != nil {
			st.nBranches -= len(t.branches)
			t.dropBranches()
			if !t.hasGlobal {
				delete(st.txns, x)
			}
		}
	}
	for _, x := range b.DeleteGlobals {
		if t := st.txns[x]; t != nil {
			st.nBranches -= len(t.branches)
			if t.hasGlobal {
				st.nGlobals--
			}
			delete(st.txns, x)
		}
	}
	st.nextID = max(st.nextID, b.NextID)
}

// export returns a deep copy of the state for Load.
func (st *state) export() *store.State {
	out := &store.State{
		Globals:  make([]store.Global, 0, st.nGlobals),
		Branches: make([]store.Branch, 0, st.nBranches),
		NextID:   st.nextID,
	}
	for _, t := range st.txns {
		if t.hasGlobal {
			out.Globals = append(out.Globals, t.global)
		}
		for _, b := range t.branches {
			b.LockKeys = cloneLockKeys(b.LockKeys)
			b.ApplicationData = slices.Clone(b.ApplicationData)
			out.Branches = append(out.Branches, b)
		}
	}
	return out
}

func cloneLockKeys(in []txc.LockKey) []txc.LockKey {
	if in == nil {
		return nil
	}
	out := make([]txc.LockKey, len(in))
	for i, k := range in {
		out[i] = txc.LockKey{Table: k.Table, Rows: slices.Clone(k.Rows)}
	}
	return out
}
