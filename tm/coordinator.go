package tm

import (
	"context"
	"time"

	"github.com/txcio/txc"
)

// Coordinator is what tm needs from a connection to the TC.
//
// Contract of the replies, on which tm relies:
//   - Begin returns the XID of a new transaction. It is not idempotent: a
//     retried Begin begins a second transaction.
//   - Commit returns the status and a nil error when commit is decided
//     (GlobalCommitting, GlobalAsyncCommitting, GlobalCommitRetrying,
//     GlobalCommitted); a *txc.Error with CodeRolledBack or CodeTimedOut
//     when the transaction was rolled back; CodeUnknownTransaction or
//     CodeNotActive otherwise.
//   - Rollback returns the status and a nil error when rollback is decided or
//     done, CodeNotActive when commit was already decided.
//   - Any method may fail with CodeUnavailable: the request may or may not
//     have reached the coordinator. Commit, Rollback and Status are
//     idempotent and may be retried.
type Coordinator interface {
	Begin(ctx context.Context, name string, timeout time.Duration) (txc.XID, error)
	Commit(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error)
	Rollback(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error)
	Status(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error)
}

// Pipeliner is implemented by a Coordinator that can begin without waiting
// for the coordinator's reply (*client.Conn does). BeginPipelined returns
// the XID at once and a wait function that returns the Begin's outcome:
// nil once it is durable. Requests about the XID sent through the same
// Coordinator afterwards must reach the coordinator after the Begin; what
// hands the XID to another process must call wait first. wait is safe to
// call repeatedly and concurrently.
//
// When the Coordinator given to New is a Pipeliner, the Manager begins this
// way unless WithPipelinedBegin(false) says otherwise: it saves one round
// trip per global transaction.
type Pipeliner interface {
	BeginPipelined(ctx context.Context, name string, timeout time.Duration) (txc.XID, func(context.Context) error, error)
}
