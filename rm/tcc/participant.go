package tcc

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/tm"
)

// Funcs are the three functions of a participant without a fence. Try is
// required; a nil Confirm or Cancel has nothing to do and succeeds.
//
// Confirm and Cancel receive the arguments Try got (decoded from the branch)
// and are called at least once each time the coordinator decides: they must
// be idempotent, and Cancel must succeed when Try failed or never ran.
type Funcs[A any] struct {
	Try     func(ctx context.Context, args A) error
	Confirm func(ctx context.Context, args A) error
	Cancel  func(ctx context.Context, args A) error
}

// FencedFuncs are the three functions of a participant with a fence. Each
// gets the local transaction in which the fence row is written; do the
// business change in it and do not commit or roll it back (the fence does,
// according to the returned error). Try is required; a nil Confirm or Cancel
// still updates the fence.
type FencedFuncs[A any] struct {
	Try     func(ctx context.Context, tx *sql.Tx, args A) error
	Confirm func(ctx context.Context, tx *sql.Tx, args A) error
	Cancel  func(ctx context.Context, tx *sql.Tx, args A) error
}

// Participant is a declared TCC participant whose arguments have type A.
type Participant[A any] struct {
	r    *Resource
	name string
	try  func(ctx context.Context, b Branch, args A) error
}

// Declare declares a participant named name on r, without a fence.
func Declare[A any](r *Resource, name string, f Funcs[A]) (*Participant[A], error) {
	if f.Try == nil {
		return nil, invalid("participant %q has no Try", name)
	}
	p := &Participant[A]{r: r, name: name,
		try: func(ctx context.Context, _ Branch, args A) error { return f.Try(ctx, args) }}
	err := r.add(name, func(ctx context.Context, _ Branch, commit bool, raw []byte) error {
		fn := f.Cancel
		if commit {
			fn = f.Confirm
		}
		if fn == nil {
			return nil
		}
		args, err := decodeArgs[A](name, raw)
		if err != nil {
			return err
		}
		return fn(ctx, args)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// DeclareFenced declares a participant named name on r whose three functions
// run inside fence's local transactions (see Fence for the guarantees).
func DeclareFenced[A any](r *Resource, name string, fence *Fence, f FencedFuncs[A]) (*Participant[A], error) {
	if f.Try == nil {
		return nil, invalid("participant %q has no Try", name)
	}
	if fence == nil {
		return nil, invalid("participant %q: nil fence", name)
	}
	p := &Participant[A]{r: r, name: name, try: func(ctx context.Context, b Branch, args A) error {
		return fence.Try(ctx, b, func(ctx context.Context, tx *sql.Tx) error { return f.Try(ctx, tx, args) })
	}}
	err := r.add(name, func(ctx context.Context, b Branch, commit bool, raw []byte) error {
		fn, run := f.Cancel, fence.Cancel
		if commit {
			fn, run = f.Confirm, fence.Confirm
		}
		return run(ctx, b, func(ctx context.Context, tx *sql.Tx) error {
			if fn == nil {
				return nil
			}
			args, err := decodeArgs[A](name, raw)
			if err != nil {
				return err
			}
			return fn(ctx, tx, args)
		})
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Name returns the participant's name.
func (p *Participant[A]) Name() string { return p.name }

// Try registers a TCC branch of p in the global transaction carried by ctx
// (durable at the coordinator when registration returns, with args stored in
// it), then runs p's Try with a ctx that also carries the Branch.
//
// Without an XID in ctx it fails with an error matching
// txc.ErrNotInTransaction and does nothing. Arguments that cannot be
// encoded, or larger than txc.MaxApplicationLen, fail with
// txc.ErrInvalidArgument before registering. A registration error is
// returned wrapped (its outcome is unknown if it matches
// txc.ErrUnavailable; either way the TM should roll back). Try's own error
// is returned unchanged: the caller returns it from tm.WithGlobalTx, which
// rolls back, and the coordinator then delivers Cancel for the branch.
// Try is not retried and not idempotent: each call is a new branch.
func (p *Participant[A]) Try(ctx context.Context, args A) error {
	xid, ok := tm.XIDFromContext(ctx)
	if !ok {
		return &txc.Error{Code: txc.CodeNotInTransaction,
			Message: fmt.Sprintf("tcc: participant %q called outside a global transaction", p.name)}
	}
	data, err := encodeArgs(p.name, args)
	if err != nil {
		return err
	}
	if len(data) > txc.MaxApplicationLen {
		return invalid("participant %q: arguments encode to %d bytes, more than %d", p.name, len(data), txc.MaxApplicationLen)
	}
	id, err := p.r.mgr.RegisterBranch(ctx, client.Branch{XID: xid, Type: txc.BranchTCC, ResourceID: p.r.id, ApplicationData: data})
	if err != nil {
		return fmt.Errorf("tcc: register participant %q in %s: %w", p.name, xid, err)
	}
	b := Branch{XID: xid, ID: id, ResourceID: p.r.id, Participant: p.name}
	ctx = contextWithBranch(ctx, b)
	if p.r.hook != nil {
		p.r.hook(ctx, b)
	}
	return p.try(ctx, b, args)
}

func decodeArgs[A any](name string, raw []byte) (A, error) {
	var args A
	if err := json.Unmarshal(raw, &args); err != nil {
		return args, &decodeError{fmt.Errorf("tcc: participant %q: decode arguments into %T: %w", name, args, err)}
	}
	return args, nil
}
