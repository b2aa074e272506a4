package txc

import (
	"errors"
	"fmt"
)

// Code classifies an error that crosses a package or process boundary. The
// numeric values are part of the wire protocol; never renumber them.
type Code uint16

// Error codes.
const (
	CodeOK Code = 0
	// CodeInvalidArgument: the request is malformed (empty or oversized
	// field, bad XID, unknown branch type). Nothing was changed.
	CodeInvalidArgument Code = 1
	// CodeUnknownTransaction: no such global transaction (never begun, or
	// finished and forgotten).
	CodeUnknownTransaction Code = 2
	// CodeNotActive: the transaction is no longer open for this request
	// (register after commit, second commit, …). The error's Status says
	// where it is. Nothing was changed.
	CodeNotActive Code = 3
	// CodeLockConflict: a row lock is held by another global transaction,
	// named by the error's Holder. Retry with backoff.
	CodeLockConflict Code = 4
	// CodeTimedOut: the transaction passed its deadline and was (or is
	// being) rolled back by the coordinator.
	CodeTimedOut Code = 5
	// CodeRolledBack: the transaction was rolled back (not by timeout).
	CodeRolledBack Code = 6
	// CodeUnavailable: the coordinator cannot be reached or is not ready.
	// The outcome of a request that got this is unknown to the caller.
	CodeUnavailable Code = 7
	// CodeUnknownBranch: no such branch in the transaction.
	CodeUnknownBranch Code = 8
	// CodeUnsupported: the operation cannot be done with an exact undo
	// (a statement AT mode cannot undo, a table without a primary key).
	CodeUnsupported Code = 9
	// CodeInternal: a bug or a failed store; the coordinator stops.
	CodeInternal Code = 10
	// CodeNotInTransaction: the call needs a global transaction in its
	// context and there is none.
	CodeNotInTransaction Code = 11
	// CodePermissionDenied: the caller's identity may not make this
	// request (act as TM, serve or register branches on this resource,
	// use the admin API). Nothing was changed.
	CodePermissionDenied Code = 12
	// CodeNotServedHere: the node that got the request does not drive the
	// transaction's partition now (another node of the cluster does, or
	// none yet). Nothing was changed: ask the partition's owner.
	CodeNotServedHere Code = 13

	codeCount = 14
)

var codeNames = [codeCount]string{
	"OK", "InvalidArgument", "UnknownTransaction", "NotActive", "LockConflict", "TimedOut",
	"RolledBack", "Unavailable", "UnknownBranch", "Unsupported", "Internal", "NotInTransaction",
	"PermissionDenied", "NotServedHere",
}

func (c Code) String() string {
	if c < codeCount {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", uint16(c))
}

// Error is the typed error of txc. Compare with errors.Is against the
// sentinels below (which match on Code alone) or use errors.As to read the
// XID, the lock Holder or the transaction Status.
type Error struct {
	Code    Code
	Message string
	// XID is the transaction the error is about, when there is one.
	XID XID
	// Holder is the transaction holding a conflicting lock (CodeLockConflict).
	Holder XID
	// Status is the transaction's status when the error was made, when known.
	Status GlobalStatus
}

func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return "txc: " + e.Code.String()
}

// Is matches a sentinel (an *Error with no message) of the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrInvalidArgument    = &Error{Code: CodeInvalidArgument}
	ErrUnknownTransaction = &Error{Code: CodeUnknownTransaction}
	ErrNotActive          = &Error{Code: CodeNotActive}
	ErrLockConflict       = &Error{Code: CodeLockConflict}
	ErrTimedOut           = &Error{Code: CodeTimedOut}
	ErrRolledBack         = &Error{Code: CodeRolledBack}
	ErrUnavailable        = &Error{Code: CodeUnavailable}
	ErrUnknownBranch      = &Error{Code: CodeUnknownBranch}
	ErrUnsupported        = &Error{Code: CodeUnsupported}
	ErrInternal           = &Error{Code: CodeInternal}
	ErrNotInTransaction   = &Error{Code: CodeNotInTransaction}
	ErrPermissionDenied   = &Error{Code: CodePermissionDenied}
	ErrNotServedHere      = &Error{Code: CodeNotServedHere}
)

// ErrRefused matches, besides its code's sentinel, an error that refused a
// statement before it ran: nothing was changed and the local transaction
// can go on (an AT-mode refusal matches ErrUnsupported and ErrRefused). An
// ErrUnsupported without ErrRefused is a statement that ran and then
// failed: its local transaction can only roll back.
var ErrRefused = errors.New("txc: refused before it ran; nothing was changed")

// Errorf makes an *Error with code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the Code of err: CodeOK for nil, the code of an *Error in
// err's chain, CodeInternal otherwise.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// permanentError marks a phase-2 handler failure that retrying cannot fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent wraps err so that a phase-2 handler returning it reports an
// unretryable failure: the coordinator stops retrying and parks the global
// transaction as needing manual action. Any other non-nil error from a
// handler is retried.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err (or an error it wraps) was made by Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
