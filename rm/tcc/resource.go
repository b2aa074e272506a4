package tcc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/txcio/txc"
	"github.com/txcio/txc/rm"
)

// Resource is one TCC resource of a service: the resource ID its branches
// are registered under, and the participants whose Confirm and Cancel it
// dispatches (by the participant name stored in each branch). Several
// processes may serve the same resource ID with the same participants; the
// coordinator sends each command to one of them. It is safe for concurrent
// use.
type Resource struct {
	mgr   *rm.Manager
	id    string
	log   *slog.Logger
	hook  func(ctx context.Context, b Branch)
	mu    sync.RWMutex
	parts map[string]declared
}

// declared is a participant declared on a Resource.
type declared struct {
	name string
	run  phase2
}

// phase2 runs Confirm (commit true) or Cancel of a participant from the
// JSON arguments stored in a branch.
type phase2 func(ctx context.Context, b Branch, commit bool, args []byte) error

// Option configures NewResource.
type Option func(*Resource)

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option {
	return func(r *Resource) {
		if l != nil {
			r.log = l
		}
	}
}

// WithRegisteredHook calls f after each branch of the resource is
// registered and before its Try (and its fence row) runs, with the Try's
// ctx. It is meant for tracing, and for tests that need a Cancel to overtake
// a Try; f must not fail the Try.
func WithRegisteredHook(f func(ctx context.Context, b Branch)) Option {
	return func(r *Resource) { r.hook = f }
}

// NewResource adds a TCC resource named resourceID to mgr (a
// txc.BranchTCC handler) and announces it to the coordinator, so phase-2
// commands for its branches reach this process from now on. Declare its
// participants right after: a command for a participant not declared yet is
// answered as a retryable failure and delivered again later. resourceID
// should name the service (for example "tcc:stock") and must not contain a
// secret; it appears in the coordinator's tables and logs.
func NewResource(mgr *rm.Manager, resourceID string, opts ...Option) (*Resource, error) {
	if mgr == nil {
		return nil, invalid("nil rm.Manager")
	}
	r := &Resource{mgr: mgr, id: resourceID, log: slog.New(slog.DiscardHandler), parts: map[string]declared{}}
	for _, o := range opts {
		o(r)
	}
	if err := mgr.AddResource(resourceID, txc.BranchTCC, handler{r}); err != nil {
		return nil, fmt.Errorf("tcc: %w", err)
	}
	return r, nil
}

// ID returns the resource ID.
func (r *Resource) ID() string { return r.id }

func (r *Resource) add(name string, p phase2) error {
	if name == "" || len(name) > 256 {
		return invalid("participant name %q must be 1 to 256 bytes", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.parts[name]; dup {
		return invalid("resource %q already has a participant %q", r.id, name)
	}
	r.parts[name] = declared{name, p}
	return nil
}

// handler is the rm.Handler of a Resource.
type handler struct{ r *Resource }

func (h handler) Commit(ctx context.Context, b rm.Branch) error   { return h.r.finish(ctx, b, true) }
func (h handler) Rollback(ctx context.Context, b rm.Branch) error { return h.r.finish(ctx, b, false) }

// finish decodes the branch and runs the participant's Confirm or Cancel.
// A branch from a newer binary or for a participant this process has not
// declared is a retryable failure (another instance, or a later deploy, may
// serve it); undecodable data is permanent.
func (r *Resource) finish(ctx context.Context, rb rm.Branch, commit bool) error {
	e, newer, err := decodeEnvelope(rb.ApplicationData)
	if err != nil {
		if newer {
			return err
		}
		return txc.Permanent(err)
	}
	r.mu.RLock()
	p, ok := r.parts[string(e.P)] // no allocation for the lookup; the name is p.name
	r.mu.RUnlock()
	if !ok {
		r.log.Warn("tcc: branch for an undeclared participant; the coordinator will retry",
			"resource", r.id, "participant", string(e.P), "xid", rb.XID, "branch", rb.ID)
		return fmt.Errorf("tcc: resource %q has no participant %q here", r.id, e.P)
	}
	b := Branch{XID: rb.XID, ID: rb.ID, ResourceID: rb.ResourceID, Participant: p.name}
	if r.log.Enabled(context.Background(), slog.LevelDebug) { // spares boxing the arguments when off
		r.log.Debug("tcc: phase 2 delivery", "confirm", commit, "xid", b.XID, "branch", b.ID, "participant", b.Participant)
	}
	err = p.run(contextWithBranch(ctx, b), b, commit, e.A)
	var de *decodeError
	if errors.As(err, &de) {
		return txc.Permanent(err)
	}
	return err
}

// decodeError reports arguments that do not decode into the participant's
// type: retrying cannot help until the code changes.
type decodeError struct{ err error }

func (d *decodeError) Error() string { return d.err.Error() }
func (d *decodeError) Unwrap() error { return d.err }
