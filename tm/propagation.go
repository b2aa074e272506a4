package tm

import (
	"errors"
	"fmt"

	"github.com/txcio/txc"
)

// Propagation says what WithGlobalTx does with the global transaction that
// its ctx may already carry (the "outer" transaction). The names and
// meanings follow Seata and Spring.
//
// "Joining" means fn runs with ctx unchanged and WithGlobalTx neither
// begins, commits nor rolls back anything: fn's error is returned as is, and
// the WithGlobalTx that began the outer transaction decides its fate.
type Propagation uint8

// Propagation modes.
const (
	// Required joins the outer transaction if there is one, else begins a
	// new one. The default.
	Required Propagation = iota
	// RequiresNew always begins a new transaction. The outer one, if any,
	// is suspended: fn's ctx carries only the new XID. The outer one
	// resumes when WithGlobalTx returns (the caller's ctx still carries
	// it); the new transaction commits or rolls back independently of it.
	RequiresNew
	// NotSupported runs fn outside any global transaction: fn's ctx carries
	// no XID, so its work does not join the outer transaction.
	NotSupported
	// Supports joins the outer transaction if there is one, else runs fn
	// without a transaction.
	Supports
	// Never runs fn without a transaction, and fails without running fn if
	// ctx carries one. The error matches both ErrInTransaction and
	// txc.ErrInvalidArgument with errors.Is, and errors.As finds a
	// *txc.Error naming the XID.
	Never
	// Mandatory joins the outer transaction and fails without running fn if
	// there is none, with a *txc.Error that matches txc.ErrNotInTransaction.
	Mandatory

	propagationCount
)

var propagationNames = [propagationCount]string{"Required", "RequiresNew", "NotSupported", "Supports", "Never", "Mandatory"}

func (p Propagation) String() string {
	if p < propagationCount {
		return propagationNames[p]
	}
	return fmt.Sprintf("Propagation(%d)", uint8(p))
}

func (p Propagation) valid() bool { return p < propagationCount }

// ErrInTransaction is matched (errors.Is) by the error WithGlobalTx returns
// for propagation Never when ctx carries a global transaction.
var ErrInTransaction = errors.New("tm: a global transaction is present")

// inTransactionError is the error of propagation Never.
type inTransactionError struct{ xid txc.XID }

func (e *inTransactionError) Error() string {
	return fmt.Sprintf("tm: propagation Never, but ctx carries global transaction %s", e.xid)
}

func (e *inTransactionError) Is(target error) bool { return target == ErrInTransaction }

// Unwrap exposes a *txc.Error (CodeInvalidArgument, naming the XID) so that
// errors.Is(err, txc.ErrInvalidArgument) and errors.As work.
func (e *inTransactionError) Unwrap() error {
	return &txc.Error{Code: txc.CodeInvalidArgument, XID: e.xid, Message: e.Error()}
}

func errMandatory() error {
	return &txc.Error{Code: txc.CodeNotInTransaction, Message: "tm: propagation Mandatory needs a global transaction in ctx, and there is none"}
}
