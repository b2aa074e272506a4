package tm

import (
	"context"
	"strconv"
	"time"

	"github.com/txcio/txc"
)

// LockWaitKey is the gRPC metadata key, and LockWaitHeader the HTTP
// header, that carry the lock wait of a global transaction (Config.LockWait)
// with its XID to another process: a whole number of milliseconds from 1
// to a day (a wait is rounded up, and one over a day is sent as a day).
// The client interceptors and the RoundTripper send it with the XID when
// ctx has a lock wait and the call carries none yet; the server
// interceptors and HTTPMiddleware give it to the handler's ctx
// (LockWaitFromContext, ReceivedLockWait).
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
// another process (see ReceivedLockWait). A resource manager bounds its
// waits for global locks with it (rm.Manager.LockWaitFor).
func LockWaitFromContext(ctx context.Context) (time.Duration, bool) {
	if g := begunHere(ctx); g != nil {
		return g.lockWait, g.lockWait > 0
	}
	return ReceivedLockWait(ctx)
}

// ReceivedLockWait returns the lock wait received from another process
// (LockWaitKey, LockWaitHeader) with the XID ctx carries, when the
// transaction was not begun in this process. It came from a caller, so a
// resource manager lets it shorten its own bound, never lengthen it.
func ReceivedLockWait(ctx context.Context) (time.Duration, bool) {
	if begunHere(ctx) != nil {
		return 0, false
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
	d = min(d, maxLockWait) // no wait outlasts a budget, and no overflow below
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
	ms, err := parseMillis(vals[0])
	if err != nil {
		return ctx, err
	}
	for _, v := range vals[1:] {
		if other, err := parseMillis(v); err != nil || other != ms {
			return ctx, txc.Errorf(txc.CodeInvalidArgument, "tm: conflicting lock waits %q and %q", truncate(vals[0]), truncate(v))
		}
	}
	return context.WithValue(ctx, remoteLockWaitKey{}, remoteLockWait{xid: xid, d: time.Duration(ms) * time.Millisecond}), nil
}

// parseMillis parses a received lock wait: ASCII digits only, 1 to a day.
func parseMillis(v string) (int64, error) {
	bad := v == "" || len(v) > 9
	for i := 0; i < len(v) && !bad; i++ {
		bad = v[i] < '0' || v[i] > '9'
	}
	var ms int64
	if !bad {
		ms, _ = strconv.ParseInt(v, 10, 64)
	}
	if bad || ms < 1 || ms > maxLockWait.Milliseconds() {
		return 0, txc.Errorf(txc.CodeInvalidArgument, "tm: lock wait %q is not a whole number of milliseconds from 1 to %d", truncate(v), maxLockWait.Milliseconds())
	}
	return ms, nil
}
