package client

import (
	"errors"
	"fmt"

	"github.com/txcio/txc"
)

// ErrClosed is wrapped (together with txc.ErrUnavailable) by the errors of
// requests made on, or in flight at, a Conn that was closed.
var ErrClosed = errors.New("client: connection closed")

// ErrNotSent is wrapped, together with txc.ErrUnavailable, by the errors
// of requests that certainly never reached the coordinator (ctx done or
// Conn closed before the request was queued) or that every node it
// reached refused with txc.ErrNotServedHere, changing nothing: unlike
// other unavailability, the outcome is known, and even a non-idempotent
// request (Begin, Register) may be sent again.
var ErrNotSent = errors.New("client: request not sent")

// unavailable makes an error that matches txc.ErrUnavailable and wraps
// cause (which may be nil).
func unavailable(cause error, format string, args ...any) error {
	e := &txc.Error{Code: txc.CodeUnavailable, Message: fmt.Sprintf(format, args...)}
	if cause == nil {
		return e
	}
	return &wrapped{e: e, cause: cause}
}

// notSent is unavailable for a request that was never queued: it also
// matches ErrNotSent.
func notSent(cause error, format string, args ...any) error {
	return &wrapped{e: &txc.Error{Code: txc.CodeUnavailable, Message: fmt.Sprintf(format, args...)}, cause: cause, notSent: true}
}

// wrapped is a *txc.Error with an underlying cause (a context error, a
// transport error) kept reachable through errors.Is and errors.As.
type wrapped struct {
	e       *txc.Error
	cause   error
	notSent bool
}

func (w *wrapped) Error() string {
	if w.cause == nil {
		return w.e.Message
	}
	return w.e.Message + ": " + w.cause.Error()
}

func (w *wrapped) Unwrap() []error {
	errs := []error{w.e}
	if w.notSent {
		errs = append(errs, ErrNotSent)
	}
	if w.cause != nil {
		errs = append(errs, w.cause)
	}
	return errs
}

func invalid(format string, args ...any) error {
	return &txc.Error{Code: txc.CodeInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

func malformed(op string) error {
	return &txc.Error{Code: txc.CodeInternal, Message: "client: " + op + ": malformed reply from coordinator"}
}
