package tm

import (
	"context"
	"sync"
	"time"

	"github.com/txcio/txc"
)

// call is one request the fake coordinator received.
type call struct {
	op      string // begin, commit, rollback, status
	name    string
	timeout time.Duration
	xid     txc.XID
	ctxErr  error // ctx.Err() when the call arrived
}

type reply struct {
	st  txc.GlobalStatus
	err error
}

// fakeCoordinator is a hand-written Coordinator. It records every call and
// answers from scripted replies, consumed in order; when a script runs out
// it answers with the happy-path default.
type fakeCoordinator struct {
	mu       sync.Mutex
	seq      uint64
	calls    []call
	begin    []error // errors for successive Begins; nil entries succeed
	badXID   bool    // Begin returns a malformed XID
	commit   []reply
	rollback []reply
	statuses []reply // replies to successive Status calls, then status
	status   reply
	// commitForever, if set, is the reply to every Commit once the script is done.
	commitForever *reply
}

func (f *fakeCoordinator) record(ctx context.Context, c call) {
	c.ctxErr = ctx.Err()
	f.calls = append(f.calls, c)
}

func (f *fakeCoordinator) Begin(ctx context.Context, name string, timeout time.Duration) (txc.XID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(ctx, call{op: "begin", name: name, timeout: timeout})
	if len(f.begin) > 0 {
		err := f.begin[0]
		f.begin = f.begin[1:]
		if err != nil {
			return "", err
		}
	}
	if f.badXID {
		return "not an xid", nil
	}
	f.seq++
	return txc.NewXID("tc1", f.seq), nil
}

func (f *fakeCoordinator) Commit(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(ctx, call{op: "commit", xid: xid})
	if len(f.commit) > 0 {
		r := f.commit[0]
		f.commit = f.commit[1:]
		return r.st, r.err
	}
	if f.commitForever != nil {
		return f.commitForever.st, f.commitForever.err
	}
	return txc.GlobalCommitted, nil
}

func (f *fakeCoordinator) Rollback(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(ctx, call{op: "rollback", xid: xid})
	if len(f.rollback) > 0 {
		r := f.rollback[0]
		f.rollback = f.rollback[1:]
		return r.st, r.err
	}
	return txc.GlobalRollbacking, nil
}

func (f *fakeCoordinator) Status(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(ctx, call{op: "status", xid: xid})
	if len(f.statuses) > 0 {
		r := f.statuses[0]
		f.statuses = f.statuses[1:]
		return r.st, r.err
	}
	return f.status.st, f.status.err
}

// ops returns the operations received, in order.
func (f *fakeCoordinator) ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.calls))
	for i, c := range f.calls {
		out[i] = c.op
	}
	return out
}

func (f *fakeCoordinator) callsCopy() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func unavailable() error {
	return txc.Errorf(txc.CodeUnavailable, "txc: stream broken")
}

// newTestManager returns a Manager on a fresh fake with fast retries, no
// wait after rollbacks unless opts set one (see rollbackwait_test.go), and
// the waits it makes recorded in *waits.
func newTestManager(opts ...Option) (*Manager, *fakeCoordinator, *[]time.Duration) {
	f := &fakeCoordinator{}
	m := New(f, append([]Option{WithRetryBackoff(time.Millisecond, 8*time.Millisecond), WithRollbackWait(0)}, opts...)...)
	var mu sync.Mutex
	waits := &[]time.Duration{}
	m.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return sleepCtx(ctx, d)
	}
	return m, f, waits
}
