package datasource

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
)

// xaBranch is the XA state of a local transaction begun in a global one.
// The branch is registered and started at the transaction's first
// statement, so a transaction that runs none leaves nothing behind.
type xaBranch struct {
	opts    driver.TxOptions
	id      XAID
	started bool
}

// xa returns the resource's XA dialect, or nil outside XA mode.
func (r *Resource) xa() XADialect {
	if r.cfg.mode != XA {
		return nil
	}
	d, _ := r.dialect.(XADialect)
	return d
}

// xaBegin begins a local transaction of global transaction xid in XA
// mode: nothing reaches the database until its first statement.
func (c *conn) xaBegin(ctx context.Context, xid txc.XID, opts driver.TxOptions) (driver.Tx, error) {
	c.tx = &txState{xid: xid, ctx: ctx, xa: &xaBranch{opts: opts}}
	return &tx{c: c, st: c.tx}, nil
}

// xaRun runs one statement of global mode m in XA mode: in the local
// transaction's branch (started first if this is its first statement),
// or, outside a local transaction, in a branch of its own that is
// prepared at once (a query's rows are read whole first). Under a global
// lock alone it runs as is: the database's own locks are what XA mode
// relies on. first, if not nil, begins the branch and runs the statement
// in one round trip (see XAStartExecer).
func xaRun[T any](ctx context.Context, c *conn, m mode, run func() (T, error), first func(driver.TxOptions) (T, bool, error), own func(T) (T, error)) (T, error) {
	var zero T
	if m.xid == "" {
		return run()
	}
	if c.tx != nil {
		b := c.tx.xa
		if b.started {
			return run()
		}
		if err := c.xaRegister(); err != nil {
			return zero, err
		}
		if first != nil {
			if out, handled, err := first(b.opts); handled {
				// Begun or not, the branch now counts as begun: its
				// rollback is harmless if the BEGIN never ran.
				b.started = true
				return out, err
			}
		}
		if err := c.xaStart(ctx); err != nil {
			return zero, err
		}
		return run()
	}
	t, err := c.xaBegin(ctx, m.xid, driver.TxOptions{})
	if err != nil {
		return zero, err
	}
	out, err := xaRun(ctx, c, m, run, first, own)
	if err == nil {
		out, err = own(out)
	}
	if err != nil {
		if rerr := t.Rollback(); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return zero, err
	}
	return out, t.Commit()
}

func (c *conn) xaExec(ctx context.Context, m mode, run func() (driver.Result, error)) (driver.Result, error) {
	return xaRun(ctx, c, m, run, nil, sameResult)
}

// xaExecText is xaExec for a statement run as text on the connection
// (ex is the wrapped connection's ExecerContext, or nil): a dialect that
// can begins the branch with it in one round trip.
func (c *conn) xaExecText(ctx context.Context, m mode, ex driver.ExecerContext, query string, args []driver.NamedValue) (driver.Result, error) {
	run := func() (driver.Result, error) { return c.execPlain(ctx, ex, query, args) }
	var first func(driver.TxOptions) (driver.Result, bool, error)
	if se, ok := c.res.dialect.(XAStartExecer); ok && ex != nil {
		first = func(opts driver.TxOptions) (driver.Result, bool, error) {
			return se.XAStartExec(ctx, c.c, opts, query, args)
		}
	}
	return xaRun(ctx, c, m, run, first, sameResult)
}

func sameResult(r driver.Result) (driver.Result, error) { return r, nil }

func (c *conn) xaQuery(ctx context.Context, m mode, run func() (driver.Rows, error)) (driver.Rows, error) {
	return xaRun(ctx, c, m, run, nil, buffered)
}

// xaRegister registers the branch of the open local transaction, once.
func (c *conn) xaRegister() error {
	st := c.tx
	if st.xa.id.Branch != 0 {
		return nil
	}
	m, err := c.res.manager()
	if err != nil {
		return err
	}
	if err := c.res.announce(); err != nil {
		return err
	}
	bid, err := m.RegisterBranch(st.ctx, client.Branch{XID: st.xid, Type: txc.BranchXA, ResourceID: c.res.id})
	if err != nil {
		return fmt.Errorf("datasource: register XA branch of %s on %q: %w", st.xid, c.res.id, err)
	}
	st.xa.id = XAID{XID: st.xid, Branch: bid}
	return nil
}

// xaStart starts the registered branch of the open local transaction on
// the database.
func (c *conn) xaStart(ctx context.Context) error {
	b := c.tx.xa
	if err := c.res.xa().XAStart(ctx, c.c, b.id, b.opts); err != nil {
		c.res.xaReport(c.tx.ctx, b.id, txc.BranchPhaseOneFailed)
		id := b.id
		b.id = XAID{} // reported failed: a next statement registers anew
		return fmt.Errorf("datasource: start XA branch %s on %q: %w", id, c.res.id, err)
	}
	b.started = true
	return nil
}

// xaCommit prepares the branch of t (phase 1): once XA PREPARE (PREPARE
// TRANSACTION) succeeded, the branch's changes are durable and wait for
// the coordinator's decision. A failed prepare rolls the branch back and
// reports it PhaseOneFailed. If that rollback fails too, the prepare may
// have run (its reply lost with the connection): the branch is not
// reported, so that the coordinator finishes it as the transaction
// decides instead of skipping a branch the server may hold prepared. A
// transaction that ran no statement has no branch and commits nothing.
func (t *tx) xaCommit() error {
	st, c := t.st, t.c
	b := st.xa
	if !b.started {
		return nil
	}
	xd := c.res.xa()
	if err := xd.XAPrepare(st.ctx, c.c, b.id); err != nil {
		err = fmt.Errorf("datasource: prepare XA branch %s on %q: %w", b.id, c.res.id, err)
		if aerr := xd.XAAbort(context.WithoutCancel(st.ctx), c.c, b.id); aerr != nil {
			c.c.Close()
			c.c = badConn{}
			return errors.Join(err, fmt.Errorf("datasource: roll back XA branch %s: %w", b.id, aerr))
		}
		c.res.xaReport(st.ctx, b.id, txc.BranchPhaseOneFailed)
		return err
	}
	c.res.xaPrepared(st.ctx, c, b.id)
	return nil
}

// xaRollback rolls back the branch of t before it was prepared, and
// reports it PhaseOneFailed so the global rollback need not reach it.
func (t *tx) xaRollback() error {
	st, c := t.st, t.c
	b := st.xa
	if !b.started {
		return nil
	}
	err := c.res.xa().XAAbort(context.WithoutCancel(st.ctx), c.c, b.id)
	if err != nil {
		// The session's state is unknown: it must not serve anything
		// else (ending it rolls the branch back).
		c.c.Close()
		c.c = badConn{}
	}
	c.res.xaReport(st.ctx, b.id, txc.BranchPhaseOneFailed)
	return err
}

// xaReport reports a branch's phase-1 outcome; a failure is logged (the
// report only spares the coordinator a phase-2 command, or tells it
// early that the branch is prepared).
func (r *Resource) xaReport(ctx context.Context, id XAID, s txc.BranchStatus) error {
	m, err := r.manager()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
	defer cancel()
	err = m.Conn().Report(ctx, id.XID, id.Branch, s)
	if err != nil && s == txc.BranchPhaseOneFailed {
		r.log.Warn("datasource: reporting a failed XA branch failed; the global rollback will find nothing to roll back",
			"resource", r.id, "xid", id.XID, "branch", id.String(), "err", err)
	}
	return err
}

// badConn stands for a wrapped connection handed away (its session holds
// a prepared branch) or broken: every use answers driver.ErrBadConn, so
// database/sql discards the proxy connection.
type badConn struct{}

var (
	_ driver.ExecerContext  = badConn{}
	_ driver.QueryerContext = badConn{}
	_ driver.ConnBeginTx    = badConn{}
	_ driver.Validator      = badConn{}
)

func (badConn) Prepare(string) (driver.Stmt, error) { return nil, driver.ErrBadConn }
func (badConn) Close() error                        { return nil }
func (badConn) Begin() (driver.Tx, error)           { return nil, driver.ErrBadConn }
func (badConn) IsValid() bool                       { return false }
func (badConn) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) {
	return nil, driver.ErrBadConn
}
func (badConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	return nil, driver.ErrBadConn
}
func (badConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	return nil, driver.ErrBadConn
}
func (badConn) ResetSession(context.Context) error { return driver.ErrBadConn }

// execPlain runs a statement as written on the wrapped connection,
// preparing it (kept per connection) when the driver wants that.
func (c *conn) execPlain(ctx context.Context, ex driver.ExecerContext, query string, args []driver.NamedValue) (driver.Result, error) {
	if ex != nil {
		return c.execImaged(ctx, ex, query, args)
	}
	st, err := c.userStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return execStmt(ctx, st, args)
}

// queryPlain is execPlain for a query; a statement it prepares is closed
// with the rows.
func (c *conn) queryPlain(ctx context.Context, q driver.QueryerContext, query string, args []driver.NamedValue) (driver.Rows, error) {
	if q == nil {
		st, err := prepare(ctx, c.c, query)
		if err != nil {
			return nil, err
		}
		rows, err := queryStmt(ctx, st, args)
		if err != nil {
			st.Close()
			return nil, err
		}
		return &wrappedRows{r: rows, stmt: st}, nil
	}
	rows, err := c.queryImaged(ctx, q, query, args)
	if _, ok := rows.(*wrappedRows); ok || err != nil {
		return rows, err
	}
	return &wrappedRows{r: rows}, nil
}

func wrapRows(rows driver.Rows, err error) (driver.Rows, error) {
	if err != nil {
		return nil, err
	}
	return &wrappedRows{r: rows}, nil
}
