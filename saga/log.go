package saga

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/txcio/txc"
)

// Status is the status of a saga instance in its execution log. The
// numeric values are stored; never renumber them.
type Status uint8

// Instance statuses.
const (
	StatusUnknown Status = 0
	// StatusRunning: going forward.
	StatusRunning Status = 1
	// StatusCompensating: compensating completed steps, newest first
	// (also while a compensation waits for the coordinator's next retry).
	StatusCompensating Status = 2
	// StatusSucceeded: every step ran; final.
	StatusSucceeded Status = 3
	// StatusCompensated: a step failed (or a CompensationTrigger ran) and
	// every completed step was compensated; final.
	StatusCompensated Status = 4
	// StatusFailed: a Fail state ended the saga, nothing compensated; final.
	StatusFailed Status = 5
	// StatusCompensationFailed: a compensation failed permanently; parked
	// for manual action (the coordinator lists the transaction), resumed by
	// an operator's retry at the coordinator.
	StatusCompensationFailed Status = 6
	// StatusAborted: the coordinator rolled the saga's transaction back
	// before it started (no step ran); final.
	StatusAborted Status = 7
)

var statusNames = [...]string{"Unknown", "Running", "Compensating", "Succeeded", "Compensated", "Failed", "CompensationFailed", "Aborted"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// IsFinal reports whether nothing more will happen to an instance in s.
func (s Status) IsFinal() bool {
	return s == StatusSucceeded || s == StatusCompensated || s == StatusFailed || s == StatusAborted
}

// StepStatus is the status of one step (or compensation) in the log.
type StepStatus uint8

// Step statuses. The numeric values are stored; never renumber them.
const (
	StepRunning   StepStatus = 1 // started; may or may not have run
	StepSucceeded StepStatus = 2
	StepFailed    StepStatus = 3 // failed after its retries
)

func (s StepStatus) String() string {
	switch s {
	case StepRunning:
		return "Running"
	case StepSucceeded:
		return "Succeeded"
	case StepFailed:
		return "Failed"
	}
	return fmt.Sprintf("StepStatus(%d)", uint8(s))
}

// Instance is the log record of one saga instance.
type Instance struct {
	ID         string
	Definition string
	XID        txc.XID
	BranchID   txc.BranchID
	// Engine is the name of the engine that runs the instance.
	Engine    string
	Status    Status
	Input     json.RawMessage
	Output    json.RawMessage // when Succeeded: the saga's variables
	ErrorName string
	Error     string
}

// StepRecord is the log record of one execution of a step (Compensation false)
// or of its compensation (true). Seq numbers the forward executions of an
// instance from 1; a compensation has the Seq of the step it undoes.
type StepRecord struct {
	Instance     string
	Seq          int
	State        string
	Compensation bool
	Status       StepStatus
	Input        json.RawMessage
	Output       json.RawMessage
	ErrorName    string
	Error        string
	Attempts     int
}

// Batch is what one Save makes durable.
type Batch struct {
	Instances []Instance
	Steps     []StepRecord
}

// Store persists execution logs. Implementations must be safe for
// concurrent use.
//
// Save makes a batch durable atomically (all of it or none) before it
// returns; when it returns an error the batch was not written and never
// will be (the engine resumes from the log after a failed save, and a late
// write would overwrite what the resumed run logged). An Instance record whose ID is new is inserted whole; for a known
// ID only Status, Output, ErrorName and Error change. A Step record is keyed
// by (Instance, Seq, Compensation): a new key is inserted whole, a known one
// changes only Status, Output, ErrorName, Error and Attempts. Concurrent
// Saves may share one database transaction (the SQL store batches them).
type Store interface {
	Save(ctx context.Context, b Batch) error
	// Load returns an instance and its steps ordered by (Seq,
	// Compensation); an unknown ID gives an error matching
	// txc.ErrUnknownTransaction.
	Load(ctx context.Context, id string) (Instance, []StepRecord, error)
	// Unfinished lists the instances of engine that are not final, at most
	// limit of them.
	Unfinished(ctx context.Context, engine string, limit int) ([]Instance, error)
}

// UnknownInstance is the error a Store's Load returns for an ID it does not
// hold: it matches txc.ErrUnknownTransaction.
func UnknownInstance(id string) error {
	return txc.Errorf(txc.CodeUnknownTransaction, "saga: no instance %q in the log", id)
}
