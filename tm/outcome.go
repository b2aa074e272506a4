package tm

import (
	"context"
	"errors"
	"sync"

	"github.com/txcio/txc"
)

// Outcome is how a global transaction ended, as the GlobalTx that began it
// learned from the coordinator (see AfterOutcome).
type Outcome uint8

// Outcomes.
const (
	// OutcomeUnknown: the coordinator's answer did not say (it was
	// unreachable, the transaction never began, or it answered an error
	// about something else).
	OutcomeUnknown Outcome = iota
	// OutcomeCommitted: commit was decided (phase 2 follows).
	OutcomeCommitted
	// OutcomeRolledBack: rollback was decided, by this GlobalTx or
	// before it (the coordinator's deadline, an operator).
	OutcomeRolledBack
)

func (o Outcome) String() string {
	switch o {
	case OutcomeCommitted:
		return "committed"
	case OutcomeRolledBack:
		return "rolled back"
	}
	return "unknown"
}

// outcomeHooks is what AfterOutcome arranged for a GlobalTx.
type outcomeHooks struct {
	mu    sync.Mutex
	ended bool
	hooks []func(Outcome)
}

// AfterOutcome arranges for f to run once the GlobalTx of this process
// that began ctx's global transaction has ended it: when its first Commit
// or Rollback returns (WithGlobalTx calls one of them), with what the
// coordinator answered. f runs on the goroutine that called Commit or
// Rollback, before the call returns, so it must not block.
//
// It reports false, arranging nothing, when ctx's XID was not begun by
// Manager.Begin in this process (it came from another process, or ctx
// carries none) or that transaction was ended already. A resource manager
// uses it to learn the decision without asking the coordinator, when the
// TM that decides runs in its own process.
func AfterOutcome(ctx context.Context, f func(Outcome)) bool {
	g := begunHere(ctx)
	if g == nil {
		return false
	}
	h := &g.outcome
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		return false
	}
	h.hooks = append(h.hooks, f)
	return true
}

// ended runs the functions AfterOutcome arranged, once, with o.
func (g *GlobalTx) ended(o Outcome) {
	h := &g.outcome
	h.mu.Lock()
	if h.ended {
		h.mu.Unlock()
		return
	}
	h.ended = true
	hooks := h.hooks
	h.hooks = nil
	h.mu.Unlock()
	for _, f := range hooks {
		f(o)
	}
}

// commitOutcome is the Outcome of a Commit that returned err.
func commitOutcome(err error) Outcome {
	if err == nil {
		return OutcomeCommitted
	}
	var te *txc.Error
	if errors.As(err, &te) && te.Status.IsRollback() {
		return OutcomeRolledBack
	}
	return OutcomeUnknown
}

// rollbackOutcome is the Outcome of a rollback that returned err (with
// the coordinator's status st).
func rollbackOutcome(st txc.GlobalStatus, err error) Outcome {
	switch {
	case err == nil:
		return OutcomeRolledBack
	case st.IsCommit() && txc.CodeOf(err) == txc.CodeNotActive:
		return OutcomeCommitted
	}
	return OutcomeUnknown
}
