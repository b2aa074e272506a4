package saga

import (
	"errors"
	"fmt"
	"strings"

	"github.com/txcio/txc"
)

// invalid makes an *txc.Error of CodeInvalidArgument whose message starts
// with "saga: ".
func invalid(format string, args ...any) error {
	return txc.Errorf(txc.CodeInvalidArgument, "saga: "+format, args...)
}

// DefinitionError is the error of a definition that does not validate. It
// names the definition, the state and the field at fault, and matches
// txc.ErrInvalidArgument. An invalid definition never starts.
type DefinitionError struct {
	Definition string
	State      string // empty for a definition-level field
	Field      string
	Problem    string
}

func (e *DefinitionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "saga: definition %q", e.Definition)
	if e.State != "" {
		fmt.Fprintf(&b, ": state %q", e.State)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %s", e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	return b.String()
}

// Is matches txc.ErrInvalidArgument.
func (e *DefinitionError) Is(target error) bool { return target == txc.ErrInvalidArgument }

// ServiceError is an error a service returns to name its failure, so that
// retry and catch rules can match it (ErrorEquals). Any other error is named
// by ErrorName.
type ServiceError struct {
	Name    string
	Message string
	// Permanent: retrying cannot help. A forward step that fails with it is
	// not retried; a compensation that fails with it parks the saga for
	// manual action.
	Permanent bool
}

func (e *ServiceError) Error() string {
	if e.Message == "" {
		return e.Name
	}
	return e.Name + ": " + e.Message
}

// NewError returns a *ServiceError named name.
func NewError(name, format string, args ...any) error {
	return &ServiceError{Name: name, Message: fmt.Sprintf(format, args...)}
}

// Error names the engine gives to failures that are not a *ServiceError.
const (
	// ErrNameTimeout: the step's timeout passed.
	ErrNameTimeout = "Timeout"
	// ErrNameUnavailable: a remote service could not be reached, or
	// answered that it is unavailable (HTTP 502, 503, 504, gRPC Unavailable),
	// or the answer was lost. Like a Timeout, the step may have run, so it
	// is compensated with the completed steps.
	ErrNameUnavailable = "Unavailable"
	// ErrNameError: any other error.
	ErrNameError = "Error"
	// ErrNameAll in a rule's ErrorEquals matches every error name.
	ErrNameAll = "*"
)

// ErrorName returns the name retry and catch rules match an error against:
// the Name of a *ServiceError in its chain; "Timeout" for a step timeout;
// "txc.<Code>" for a *txc.Error; "Error" otherwise.
func ErrorName(err error) string {
	var se *ServiceError
	if errors.As(err, &se) && se.Name != "" {
		return se.Name
	}
	if errors.Is(err, errStepTimeout) {
		return ErrNameTimeout
	}
	var te *txc.Error
	if errors.As(err, &te) {
		return "txc." + te.Code.String()
	}
	return ErrNameError
}

// IsPermanent reports whether err says retrying cannot help: a permanent
// *ServiceError in its chain, or txc.IsPermanent. A forward step failing
// with it is not retried; a compensation failing with it parks the saga.
func IsPermanent(err error) bool {
	var se *ServiceError
	if errors.As(err, &se) && se.Permanent {
		return true
	}
	return txc.IsPermanent(err)
}

var errStepTimeout = errors.New("saga: step timed out")

// ErrNeedsManualAction is matched (errors.Is) by the error of a saga whose
// compensation failed permanently: it is parked, the coordinator lists its
// transaction as needing manual action, and an operator's retry there
// resumes the compensation.
var ErrNeedsManualAction = errors.New("saga: compensation failed permanently; needs manual action")

// Failure is the error Run and Wait return when a saga ended without
// succeeding. errors.Is matches txc.ErrRolledBack when the saga was
// compensated, ended in a Fail state or was aborted before it started, and
// ErrNeedsManualAction when its compensation is parked.
type Failure struct {
	ID     string
	Status Status
	// Name and Message describe the error that ended the saga (the failing
	// step's error, the Fail state's Error and Cause, the compensation's
	// error when parked).
	Name    string
	Message string
}

func (f *Failure) Error() string {
	return fmt.Sprintf("saga: instance %s ended %v: %s: %s", f.ID, f.Status, f.Name, f.Message)
}

// Is matches txc.ErrRolledBack or ErrNeedsManualAction, as documented.
func (f *Failure) Is(target error) bool {
	if f.Status == StatusCompensationFailed {
		return target == ErrNeedsManualAction
	}
	return target == txc.ErrRolledBack
}
