package saga

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"

	"github.com/txcio/txc"
)

var engineName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// errInterrupted: the run stopped (ctx done, or the log could not be
// written) without reaching an end; the next delivery resumes it.
var errInterrupted = errors.New("saga: run interrupted; it resumes from the log on the coordinator's next delivery")

// execute runs, resumes or confirms the instance of env. It returns nil
// when the saga has ended, an error wrapped by txc.Permanent when it is
// parked, and any other error when it must be tried again later.
func (e *Engine) execute(ctx context.Context, env envelope, xid txc.XID, bid txc.BranchID) error {
	def, err := e.definition(env.Def)
	if err != nil {
		return err // perhaps registered by a later deploy: retryable
	}
	fresh, release, err := e.claim(ctx, env.ID)
	if release == nil {
		return err
	}
	defer release()
	m, inst, insert, ended, err := e.resume(ctx, def, env, xid, bid, fresh)
	switch {
	case err != nil:
		return err
	case ended != nil:
		e.finished(env.ID, ended)
		return handlerError(ended)
	}
	d, err := e.drive(ctx, def, m, inst, insert)
	if err != nil {
		return err
	}
	if d.kind == decSuspend {
		return fmt.Errorf("saga: instance %s: compensation keeps failing (%s: %s); the coordinator will retry", inst.ID, d.errName, d.errMsg)
	}
	r := &Result{ID: inst.ID, Status: d.status, Output: d.output, ErrorName: d.errName, Error: d.errMsg}
	e.finished(inst.ID, r)
	if d.status == StatusCompensationFailed {
		e.log.Error("saga: compensation failed permanently; NEEDS MANUAL ACTION", "instance", inst.ID, "xid", xid, "err", d.errName+": "+d.errMsg)
	}
	return handlerError(r)
}

// claim makes this call the one that runs instance id in this process,
// with release to call when it stops, and the instance Start left to
// insert (nil: none). While another call runs it, claim waits for that
// run instead and returns a nil release with the answer: the run's end,
// errInterrupted when it stopped without one, or ctx's cause.
func (e *Engine) claim(ctx context.Context, id string) (fresh *Instance, release func(), err error) {
	e.mu.Lock()
	rs := e.runs[id]
	if rs == nil {
		rs = &runState{done: make(chan struct{})}
		e.runs[id] = rs
	}
	if rs.running {
		attempt := rs.attempt
		e.mu.Unlock()
		select {
		case <-rs.done:
			return nil, nil, handlerError(rs.result)
		case <-attempt:
			select {
			case <-rs.done:
				return nil, nil, handlerError(rs.result)
			default:
				return nil, nil, errInterrupted
			}
		case <-ctx.Done():
			return nil, nil, context.Cause(ctx)
		}
	}
	rs.running = true
	fresh = rs.fresh
	rs.fresh = nil
	attempt := make(chan struct{})
	rs.attempt = attempt
	e.mu.Unlock()
	return fresh, func() {
		e.mu.Lock()
		rs.running = false
		close(attempt)
		e.mu.Unlock()
	}, nil
}

// resume returns the machine of env's instance: fresh (insert set: the
// instance is not in the log yet), new when the log does not know it, or
// replayed from the log (ended set instead when the log says it ended).
func (e *Engine) resume(ctx context.Context, def *Definition, env envelope, xid txc.XID, bid txc.BranchID, fresh *Instance) (m *machine, inst Instance, insert bool, ended *Result, err error) {
	if fresh != nil {
		inst, insert = *fresh, true
	} else {
		var steps []StepRecord
		inst, steps, err = e.cfg.Store.Load(ctx, env.ID)
		switch {
		case errors.Is(err, txc.ErrUnknownTransaction):
			inst = Instance{ID: env.ID, Definition: env.Def, XID: xid, BranchID: bid, Engine: e.cfg.Name, Status: StatusRunning, Input: env.Input}
			insert = true
		case err != nil:
			return nil, inst, false, nil, err
		case inst.Status.IsFinal():
			return nil, inst, false, resultOf(inst), nil
		default:
			if m, err = replay(def, inst, steps); err != nil {
				return nil, inst, false, nil, txc.Permanent(err)
			}
			if m.inFlightCount() > 0 && def.recovery == Backward {
				m.abandon()
			}
			e.log.Info("saga: resuming instance", "instance", inst.ID, "xid", inst.XID, "definition", def.name, "status", inst.Status,
				"recovery", def.recovery, "compensating", m.compensating)
			return m, inst, false, nil, nil
		}
	}
	if m, err = newMachine(def, inst.ID, inst.Input); err != nil {
		return nil, inst, false, nil, txc.Permanent(err)
	}
	return m, inst, insert, nil, nil
}

// handlerError maps an ended run to the phase-2 answer: nil, or permanent
// for a parked compensation.
func handlerError(r *Result) error {
	if r != nil && r.Status == StatusCompensationFailed {
		return txc.Permanent(r.Err())
	}
	return nil
}

// drive runs m until it ends or suspends, writing the log.
func (e *Engine) drive(ctx context.Context, def *Definition, m *machine, inst Instance, insert bool) (*decision, error) {
	var b Batch
	last := inst.Status
	if insert {
		in := inst
		in.Status = m.status()
		last = in.Status
		b.Instances = append(b.Instances, in)
	}
	for {
		d := m.Next()
		if d.kind != decRun {
			setStatus(&b, Instance{ID: inst.ID, Status: d.status, Output: d.output, ErrorName: d.errName, Error: d.errMsg})
			if err := e.cfg.Store.Save(ctx, b); err != nil {
				return nil, fmt.Errorf("%w: %w", errInterrupted, err)
			}
			return d, nil
		}
		if len(d.calls) == 0 {
			return nil, txc.Permanent(fmt.Errorf("saga: instance %s: nothing to run and not ended (a bug)", inst.ID))
		}
		if s := m.status(); s != last {
			setStatus(&b, Instance{ID: inst.ID, Status: s, ErrorName: m.causeName, Error: m.causeMsg})
			last = s
		}
		for _, c := range d.calls {
			b.Steps = append(b.Steps, StepRecord{Instance: inst.ID, Seq: c.Seq, State: c.State, Compensation: c.Compensation,
				Status: StepRunning, Input: c.Input})
		}
		if err := e.cfg.Store.Save(ctx, b); err != nil {
			return nil, fmt.Errorf("%w: %w", errInterrupted, err)
		}
		b = Batch{}
		results := e.calls(ctx, def, inst.ID, d.calls)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", errInterrupted, context.Cause(ctx))
		}
		for i, c := range d.calls {
			r := results[i]
			rec := StepRecord{Instance: inst.ID, Seq: c.Seq, State: c.State, Compensation: c.Compensation, Attempts: r.attempts}
			var err error
			if r.err == nil {
				rec.Status, rec.Output = StepSucceeded, r.out
				err = m.complete(c.Seq, c.Compensation, r.out)
			} else {
				name := ErrorName(r.err)
				rec.Status, rec.ErrorName, rec.Error = StepFailed, name, r.err.Error()
				err = m.fail(c.Seq, c.Compensation, name, r.err.Error(), IsPermanent(r.err))
			}
			if err != nil {
				return nil, txc.Permanent(err) // a bug: the machine refused its own call
			}
			b.Steps = append(b.Steps, rec)
		}
	}
}

// setStatus puts an instance status change into b, merging with a record
// of the same instance already there.
func setStatus(b *Batch, in Instance) {
	for i := range b.Instances {
		if b.Instances[i].ID == in.ID {
			cur := &b.Instances[i]
			cur.Status, cur.Output, cur.ErrorName, cur.Error = in.Status, in.Output, in.ErrorName, in.Error
			return
		}
	}
	b.Instances = append(b.Instances, in)
}

type callResult struct {
	out      json.RawMessage
	err      error
	attempts int
}

// calls makes the calls of one decision, concurrently when several.
func (e *Engine) calls(ctx context.Context, def *Definition, id string, cs []*Call) []callResult {
	out := make([]callResult, len(cs))
	if len(cs) == 1 {
		out[0] = e.call(ctx, def, id, cs[0])
		return out
	}
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = e.call(ctx, def, id, c)
		}()
	}
	wg.Wait()
	return out
}

// call makes one call with its retry rules.
func (e *Engine) call(ctx context.Context, def *Definition, id string, c *Call) callResult {
	svc := e.service(def, c.Service)
	for attempt := 1; ; attempt++ {
		var out json.RawMessage
		var err error
		if svc == nil {
			err = &ServiceError{Name: "ServiceNotFound", Message: fmt.Sprintf("saga: no service %q", c.Service), Permanent: true}
		} else {
			out, err = e.invoke(ctx, svc, &Request{Instance: id, State: c.State, Key: c.Key, StepKey: c.StepKey,
				Compensation: c.Compensation, Attempt: attempt, Input: c.Input}, c)
		}
		if err == nil {
			return callResult{out: out, attempts: attempt}
		}
		if ctx.Err() != nil {
			return callResult{err: err, attempts: attempt}
		}
		d, again := retryDelay(c.retry, ErrorName(err), IsPermanent(err), attempt)
		if !again {
			return callResult{err: err, attempts: attempt}
		}
		e.log.Debug("saga: retrying", "instance", id, "state", c.State, "attempt", attempt, "delay", d, "err", err)
		if !sleep(ctx, e.clock, d) {
			return callResult{err: err, attempts: attempt}
		}
	}
}

// invoke calls svc once, under the call's timeout, turning a panic into an
// error and checking the output.
func (e *Engine) invoke(ctx context.Context, svc Service, req *Request, c *Call) (out json.RawMessage, err error) {
	cctx := ctx
	if c.timeout > 0 {
		var cancel context.CancelCauseFunc
		cctx, cancel = context.WithCancelCause(ctx)
		stop := e.clock.AfterFunc(c.timeout, func() { cancel(errStepTimeout) })
		defer func() { stop(); cancel(nil) }()
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = &ServiceError{Name: "Panic", Message: fmt.Sprint(p)}
			}
		}()
		out, err = svc.Invoke(cctx, req)
	}()
	if err != nil {
		if ctx.Err() == nil && errors.Is(context.Cause(cctx), errStepTimeout) {
			// The service's own error is what our cancel made of it (an
			// HTTP call says Unavailable, a gRPC one Canceled): keep it
			// only as text, so the failure is named Timeout and the step,
			// which may have run, is compensated.
			return nil, fmt.Errorf("%w after %v: %v", errStepTimeout, c.timeout, err)
		}
		return nil, err
	}
	if len(out) == 0 {
		return json.RawMessage("null"), nil
	}
	if !json.Valid(out) {
		return nil, &ServiceError{Name: "InvalidOutput", Message: fmt.Sprintf("saga: output of %s is not JSON", c.State), Permanent: true}
	}
	return out, nil
}
