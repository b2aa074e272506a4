package sqlstore

import (
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

// plan is a Batch reduced to its net effect, so that each kind of change
// becomes one multi-row statement whose rows never touch a key twice and
// whose statements commute:
//
//   - globals: the last put of each transaction not deleted in the batch;
//   - branches: the last put of each branch whose transaction's branches
//     are not deleted in the batch, with the last status update of that
//     branch in the batch folded in (updates apply after puts);
//   - statuses: the last update of each branch neither put nor deleted in
//     the batch (an update of a missing branch changes nothing);
//   - dropBranches: the transactions whose branches go (DeleteBranches and
//     DeleteGlobals);
//   - dropGlobals: the transactions whose global records go;
//   - nextID: the batch's NextID (0: unchanged);
//   - freeLocks: with a shared lock table, the FreeLocks of transactions
//     whose branches are not deleted in the batch (those lose all their
//     rows: see dropBranches), each once, in key order.
//
// Applying the plan's statements in any order gives the state the Batch
// order defines.
type plan struct {
	globals      []store.Global
	branches     []row
	statuses     []store.BranchStatus
	dropBranches []txc.XID
	dropGlobals  []txc.XID
	nextID       uint64
	freeLocks    []lockRef
	// abort, set by tests, makes the transaction fail after all its
	// statements, before its commit: a simulated crash.
	abort bool
}

// row is a branch ready for writing: its lock keys encoded and its
// application data never nil.
type row struct {
	store.Branch
	lockKeys []byte
}

type branchKey struct {
	xid txc.XID
	id  txc.BranchID
}

// empty reports whether the plan writes nothing.
func (p *plan) empty() bool {
	return len(p.globals) == 0 && len(p.branches) == 0 && len(p.statuses) == 0 &&
		len(p.dropBranches) == 0 && len(p.dropGlobals) == 0 && p.nextID == 0 && len(p.freeLocks) == 0
}

// newPlan reduces b; shared says the store lives beside a shared lock
// table. It copies what it keeps, so b may be reused after.
func newPlan(b *store.Batch, shared bool) *plan {
	p := &plan{nextID: b.NextID}
	deleted := make(map[txc.XID]bool, len(b.DeleteGlobals))
	branchesGone := make(map[txc.XID]bool, len(b.DeleteGlobals)+len(b.DeleteBranches))
	for _, x := range b.DeleteGlobals {
		if !deleted[x] {
			deleted[x] = true
			p.dropGlobals = append(p.dropGlobals, x)
		}
	}
	for _, x := range append(b.DeleteBranches[:len(b.DeleteBranches):len(b.DeleteBranches)], b.DeleteGlobals...) {
		if !branchesGone[x] {
			branchesGone[x] = true
			p.dropBranches = append(p.dropBranches, x)
		}
	}
	p.globals = lastGlobals(b.PutGlobals, deleted)
	put := p.addBranches(b.PutBranches, branchesGone)
	p.addStatuses(b.SetBranchStatus, put, branchesGone)
	if shared {
		p.freeLocks = uniqueRefs(b.FreeLocks, branchesGone)
	}
	return p
}

// lastGlobals keeps the last put of each transaction not in skip, in the
// order of first appearance.
func lastGlobals(puts []store.Global, skip map[txc.XID]bool) []store.Global {
	at := make(map[txc.XID]int, len(puts))
	var out []store.Global
	for _, g := range puts {
		if skip[g.XID] {
			continue
		}
		if i, ok := at[g.XID]; ok {
			out[i] = g
			continue
		}
		at[g.XID] = len(out)
		out = append(out, g)
	}
	return out
}

// addBranches keeps the last put of each branch not in gone and returns
// where each kept branch is in p.branches.
func (p *plan) addBranches(puts []store.Branch, gone map[txc.XID]bool) map[branchKey]int {
	at := make(map[branchKey]int, len(puts))
	for _, br := range puts {
		if gone[br.XID] {
			continue
		}
		r := row{Branch: br, lockKeys: encodeLockKeys(nil, br.LockKeys)}
		r.LockKeys = nil // encoded above; the caller's slices are not kept
		r.ApplicationData = append(make([]byte, 0, len(br.ApplicationData)), br.ApplicationData...)
		k := branchKey{br.XID, br.ID}
		if i, ok := at[k]; ok {
			p.branches[i] = r
			continue
		}
		at[k] = len(p.branches)
		p.branches = append(p.branches, r)
	}
	return at
}

// addStatuses folds updates of branches put in the batch into their rows
// and keeps the last update of every other branch not in gone.
func (p *plan) addStatuses(updates []store.BranchStatus, put map[branchKey]int, gone map[txc.XID]bool) {
	at := map[branchKey]int{}
	for _, u := range updates {
		if gone[u.XID] {
			continue
		}
		k := branchKey{u.XID, u.ID}
		if i, ok := put[k]; ok {
			p.branches[i].Status = u.Status
			continue
		}
		if i, ok := at[k]; ok {
			p.statuses[i] = u
			continue
		}
		at[k] = len(p.statuses)
		p.statuses = append(p.statuses, u)
	}
}

// millis is t as stored: milliseconds since the Unix epoch, nil for the
// zero time.
func millis(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

// fromMillis is the inverse of millis.
func fromMillis(ms *int64) time.Time {
	if ms == nil {
		return time.Time{}
	}
	return time.UnixMilli(*ms).UTC()
}
