package tm

import (
	"context"

	"github.com/txcio/txc"
)

type xidKey struct{}

type globalLockKey struct{}

type begunKey struct{}

type globalTxKey struct{}

// begunHere returns the GlobalTx of this process (Manager.Begin) whose XID
// ctx carries, or nil: ctx carries none, or the XID of a transaction begun
// elsewhere, or it was given another transaction's XID since.
func begunHere(ctx context.Context) *GlobalTx {
	g, _ := ctx.Value(globalTxKey{}).(*GlobalTx)
	if g == nil {
		return nil
	}
	if xid, _ := XIDFromContext(ctx); xid != g.xid {
		return nil
	}
	return g
}

// pendingBegin is a pipelined Begin of xid, carried in the ctx Begin returns.
type pendingBegin struct {
	xid  txc.XID
	wait func(context.Context) error
}

// WaitBegun waits until the global transaction ctx carries is durably begun
// and returns nil, or returns why it is not: the Begin's error, or an error
// wrapping txc.ErrUnavailable if ctx is done first or the Begin's outcome is
// unknown. It returns nil at once when ctx carries no XID or an XID that
// this process did not begin with a pipelined Begin (see Pipeliner).
//
// Call it before handing the XID to another process by any path other than
// this package's interceptors and RoundTripper, which call it themselves:
// the other process's requests about the XID travel on another stream and
// could overtake the Begin.
func WaitBegun(ctx context.Context) error {
	p, _ := ctx.Value(begunKey{}).(*pendingBegin)
	if p == nil {
		return nil
	}
	if xid, _ := XIDFromContext(ctx); xid != p.xid {
		return nil
	}
	return p.wait(ctx)
}

// ContextWithXID returns a copy of ctx that carries xid: work done with it
// (SQL through the txc proxy driver, calls through the gRPC and HTTP
// propagation below) joins that global transaction. An empty xid is the same
// as ContextWithoutXID. The XID is not validated here; it comes from
// Manager.Begin or from a propagation layer that validated it.
func ContextWithXID(ctx context.Context, xid txc.XID) context.Context {
	if xid == "" {
		return ContextWithoutXID(ctx)
	}
	return context.WithValue(ctx, xidKey{}, xid)
}

// XIDFromContext returns the XID ctx carries, and whether it carries one.
func XIDFromContext(ctx context.Context) (txc.XID, bool) {
	xid, _ := ctx.Value(xidKey{}).(txc.XID)
	return xid, xid != ""
}

// ContextWithoutXID returns a copy of ctx that carries no XID, hiding any
// that ctx carries; other values of ctx are kept.
func ContextWithoutXID(ctx context.Context) context.Context {
	if _, ok := XIDFromContext(ctx); !ok {
		return ctx
	}
	return context.WithValue(ctx, xidKey{}, txc.XID(""))
}

// WithGlobalLock runs fn with a ctx marked so that InGlobalLock(ctx) is true,
// and returns fn's error. It talks to no coordinator, begins nothing and
// registers nothing.
//
// Contract with the SQL proxy driver (package datasource): for work done
// with a marked ctx but outside any global transaction (no XID), the proxy
// checks, for each local write (UPDATE, DELETE, SELECT … FOR UPDATE), that
// no global transaction holds a global lock on the affected rows. It fails
// the statement with an error matching txc.ErrLockConflict (naming the
// holder) if one does, after retrying with backoff within ctx. It records no
// undo log and registers no branch, so the local transaction stays purely
// local; it only avoids writing over rows a global transaction may still roll
// back. Inside a global transaction the mark changes nothing: the proxy
// registers branches with their lock keys anyway. Without the mark and
// without an XID the proxy adds no round trip.
func WithGlobalLock(ctx context.Context, fn func(ctx context.Context) error) error {
	return fn(context.WithValue(ctx, globalLockKey{}, true))
}

// InGlobalLock reports whether ctx was marked by WithGlobalLock.
func InGlobalLock(ctx context.Context) bool {
	v, _ := ctx.Value(globalLockKey{}).(bool)
	return v
}
