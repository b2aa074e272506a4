package logstore

import (
	"math"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

// txn is one transaction in memory: its global record, if stored, and its
// branches in the order they were first put. It is kept by value in its
// map slot (small enough for the map to hold it in place): a finished
// transaction, kept for the retention period, costs no allocation of its
// own.
type txn struct {
	global    globalRec
	hasGlobal bool
	branches  []store.Branch
}

// globalRec is a global record without its XID (the map's key) and with its
// times in milliseconds, the precision stored.
type globalRec struct {
	name                     string
	begun, deadline, updated int64 // see msOf
	status                   txc.GlobalStatus
}

func globalRecOf(g *store.Global) globalRec {
	return globalRec{name: g.Name, status: g.Status, begun: msOf(g.Begun), deadline: msOf(g.Deadline), updated: msOf(g.Updated)}
}

func (r *globalRec) global(x txc.XID) store.Global {
	return store.Global{XID: x, Name: r.name, Status: r.status,
		Begun: timeOf(r.begun), Deadline: timeOf(r.deadline), Updated: timeOf(r.updated)}
}

// zeroMS stands for the zero time.Time.
const zeroMS = math.MinInt64

func msOf(t time.Time) int64 {
	if t.IsZero() {
		return zeroMS
	}
	return t.UnixMilli()
}

// timeOf is the time ms stands for, as msTime would return it.
func timeOf(ms int64) time.Time {
	if ms == zeroMS {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// state is everything the store holds, in memory.
type state struct {
	txns      map[txc.XID]txn
	nextID    uint64
	nGlobals  int
	nBranches int
}

func newState() *state { return &state{txns: map[txc.XID]txn{}} }

// addBranch appends br, the first two branches in one allocation.
func (t *txn) addBranch(br store.Branch) {
	if t.branches == nil {
		t.branches = make([]store.Branch, 0, 2)
	}
	t.branches = append(t.branches, br)
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
	for i := range b.PutGlobals {
		g := &b.PutGlobals[i]
		t := st.txns[g.XID]
		if !t.hasGlobal {
			st.nGlobals++
		}
		t.global, t.hasGlobal = globalRecOf(g), true
		st.txns[g.XID] = t
	}
	st.putBranches(b.PutBranches, own)
	for _, u := range b.SetBranchStatus {
		if t, ok := st.txns[u.XID]; ok {
			if i := t.find(u.ID); i >= 0 {
				t.branches[i].Status = u.Status // in place: the map's copy shares the array
			}
		}
	}
	for _, x := range b.DeleteBranches {
		if t, ok := st.txns[x]; ok {
			st.nBranches -= len(t.branches)
			if !t.hasGlobal {
				delete(st.txns, x)
				continue
			}
			t.branches = nil
			st.txns[x] = t
		}
	}
	for _, x := range b.DeleteGlobals {
		if t, ok := st.txns[x]; ok {
			st.nBranches -= len(t.branches)
			if t.hasGlobal {
				st.nGlobals--
			}
			delete(st.txns, x)
		}
	}
	st.nextID = max(st.nextID, b.NextID)
}

// putBranches inserts or replaces branches; unless own, what they refer
// to is copied, all of the batch's in one slab (see copySlab).
func (st *state) putBranches(brs []store.Branch, own bool) {
	var cp copySlab
	if !own {
		cp = newCopySlab(brs, false)
	}
	for _, br := range brs {
		if !own {
			br = cp.copyOf(br)
		}
		t := st.txns[br.XID]
		if i := t.find(br.ID); i >= 0 {
			t.branches[i] = br
			continue
		}
		t.addBranch(br)
		st.nBranches++
		st.txns[br.XID] = t
	}
}

// export returns a deep copy of the state for Load.
func (st *state) export() *store.State {
	out := &store.State{
		Globals:  make([]store.Global, 0, st.nGlobals),
		Branches: make([]store.Branch, 0, st.nBranches),
		NextID:   st.nextID,
	}
	for x, t := range st.txns {
		if t.hasGlobal {
			out.Globals = append(out.Globals, t.global.global(x))
		}
		out.Branches = append(out.Branches, t.branches...)
	}
	cp := newCopySlab(out.Branches, false)
	for i, b := range out.Branches {
		out.Branches[i] = cp.copyOf(b)
	}
	return out
}
