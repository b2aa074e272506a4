package rm

import (
	"context"

	"github.com/txcio/txc"
)

// Branch is the branch a phase-2 handler must finish.
type Branch struct {
	XID             txc.XID
	ID              txc.BranchID
	Type            txc.BranchType
	ResourceID      string
	ApplicationData []byte
}

// Handler finishes branches of one resource and branch type in phase 2.
//
// Return nil when the branch is committed (rolled back), including when it
// already was: handlers must be idempotent, commands arrive at least once.
// Return an error wrapped by txc.Permanent when retrying cannot help (for
// AT rollback, a dirty write): the coordinator parks the transaction for
// manual action. Any other error is retried by the coordinator with
// backoff. A panic is recovered and reported as a retryable failure.
// Handlers run concurrently; ctx ends when the connection is closed.
type Handler interface {
	Commit(ctx context.Context, b Branch) error
	Rollback(ctx context.Context, b Branch) error
}

// HandlerFuncs adapts two functions to Handler. A nil function means that
// phase has nothing to do and always succeeds.
type HandlerFuncs struct {
	CommitFunc   func(ctx context.Context, b Branch) error
	RollbackFunc func(ctx context.Context, b Branch) error
}

// Commit calls CommitFunc.
func (h HandlerFuncs) Commit(ctx context.Context, b Branch) error {
	if h.CommitFunc == nil {
		return nil
	}
	return h.CommitFunc(ctx, b)
}

// Rollback calls RollbackFunc.
func (h HandlerFuncs) Rollback(ctx context.Context, b Branch) error {
	if h.RollbackFunc == nil {
		return nil
	}
	return h.RollbackFunc(ctx, b)
}
