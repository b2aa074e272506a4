package datasource

import (
	"fmt"

	"github.com/txcio/txc"
)

func invalid(format string, args ...any) error {
	return txc.Errorf(txc.CodeInvalidArgument, "datasource: "+format, args...)
}

// Unsupported makes the typed refusal of a statement AT mode cannot undo
// exactly, before it runs: a *RefusedError naming the reason and the
// statement (shortened). Dialect packages use it for their refusals.
func Unsupported(query, format string, args ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, args...), Statement: Shorten(query)}
}

// RefusedError is a statement refused before it ran: nothing was changed,
// and the local transaction can go on. It matches txc.ErrUnsupported and
// txc.ErrRefused, and errors.As finds its *txc.Error (CodeUnsupported).
type RefusedError struct {
	Reason    string
	Statement string // shortened
}

func (e *RefusedError) Error() string {
	return "datasource: " + e.Reason + "; " + refusedMark + ": " + e.Statement
}

// Unwrap returns the *txc.Error of code CodeUnsupported and txc.ErrRefused.
func (e *RefusedError) Unwrap() []error {
	return []error{&txc.Error{Code: txc.CodeUnsupported, Message: e.Error()}, txc.ErrRefused}
}

const refusedMark = "statement refused before it ran"

// Shorten returns query cut to at most 200 bytes, for messages and logs.
func Shorten(query string) string {
	const max = 200
	if len(query) <= max {
		return query
	}
	return query[:max] + "…"
}
