package datasource

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/txcio/txc"
)

// BeginFolder is an optional interface of a Dialect that can send a local
// transaction's BEGIN in the round trip of the first statement the proxy
// sends in it (PostgreSQL: the table probe's pipelined batch). A local
// transaction of a global one then holds its BEGIN back: nothing reaches
// the database at BeginTx. The first statement that must run inside the
// transaction sends it: folded by the dialect (Exec.TakeBegin), or on its
// own through the wrapped driver (conn.begin) on every other path. A
// transaction that runs nothing sends nothing, not even its end.
type BeginFolder interface {
	// BeginText returns the statement that begins a transaction with
	// opts, or an error when the dialect cannot (the transaction then
	// begins at once through the wrapped driver, which reports it).
	BeginText(opts driver.TxOptions) (string, error)
	// EndTx commits (commit set) or rolls back, on c, a transaction
	// begun with BeginText's statement, as the wrapped driver's own
	// transaction object would: a COMMIT the server turned into a
	// rollback is an error, and a connection left in an unknown state by
	// an error is closed.
	EndTx(ctx context.Context, c driver.Conn, commit bool) error
}

// heldBegin is the BEGIN a local transaction holds back (see BeginFolder).
type heldBegin struct {
	text string           // BeginText's statement; empty once sent
	opts driver.TxOptions // BeginTx's, for a BEGIN sent through the driver
	// err is set while the BEGIN is not known to have run: taken by a
	// dialect and not yet reported (Begun), or failed. Nothing runs then.
	err error
}

// holdBegin begins a local transaction of global transaction xid whose
// BEGIN waits for its first statement, if the dialect can fold it; ok
// false: begin it at once.
func (c *conn) holdBegin(ctx context.Context, xid txc.XID, opts driver.TxOptions) (t driver.Tx, ok bool, err error) {
	f, can := c.res.dialect.(BeginFolder)
	if !can {
		return nil, false, nil
	}
	text, err := f.BeginText(opts)
	if err != nil {
		return nil, false, nil
	}
	if v, can := c.c.(driver.Validator); can && !v.IsValid() {
		// As a BeginTx on it would: database/sql takes another one.
		return nil, true, driver.ErrBadConn
	}
	c.tx = &txState{xid: xid, ctx: ctx, held: &heldBegin{text: text, opts: opts}}
	return &tx{c: c, st: c.tx}, true, nil
}

// begin sends the BEGIN the open local transaction holds back, through the
// wrapped driver, before anything else runs on the connection. After a
// failure the transaction can only roll back: whether it began is unknown,
// and nothing may run outside it.
func (c *conn) begin() error {
	st := c.tx
	if st == nil || st.held == nil {
		return nil
	}
	if st.held.err != nil {
		return st.held.err
	}
	if st.held.text == "" {
		return nil
	}
	st.held.text = ""
	t, err := c.beginWrapped(st.ctx, st.held.opts)
	if err != nil {
		st.held.err = fmt.Errorf("datasource: BEGIN of the local transaction failed: %w", err)
		st.doom(st.held.err)
		return err
	}
	st.wtx = t
	return nil
}

// beginWrapped begins a transaction through the wrapped driver.
func (c *conn) beginWrapped(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.c.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return c.c.Begin() //nolint:staticcheck // a driver without BeginTx
}

// begunFirst returns run preceded by the held-back BEGIN (see conn.begin)
// of the local transaction open when it runs (an imaged write outside one
// runs in one of its own, begun after run was made). With a dialect that
// never holds a BEGIN back, run as it is: no closure per statement.
func begunFirst[T any](c *conn, run func() (T, error)) func() (T, error) {
	if _, folds := c.res.dialect.(BeginFolder); !folds {
		return run
	}
	return func() (T, error) {
		if err := c.begin(); err != nil {
			var zero T
			return zero, err
		}
		return run()
	}
}

// doom leaves the local transaction able only to roll back, its
// statements refused (see conn.refuseFailed).
func (st *txState) doom(err error) {
	st.failed = &txc.Error{Code: txc.CodeRolledBack, XID: st.xid, Message: err.Error()}
	st.doomed = true
}

// TakeBegin hands a dialect that folds BEGIN (see BeginFolder) the local
// transaction's BEGIN while it is still held back, and counts it as sent:
// the caller must send it first, ahead of everything else it sends on the
// connection and in the same round trip, and report its outcome with
// Begun. Until Begun(nil) the transaction counts as failed: a taker that
// returns without reporting leaves it refusing every statement, never
// running one outside it. ok false: nothing is held back (the transaction
// has begun, has failed, or is none of a global transaction).
func (x *Exec) TakeBegin() (begin string, ok bool) {
	st := x.c.tx
	if st == nil || st.held == nil || st.held.text == "" || st.failed != nil {
		return "", false
	}
	begin = st.held.text
	st.held.text, st.folded = "", true
	st.held.err = errBeginUnreported
	st.doom(errBeginUnreported)
	return begin, true
}

// Begun reports the outcome of the BEGIN TakeBegin handed over. After an
// error the transaction may not have begun: nothing more may run in it,
// and it can only roll back.
func (x *Exec) Begun(err error) {
	st := x.c.tx
	if st == nil || st.held == nil || st.held.err != errBeginUnreported {
		return
	}
	if err != nil {
		st.held.err = fmt.Errorf("datasource: BEGIN of the local transaction failed: %w", err)
		st.doom(st.held.err)
		return
	}
	// Nothing ran since TakeBegin doomed it (the BEGIN goes first), and
	// nothing had failed before (TakeBegin refuses then).
	st.held.err, st.failed, st.doomed = nil, nil, false
}

// errBeginUnreported is a taken BEGIN whose outcome was not reported.
var errBeginUnreported = errors.New("datasource: the local transaction's BEGIN was handed to the dialect and its outcome never reported")

// end commits (commit set) or rolls back the local transaction on the
// server: through the wrapped driver's transaction, or the dialect's
// EndTx for a BEGIN it folded. A transaction whose BEGIN was never sent
// ran nothing and has nothing to end.
func (t *tx) end(commit bool) error {
	st := t.st
	switch {
	case st.wtx != nil && commit:
		return st.wtx.Commit()
	case st.wtx != nil:
		return st.wtx.Rollback()
	case st.folded:
		return t.c.res.dialect.(BeginFolder).EndTx(st.ctx, t.c.c, commit)
	}
	return nil
}
