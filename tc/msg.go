package tc

import (
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

// ConnID names one client stream, as chosen by the shell. The core only
// compares and stores it.
type ConnID uint64

// Kind says what a Msg is.
type Kind uint8

// Message kinds. Requests (Hello … LockQuery, Reserve) get exactly one Reply with
// the same Conn and ID; BranchResult answers an earlier Command; ConnDown
// tells the core a stream ended.
const (
	KindHello Kind = iota + 1
	KindBegin
	KindCommit
	KindRollback
	KindStatus
	KindRegister
	KindReport
	KindLockQuery
	KindBranchResult
	KindConnDown
	KindReserve
)

var kindNames = [...]string{"", "Hello", "Begin", "Commit", "Rollback", "Status", "Register",
	"Report", "LockQuery", "BranchResult", "ConnDown", "Reserve"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(?)"
}

// Msg is one input to the core. Which fields matter depends on Kind; the
// rest are zero. One flat struct keeps the hot path free of allocations.
type Msg struct {
	Kind Kind
	Conn ConnID
	// ID is the request id, or for BranchResult the command's id.
	ID uint64

	// XID names the transaction concerned. For Begin it is optional: when
	// set, it must come from a block reserved on Conn (KindReserve) and not
	// used before.
	XID      txc.XID
	BranchID txc.BranchID

	Name    string        // Begin
	Timeout time.Duration // Begin; 0 = the configured default
	Count   uint64        // Reserve: how many XIDs

	BranchType      txc.BranchType // Register
	ResourceID      string         // Register, LockQuery
	LockKeys        []txc.LockKey  // Register, LockQuery
	ApplicationData []byte         // Register
	// Claimed (Register): the shell took the rows of LockKeys for XID in
	// the shared lock table before handing the registration over (see
	// Config.SharedLocks).
	Claimed bool
	// Found (Register, with Claimed): rows of LockKeys the claim found
	// already held by XID in the shared table, so did not insert. The core
	// accepts the registration only if its own lock table holds each of
	// them for XID: otherwise the row was held for a registration the core
	// refused, or is being (or was just) freed, and the shared table may
	// lose it at any moment.
	Found []store.LockRow
	// HeldBy and HeldTable (Register): the shell's claim found rows of
	// LockKeys in the shared lock table held by the transaction HeldBy (in
	// table HeldTable) and took nothing. The core refuses the registration
	// as a lock conflict naming HeldBy, after its own checks: a
	// transaction that is no longer open learns that instead, and stops
	// waiting for the rows.
	HeldBy    txc.XID
	HeldTable string

	BranchStatus txc.BranchStatus // Report, BranchResult
	Text         string           // BranchResult: the handler's message

	Resources []string // Hello
}

// Reply answers a request. The shell may send it only after the Ready that
// carried it has been persisted.
type Reply struct {
	Conn ConnID
	ID   uint64
	Kind Kind
	// Err is a *txc.Error when the request failed; the other fields are
	// then meaningless except Status, which may say where the transaction is.
	Err      error
	XID      txc.XID          // Begin
	Status   txc.GlobalStatus // Commit, Rollback, Status
	BranchID txc.BranchID     // Register
	Locked   bool             // LockQuery
	Holder   txc.XID          // LockQuery
	Node     string           // Hello, Reserve
	Name     string           // Begin: the transaction's name, for metrics
	First    uint64           // Reserve: the first sequence number
	Count    uint64           // Reserve
}

// Action is what a Command asks of a branch.
type Action uint8

// Phase-2 actions.
const (
	ActionCommit Action = iota + 1
	ActionRollback
)

func (a Action) String() string {
	switch a {
	case ActionCommit:
		return "commit"
	case ActionRollback:
		return "rollback"
	}
	return "action(?)"
}

// Command is a phase-2 instruction for the RM behind Conn. The RM answers
// with a BranchResult carrying ID.
type Command struct {
	Conn ConnID
	// ID is what the RM's result must carry; 0 marks a notice, which it
	// does not answer: the core already counts the branch committed (an
	// AT branch, see Core.implyCommit).
	ID              uint64
	Action          Action
	XID             txc.XID
	BranchID        txc.BranchID
	BranchType      txc.BranchType
	ResourceID      string
	ApplicationData []byte
	// Repeat says whether the branch may have had this command before:
	// RepeatAgain when this core sent it already (unanswered in time, or
	// failed), RepeatRestored when the decision was restored from the
	// store, so a coordinator before this one may have sent it. Handlers
	// are idempotent; the shell only counts these.
	Repeat Repeat
}

// Notice reports whether c is a notice: nobody waits for its result.
func (c *Command) Notice() bool { return c.ID == 0 }

// Repeat classifies a phase-2 command by whether it may be a repetition.
type Repeat uint8

const (
	// RepeatNone: the first command for the branch since its decision.
	RepeatNone Repeat = iota
	// RepeatAgain: this core sent one before.
	RepeatAgain
	// RepeatRestored: the decision came from the store (a restart or a
	// takeover); the previous coordinator may have sent one.
	RepeatRestored
)

func (r Repeat) String() string {
	switch r {
	case RepeatAgain:
		return "again"
	case RepeatRestored:
		return "restored"
	}
	return "first"
}

// EventKind classifies an Event.
type EventKind uint8

// Events the shell should log or count.
const (
	// EventManualAction: a transaction was parked for an operator. Loud.
	EventManualAction EventKind = iota + 1
	// EventRetry: a phase-2 attempt failed or found no RM; it will be retried.
	EventRetry
	// EventTimeout: a transaction passed its deadline and is rolled back.
	EventTimeout
	// EventFinished: a transaction reached a final status.
	EventFinished
	// EventAnomaly: something that should not happen (a result for an
	// unknown command, conflicting locks at restore). Investigate.
	EventAnomaly
	// EventOperator: an operator retried or resolved a parked transaction;
	// Message says who and why. Log it for the audit trail.
	EventOperator
	// EventPhase2: an RM answered a phase-2 command (BranchStatus, after
	// Latency since the command was sent). For metrics; not worth a log line.
	EventPhase2
	// EventLockConflict: a branch registration was refused because rows of
	// ResourceID's Table are held by another transaction (Message names
	// it). For metrics.
	EventLockConflict
)

// Event is something noteworthy that happened inside the core. Which
// fields beyond Kind and XID are set depends on Kind.
type Event struct {
	Kind     EventKind
	XID      txc.XID
	BranchID txc.BranchID
	Status   txc.GlobalStatus
	// Message is the text to log; empty for an event that is only counted
	// (a repeated retry, Phase2, LockConflict).
	Message string
	// Name is the transaction's name (Timeout, ManualAction, Finished).
	Name string
	// ResourceID and BranchType are the branch's (Retry, ManualAction,
	// Phase2; ResourceID also for LockConflict), Table the conflicting
	// rows' table (LockConflict).
	ResourceID string
	BranchType txc.BranchType
	Table      string
	// Action, BranchStatus and Latency describe a phase-2 answer (Phase2).
	Action       Action
	BranchStatus txc.BranchStatus
	Latency      time.Duration
	// Op is the operator's action, ActionRetry or ActionResolve (Operator).
	Op string
}

// Ready is the output of the core since the last call to Ready. The shell
// must, in this order: apply Batch to the store (one sync), then send the
// Replies and Commands, then hand the Ready back with Advance. If Apply
// fails, the in-memory state is ahead of the store: the shell must stop
// using this Core and Restore a new one from the store.
type Ready struct {
	Batch    store.Batch
	Replies  []Reply
	Commands []Command
	Events   []Event
}

// Lazy reports whether rd's batch may be made durable later (see the
// package comment): rd carries no reply and no command, so nothing that
// leaves the process depends on it.
func (rd *Ready) Lazy() bool { return len(rd.Replies) == 0 && len(rd.Commands) == 0 }

// Empty reports whether rd carries nothing.
func (rd *Ready) Empty() bool {
	return rd.Batch.Empty() && len(rd.Replies) == 0 && len(rd.Commands) == 0 && len(rd.Events) == 0
}

func (rd *Ready) reset() {
	rd.Batch.Reset()
	clear(rd.Replies)
	rd.Replies = rd.Replies[:0]
	clear(rd.Commands)
	rd.Commands = rd.Commands[:0]
	rd.Events = rd.Events[:0]
}
