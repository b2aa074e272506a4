package client

import (
	"context"
	"errors"
	"time"

	"github.com/txcio/txc"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
)

// Errors of the requests below: a coordinator's refusal comes back as the
// *txc.Error it sent (errors.Is against the txc sentinels, errors.As to read
// XID, Holder and Status); a lost stream, a done ctx or a closed Conn gives
// an error wrapping txc.ErrUnavailable, meaning the outcome is unknown; a
// request too large for a frame gives txc.ErrInvalidArgument and is never
// sent.

// Branch describes a branch to register.
type Branch struct {
	XID        txc.XID
	Type       txc.BranchType
	ResourceID string
	// LockKeys are the rows the branch locks globally; the registration
	// takes them all or fails with txc.ErrLockConflict naming the holder.
	LockKeys []txc.LockKey
	// ApplicationData is handed back in every phase-2 Command. At most
	// txc.MaxApplicationLen bytes.
	ApplicationData []byte
}

// Begin begins a global transaction named name that the coordinator rolls
// back unless committed within timeout (0: the coordinator's default).
// Durable when it returns. Not idempotent: after an ErrUnavailable,
// beginning again starts a second transaction (the first times out).
func (c *Conn) Begin(ctx context.Context, name string, timeout time.Duration) (txc.XID, error) {
	if timeout < 0 {
		return "", invalid("client: begin: negative timeout %v", timeout)
	}
	ms := uint64((timeout + time.Millisecond - 1) / time.Millisecond)
	r, err := c.roundTrip(ctx, "begin", "", &txcv1.ClientMessage{Body: &txcv1.ClientMessage_Begin{
		Begin: &txcv1.BeginRequest{Name: name, TimeoutMs: ms}}})
	if err != nil {
		return "", err
	}
	if err := txcv1.ErrorFromProto(r.GetError()); err != nil {
		return "", err
	}
	b := r.GetBegin()
	if b == nil {
		return "", malformed("begin")
	}
	return txc.XID(b.GetXid()), nil
}

// Commit decides commit of xid and returns the transaction's status once
// the decision is durable (phase 2 continues in the coordinator).
// Idempotent: safe to retry after ErrUnavailable. On a refusal (for
// example txc.ErrRolledBack) the status carried by the error is returned
// with it.
func (c *Conn) Commit(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error) {
	return c.global(ctx, "commit", xid, message(func(m *txcv1.ClientMessage, w *txcv1.ClientMessage_Commit, v *txcv1.CommitRequest) {
		v.Xid, w.Commit, m.Body = string(xid), v, w
	}))
}

// Rollback decides rollback of xid; like Commit, durable when it returns
// and idempotent.
func (c *Conn) Rollback(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error) {
	return c.global(ctx, "rollback", xid, message(func(m *txcv1.ClientMessage, w *txcv1.ClientMessage_Rollback, v *txcv1.RollbackRequest) {
		v.Xid, w.Rollback, m.Body = string(xid), v, w
	}))
}

// Status reads the status of xid. It changes nothing.
func (c *Conn) Status(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error) {
	return c.global(ctx, "status", xid, message(func(m *txcv1.ClientMessage, w *txcv1.ClientMessage_Status, v *txcv1.StatusRequest) {
		v.Xid, w.Status, m.Body = string(xid), v, w
	}))
}

func (c *Conn) global(ctx context.Context, op string, xid txc.XID, m *txcv1.ClientMessage) (txc.GlobalStatus, error) {
	r, err := c.roundTrip(ctx, op, xid, m)
	if err != nil {
		return txc.GlobalUnknown, err
	}
	if err := txcv1.ErrorFromProto(r.GetError()); err != nil {
		var te *txc.Error
		if errors.As(err, &te) {
			return te.Status, err
		}
		return txc.GlobalUnknown, err
	}
	g := r.GetGlobal()
	if g == nil {
		return txc.GlobalUnknown, malformed(op)
	}
	return txc.GlobalStatus(g.GetStatus()), nil
}

// Register adds a branch to an open transaction and takes its row locks,
// atomically. Durable when it returns. It does not retry lock conflicts
// (rm.Manager.RegisterBranch does) and is not idempotent.
func (c *Conn) Register(ctx context.Context, b Branch) (txc.BranchID, error) {
	r, err := c.roundTrip(ctx, "register", b.XID, message(func(m *txcv1.ClientMessage, w *txcv1.ClientMessage_Register, v *txcv1.RegisterRequest) {
		v.Xid, v.BranchType, v.ResourceId = string(b.XID), txcv1.BranchType(b.Type), b.ResourceID
		v.LockKeys, v.ApplicationData = txcv1.LockKeysToProto(b.LockKeys), b.ApplicationData
		w.Register, m.Body = v, w
	}))
	if err != nil {
		return 0, err
	}
	if err := txcv1.ErrorFromProto(r.GetError()); err != nil {
		return 0, err
	}
	rr := r.GetRegister()
	if rr == nil {
		return 0, malformed("register")
	}
	return txc.BranchID(rr.GetBranchId()), nil
}

// Report reports the phase-1 outcome of a branch (txc.BranchPhaseOneDone
// or txc.BranchPhaseOneFailed). Durable when it returns; reporting the same
// status again is harmless.
func (c *Conn) Report(ctx context.Context, xid txc.XID, branch txc.BranchID, status txc.BranchStatus) error {
	r, err := c.roundTrip(ctx, "report", xid, message(func(m *txcv1.ClientMessage, w *txcv1.ClientMessage_Report, v *txcv1.ReportRequest) {
		v.Xid, v.BranchId, v.Status = string(xid), uint64(branch), txcv1.BranchStatus(status)
		w.Report, m.Body = v, w
	}))
	if err != nil {
		return err
	}
	return txcv1.ErrorFromProto(r.GetError())
}

// LockQuery reports whether any of keys of resourceID is locked by a
// global transaction other than xid (xid may be empty), and by which. It
// changes nothing; the answer may be stale by the time it returns.
func (c *Conn) LockQuery(ctx context.Context, xid txc.XID, resourceID string, keys []txc.LockKey) (locked bool, holder txc.XID, err error) {
	r, err := c.roundTrip(ctx, "lock query", xid, &txcv1.ClientMessage{Body: &txcv1.ClientMessage_LockQuery{
		LockQuery: &txcv1.LockQueryRequest{Xid: string(xid), ResourceId: resourceID, LockKeys: txcv1.LockKeysToProto(keys)}}})
	if err != nil {
		return false, "", err
	}
	if err := txcv1.ErrorFromProto(r.GetError()); err != nil {
		return false, "", err
	}
	lq := r.GetLockQuery()
	if lq == nil {
		return false, "", malformed("lock query")
	}
	return lq.GetLocked(), txc.XID(lq.GetHolder()), nil
}
