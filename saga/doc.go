// Package saga runs long business flows as sagas: a sequence of steps, each
// a local transaction in some service with a compensating action, that
// either all complete or are compensated, newest first.
//
// # Definitions
//
// A saga is defined in Go with Define/Step (sequential steps and parallel
// groups, per-step retry rules and timeouts, inputs taken from the saga's
// input and earlier outputs), or in the JSON state language of package
// saga/lang (ServiceTask with its compensation state, Choice, Succeed, Fail,
// CompensationTrigger, SubStateMachine, Parallel, retry and catch rules on
// named errors, input and output mappings). Both produce a Spec that Compile validates, with
// errors naming the state and the field, into one Definition: an invalid
// definition never starts.
//
// # Execution
//
// The decision logic (machine.go) is pure: it says which calls to make,
// learns their results and rebuilds its position from the execution log by
// replaying the (deterministic) definition over the logged outputs. The
// engine (engine.go, run.go) does the I/O: it calls services (Go functions
// registered by name; HTTP JSON endpoints through package saga/httpservice,
// gRPC methods through saga/grpcservice), persists the log through a Store
// (MemoryStore, or the SQL log of package saga/sqllog) before and after
// each step, and talks to the coordinator. One package per dependency: this
// one imports no database driver and no net/http.
//
// Each call gets a stable idempotency key, "<instance>/<seq>" for a step and
// "<instance>/<seq>/c" for its compensation: the same on every retry and
// after a recovery. Services must honour it, and a compensation must succeed
// doing nothing when its step never ran.
//
// See Engine for how a saga maps onto a global transaction at the
// coordinator, and what is durable when.
package saga
