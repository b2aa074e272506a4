package tm

import (
	"errors"
	"fmt"

	"github.com/txcio/txc"
)

// OutcomeUnknownError says that Commit or Rollback of XID may or may not
// have been decided: the coordinator was unavailable (or the call was cut
// short by ctx) and retries stopped when ctx was done. It matches
// txc.ErrUnavailable with errors.Is, and also the last error received and
// ctx's cause. Ask the coordinator later (GlobalTx.Status, txcctl) to learn
// the outcome; if neither commit nor rollback was decided, the coordinator
// rolls the transaction back at its deadline.
type OutcomeUnknownError struct {
	Op       string  // "commit" or "rollback"
	XID      txc.XID // the transaction
	Attempts int     // calls made
	Err      error   // the last error from the coordinator
	Cause    error   // why retrying stopped (ctx's cause), if it is not Err
}

func (e *OutcomeUnknownError) Error() string {
	s := fmt.Sprintf("tm: %s of global transaction %s: outcome unknown after %d attempt(s): %v", e.Op, e.XID, e.Attempts, e.Err)
	if e.Cause != nil {
		s += " (gave up: " + e.Cause.Error() + ")"
	}
	return s
}

// Unwrap returns the last error, the cause and txc.ErrUnavailable.
func (e *OutcomeUnknownError) Unwrap() []error {
	errs := make([]error, 0, 3)
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return append(errs, txc.ErrUnavailable)
}

// RollbackError is returned by WithGlobalTx when fn failed (Err) and the
// rollback that followed failed too, or was decided but not yet carried
// out when WithGlobalTx stopped waiting (RollbackErr, a
// *RollbackPendingError). errors.Is and errors.As
// look into both, Err first. The coordinator rolls the transaction back at
// its deadline if the rollback never reached it.
type RollbackError struct {
	XID         txc.XID
	Err         error
	RollbackErr error
}

func (e *RollbackError) Error() string {
	var pending *RollbackPendingError
	if errors.As(e.RollbackErr, &pending) {
		return fmt.Sprintf("tm: global transaction %s failed: %v; %v", e.XID, e.Err, e.RollbackErr)
	}
	return fmt.Sprintf("tm: global transaction %s failed: %v; and its rollback failed: %v", e.XID, e.Err, e.RollbackErr)
}

// Unwrap returns Err and RollbackErr.
func (e *RollbackError) Unwrap() []error { return []error{e.Err, e.RollbackErr} }

// CancelledError is returned by WithGlobalTx when fn returned nil but ctx
// was already done, so the transaction was rolled back instead of
// committed. It wraps ctx's cause (errors.Is(err, context.Canceled) or
// context.DeadlineExceeded).
type CancelledError struct {
	XID txc.XID
	Err error
}

func (e *CancelledError) Error() string {
	return fmt.Sprintf("tm: global transaction %s rolled back: ctx was done before commit: %v", e.XID, e.Err)
}

func (e *CancelledError) Unwrap() error { return e.Err }

// txError prefixes a coordinator error with the operation and transaction.
type txError struct {
	op   string
	xid  txc.XID
	name string
	err  error
}

func (e *txError) Error() string {
	if e.xid == "" {
		return fmt.Sprintf("tm: %s %q: %v", e.op, e.name, e.err)
	}
	return fmt.Sprintf("tm: %s %s: %v", e.op, e.xid, e.err)
}

func (e *txError) Unwrap() error { return e.err }
