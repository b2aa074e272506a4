package tc

import (
	"fmt"
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
	Branches []BranchView     `json:"branches"`
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
}

// Stats counts what the core holds.
type Stats struct {
	Active     int `json:"active"`
	Manual     int `json:"needs_manual_action"`
	LockedRows int `json:"locked_rows"`
	InFlight   int `json:"commands_in_flight"`
	Finished   int `json:"finished_remembered"`
	Conns      int `json:"rm_streams"`
}

// Stats returns current counts. O(live transactions).
func (c *Core) Stats() Stats {
	st := Stats{Active: len(c.globals), LockedRows: c.locks.Len(), InFlight: len(c.inflight),
		Finished: len(c.finished.status), Conns: len(c.conns)}
	for _, g := range c.globals {
		if g.rec.Status.NeedsManualAction() {
			st.Manual++
		}
	}
	return st
}

// Transactions returns up to limit live transactions, oldest first; with
// manualOnly, only those needing manual action.
func (c *Core) Transactions(manualOnly bool, limit int) []TxView {
	var out []TxView
	for _, g := range c.globals {
		if manualOnly && !g.rec.Status.NeedsManualAction() {
			continue
		}
		out = append(out, view(g))
	}
	slices.SortFunc(out, func(a, b TxView) int {
		if c := a.Begun.Compare(b.Begun); c != 0 {
			return c
		}
		return strings.Compare(string(a.XID), string(b.XID))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// Transaction returns the view of one live transaction.
func (c *Core) Transaction(xid txc.XID) (TxView, bool) {
	g := c.globals[xid]
	if g == nil {
		return TxView{}, false
	}
	return view(g), true
}

func view(g *global) TxView {
	v := TxView{XID: g.rec.XID, Name: g.rec.Name, Status: g.rec.Status, StatusS: g.rec.Status.String(),
		Begun: g.rec.Begun, Deadline: g.rec.Deadline, Updated: g.rec.Updated, Manual: g.rec.Status.NeedsManualAction()}
	for _, b := range g.branches {
		rows := 0
		for _, k := range b.rec.LockKeys {
			rows += len(k.Rows)
		}
		v.Branches = append(v.Branches, BranchView{ID: b.rec.ID, Type: b.rec.Type.String(), ResourceID: b.rec.ResourceID,
			Status: b.rec.Status.String(), LockedRows: rows, Attempts: b.attempts, InFlight: b.cmdID != 0, LastError: b.lastErr})
	}
	return v
}

// Retry resumes a transaction parked as needing manual action, after an
// operator fixed whatever made its branch fail: the failed branches are
// tried again from scratch. The change is in the next Ready.
func (c *Core) Retry(now time.Time, xid txc.XID) error {
	g := c.globals[xid]
	if g == nil {
		return &txc.Error{Code: txc.CodeUnknownTransaction, XID: xid, Message: fmt.Sprintf("tc: no live transaction %s", xid)}
	}
	if !g.rec.Status.NeedsManualAction() {
		return &txc.Error{Code: txc.CodeNotActive, XID: xid, Status: g.rec.Status,
			Message: fmt.Sprintf("tc: %s does not need manual action (%v)", xid, g.rec.Status)}
	}
	for _, b := range g.branches {
		if b.rec.Status == txc.BranchCommitFailedUnretryable || b.rec.Status == txc.BranchRollbackFailedUnretryable {
			b.rec.Status = txc.BranchRegistered
			b.attempts, b.retryAt = 0, time.Time{}
			c.putBranchStatus(b)
		}
	}
	next := map[txc.GlobalStatus]txc.GlobalStatus{
		txc.GlobalCommitFailed:          txc.GlobalCommitRetrying,
		txc.GlobalRollbackFailed:        txc.GlobalRollbackRetrying,
		txc.GlobalTimeoutRollbackFailed: txc.GlobalTimeoutRollbackRetrying,
	}[g.rec.Status]
	c.setStatus(now, g, next)
	c.drive(now, g)
	return nil
}
