package tc

import (
	"slices"
	"strings"
	"time"

	"github.com/txcio/txc"
)

// TxView is a read-only picture of a live transaction, for the admin
// console and tests.
type TxView struct {
	XID      txc.XID          `json:"xid"`
	Name     string           `json:"name"`
	Status   txc.GlobalStatus `json:"-"`
	StatusS  string           `json:"status"`
	Begun    time.Time        `json:"begun"`
	Deadline time.Time        `json:"deadline"`
	Updated  time.Time        `json:"updated"`
	Manual   bool             `json:"needs_manual_action"`
	// Finished is set for a transaction that reached its final status
	// and is still remembered: such a view has no branches, and a history
	// only if it once needed manual action.
	Finished bool         `json:"finished,omitempty"`
	Branches []BranchView `json:"branches"`
	// History is set in the view of one transaction (not in lists).
	History []HistoryEntry `json:"history,omitempty"`
}

// BranchView is a read-only picture of a branch.
type BranchView struct {
	ID         txc.BranchID `json:"id"`
	Type       string       `json:"type"`
	ResourceID string       `json:"resource_id"`
	Status     string       `json:"status"`
	LockedRows int          `json:"locked_rows"`
	Attempts   int          `json:"attempts"`
	InFlight   bool         `json:"in_flight"`
	// LastError is why the last phase-2 attempt failed or waits: the
	// text the RM reported, or that no RM serves the resource. Kept in
	// the coordinator's memory: empty after a restart until the next
	// attempt.
	LastError string `json:"last_error,omitempty"`
	// LockKeys are the rows the branch registered, in the view of one
	// transaction (not in lists).
	LockKeys []txc.LockKey `json:"lock_keys,omitempty"`
}

// Stats counts what the core holds.
type Stats struct {
	Active     int `json:"active"`
	Manual     int `json:"needs_manual_action"`
	LockedRows int `json:"locked_rows"`
	InFlight   int `json:"commands_in_flight"`
	Finished   int `json:"finished_remembered"`
	Conns      int `json:"rm_streams"`
	// ByStatus counts live transactions by status name.
	ByStatus map[string]int `json:"by_status"`
}

// Stats returns current counts. O(live transactions).
func (c *Core) Stats() Stats {
	st := Stats{Active: len(c.globals), LockedRows: c.locks.Len(), InFlight: len(c.inflight),
		Finished: len(c.finished.status), Conns: len(c.conns), ByStatus: map[string]int{}}
	for _, g := range c.globals {
		st.ByStatus[g.rec.Status.String()]++
		if g.rec.Status.NeedsManualAction() {
			st.Manual++
		}
	}
	return st
}

// TxFilter selects live transactions for Transactions. Zero fields select
// everything.
type TxFilter struct {
	// Statuses keeps transactions in one of these statuses.
	Statuses []txc.GlobalStatus
	// Name keeps transactions whose name contains it.
	Name string
	// Resource keeps transactions with a branch on this resource.
	Resource string
	// MinAge keeps transactions begun at least this long ago.
	MinAge time.Duration
	// Manual keeps only transactions needing manual action.
	Manual bool
	// Offset skips this many matches (oldest first); Limit returns at most
	// this many (0: all).
	Offset, Limit int
}

func (f *TxFilter) match(now time.Time, g *global) bool {
	if f.Manual && !g.rec.Status.NeedsManualAction() {
		return false
	}
	if len(f.Statuses) > 0 && !slices.Contains(f.Statuses, g.rec.Status) {
		return false
	}
	if f.Name != "" && !strings.Contains(g.rec.Name, f.Name) {
		return false
	}
	if f.MinAge > 0 && now.Sub(g.rec.Begun) < f.MinAge {
		return false
	}
	if f.Resource != "" && !slices.ContainsFunc(g.branches, func(b *branch) bool { return b.rec.ResourceID == f.Resource }) {
		return false
	}
	return true
}

// Transactions returns the live transactions f selects at now, oldest
// first, and how many match in all (before Offset and Limit).
// O(live transactions).
func (c *Core) Transactions(now time.Time, f TxFilter) ([]TxView, int) {
	var sel []*global
	for _, g := range c.globals {
		if f.match(now, g) {
			sel = append(sel, g)
		}
	}
	slices.SortFunc(sel, func(a, b *global) int {
		if c := a.rec.Begun.Compare(b.rec.Begun); c != 0 {
			return c
		}
		return strings.Compare(string(a.rec.XID), string(b.rec.XID))
	})
	total := len(sel)
	sel = sel[min(max(f.Offset, 0), total):]
	if f.Limit > 0 && len(sel) > f.Limit {
		sel = sel[:f.Limit]
	}
	out := make([]TxView, 0, len(sel))
	for _, g := range sel {
		out = append(out, view(g, false))
	}
	return out, total
}

// Transaction returns the view of one transaction, with its history and
// lock keys: a live one, or a finished one still remembered (see
// TxView.Finished).
func (c *Core) Transaction(xid txc.XID) (TxView, bool) {
	if g := c.globals[xid]; g != nil {
		return view(g, true), true
	}
	if v := c.finished.views[xid]; v != nil {
		return *v, true
	}
	if s, ok := c.finished.get(xid); ok {
		return TxView{XID: xid, Status: s, StatusS: s.String(), Finished: true, Branches: []BranchView{}}, true
	}
	return TxView{}, false
}

func view(g *global, detail bool) TxView {
	s := g.rec.Status
	v := TxView{XID: g.rec.XID, Name: g.rec.Name, Status: s, StatusS: s.String(), Begun: g.rec.Begun,
		Deadline: g.rec.Deadline, Updated: g.rec.Updated, Manual: s.NeedsManualAction(), Finished: s.IsFinal(),
		Branches: make([]BranchView, 0, len(g.branches))}
	for _, b := range g.branches {
		rows := 0
		for _, k := range b.rec.LockKeys {
			rows += len(k.Rows)
		}
		bv := BranchView{ID: b.rec.ID, Type: b.rec.Type.String(), ResourceID: b.rec.ResourceID,
			Status: b.rec.Status.String(), LockedRows: rows, Attempts: b.attempts, InFlight: b.cmdID != 0, LastError: b.lastErr}
		if detail {
			bv.LockKeys = b.rec.LockKeys
		}
		v.Branches = append(v.Branches, bv)
	}
	if detail {
		v.History = historyView(g)
	}
	return v
}
