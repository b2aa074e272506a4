package tc

import (
	"fmt"
	"strings"
	"time"

	"github.com/txcio/txc"
)

// Operator says who takes an operator action and why. Who is required
// (the shell fills it in: the authenticated name, or what the request
// says); Comment is required by Resolve.
type Operator struct {
	Who     string
	Comment string
}

// Bounds on what an operator action may carry.
const (
	MaxOperatorLen = 128
	MaxCommentLen  = 2048
)

func (op Operator) validate(needComment bool) error {
	if strings.TrimSpace(op.Who) == "" || len(op.Who) > MaxOperatorLen {
		return txc.Errorf(txc.CodeInvalidArgument, "tc: the operator's name must be 1..%d bytes", MaxOperatorLen)
	}
	if len(op.Comment) > MaxCommentLen {
		return txc.Errorf(txc.CodeInvalidArgument, "tc: comment of %d bytes, at most %d", len(op.Comment), MaxCommentLen)
	}
	if needComment && strings.TrimSpace(op.Comment) == "" {
		return txc.Errorf(txc.CodeInvalidArgument, "tc: resolving a transaction by hand needs a comment saying what was done")
	}
	return nil
}

// parkedGlobal returns the live transaction xid if it needs manual action.
func (c *Core) parkedGlobal(xid txc.XID) (*global, error) {
	g := c.globals[xid]
	if g == nil {
		if s, ok := c.finished.get(xid); ok {
			return nil, &txc.Error{Code: txc.CodeNotActive, XID: xid, Status: s,
				Message: fmt.Sprintf("tc: %s already finished (%v)", xid, s)}
		}
		return nil, &txc.Error{Code: txc.CodeUnknownTransaction, XID: xid, Message: fmt.Sprintf("tc: no live transaction %s", xid)}
	}
	if !g.rec.Status.NeedsManualAction() {
		return nil, &txc.Error{Code: txc.CodeNotActive, XID: xid, Status: g.rec.Status,
			Message: fmt.Sprintf("tc: %s does not need manual action (%v)", xid, g.rec.Status)}
	}
	return g, nil
}

// resumed is the status a parked transaction takes when phase 2 goes on.
var resumed = map[txc.GlobalStatus]txc.GlobalStatus{
	txc.GlobalCommitFailed:          txc.GlobalCommitRetrying,
	txc.GlobalRollbackFailed:        txc.GlobalRollbackRetrying,
	txc.GlobalTimeoutRollbackFailed: txc.GlobalTimeoutRollbackRetrying,
}

// Retry resumes a transaction parked as needing manual action, after an
// operator fixed whatever made its branch fail: the failed branches are
// tried again from scratch. The action is recorded in the transaction's
// history and reported as an EventOperator. The change is in the next
// Ready. Bad input or a transaction that is not parked changes nothing.
func (c *Core) Retry(now time.Time, xid txc.XID, op Operator) error {
	if err := op.validate(false); err != nil {
		return err
	}
	g, err := c.parkedGlobal(xid)
	if err != nil {
		return err
	}
	for _, b := range g.branches {
		if unretryable(b.rec.Status) {
			b.rec.Status = txc.BranchRegistered
			b.attempts, b.retryAt = 0, time.Time{}
			c.putBranchStatus(b)
		}
	}
	c.operatorActed(now, g, ActionRetry, op)
	c.setStatus(now, g, resumed[g.rec.Status])
	c.drive(now, g)
	return nil
}

// Resolve records that an operator settled by hand the branches whose
// phase 2 failed unretryably, and lets phase 2 go on for the others:
//
//   - CommitFailed: the failed branches count as committed (the operator
//     made their commit happen, or decided it does not matter); the
//     transaction ends Committed once the other branches are committed.
//     An AT branch's undo log stays in its database: delete it by hand.
//   - RollbackFailed, TimeoutRollbackFailed: the failed branches count as
//     rolled back (the operator restored their rows by hand) and their row
//     locks go; the branches registered before them are then rolled back
//     as usual, and the transaction ends Rollbacked (TimeoutRollbacked).
//     An AT branch's undo log, with the before and after images, stays in
//     its database for the operator (txcctl undo show); delete it by hand.
//
// The branch statuses and the transaction's status go to the store in the
// next Ready, so the resolution survives a restart. A comment is required;
// it is recorded in the history with op.Who and reported as an
// EventOperator. Bad input or a transaction that is not parked changes
// nothing.
func (c *Core) Resolve(now time.Time, xid txc.XID, op Operator) error {
	if err := op.validate(true); err != nil {
		return err
	}
	g, err := c.parkedGlobal(xid)
	if err != nil {
		return err
	}
	done := txc.BranchRollbacked
	if g.rec.Status.IsCommit() {
		done = txc.BranchCommitted
	}
	for _, b := range g.branches {
		if unretryable(b.rec.Status) {
			b.rec.Status = done
			b.retryAt = time.Time{}
			c.putBranchStatus(b)
			if done == txc.BranchRollbacked {
				c.release(b)
			}
		}
	}
	c.operatorActed(now, g, ActionResolve, op)
	c.setStatus(now, g, resumed[g.rec.Status])
	c.drive(now, g)
	return nil
}

func unretryable(s txc.BranchStatus) bool {
	return s == txc.BranchCommitFailedUnretryable || s == txc.BranchRollbackFailedUnretryable
}

// operatorActed records an operator's action in g's history and as an
// event for the log.
func (c *Core) operatorActed(now time.Time, g *global, action string, op Operator) {
	g.record(HistoryEntry{At: wall(now), Status: g.rec.Status.String(), Action: action, Who: op.Who, Note: op.Comment})
	msg := fmt.Sprintf("operator %s: %s", op.Who, action)
	if op.Comment != "" {
		msg += ": " + op.Comment
	}
	c.event(Event{Kind: EventOperator, XID: g.rec.XID, Status: g.rec.Status, Name: g.rec.Name, Message: msg, Op: action})
}
