package tm

import (
	"context"
	"time"
)

// LockWaitFromContext returns the lock wait (Config.LockWait) of the
// global transaction ctx carries, and whether it has one: ctx must carry
// the XID of a transaction this process began (WithGlobalTx,
// Manager.Begin) with a positive LockWait. A resource manager bounds its
// waits for global locks with it (rm.Manager.LockWaitFor); an XID that
// came from another process carries none, since the setting does not
// travel with it.
func LockWaitFromContext(ctx context.Context) (time.Duration, bool) {
	g := begunHere(ctx)
	if g == nil || g.lockWait <= 0 {
		return 0, false
	}
	return g.lockWait, true
}
