package client

import (
	"errors"
	"fmt"

	"github.com/txcio/txc"
)

// ErrClosed is wrapped (together with txc.ErrUnavailable) by the errors of
// requests made on, or in flight at, a Conn that was closed.
var ErrClosed = errors.New("client: connection closed")

// unavailable makes an error that matches txc.ErrUnavailable and wraps
// cause (which may be nil).
func unavailable(cause error, format string, args ...any) error {
	e := &txc.Error{Code: txc.CodeUnavailable, Message: fmt.Sprintf(format, args...)}
	if cause == nil {
		return e
	}
	return &wrapped{e: e, cause: cause}
}

// wrapped is a *txc.Error with an underlying cause (a context error, a
// transport error) kept reachable through errors.Is and errors.As.
type wrapped struct {
	e     *txc.Error
	cause error
}

func (w *wrapped) Error() string   { return w.e.Message + ": " + w.cause.Error() }
func (w *wrapped) Unwrap() []error { return []error{w.e, w.cause} }

func invalid(format string, args ...any) error {
	return &txc.Error{Code: txc.CodeInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

func malformed(op string) error {
	return &txc.Error{Code: txc.CodeInternal, Message: "client: " + op + ": malformed reply from coordinator"}
}
