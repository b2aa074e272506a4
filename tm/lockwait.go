package tm

import (
	"context"
	"strconv"
	"time"

	"github.com/txcio/txc"
)

// LockWaitKey is the gRPC metadata key, and LockWaitHeader the HTTP
// header, that carry the lock wait of a global transaction (Config.LockWait)
// with its XID to another process, in whole milliseconds. The
// interceptors and the RoundTripper send it when they send the XID and
// ctx has a lock wait; the server interceptors and HTTPMiddleware give it
// to the handler's ctx (LockWaitFromContext), so that the participant's
// resources wait for global locks as long as the transaction allows.
const (
	LockWaitKey    = "txc-lock-wait"
	LockWaitHeader = "Txc-Lock-Wait"
)

// maxLockWait bounds a lock wait received from another process.
const maxLockWait = 24 * time.Hour

type remoteLockWaitKey struct{}

// remoteLockWait is the lock wait received with XID xid.
type remoteLockWait struct {
	xid txc.XID
	d   time.Duration
}

// LockWaitFromContext returns the lock wait (Config.LockWait) of the
// global transaction ctx carries, and whether it has one: the
// transaction's, if this process began it (WithGlobalTx, Manager.Begin)
// with a positive LockWait, else the one received with its XID from
// another process (LockWaitKey, LockWaitHeader). A resource manager
// bounds its waits for global locks with it (rm.Manager.LockWaitFor).
func LockWaitFromContext(ctx context.Context) (time.Duration, bool) {
	if g := begunHere(ctx); g != nil {
		return g.lockWait, g.lockWait > 0
	}
	r, _ := ctx.Value(remoteLockWaitKey{}).(remoteLockWait)
	if xid, _ := XIDFromContext(ctx); r.d <= 0 || xid != r.xid {
		return 0, false
	}
	return r.d, true
}

// lockWaitValue is what LockWaitKey and LockWaitHeader carry for ctx's
// lock wait, rounded up to whole milliseconds; "" for none.
func lockWaitValue(ctx context.Context) string {
	d, ok := LockWaitFromContext(ctx)
	if !ok {
		return ""
	}
	return strconv.FormatInt(int64((d+time.Millisecond-1)/time.Millisecond), 10)
}

// withLockWait returns ctx carrying the lock wait received with xid
// (vals: the values of LockWaitKey or LockWaitHeader; none: ctx as is).
// Every value must be the same whole number of milliseconds, from 1 to
// a day; anything else is a *txc.Error with CodeInvalidArgument.
func withLockWait(ctx context.Context, xid txc.XID, vals []string) (context.Context, error) {
	if len(vals) == 0 {
		return ctx, nil
	}
	ms, err := strconv.ParseInt(vals[0], 10, 64)
	if err != nil || ms < 1 || ms > maxLockWait.Milliseconds() {
		return ctx, txc.Errorf(txc.CodeInvalidArgument, "tm: lock wait %q is not a whole number of milliseconds from 1 to %d", truncate(vals[0]), maxLockWait.Milliseconds())
	}
	for _, v := range vals[1:] {
		if v != vals[0] {
			return ctx, txc.Errorf(txc.CodeInvalidArgument, "tm: conflicting lock waits %q and %q", truncate(vals[0]), truncate(v))
		}
	}
	return context.WithValue(ctx, remoteLockWaitKey{}, remoteLockWait{xid: xid, d: time.Duration(ms) * time.Millisecond}), nil
}
