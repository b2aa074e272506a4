package tc

import (
	"fmt"
	"strings"
	"time"

	"github.com/txcio/txc"
)

// Phase 2 runs by these rules:
//   - commit sends every pending branch its command at once; rollback goes
//     one branch at a time, newest registration first;
//   - a command is sent to one live RM that announced the branch's
//     resource (round robin); with none, the branch waits with backoff and
//     is retried at once when such an RM says Hello;
//   - a command unanswered for AckTimeout, or answered with a retryable
//     failure, is sent again after capped exponential backoff;
//   - an unretryable failure parks the transaction as needing manual
//     action (commit keeps delivering the other branches; rollback stops and
//     keeps the locks, so nobody writes over rows that were not restored).

func (c *Core) timeout(now time.Time, g *global) {
	c.setStatus(now, g, txc.GlobalTimeoutRollbacking)
	c.event(Event{Kind: EventTimeout, XID: g.rec.XID, Status: g.rec.Status, Name: g.rec.Name,
		Message: fmt.Sprintf("deadline %s passed; rolling back", g.rec.Deadline.UTC().Format(time.RFC3339Nano))})
	c.drive(now, g)
}

// drive sends whatever phase-2 commands g needs now and schedules its next
// wake-up, or finishes it.
func (c *Core) drive(now time.Time, g *global) {
	st := g.rec.Status
	var wake time.Time
	switch {
	case st.IsCommit():
		pending := false
		for _, b := range g.branches {
			switch b.rec.Status {
			case txc.BranchCommitted, txc.BranchPhaseOneFailed, txc.BranchCommitFailedUnretryable:
				continue
			}
			if b.rec.Type == txc.BranchAT {
				c.implyCommit(b)
				continue
			}
			pending = true
			c.advance(now, b, ActionCommit, &wake)
		}
		if !pending && !st.NeedsManualAction() {
			c.finish(now, g, txc.GlobalCommitted)
			return
		}
	case st.IsRollback():
		if st.NeedsManualAction() {
			c.unschedule(g)
			return
		}
		var next *branch
		for i := len(g.branches) - 1; i >= 0; i-- {
			if s := g.branches[i].rec.Status; s != txc.BranchRollbacked && s != txc.BranchPhaseOneFailed {
				next = g.branches[i]
				break
			}
		}
		if next == nil {
			c.finish(now, g, finalOf(st))
			return
		}
		c.advance(now, next, ActionRollback, &wake)
	default:
		return
	}
	c.schedule(g, wake)
}

// advance moves one branch's phase 2 along and lowers *wake to when it
// next needs attention.
func (c *Core) advance(now time.Time, b *branch, a Action, wake *time.Time) {
	if b.cmdID != 0 {
		if now.Before(b.ackBy) {
			earliest(wake, b.ackBy)
			return
		}
		delete(c.inflight, b.cmdID)
		b.cmdID = 0
		b.attempts++
		c.event(Event{Kind: EventRetry, XID: b.rec.XID, BranchID: b.rec.ID, Status: b.g.rec.Status,
			ResourceID: b.rec.ResourceID, BranchType: b.rec.Type,
			Message: fmt.Sprintf("no %s result within %v; sending again", a, c.cfg.AckTimeout)})
	}
	if now.Before(b.retryAt) {
		earliest(wake, b.retryAt)
		return
	}
	conn, ok := c.pickConn(b.rec.ResourceID)
	if !ok {
		b.attempts++
		b.retryAt = now.Add(c.backoff(b.attempts))
		earliest(wake, b.retryAt)
		c.retrying(now, b.g)
		set := c.resources[b.rec.ResourceID]
		if set == nil {
			set = &rmSet{}
			c.resources[b.rec.ResourceID] = set
		}
		if set.waiting == nil {
			set.waiting = make(map[*global]struct{})
		}
		set.waiting[b.g] = struct{}{}
		b.failed(fmt.Sprintf("no RM connected for resource %q", b.rec.ResourceID))
		e := Event{Kind: EventRetry, XID: b.rec.XID, BranchID: b.rec.ID, Status: b.g.rec.Status,
			ResourceID: b.rec.ResourceID, BranchType: b.rec.Type}
		if b.attempts == 1 || b.attempts%10 == 0 {
			e.Message = fmt.Sprintf("no RM connected for resource %q; %s waits (attempt %d)", b.rec.ResourceID, a, b.attempts)
		}
		c.event(e)
		return
	}
	c.nextCmd++
	b.cmdID, b.cmdConn, b.ackBy = c.nextCmd, conn, now.Add(c.cfg.AckTimeout)
	c.inflight[b.cmdID] = b
	c.rd.Commands = append(c.rd.Commands, Command{Conn: conn, ID: b.cmdID, Action: a, XID: b.rec.XID,
		BranchID: b.rec.ID, BranchType: b.rec.Type, ResourceID: b.rec.ResourceID, ApplicationData: b.rec.ApplicationData,
		Repeat: b.repeat})
	b.repeat = RepeatAgain
	earliest(wake, b.ackBy)
}

// implyCommit marks an AT branch committed without waiting for its RM:
// its rows were committed in phase 1 and the global locks are gone, so
// its commit only deletes the undo log, which no one reads once the
// decision is durable. The RM is told with a notice (a commit command
// with ID 0, which it does not answer) when one serves the resource; a
// lost notice leaves only the undo row, which the RM's leftover sweep
// deletes after asking for the transaction's status.
func (c *Core) implyCommit(b *branch) {
	if b.cmdID != 0 {
		delete(c.inflight, b.cmdID)
		b.cmdID = 0
	}
	b.rec.Status = txc.BranchCommitted // not stored, as no commit result is: a restart sends the notice again
	if conn, ok := c.pickConn(b.rec.ResourceID); ok {
		c.rd.Commands = append(c.rd.Commands, Command{Conn: conn, Action: ActionCommit, XID: b.rec.XID,
			BranchID: b.rec.ID, BranchType: b.rec.Type, ResourceID: b.rec.ResourceID, ApplicationData: b.rec.ApplicationData,
			Repeat: b.repeat})
	}
}

func (c *Core) pickConn(resource string) (ConnID, bool) {
	set := c.resources[resource]
	if set == nil || len(set.conns) == 0 {
		return 0, false
	}
	set.next = (set.next + 1) % len(set.conns)
	return set.conns[set.next], true
}

// backoff is RetryMin·2^(attempt-1), capped at RetryMax.
func (c *Core) backoff(attempt int) time.Duration {
	d := c.cfg.RetryMin
	for i := 1; i < attempt && d < c.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, c.cfg.RetryMax)
}

func earliest(wake *time.Time, t time.Time) {
	if wake.IsZero() || t.Before(*wake) {
		*wake = t
	}
}

// retrying moves g to the *Retrying status of its side, once.
func (c *Core) retrying(now time.Time, g *global) {
	switch g.rec.Status {
	case txc.GlobalCommitting, txc.GlobalAsyncCommitting:
		c.setStatus(now, g, txc.GlobalCommitRetrying)
	case txc.GlobalRollbacking:
		c.setStatus(now, g, txc.GlobalRollbackRetrying)
	case txc.GlobalTimeoutRollbacking:
		c.setStatus(now, g, txc.GlobalTimeoutRollbackRetrying)
	}
}

// parked moves g to the needs-manual-action status of its side.
func parked(s txc.GlobalStatus) txc.GlobalStatus {
	switch {
	case s.IsCommit():
		return txc.GlobalCommitFailed
	case s.IsTimeout():
		return txc.GlobalTimeoutRollbackFailed
	default:
		return txc.GlobalRollbackFailed
	}
}

func finalOf(s txc.GlobalStatus) txc.GlobalStatus {
	switch {
	case s.IsCommit():
		return txc.GlobalCommitted
	case s.IsTimeout():
		return txc.GlobalTimeoutRollbacked
	default:
		return txc.GlobalRollbacked
	}
}

func (c *Core) branchResult(now time.Time, m Msg) {
	b := c.inflight[m.ID]
	if b == nil || b.rec.XID != m.XID || b.rec.ID != m.BranchID {
		// A result for a command already answered, re-sent or finished:
		// phase 2 is at-least-once, so duplicates are expected.
		return
	}
	delete(c.inflight, m.ID)
	b.cmdID = 0
	g := b.g
	commit := g.rec.Status.IsCommit()
	action := ActionRollback
	if commit {
		action = ActionCommit
	}
	c.event(Event{Kind: EventPhase2, XID: g.rec.XID, BranchID: b.rec.ID, Status: g.rec.Status, ResourceID: b.rec.ResourceID,
		BranchType: b.rec.Type, Action: action, BranchStatus: m.BranchStatus, Latency: now.Sub(b.ackBy.Add(-c.cfg.AckTimeout))})
	switch s := m.BranchStatus; {
	case commit && s == txc.BranchCommitted:
		b.rec.Status = s // not stored: after a restart the commit is simply delivered again
	case !commit && s == txc.BranchRollbacked:
		b.rec.Status = s
		c.putBranchStatus(b) // stored, because its locks go now
		c.release(b)
	case commit && s == txc.BranchCommitFailedUnretryable, !commit && s == txc.BranchRollbackFailedUnretryable:
		b.rec.Status = s
		b.attempts++
		b.failed(m.Text)
		c.putBranchStatus(b)
		c.setStatus(now, g, parked(g.rec.Status))
		g.noteLast(fmt.Sprintf("branch %d on %s: %s", b.rec.ID, b.rec.ResourceID, b.lastErr))
		c.event(Event{Kind: EventManualAction, XID: g.rec.XID, BranchID: b.rec.ID, Status: g.rec.Status, Name: g.rec.Name,
			ResourceID: b.rec.ResourceID, BranchType: b.rec.Type,
			Message: fmt.Sprintf("branch %d on %s failed unretryably: %s; needs manual action", b.rec.ID, b.rec.ResourceID, m.Text)})
	case commit && s == txc.BranchCommitFailedRetryable, !commit && s == txc.BranchRollbackFailedRetryable:
		b.attempts++
		b.failed(m.Text)
		b.retryAt = now.Add(c.backoff(b.attempts))
		c.retrying(now, g)
		c.event(Event{Kind: EventRetry, XID: g.rec.XID, BranchID: b.rec.ID, Status: g.rec.Status,
			ResourceID: b.rec.ResourceID, BranchType: b.rec.Type,
			Message: fmt.Sprintf("branch %d on %s failed (attempt %d), retrying in %v: %s", b.rec.ID, b.rec.ResourceID, b.attempts, b.retryAt.Sub(now), m.Text)})
	default:
		b.attempts++
		b.failed(fmt.Sprintf("RM answered %v: %s", s, m.Text))
		b.retryAt = now.Add(c.backoff(b.attempts))
		c.event(Event{Kind: EventAnomaly, XID: g.rec.XID, BranchID: b.rec.ID, Status: g.rec.Status,
			Message: fmt.Sprintf("RM answered %v to a %s command; treated as a retryable failure", s, map[bool]string{true: "commit", false: "rollback"}[commit])})
	}
	c.drive(now, g)
}

func (c *Core) connDown(now time.Time, conn ConnID) {
	for _, r := range c.conns[conn] {
		set := c.resources[r]
		if set == nil {
			continue
		}
		for i, x := range set.conns {
			if x == conn {
				set.conns = append(set.conns[:i], set.conns[i+1:]...)
				break
			}
		}
		if len(set.conns) == 0 && len(set.waiting) == 0 {
			delete(c.resources, r)
		}
	}
	delete(c.conns, conn)
	c.dropRanges(conn)
	var lost []*global
	for id, b := range c.inflight {
		if b.cmdConn == conn {
			delete(c.inflight, id)
			b.cmdID = 0
			lost = append(lost, b.g)
		}
	}
	for _, g := range lost {
		if c.globals[g.rec.XID] == g {
			c.drive(now, g)
		}
	}
}

// finish ends g with final status s: its branches are deleted from the
// store and its record is kept with the final status until forgotten.
func (c *Core) finish(now time.Time, g *global, s txc.GlobalStatus) {
	if !g.rec.Status.CanBecome(s) {
		panic(fmt.Sprintf("tc: illegal transition %v -> %v for %s", g.rec.Status, s, g.rec.XID))
	}
	c.releaseAll(g)
	for _, b := range g.branches {
		if b.cmdID != 0 {
			delete(c.inflight, b.cmdID)
		}
	}
	c.unschedule(g)
	delete(c.globals, g.rec.XID)
	g.rec.Status = s
	g.rec.Updated = wall(now)
	c.putGlobal(g)
	c.rd.Batch.DeleteBranches = append(c.rd.Batch.DeleteBranches, g.rec.XID)
	c.finished.add(g.rec.XID, s, g.rec.Updated)
	if g.parked {
		g.record(HistoryEntry{At: g.rec.Updated, Status: s.String(), Action: ActionStatus})
		c.finished.keepView(g.rec.XID, view(g, true))
	}
	c.event(Event{Kind: EventFinished, XID: g.rec.XID, Status: s, Name: g.rec.Name})
}

// maxReason bounds the failure text a branch keeps for the admin views.
const maxReason = 4096

// failed records why b's last phase-2 attempt failed (see branch.lastErr).
func (b *branch) failed(reason string) {
	if len(reason) > maxReason {
		reason = strings.ToValidUTF8(reason[:maxReason], "") + "…"
	}
	b.lastErr = reason
}
