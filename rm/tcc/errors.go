package tcc

import (
	"errors"
	"fmt"

	"github.com/txcio/txc"
)

// ErrTryAfterCancel is matched (errors.Is) by the error of a fenced Try
// that arrived after the Cancel of its branch: the Cancel recorded an empty
// rollback, so Try did not run. The error also matches txc.ErrRolledBack.
var ErrTryAfterCancel = errors.New("tcc: try refused: the branch was already cancelled")

// tryAfterCancel is the error Fence.Try returns for a suspended branch.
func tryAfterCancel(b Branch) error {
	return fmt.Errorf("%w (%s branch %d of participant %q): %w", ErrTryAfterCancel, b.XID, b.ID, b.Participant,
		&txc.Error{Code: txc.CodeRolledBack, XID: b.XID,
			Message: fmt.Sprintf("tcc: transaction %s was rolled back before Try ran", b.XID)})
}

// invalid makes an *txc.Error of CodeInvalidArgument.
func invalid(format string, args ...any) error {
	return txc.Errorf(txc.CodeInvalidArgument, "tcc: "+format, args...)
}
