package datasource

import (
	"context"
	"sync"
	"time"
)

// Phase 2 in the branch's own process. A prepared branch whose global
// transaction was begun by a TM of this process is committed as soon as
// that TM learns that commit was decided (tm.AfterOutcome), before the
// TM's Commit returns: the application's next transaction, which often
// writes the same rows, then finds them free instead of waiting for the
// coordinator's phase-2 command to commit the branch (on PostgreSQL that
// race cost a lock wait, a wake-up and a re-check of the row in most
// transfers, and the database about twice the CPU of a commit made before
// the next transaction; see docs/benchmarks.md). The coordinator's
// phase-2 command, which still comes, finds the branch done here and
// answers without asking the database. A local commit that fails or takes
// longer than xaLocalCommitWait is left to that command.

// xaLocalCommitWait bounds how long a TM's Commit waits for the commit of
// a prepared branch of its process.
const xaLocalCommitWait = 2 * time.Second

// xaTwice is a prepared branch that two finishers of this process will
// commit: its TM's outcome hook and the coordinator's phase-2 command.
// The first commits it on the database; the second, finding done set,
// answers at once and drops the entry.
type xaTwice struct {
	since time.Time
	done  bool
}

var (
	twiceMu sync.Mutex
	twice   = map[heldKey]*xaTwice{}
)

// twiceSweepAt is the number of entries past which expectTwice drops the
// ones older than twiceMaxAge (their second finisher never came: a
// coordinator that lost the transaction, a TM whose hook did not commit).
const (
	twiceSweepAt = 1024
	twiceMaxAge  = time.Minute
)

// expectTwice notes that branch k will be finished by two finishers of
// this process.
func expectTwice(k heldKey) {
	now := time.Now()
	twiceMu.Lock()
	defer twiceMu.Unlock()
	if len(twice) >= twiceSweepAt {
		for x, e := range twice {
			if now.Sub(e.since) > twiceMaxAge {
				delete(twice, x)
			}
		}
	}
	twice[k] = &xaTwice{since: now}
}

// forgetTwice drops k: its TM's hook will not commit it.
func forgetTwice(k heldKey) {
	twiceMu.Lock()
	delete(twice, k)
	twiceMu.Unlock()
}

// takeCommitted reports whether branch k was committed here already by
// its other finisher, and if so drops it.
func takeCommitted(k heldKey) bool {
	twiceMu.Lock()
	defer twiceMu.Unlock()
	e := twice[k]
	if e == nil || !e.done {
		return false
	}
	delete(twice, k)
	return true
}

// noteCommitted records that a finisher committed branch k (or saw it
// committed): the other one, if still to come, answers at once; if it
// was the other one's commit that this finisher waited for, both are
// done and k is dropped.
func noteCommitted(k heldKey) {
	twiceMu.Lock()
	defer twiceMu.Unlock()
	e := twice[k]
	switch {
	case e == nil:
	case e.done:
		delete(twice, k)
	default:
		e.done = true
	}
}

// xaCommitLocal commits prepared branch id once its TM saw the commit
// decided (see above); ctx is the TM's, whose Commit waits for this.
func (r *Resource) xaCommitLocal(ctx context.Context, id XAID) {
	ctx, cancel := context.WithTimeout(ctx, xaLocalCommitWait)
	defer cancel()
	if err := r.xaFinish(ctx, id, true); err != nil {
		forgetTwice(heldKey{r.id, id})
		r.log.Debug("datasource: committing an XA branch at its TM's commit failed; the coordinator's phase 2 commits it",
			"resource", r.id, "xid", id.XID, "branch", id.String(), "err", err)
	}
}
