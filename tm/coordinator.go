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
