package rm

import (
	"context"
	"time"

	"github.com/txcio/txc/tm"
)

// RegisterOption adjusts one RegisterBranch call.
type RegisterOption func(*registration)

// registration is what the RegisterOptions of a call set.
type registration struct {
	lockWait time.Duration
}

// LockWait bounds how long this registration retries lock conflicts,
// instead of the Manager's WithLockWait: the resource's own bound (an AT
// resource passes datasource.WithLockWait's). The lock wait of the
// registration's transaction (tm.Config.LockWait, carried by ctx) wins
// over it when this process began the transaction; one received from the
// caller may only shorten it (see LockWaitFor). Non-positive d leaves the
// Manager's.
func LockWait(d time.Duration) RegisterOption {
	return func(r *registration) {
		if d > 0 {
			r.lockWait = d
		}
	}
}

// LockWaitFor returns how long a wait for global locks made with ctx may
// last, where own is the waiting resource's bound (non-positive: none):
// the lock wait of ctx's global transaction if this process began it
// (tm.LockWaitFromContext), else own, else the Manager's (WithLockWait);
// a lock wait received from the caller's process (tm.ReceivedLockWait)
// may shorten that bound, never lengthen it, since the rows' local locks
// are held meanwhile. Zero means no bound but ctx's. RegisterBranch waits
// this long; a resource that waits for global locks by other means (a
// locking read asking the coordinator until the rows are free) should too.
func (m *Manager) LockWaitFor(ctx context.Context, own time.Duration) time.Duration {
	bound := m.lockWait
	if own > 0 {
		bound = own
	}
	if d, ok := tm.ReceivedLockWait(ctx); ok {
		if bound > 0 {
			return min(d, bound)
		}
		return d
	}
	if d, ok := tm.LockWaitFromContext(ctx); ok {
		return d
	}
	return bound
}
