package txc

import "fmt"

// GlobalStatus is the state of a global transaction. The numeric values are
// part of the wire protocol and of the stored state; never renumber them.
//
// The transitions the coordinator allows are exactly those listed by
// GlobalStatus.CanBecome (and drawn in ARCHITECTURE.md):
//
//	Begin ──commit──▶ Committing | AsyncCommitting
//	Begin ──rollback─▶ Rollbacking
//	Begin ──deadline─▶ TimeoutRollbacking
//	Committing, AsyncCommitting, CommitRetrying ─▶ CommitRetrying | Committed | CommitFailed
//	Rollbacking, RollbackRetrying ─▶ RollbackRetrying | Rollbacked | RollbackFailed
//	TimeoutRollbacking, TimeoutRollbackRetrying ─▶ TimeoutRollbackRetrying | TimeoutRollbacked | TimeoutRollbackFailed
//	CommitFailed ─(operator retry)─▶ CommitRetrying
//	RollbackFailed ─(operator retry)─▶ RollbackRetrying
//	TimeoutRollbackFailed ─(operator retry)─▶ TimeoutRollbackRetrying
type GlobalStatus uint8

// Global statuses.
const (
	GlobalUnknown GlobalStatus = 0
	// GlobalBegin: open; branches may register.
	GlobalBegin GlobalStatus = 1
	// GlobalCommitting: commit decided and durable; phase-2 commit is being
	// delivered to branches that need it (TCC, Saga, Generic).
	GlobalCommitting GlobalStatus = 2
	// GlobalCommitRetrying: commit decided; at least one branch failed
	// phase 2 retryably or had no RM connected, and is being retried.
	GlobalCommitRetrying GlobalStatus = 3
	// GlobalRollbacking: rollback decided (by the TM or a failed commit
	// precondition); branches are being rolled back in reverse order.
	GlobalRollbacking GlobalStatus = 4
	// GlobalRollbackRetrying: as Rollbacking, after a retryable failure.
	GlobalRollbackRetrying GlobalStatus = 5
	// GlobalTimeoutRollbacking: the deadline passed before a commit; the
	// coordinator rolls the branches back.
	GlobalTimeoutRollbacking GlobalStatus = 6
	// GlobalTimeoutRollbackRetrying: as TimeoutRollbacking, after a
	// retryable failure.
	GlobalTimeoutRollbackRetrying GlobalStatus = 7
	// GlobalAsyncCommitting: commit decided and durable; every branch is
	// AT, so phase 2 only cleans undo logs and runs in the background.
	GlobalAsyncCommitting GlobalStatus = 8
	// GlobalCommitted: every branch finished phase-2 commit. Final.
	GlobalCommitted GlobalStatus = 9
	// GlobalCommitFailed: a branch failed phase-2 commit unretryably.
	// Needs manual action; kept, logged and visible until resolved.
	GlobalCommitFailed GlobalStatus = 10
	// GlobalRollbacked: every branch finished rollback. Final.
	GlobalRollbacked GlobalStatus = 11
	// GlobalRollbackFailed: a branch failed rollback unretryably (for AT, a
	// dirty write was found). Needs manual action; locks stay held.
	GlobalRollbackFailed GlobalStatus = 12
	// GlobalTimeoutRollbacked: rolled back because of the deadline. Final.
	GlobalTimeoutRollbacked GlobalStatus = 13
	// GlobalTimeoutRollbackFailed: as RollbackFailed, after a timeout.
	GlobalTimeoutRollbackFailed GlobalStatus = 14

	globalStatusCount = 15
)

var globalStatusNames = [globalStatusCount]string{
	"Unknown", "Begin", "Committing", "CommitRetrying", "Rollbacking", "RollbackRetrying",
	"TimeoutRollbacking", "TimeoutRollbackRetrying", "AsyncCommitting", "Committed",
	"CommitFailed", "Rollbacked", "RollbackFailed", "TimeoutRollbacked", "TimeoutRollbackFailed",
}

func (s GlobalStatus) String() string {
	if s < globalStatusCount {
		return globalStatusNames[s]
	}
	return fmt.Sprintf("GlobalStatus(%d)", uint8(s))
}

// Valid reports whether s is a defined status other than GlobalUnknown.
func (s GlobalStatus) Valid() bool { return s > GlobalUnknown && s < globalStatusCount }

// IsFinal reports whether s is an end state: nothing more will happen.
func (s GlobalStatus) IsFinal() bool {
	return s == GlobalCommitted || s == GlobalRollbacked || s == GlobalTimeoutRollbacked
}

// NeedsManualAction reports whether s is parked awaiting an operator.
func (s GlobalStatus) NeedsManualAction() bool {
	return s == GlobalCommitFailed || s == GlobalRollbackFailed || s == GlobalTimeoutRollbackFailed
}

// IsCommit reports whether s is on the commit side (decided or done).
func (s GlobalStatus) IsCommit() bool {
	switch s {
	case GlobalCommitting, GlobalCommitRetrying, GlobalAsyncCommitting, GlobalCommitted, GlobalCommitFailed:
		return true
	}
	return false
}

// IsRollback reports whether s is on the rollback side (decided or done),
// including timeout rollbacks.
func (s GlobalStatus) IsRollback() bool {
	switch s {
	case GlobalRollbacking, GlobalRollbackRetrying, GlobalRollbackFailed, GlobalRollbacked,
		GlobalTimeoutRollbacking, GlobalTimeoutRollbackRetrying, GlobalTimeoutRollbackFailed, GlobalTimeoutRollbacked:
		return true
	}
	return false
}

// IsTimeout reports whether s is one of the timeout-rollback statuses.
func (s GlobalStatus) IsTimeout() bool {
	switch s {
	case GlobalTimeoutRollbacking, GlobalTimeoutRollbackRetrying, GlobalTimeoutRollbackFailed, GlobalTimeoutRollbacked:
		return true
	}
	return false
}

var globalNext = map[GlobalStatus][]GlobalStatus{
	GlobalBegin:                   {GlobalCommitting, GlobalAsyncCommitting, GlobalRollbacking, GlobalTimeoutRollbacking},
	GlobalCommitting:              {GlobalCommitRetrying, GlobalCommitted, GlobalCommitFailed},
	GlobalAsyncCommitting:         {GlobalCommitRetrying, GlobalCommitted, GlobalCommitFailed},
	GlobalCommitRetrying:          {GlobalCommitted, GlobalCommitFailed},
	GlobalRollbacking:             {GlobalRollbackRetrying, GlobalRollbacked, GlobalRollbackFailed},
	GlobalRollbackRetrying:        {GlobalRollbacked, GlobalRollbackFailed},
	GlobalTimeoutRollbacking:      {GlobalTimeoutRollbackRetrying, GlobalTimeoutRollbacked, GlobalTimeoutRollbackFailed},
	GlobalTimeoutRollbackRetrying: {GlobalTimeoutRollbacked, GlobalTimeoutRollbackFailed},
	GlobalCommitFailed:            {GlobalCommitRetrying},
	GlobalRollbackFailed:          {GlobalRollbackRetrying},
	GlobalTimeoutRollbackFailed:   {GlobalTimeoutRollbackRetrying},
}

// CanBecome reports whether the coordinator may move a transaction from s
// to next. Staying in the same status is not a transition.
func (s GlobalStatus) CanBecome(next GlobalStatus) bool {
	for _, n := range globalNext[s] {
		if n == next {
			return true
		}
	}
	return false
}

// BranchStatus is the state of one branch. The numeric values are part of
// the wire protocol and of the stored state; never renumber them.
type BranchStatus uint8

// Branch statuses.
const (
	BranchUnknown BranchStatus = 0
	// BranchRegistered: registered; its lock keys are held.
	BranchRegistered BranchStatus = 1
	// BranchPhaseOneDone: the RM reported its local transaction committed.
	BranchPhaseOneDone BranchStatus = 2
	// BranchPhaseOneFailed: the RM reported its local transaction failed;
	// nothing to undo, so rollback skips it.
	BranchPhaseOneFailed BranchStatus = 3
	// BranchCommitted: phase-2 commit done. Final.
	BranchCommitted BranchStatus = 4
	// BranchCommitFailedRetryable: phase-2 commit failed; will be retried.
	BranchCommitFailedRetryable BranchStatus = 5
	// BranchCommitFailedUnretryable: phase-2 commit failed for good.
	BranchCommitFailedUnretryable BranchStatus = 6
	// BranchRollbacked: phase-2 rollback done. Final.
	BranchRollbacked BranchStatus = 7
	// BranchRollbackFailedRetryable: rollback failed; will be retried.
	BranchRollbackFailedRetryable BranchStatus = 8
	// BranchRollbackFailedUnretryable: rollback failed for good (for AT, a
	// dirty write); the global transaction needs manual action.
	BranchRollbackFailedUnretryable BranchStatus = 9

	branchStatusCount = 10
)

var branchStatusNames = [branchStatusCount]string{
	"Unknown", "Registered", "PhaseOneDone", "PhaseOneFailed", "Committed",
	"CommitFailedRetryable", "CommitFailedUnretryable", "Rollbacked",
	"RollbackFailedRetryable", "RollbackFailedUnretryable",
}

func (s BranchStatus) String() string {
	if s < branchStatusCount {
		return branchStatusNames[s]
	}
	return fmt.Sprintf("BranchStatus(%d)", uint8(s))
}

// Valid reports whether s is a defined status other than BranchUnknown.
func (s BranchStatus) Valid() bool { return s > BranchUnknown && s < branchStatusCount }

// IsPhaseTwoDone reports whether phase 2 of the branch is over, either way.
func (s BranchStatus) IsPhaseTwoDone() bool {
	return s == BranchCommitted || s == BranchRollbacked
}
