package tc

import (
	"fmt"
	"strings"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/lock"
	"github.com/txcio/txc/tc/store"
)

func (c *Core) hello(now time.Time, m Msg) {
	for _, r := range m.Resources {
		if r == "" || len(r) > txc.MaxResourceIDLen || strings.IndexByte(r, 0) >= 0 {
			c.fail(m, txc.Errorf(txc.CodeInvalidArgument, "tc: resource ID must be 1..%d bytes without NUL", txc.MaxResourceIDLen))
			return
		}
	}
	have := c.conns[m.Conn]
	if have == nil {
		have = []string{}
	}
	var woken []*global
	for _, r := range m.Resources {
		if containsString(have, r) {
			continue
		}
		have = append(have, r)
		set := c.resources[r]
		if set == nil {
			set = &rmSet{}
			c.resources[r] = set
		}
		set.conns = append(set.conns, m.Conn)
		for g := range set.waiting {
			woken = append(woken, g)
		}
		set.waiting = nil
	}
	c.conns[m.Conn] = have
	c.reply(Reply{Conn: m.Conn, ID: m.ID, Kind: m.Kind, Node: c.cfg.Node})
	for _, g := range woken {
		if c.globals[g.rec.XID] == g {
			c.wakeBranches(g)
			c.drive(now, g)
		}
	}
}

// wakeBranches clears the backoff of g's branches that are waiting, so
// that an RM that just connected gets the work at once.
func (c *Core) wakeBranches(g *global) {
	for _, b := range g.branches {
		if b.cmdID == 0 {
			b.retryAt = time.Time{}
		}
	}
}

func (c *Core) begin(now time.Time, m Msg) {
	if m.Name == "" || len(m.Name) > txc.MaxNameLen {
		c.fail(m, txc.Errorf(txc.CodeInvalidArgument, "tc: transaction name must be 1..%d bytes", txc.MaxNameLen))
		return
	}
	if m.Timeout < 0 {
		c.fail(m, txc.Errorf(txc.CodeInvalidArgument, "tc: negative timeout %v", m.Timeout))
		return
	}
	timeout := m.Timeout
	if timeout == 0 {
		timeout = c.cfg.DefaultTimeout
	}
	timeout = min(timeout, c.cfg.MaxTimeout)
	xid := m.XID
	if xid == "" {
		xid = txc.NewXID(c.cfg.Node, c.newSeq())
	} else if err := c.claim(m.Conn, xid); err != nil {
		c.fail(m, err)
		return
	}
	begun := wall(now)
	g := &global{heapIdx: -1, rec: store.Global{XID: xid, Name: m.Name, Status: txc.GlobalBegin,
		Begun: begun, Deadline: wall(now.Add(timeout)), Updated: begun}}
	c.globals[xid] = g
	c.putGlobal(g)
	c.schedule(g, g.rec.Deadline)
	c.reply(Reply{Conn: m.Conn, ID: m.ID, Kind: m.Kind, XID: xid, Name: m.Name})
}

// lookup finds the live transaction xid. When it is not live, it returns
// the status it finished with if that is still remembered, or an error.
func (c *Core) lookup(xid txc.XID) (*global, txc.GlobalStatus, *txc.Error) {
	node, _, err := xid.Parse()
	if err != nil {
		return nil, 0, err.(*txc.Error)
	}
	if g := c.globals[xid]; g != nil {
		return g, g.rec.Status, nil
	}
	if s, ok := c.finished.get(xid); ok {
		return nil, s, nil
	}
	e := txc.Errorf(txc.CodeUnknownTransaction, "tc: unknown transaction %s", xid)
	if node != c.cfg.Node {
		e = txc.Errorf(txc.CodeUnknownTransaction, "tc: transaction %s belongs to coordinator node %q, this is %q", xid, node, c.cfg.Node)
	}
	e.XID = xid
	return nil, 0, e
}

// rolledBackError is the error for a commit (or register, report) that
// finds the transaction rolled back or rolling back.
func rolledBackError(xid txc.XID, s txc.GlobalStatus) *txc.Error {
	if s.IsTimeout() {
		return &txc.Error{Code: txc.CodeTimedOut, XID: xid, Status: s,
			Message: fmt.Sprintf("tc: transaction %s timed out and was rolled back (%v)", xid, s)}
	}
	return &txc.Error{Code: txc.CodeRolledBack, XID: xid, Status: s,
		Message: fmt.Sprintf("tc: transaction %s was rolled back (%v)", xid, s)}
}

// notOpenError is the error for a request that needs an open transaction.
func notOpenError(xid txc.XID, s txc.GlobalStatus) *txc.Error {
	if s.IsRollback() {
		return rolledBackError(xid, s)
	}
	return &txc.Error{Code: txc.CodeNotActive, XID: xid, Status: s,
		Message: fmt.Sprintf("tc: transaction %s is no longer open (%v)", xid, s)}
}

// openAt returns g if it is open at now. A transaction found past its
// deadline is timed out on the spot.
func (c *Core) openAt(now time.Time, xid txc.XID) (*global, *txc.Error) {
	g, s, err := c.lookup(xid)
	if err != nil {
		return nil, err
	}
	if g != nil && s == txc.GlobalBegin && !now.Before(g.rec.Deadline) {
		c.timeout(now, g)
		s = g.rec.Status
	}
	if s != txc.GlobalBegin {
		return nil, notOpenError(xid, s)
	}
	return g, nil
}

func (c *Core) commit(now time.Time, m Msg) {
	g, s, err := c.lookup(m.XID)
	if err != nil {
		c.fail(m, err)
		return
	}
	if g != nil && s == txc.GlobalBegin {
		if !now.Before(g.rec.Deadline) {
			c.timeout(now, g)
			c.fail(m, rolledBackError(m.XID, g.rec.Status))
			return
		}
		next := txc.GlobalAsyncCommitting
		for _, b := range g.branches {
			if b.rec.Type != txc.BranchAT {
				next = txc.GlobalCommitting
			}
		}
		// The outcome is decided: the rows are final, so their global
		// locks go now, before phase 2.
		c.releaseAll(g)
		c.setStatus(now, g, next)
		c.drive(now, g)
		if c.globals[m.XID] == nil {
			s = txc.GlobalCommitted
		} else {
			s = g.rec.Status
		}
	}
	if s.IsRollback() {
		c.fail(m, rolledBackError(m.XID, s))
		return
	}
	c.reply(Reply{Conn: m.Conn, ID: m.ID, Kind: m.Kind, Status: s})
}

func (c *Core) rollback(now time.Time, m Msg) {
	g, s, err := c.lookup(m.XID)
	if err != nil {
		c.fail(m, err)
		return
	}
	if g != nil && s == txc.GlobalBegin {
		next := txc.GlobalRollbacking
		if !now.Before(g.rec.Deadline) {
			next = txc.GlobalTimeoutRollbacking
		}
		c.setStatus(now, g, next)
		c.drive(now, g)
		if c.globals[m.XID] == nil {
			s = finalOf(next)
		} else {
			s = g.rec.Status
		}
	}
	if s.IsCommit() {
		c.fail(m, &txc.Error{Code: txc.CodeNotActive, XID: m.XID, Status: s,
			Message: fmt.Sprintf("tc: cannot roll back %s: its commit was decided (%v)", m.XID, s)})
		return
	}
	c.reply(Reply{Conn: m.Conn, ID: m.ID, Kind: m.Kind, Status: s})
}

func (c *Core) status(m Msg) {
	_, s, err := c.lookup(m.XID)
	if err != nil {
		c.fail(m, err)
		return
	}
	c.reply(Reply{Conn: m.Conn, ID: m.ID, Kind: m.Kind, Status: s})
}

func (c *Core) register(now time.Time, m Msg) {
	id, err := c.addBranch(now, m)
	if err != nil {
		c.fail(m, err)
		if m.Claimed && c.cfg.SharedLocks {
			// The shell took these rows in the shared table for this
			// registration; those the core does not hold go again.
			c.rd.Batch.FreeLocks = c.locks.NotHeld(c.rd.Batch.FreeLocks, m.XID, m.ResourceID, m.LockKeys)
		}
		return
	}
	c.reply(Reply{Conn: m.Conn, ID: m.ID, Kind: m.Kind, BranchID: id})
}

// addBranch registers the branch m asks for and takes its locks, or
// changes nothing but perhaps the timing out of the transaction.
func (c *Core) addBranch(now time.Time, m Msg) (txc.BranchID, *txc.Error) {
	if !m.BranchType.Valid() {
		return 0, txc.Errorf(txc.CodeInvalidArgument, "tc: invalid branch type %d", m.BranchType)
	}
	if m.ResourceID == "" || len(m.ResourceID) > txc.MaxResourceIDLen {
		return 0, txc.Errorf(txc.CodeInvalidArgument, "tc: resource ID must be 1..%d bytes", txc.MaxResourceIDLen)
	}
	if len(m.ApplicationData) > txc.MaxApplicationLen {
		return 0, txc.Errorf(txc.CodeInvalidArgument, "tc: application data of %d bytes, at most %d", len(m.ApplicationData), txc.MaxApplicationLen)
	}
	if err := lock.Validate(m.ResourceID, m.LockKeys); err != nil {
		return 0, err.(*txc.Error)
	}
	g, err := c.openAt(now, m.XID)
	if err != nil {
		return 0, err
	}
	if len(g.branches) >= txc.MaxBranchesPerTransaction {
		return 0, &txc.Error{Code: txc.CodeInvalidArgument, XID: m.XID,
			Message: fmt.Sprintf("tc: transaction %s has %d branches, the most one may have", m.XID, txc.MaxBranchesPerTransaction)}
	}
	if err := c.freeingConflict(&m); err != nil {
		return 0, err
	}
	if m.HeldBy != "" {
		c.event(Event{Kind: EventLockConflict, XID: g.rec.XID, ResourceID: m.ResourceID, Table: m.HeldTable})
		return 0, &txc.Error{Code: txc.CodeLockConflict, XID: m.XID, Holder: m.HeldBy,
			Message: fmt.Sprintf("tc: lock conflict on resource %s: rows of %s held by %s", m.ResourceID, m.HeldTable, m.HeldBy)}
	}
	id := txc.BranchID(c.newSeq())
	if holder, ok := c.locks.Acquire(g.rec.XID, id, m.ResourceID, m.LockKeys); !ok {
		c.event(Event{Kind: EventLockConflict, XID: g.rec.XID, ResourceID: m.ResourceID,
			Table: c.locks.ConflictTable(g.rec.XID, m.ResourceID, m.LockKeys)})
		return 0, &txc.Error{Code: txc.CodeLockConflict, XID: m.XID, Holder: holder,
			Message: fmt.Sprintf("tc: lock conflict on resource %s: rows held by %s", m.ResourceID, holder)}
	}
	b := &branch{g: g, rec: store.Branch{XID: g.rec.XID, ID: id, Type: m.BranchType, ResourceID: m.ResourceID,
		LockKeys: m.LockKeys, ApplicationData: m.ApplicationData, Status: txc.BranchRegistered}}
	g.addBranch(b)
	c.rd.Batch.PutBranches = append(c.rd.Batch.PutBranches, b.rec)
	return id, nil
}

func (c *Core) report(m Msg) {
	if m.BranchStatus != txc.BranchPhaseOneDone && m.BranchStatus != txc.BranchPhaseOneFailed {
		c.fail(m, txc.Errorf(txc.CodeInvalidArgument, "tc: a branch can report only PhaseOneDone or PhaseOneFailed, not %v", m.BranchStatus))
		return
	}
	g, s, err := c.lookup(m.XID)
	if err != nil {
		c.fail(m, err)
		return
	}
	if s != txc.GlobalBegin {
		c.fail(m, notOpenError(m.XID, s))
		return
	}
	b := g.find(m.BranchID)
	if b == nil {
		c.fail(m, &txc.Error{Code: txc.CodeUnknownBranch, XID: m.XID,
			Message: fmt.Sprintf("tc: transaction %s has no branch %d", m.XID, m.BranchID)})
		return
	}
	switch b.rec.Status {
	case m.BranchStatus:
		// Repeated report: nothing changes.
	case txc.BranchRegistered:
		b.rec.Status = m.BranchStatus
		c.putBranchStatus(b)
		if m.BranchStatus == txc.BranchPhaseOneFailed {
			c.release(b) // nothing was written, nothing to protect
		}
	default:
		c.fail(m, &txc.Error{Code: txc.CodeNotActive, XID: m.XID,
			Message: fmt.Sprintf("tc: branch %d of %s already reported %v", m.BranchID, m.XID, b.rec.Status)})
		return
	}
	c.reply(Reply{Conn: m.Conn, ID: m.ID, Kind: m.Kind})
}

func (c *Core) lockQuery(m Msg) {
	if m.ResourceID == "" || len(m.ResourceID) > txc.MaxResourceIDLen {
		c.fail(m, txc.Errorf(txc.CodeInvalidArgument, "tc: resource ID must be 1..%d bytes", txc.MaxResourceIDLen))
		return
	}
	if err := lock.Validate(m.ResourceID, m.LockKeys); err != nil {
		c.fail(m, err.(*txc.Error))
		return
	}
	if m.XID != "" && !m.XID.Valid() {
		c.fail(m, txc.Errorf(txc.CodeInvalidArgument, "tc: malformed XID %q", m.XID))
		return
	}
	holder, locked := c.locks.Query(m.XID, m.ResourceID, m.LockKeys)
	c.reply(Reply{Conn: m.Conn, ID: m.ID, Kind: m.Kind, Locked: locked, Holder: holder})
}

func (g *global) find(id txc.BranchID) *branch {
	for _, b := range g.branches {
		if b.rec.ID == id {
			return b
		}
	}
	return nil
}

// release frees b's locks; with shared locks, the rows that became free
// go into the batch, to be deleted from the shared table with it.
func (c *Core) release(b *branch) {
	var freed *[]store.LockRow
	if c.cfg.SharedLocks {
		freed = &c.rd.Batch.FreeLocks
	}
	c.locks.Release(b.rec.XID, b.rec.ID, b.rec.ResourceID, b.rec.LockKeys, freed)
}

func (c *Core) releaseAll(g *global) {
	for _, b := range g.branches {
		c.release(b)
	}
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
