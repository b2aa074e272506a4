package datasource

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tm"
)

// xaHandler is the XA phase-2 handler of one resource ID, installed once
// per (rm.Manager, ID); it runs on any open XA resource with that ID.
type xaHandler struct{ id string }

func (h xaHandler) Commit(ctx context.Context, b rm.Branch) error {
	return h.finish(ctx, b, true)
}

func (h xaHandler) Rollback(ctx context.Context, b rm.Branch) error {
	return h.finish(ctx, b, false)
}

func (h xaHandler) finish(ctx context.Context, b rm.Branch, commit bool) error {
	r := servingXA(h.id)
	if r == nil {
		return txc.Errorf(txc.CodeUnavailable, "datasource: no database open in XA mode serves resource %q in this process", h.id)
	}
	return r.xaFinish(ctx, XAID{XID: b.XID, Branch: b.ID}, commit)
}

// xaFinish commits (or rolls back) prepared branch id. Idempotent: a
// branch the database no longer holds prepared is done, whether it was
// finished before or never prepared (its local transaction rolled back).
// A branch still held by the session that prepared it in this process is
// finished on that session; one the database lists as prepared but
// cannot finish from this session (MariaDB, while the preparing session
// of another process lives) is a retryable failure: the coordinator
// sends the command again, perhaps to that process.
func (r *Resource) xaFinish(ctx context.Context, id XAID, commit bool) error {
	xd := r.xa()
	h, busy := takeHeld(r.id, id)
	if h != nil {
		err := xd.XAFinish(ctx, h.sess.raw, id, commit)
		if err == nil || errors.Is(err, ErrXANotPrepared) {
			err = nil
			h.r.spare(h.sess)
		} else {
			h.sess.raw.Close() // the branch stays prepared, now for any session
			err = fmt.Errorf("datasource: %s XA branch %s on its own session: %w", verb(commit), id, err)
		}
		h.finished(err)
		return err
	}
	if busy != nil {
		// Being finished on its own session (by phase 2 and by the
		// report's answer at once): that outcome is this one's.
		select {
		case <-busy.done:
			if busy.err == nil {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := r.finishPooled(ctx, id, commit); err != nil {
		return fmt.Errorf("datasource: %s XA branch %s: %w", verb(commit), id, err)
	}
	return nil
}

// xaFlight is a finish of a branch through the phase-2 pool under way in
// this process: a second finisher of the branch (the coordinator's phase
// 2 and a TM's rollback seen by the branch at once) waits for its outcome
// instead of racing it (PostgreSQL answers the second "is busy").
type xaFlight struct {
	done chan struct{} // closed once err is set
	err  error
}

var (
	flightMu sync.Mutex
	flights  = map[heldKey]*xaFlight{}
)

// finishPooled finishes branch id on a connection of the phase-2 pool,
// or waits for the finish of it under way in this process. A branch the
// database does not hold prepared is done unless XA RECOVER lists it.
func (r *Resource) finishPooled(ctx context.Context, id XAID, commit bool) error {
	k := heldKey{r.id, id}
	flightMu.Lock()
	if f := flights[k]; f != nil {
		flightMu.Unlock()
		select {
		case <-f.done:
			return f.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f := &xaFlight{done: make(chan struct{})}
	flights[k] = f
	flightMu.Unlock()
	xd := r.xa()
	f.err = r.onPhase2(ctx, func(c driver.Conn) error {
		err := xd.XAFinish(ctx, c, id, commit)
		if !errors.Is(err, ErrXANotPrepared) {
			return err
		}
		ids, rerr := xd.XARecover(ctx, c)
		if rerr != nil {
			return errors.Join(err, rerr)
		}
		if slices.Contains(ids, id) {
			return txc.Errorf(txc.CodeUnavailable, "datasource: XA branch %s is prepared but still bound to the session that prepared it; retried", id)
		}
		return nil
	})
	flightMu.Lock()
	delete(flights, k)
	flightMu.Unlock()
	close(f.done)
	return f.err
}

func verb(commit bool) string {
	if commit {
		return "commit"
	}
	return "roll back"
}

// xaPhase2Idle is the idle connections the phase-2 pool of an XA
// resource keeps.
const xaPhase2Idle = 32

// onPhase2 runs f on a connection of the phase-2 pool.
func (r *Resource) onPhase2(ctx context.Context, f func(c driver.Conn) error) error {
	conn, err := r.phase2.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error { return f(dc.(driver.Conn)) })
}

// xaPrepared runs after branch id was prepared on c. On a dialect whose
// prepared branches stay bound to their session, the session is taken
// from c (which database/sql then discards) and held until phase 2
// finishes the branch on it, or for xaHold at most, after which it is
// closed and the branch can be finished from any session. Either way a
// branch prepared after its transaction was decided is then finished as
// decided (see xaAwaitOutcome).
func (r *Resource) xaPrepared(ctx context.Context, c *conn, id XAID) {
	if r.xa().XASessionBound() {
		// The statements the proxy prepared go with the session, for the
		// connection that takes it next (see spare).
		s := xaSession{raw: c.c, stmts: c.stmts, users: c.users}
		c.stmts, c.users = nil, nil
		c.c = badConn{}
		if c.open > 0 {
			// Statements the application prepared still refer to the
			// session: it cannot be handed to phase 2. Ending it frees
			// the branch for any session.
			s.raw.Close()
		} else {
			hold(r, id, s)
		}
	}
	r.xaAwaitOutcome(context.WithoutCancel(ctx), id)
}

// xaOutcomeWait bounds how long a prepared branch waits for the outcome
// from the TM of its own process before it asks the coordinator.
const xaOutcomeWait = 2 * time.Second

// xaAwaitOutcome makes sure that prepared branch id is not left behind by
// a phase 2 that found it not yet prepared and took it as done: a
// rollback decided while the branch was in phase 1 (the coordinator's
// deadline, a TM that gave up). When the TM that decides runs in this
// process (it began the transaction ctx carries: tm.AfterOutcome), its
// answer tells, without a message to the coordinator: committed means no
// rollback was decided before, so phase 2 will find the branch prepared;
// rolled back, the branch is rolled back here; unknown, or no answer
// within xaOutcomeWait (a GlobalTx never ended), the coordinator is asked
// (xaConfirm), as it is at once for a transaction begun elsewhere.
func (r *Resource) xaAwaitOutcome(ctx context.Context, id XAID) {
	var claimed atomic.Bool
	claim := func() bool { return claimed.CompareAndSwap(false, true) }
	t := time.AfterFunc(xaOutcomeWait, func() {
		if claim() {
			r.xaConfirm(ctx, id)
		}
	})
	arranged := tm.AfterOutcome(ctx, func(o tm.Outcome) {
		if !claim() {
			return
		}
		t.Stop()
		switch o {
		case tm.OutcomeCommitted:
		case tm.OutcomeRolledBack:
			go r.xaFinishDecided(ctx, id, false)
		default:
			go r.xaConfirm(ctx, id)
		}
	})
	if !arranged && claim() {
		t.Stop()
		go r.xaConfirm(ctx, id)
	}
}

// xaHold bounds how long a session holding a prepared branch waits for
// the branch's phase 2.
const xaHold = 30 * time.Second

// xaConfirm reports prepared branch id PhaseOneDone and, if the
// coordinator answers that the transaction is already decided, finishes
// the branch that way: on the rollback side always (the rollback may
// have passed the branch by), on the commit side once the transaction is
// committed (before that, the coordinator's own phase 2 still commits
// the branch, which is registered: finishing it here too would only race
// with it).
func (r *Resource) xaConfirm(ctx context.Context, id XAID) {
	err := r.xaReport(ctx, id, txc.BranchPhaseOneDone)
	if err == nil {
		return
	}
	var te *txc.Error
	if errors.As(err, &te) && te.Status.IsCommit() && te.Status != txc.GlobalCommitted {
		return
	}
	if !errors.As(err, &te) || (!te.Status.IsCommit() && !te.Status.IsRollback()) {
		r.log.Warn("datasource: reporting a prepared XA branch failed; its phase 2 (or recovery) finishes it",
			"resource", r.id, "xid", id.XID, "branch", id.String(), "err", err)
		return
	}
	r.xaFinishDecided(ctx, id, te.Status.IsCommit())
}

// xaFinishDecided finishes prepared branch id of a transaction known to
// be decided (commit or not); a failure is logged, and left to recovery.
func (r *Resource) xaFinishDecided(ctx context.Context, id XAID, commit bool) {
	fctx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	if err := r.xaFinish(fctx, id, commit); err != nil {
		r.log.Warn("datasource: finishing an XA branch prepared after its transaction was decided failed; recovery finishes it",
			"resource", r.id, "xid", id.XID, "branch", id.String(), "commit", commit, "err", err)
	}
}

// heldConn is a session of the wrapped driver holding a prepared branch.
// Once taken (takeHeld), it stays listed until finished is called, so
// that a second finisher of the branch waits for the first one's outcome
// instead of meeting the branch still bound to the session.
type heldConn struct {
	r     *Resource
	sess  xaSession
	timer *time.Timer
	taken bool
	done  chan struct{} // closed by finished
	err   error         // set before done is closed
}

// finished records the outcome of the finish of a taken session and
// unlists it.
func (h *heldConn) finished(err error) {
	heldMu.Lock()
	for k, x := range held {
		if x == h {
			delete(held, k)
			break
		}
	}
	heldMu.Unlock()
	h.err = err
	close(h.done)
}

type heldKey struct {
	resource string
	id       XAID
}

var (
	heldMu sync.Mutex
	held   = map[heldKey]*heldConn{}
)

func hold(r *Resource, id XAID, s xaSession) {
	k := heldKey{r.id, id}
	h := &heldConn{r: r, sess: s, done: make(chan struct{})}
	heldMu.Lock()
	held[k] = h
	h.timer = time.AfterFunc(xaHold, func() {
		if h, _ := takeHeld(k.resource, k.id); h != nil {
			h.sess.raw.Close()
			h.finished(errReleased)
		}
	})
	heldMu.Unlock()
}

// errReleased is the outcome of a held session closed unfinished: the
// branch stays prepared for any session.
var errReleased = errors.New("datasource: the session holding the prepared branch was released")

// takeHeld takes the session holding branch id of resource, if this
// process has it and nobody took it yet: the caller then owns the
// session and must call its finished. Else busy is the session being
// finished by another caller, if any.
func takeHeld(resource string, id XAID) (h, busy *heldConn) {
	heldMu.Lock()
	defer heldMu.Unlock()
	h = held[heldKey{resource, id}]
	if h == nil {
		return nil, nil
	}
	if h.taken {
		return nil, h
	}
	h.taken = true
	h.timer.Stop()
	return h, nil
}

// releaseHeld closes the held sessions of r (at close): their branches
// stay prepared, for any session to finish.
func releaseHeld(r *Resource) {
	heldMu.Lock()
	var hs []*heldConn
	for _, h := range held {
		if h.r == r && !h.taken {
			h.taken = true
			h.timer.Stop()
			hs = append(hs, h)
		}
	}
	heldMu.Unlock()
	for _, h := range hs {
		h.sess.raw.Close()
		h.finished(errReleased)
	}
}

// xaSession is a session of the wrapped driver handed from a connection
// to phase 2 and on to the next connection, with the statements the
// proxy prepared on it (see conn.userStmt): a branch that runs the same
// statements as the one before on the session prepares none of them
// again. Closing the session ends its statements too.
type xaSession struct {
	raw          driver.Conn
	stmts, users map[string]driver.Stmt
}

// maxSpares bounds the sessions kept for new connections after phase 2
// finished the branch they held.
const maxSpares = 64

// spare keeps s, whose branch is finished, for the next connection.
func (r *Resource) spare(s xaSession) {
	r.spareMu.Lock()
	keep := len(r.spares) < maxSpares && !r.isClosedSpare
	if keep {
		r.spares = append(r.spares, s)
	}
	r.spareMu.Unlock()
	if !keep {
		s.raw.Close()
	}
}

// takeSpare returns a kept session; ok is false when there is none.
func (r *Resource) takeSpare() (s xaSession, ok bool) {
	r.spareMu.Lock()
	defer r.spareMu.Unlock()
	n := len(r.spares)
	if n == 0 {
		return xaSession{}, false
	}
	s = r.spares[n-1]
	r.spares[n-1] = xaSession{}
	r.spares = r.spares[:n-1]
	return s, true
}

// closeSpares closes the kept sessions and keeps no more.
func (r *Resource) closeSpares() {
	r.spareMu.Lock()
	s := r.spares
	r.spares, r.isClosedSpare = nil, true
	r.spareMu.Unlock()
	for _, x := range s {
		x.raw.Close()
	}
}
