package saga

import (
	"context"
	"encoding/json"
	"fmt"
)

// Request is what a service receives for one call of a step or of a
// compensation.
type Request struct {
	// Instance is the saga instance's ID.
	Instance string
	// State is the state (or compensation) being run.
	State string
	// Key is the call's stable idempotency key: the same on every retry and
	// after recovery, different for a step and its compensation. A service
	// must make a repeated call with the same Key do nothing more.
	Key string
	// StepKey is the key of the step a compensation undoes (equal to Key
	// for a step). A compensation may arrive for a step that never ran (it
	// was interrupted, or timed out before reaching the service): it must
	// then succeed doing nothing.
	StepKey      string
	Compensation bool
	// Attempt counts calls of this step in this process, from 1.
	Attempt int
	Input   json.RawMessage
}

// Service runs one call. It returns the step's output (JSON; nil means
// null) or an error, named for retry and catch rules by ErrorName. The
// ctx carries the step's timeout.
type Service interface {
	Invoke(ctx context.Context, req *Request) (json.RawMessage, error)
}

// ServiceFunc adapts a function to Service.
type ServiceFunc func(ctx context.Context, req *Request) (json.RawMessage, error)

// Invoke calls f.
func (f ServiceFunc) Invoke(ctx context.Context, req *Request) (json.RawMessage, error) {
	return f(ctx, req)
}

// Func adapts a typed function to Service: the input is decoded into In
// (an undecodable input is a permanent error named "InvalidInput") and the
// output encoded as JSON.
func Func[In, Out any](f func(ctx context.Context, req *Request, in In) (Out, error)) Service {
	return ServiceFunc(func(ctx context.Context, req *Request) (json.RawMessage, error) {
		var in In
		if len(req.Input) > 0 && string(req.Input) != "null" {
			if err := json.Unmarshal(req.Input, &in); err != nil {
				return nil, &ServiceError{Name: "InvalidInput", Message: fmt.Sprintf("saga: input of %s: %v", req.State, err), Permanent: true}
			}
		}
		out, err := f(ctx, req, in)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, &ServiceError{Name: "InvalidOutput", Message: fmt.Sprintf("saga: output of %s: %v", req.State, err), Permanent: true}
		}
		return b, nil
	})
}
