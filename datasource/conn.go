package datasource

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource/undo"
	"github.com/txcio/txc/tm"
)

// The interfaces conn forwards. The deprecated forms without a context
// (driver.Execer, driver.Queryer, driver.ConnBeginTx's Begin aside) are
// left out on purpose: database/sql prefers the context forms, and without
// a context there is no XID, so a statement could not join its global
// transaction.
var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

// conn wraps one connection of the wrapped driver. database/sql uses a
// connection from one goroutine at a time, so conn needs no lock.
type conn struct {
	c           driver.Conn
	res         *Resource
	interpolate bool

	tx    *txState               // the local transaction begun through this conn, if any
	stmts map[string]driver.Stmt // prepared image queries
	users map[string]driver.Stmt // prepared statements of global transactions
	vals  map[any]any            // what the dialect keeps per connection (see Exec.ConnValue)
	open  int                    // statements prepared by the application and not closed
}

// unparsed runs before a statement the proxy does not parse runs on c
// (any statement outside global mode, a Passthrough one inside): the
// connection's values are dropped unless the dialect vouches that query
// keeps the session state they describe (SessionKeeper). With no values
// it costs one length check; else a scan of the text.
func (c *conn) unparsed(query string) {
	if len(c.vals) == 0 {
		return
	}
	if k := c.res.keeper; k != nil && k.KeepsSession(query) {
		return
	}
	c.vals = nil
}

// keeps reports whether the dialect vouches for query (see unparsed), for
// a statement prepared once and run many times.
func (c *conn) keeps(query string) bool {
	k := c.res.keeper
	return k != nil && k.KeepsSession(query)
}

// maxCachedStmts bounds the prepared image queries kept per connection.
const maxCachedStmts = 64

// mode is how a statement runs: in global transaction xid, under a global
// lock (lock, no xid), or plainly (neither).
type mode struct {
	xid  txc.XID
	lock bool
}

func (m mode) on() bool { return m.xid != "" || m.lock }

// mode decides how a statement with ctx runs on c. Outside a local
// transaction the ctx decides; inside one, the transaction was bound to
// its mode when it began.
func (c *conn) mode(ctx context.Context) (mode, error) {
	xid, _ := tm.XIDFromContext(ctx)
	if t := c.tx; t != nil {
		switch {
		case t.xid != "" && xid != "" && xid != t.xid:
			return mode{}, invalid("statement carries XID %s but its local transaction belongs to %s", xid, t.xid)
		case t.xid != "":
			return mode{xid: t.xid}, nil
		case xid != "":
			return mode{}, invalid("statement carries XID %s but its local transaction was begun outside any global transaction (begin it with the XID in its context)", xid)
		}
		return mode{lock: t.lock || tm.InGlobalLock(ctx)}, nil
	}
	if xid != "" {
		return mode{xid: xid}, nil
	}
	return mode{lock: tm.InGlobalLock(ctx)}, nil
}

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	s, err := c.c.Prepare(query)
	if err != nil {
		return nil, err
	}
	c.open++
	return &stmt{s: s, c: c, query: query, keeps: c.keeps(query)}, nil
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := prepare(ctx, c.c, query)
	if err != nil {
		return nil, err
	}
	c.open++
	return &stmt{s: s, c: c, query: query, keeps: c.keeps(query)}, nil
}

func (c *conn) Close() error {
	c.dropStmts()
	c.tx, c.vals = nil, nil
	return c.c.Close()
}

// dropStmts closes the statements the proxy prepared on the connection.
func (c *conn) dropStmts() {
	for _, s := range c.stmts {
		s.Close()
	}
	for _, s := range c.users {
		s.Close()
	}
	c.stmts, c.users = nil, nil
}

// Begin begins a plain local transaction (no context, so no global one).
func (c *conn) Begin() (driver.Tx, error) {
	t, err := c.c.Begin() //nolint:staticcheck // the required method of driver.Conn
	if err != nil {
		return nil, err
	}
	c.tx = &txState{wtx: t}
	return &tx{c: c, st: c.tx}, nil
}

// BeginTx begins a local transaction bound to ctx's global transaction (or
// global lock): every statement in it runs in that mode, and its Commit
// registers the branch with ctx.
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	m, err := c.mode(ctx)
	if err != nil {
		return nil, err
	}
	if m.xid != "" && c.res.xa() != nil {
		return c.xaBegin(ctx, m.xid, opts)
	}
	if m.xid != "" {
		if t, held, err := c.holdBegin(ctx, m.xid, opts); held {
			return t, err
		}
	}
	t, err := c.beginWrapped(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.tx = &txState{xid: m.xid, lock: m.lock, ctx: ctx, wtx: t}
	return &tx{c: c, st: c.tx}, nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ex, ok := c.c.(driver.ExecerContext)
	m, err := c.mode(ctx)
	if err != nil {
		return nil, err
	}
	if !m.on() {
		if !ok {
			return nil, driver.ErrSkip
		}
		c.unparsed(query)
		return ex.ExecContext(ctx, query, args)
	}
	if c.res.xa() != nil {
		return c.xaExecText(ctx, m, ex, query, args)
	}
	if len(args) > 0 && !c.interpolate {
		// The wrapped driver would prepare. The statement is prepared
		// (accepted by the server) before any image work, and kept per
		// connection: a global transaction then costs no prepare round
		// trip per statement.
		st, err := c.userStmt(ctx, query)
		if err != nil {
			return nil, err
		}
		return c.write(ctx, m, query, args, func() (driver.Result, error) { return execStmt(ctx, st, args) })
	}
	if !ok {
		return nil, driver.ErrSkip
	}
	return c.write(ctx, m, query, args, func() (driver.Result, error) { return c.execImaged(ctx, ex, query, args) })
}

// execImaged runs a statement of a global transaction on the wrapped
// connection once its images are read. A wrapped driver that answers
// driver.ErrSkip (it wants the statement prepared) gets it prepared here,
// within the same imaged run: handed back to database/sql, the ErrSkip
// would send the statement through the prepare path and image it again.
func (c *conn) execImaged(ctx context.Context, ex driver.ExecerContext, query string, args []driver.NamedValue) (driver.Result, error) {
	res, err := ex.ExecContext(ctx, query, args)
	if err != driver.ErrSkip {
		return res, err
	}
	st, err := c.userStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return execStmt(ctx, st, args)
}

// queryImaged is execImaged for a query (a locking read, its keys
// checked first). The statement it prepares is its own, closed with the
// rows: rows may stay open while the connection runs other statements.
func (c *conn) queryImaged(ctx context.Context, q driver.QueryerContext, query string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := q.QueryContext(ctx, query, args)
	if err != driver.ErrSkip {
		return rows, err
	}
	st, err := prepare(ctx, c.c, query)
	if err != nil {
		return nil, err
	}
	rows, err = queryStmt(ctx, st, args)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &wrappedRows{r: rows, stmt: st}, nil
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.c.(driver.QueryerContext)
	m, err := c.mode(ctx)
	if err != nil {
		return nil, err
	}
	if !m.on() {
		if !ok {
			return nil, driver.ErrSkip
		}
		c.unparsed(query)
		rows, err := q.QueryContext(ctx, query, args)
		if err != nil {
			return nil, err
		}
		return &wrappedRows{r: rows}, nil
	}
	if c.res.xa() != nil {
		return c.xaQuery(ctx, m, func() (driver.Rows, error) { return c.queryPlain(ctx, q, query, args) })
	}
	if !ok || (len(args) > 0 && !c.interpolate) {
		return nil, driver.ErrSkip
	}
	return c.read(ctx, m, query, args, func() (driver.Rows, error) { return c.queryImaged(ctx, q, query, args) })
}

// write runs a statement through Exec in mode m (on), unless its local
// transaction can only roll back (see refuseFailed, noteAborted).
func (c *conn) write(ctx context.Context, m mode, query string, args []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	if err := c.refuseFailed(query); err != nil {
		return nil, err
	}
	res, err := c.writeOn(ctx, m, query, args, begunFirst(c, run))
	c.noteAborted(err)
	return res, err
}

// refuseFailed refuses a statement of a local transaction that can only
// roll back: one of its statements ran without an undo record, or the
// server rolled it back whole (after which the server would run the
// statement outside any transaction and commit it at once, without its
// undo log). Savepoint statements still run unless the transaction is
// doomed: a ROLLBACK TO a savepoint set before the failure may clear it.
func (c *conn) refuseFailed(query string) error {
	if c.tx == nil || c.tx.failed == nil {
		return nil
	}
	if !c.tx.doomed && c.isSavepoint(query) {
		return nil
	}
	return &txc.Error{Code: txc.CodeRolledBack, XID: c.tx.xid,
		Message: "datasource: statement refused: its local transaction was rolled back or can only roll back (" + c.tx.failed.Error() + "): " + Shorten(query)}
}

// noteAborted fails the local transaction when err, returned by one of
// its statements, means the server rolled the whole transaction back (see
// TxAborter).
func (c *conn) noteAborted(err error) {
	if err == nil || c.tx == nil || c.tx.doomed {
		return
	}
	if a, ok := c.res.dialect.(TxAborter); ok && a.TxAborted(err) {
		c.tx.failed = &txc.Error{Code: txc.CodeRolledBack, XID: c.tx.xid, Message: "datasource: the server rolled the local transaction back: " + err.Error()}
		c.tx.doomed = true
	}
}

func (c *conn) writeOn(ctx context.Context, m mode, query string, args []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	st, err := c.res.plan(query)
	if err != nil {
		return nil, err
	}
	switch st.Kind() {
	case Passthrough:
		c.unparsed(query)
		return run()
	case Savepoint:
		var res driver.Result
		err := c.savepoint(query, st, func() (err error) {
			res, err = run()
			return err
		})
		return res, err
	case LockingRead:
		if r, ok := st.(Returner); ok {
			// Once, as through Query; the rows are counted, as the
			// driver counts a SELECT's.
			rows, err := c.lockingQuery(ctx, m, r, args)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			var n int64
			dest := make([]driver.Value, len(rows.Columns()))
			for rows.Next(dest) == nil {
				n++
			}
			return driver.RowsAffected(n), nil
		}
		if err := c.lockingRead(ctx, m, st, args); err != nil {
			return nil, err
		}
		return run()
	}
	var res driver.Result
	err = c.imaged(ctx, m, query, func(x *Exec, ran *bool) error {
		var err error
		res, err = st.Exec(ctx, x, args, func() (driver.Result, error) {
			r, err := run()
			*ran = err == nil
			return r, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// queryWrite runs a write the application reads rows of (see Returner)
// in mode m (on).
func (c *conn) queryWrite(ctx context.Context, m mode, query string, st Returner, args []driver.NamedValue) (driver.Rows, error) {
	var rows driver.Rows
	err := c.imaged(ctx, m, query, func(x *Exec, _ *bool) error {
		var err error
		rows, err = st.Query(ctx, x, args)
		return err
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// imaged runs one imaged statement: do runs it through x, setting *ran
// once the statement itself has run on the server. Its undo records join
// the local transaction only if do succeeds; a failure after the
// statement ran leaves a local transaction that can only roll back.
// Outside a local transaction it runs in one of its own (autocommit).
func (c *conn) imaged(ctx context.Context, m mode, query string, do func(x *Exec, ran *bool) error) error {
	if c.tx == nil {
		return c.autocommit(ctx, m, func() error { return c.imaged(ctx, m, query, do) })
	}
	x := &Exec{c: c, xid: m.xid}
	ran := false
	failedBefore := c.tx.failed
	err := do(x, &ran)
	// An executor that runs the write itself (Exec.Query*) and then fails
	// the transaction (Exec.Fail) has run it, run callback or not; its
	// error stands as it is (a lock conflict found after running stays
	// one), and is never a refusal.
	if c.tx.failed != failedBefore && err != nil {
		if c.res.dialect.Stale(err) {
			c.res.forgetAll()
		}
		return err
	}
	var changed *TableChangedError
	if err != nil && !ran && errors.As(err, &changed) {
		// Only the image's row locks were taken: the statement runs
		// once more, with the table's metadata read afresh.
		c.res.forgetAll()
		x = &Exec{c: c, xid: m.xid}
		err = do(x, &ran)
	}
	if err != nil {
		if err == driver.ErrSkip {
			return err
		}
		if c.res.dialect.Stale(err) || errors.As(err, &changed) {
			c.res.forgetAll()
		}
		if !ran && errors.Is(err, txc.ErrUnsupported) && !strings.Contains(err.Error(), refusedMark) {
			err = Unsupported(query, "%s", strings.TrimPrefix(err.Error(), "datasource: "))
		}
		if ran {
			// The statement changed rows but has no undo record: the
			// local transaction must not commit.
			err = &txc.Error{Code: txc.CodeUnsupported, XID: m.xid,
				Message: "datasource: the statement ran but its undo images failed, so its local transaction can only roll back: " + err.Error() + ": " + Shorten(query)}
			c.tx.failed = err
		}
		return err
	}
	if m.xid != "" {
		for _, d := range x.deferred {
			d.idx += len(c.tx.recs)
			c.tx.deferred = append(c.tx.deferred, d)
		}
		c.tx.recs = append(c.tx.recs, x.recs...)
	}
	return nil
}

// autocommit runs a write outside a local transaction in one of its own,
// so that its images, undo log and registration commit with it.
func (c *conn) autocommit(ctx context.Context, m mode, do func() error) error {
	t, err := c.BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return err
	}
	if err := do(); err != nil {
		if rerr := t.Rollback(); rerr != nil && err != driver.ErrSkip {
			return errors.Join(err, rerr)
		}
		return err
	}
	return t.Commit()
}

// read runs a query in mode m (on), unless its local transaction can
// only roll back (see write).
func (c *conn) read(ctx context.Context, m mode, query string, args []driver.NamedValue, run func() (driver.Rows, error)) (driver.Rows, error) {
	if err := c.refuseFailed(query); err != nil {
		return nil, err
	}
	rows, err := c.readOn(ctx, m, query, args, begunFirst(c, run))
	c.noteAborted(err)
	return rows, err
}

func (c *conn) readOn(ctx context.Context, m mode, query string, args []driver.NamedValue, run func() (driver.Rows, error)) (driver.Rows, error) {
	st, err := c.res.plan(query)
	if err != nil {
		return nil, err
	}
	switch st.Kind() {
	case Write:
		r, ok := st.(Returner)
		if !ok {
			return nil, Unsupported(query, "a write run as a query (to read rows it returns) cannot be imaged on this database; use Exec")
		}
		return c.queryWrite(ctx, m, query, r, args)
	case LockingRead:
		if r, ok := st.(Returner); ok {
			return c.lockingQuery(ctx, m, r, args)
		}
		if err := c.lockingRead(ctx, m, st, args); err != nil {
			return nil, err
		}
	case Savepoint:
		var rows driver.Rows
		err := c.savepoint(query, st, func() error {
			r, err := run()
			if err != nil {
				return err
			}
			rows, err = drained(r)
			return err
		})
		return rows, err
	case Passthrough:
		c.unparsed(query)
	}
	rows, err := run()
	if err != nil {
		return nil, err
	}
	return &wrappedRows{r: rows}, nil
}

// lockingRead waits until no other global transaction holds the global
// locks of the rows a SELECT … FOR UPDATE selects (their local locks taken
// first).
func (c *conn) lockingRead(ctx context.Context, m mode, st Statement, args []driver.NamedValue) error {
	x := &Exec{c: c, xid: m.xid}
	err := st.LockKeys(ctx, x, args)
	if err != nil && c.res.dialect.Stale(err) {
		c.res.forgetAll()
	}
	return err
}

// lockingQuery runs a locking read whose plan can return the
// application's rows itself (see Returner): the statement runs once, its
// rows' keys are checked against the global locks, and the rows it read
// are returned.
func (c *conn) lockingQuery(ctx context.Context, m mode, r Returner, args []driver.NamedValue) (driver.Rows, error) {
	x := &Exec{c: c, xid: m.xid}
	rows, err := r.Query(ctx, x, args)
	if err != nil {
		if c.res.dialect.Stale(err) {
			c.res.forgetAll()
		}
		return nil, err
	}
	return rows, nil
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.c.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// ResetSession clears the proxy's state of the connection and forwards.
// The connection's values survive only for a SessionKeeper dialect,
// which vouches that the wrapped driver's reset keeps the session state
// they describe.
func (c *conn) ResetSession(ctx context.Context) error {
	c.tx = nil
	if c.res.keeper == nil {
		c.vals = nil
	}
	if r, ok := c.c.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.c.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.c.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// convert makes a proxy-built argument acceptable to the wrapped driver,
// as database/sql would.
func (c *conn) convert(nv *driver.NamedValue) error {
	if ch, ok := c.c.(driver.NamedValueChecker); ok {
		err := ch.CheckNamedValue(nv)
		if err != driver.ErrSkip {
			return err
		}
	}
	v, err := driver.DefaultParameterConverter.ConvertValue(nv.Value)
	if err != nil {
		return err
	}
	nv.Value = v
	return nil
}

// images runs an image query as a prepared statement (kept per
// connection) and reads every row as an image.
func (c *conn) images(ctx context.Context, query string, args []driver.NamedValue) ([]undo.Row, error) {
	st, err := c.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := queryStmt(ctx, st, args)
	if err != nil {
		return nil, err
	}
	return c.readImages(rows)
}

// shapedImages is images that also returns the result's shape.
func (c *conn) shapedImages(ctx context.Context, query string, args []driver.NamedValue) (Shape, []undo.Row, error) {
	st, err := c.cached(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	rows, err := queryStmt(ctx, st, args)
	if err != nil {
		return nil, nil, err
	}
	shape := shapeOf(rows)
	images, err := c.readImages(rows)
	return shape, images, err
}

// textQuery runs a query without arguments unprepared (the text
// protocol) and reads its rows as images.
func (c *conn) textQuery(ctx context.Context, query string) ([]undo.Row, error) {
	if err := c.begin(); err != nil {
		return nil, err
	}
	q, ok := c.c.(driver.QueryerContext)
	if !ok {
		return nil, invalid("the wrapped driver %T cannot run a query unprepared", c.c)
	}
	rows, err := q.QueryContext(ctx, query, nil)
	if err != nil {
		return nil, err
	}
	return c.readImages(rows)
}

// readImages reads every row of rows as an image and closes rows.
func (c *conn) readImages(rows driver.Rows) ([]undo.Row, error) {
	images, _, err := c.readSplit(rows, len(rows.Columns()))
	return images, err
}

// cached returns the prepared image query (see images), to run in the
// open local transaction: its held-back BEGIN, if any, is sent first.
func (c *conn) cached(ctx context.Context, query string) (driver.Stmt, error) {
	if err := c.begin(); err != nil {
		return nil, err
	}
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	st, err := prepare(ctx, c.c, query)
	if err != nil {
		return nil, err
	}
	if c.stmts == nil || len(c.stmts) >= maxCachedStmts {
		for _, s := range c.stmts {
			s.Close()
		}
		c.stmts = map[string]driver.Stmt{}
	}
	c.stmts[query] = st
	return st, nil
}

// userStmt returns the statement of a global transaction, prepared once
// per connection. The cache is emptied only here, never while a statement
// taken from it runs.
func (c *conn) userStmt(ctx context.Context, query string) (driver.Stmt, error) {
	if st, ok := c.users[query]; ok {
		return st, nil
	}
	if c.users == nil || len(c.users) >= maxCachedStmts {
		for _, s := range c.users {
			s.Close()
		}
		c.users = map[string]driver.Stmt{}
	}
	st, err := prepare(ctx, c.c, query)
	if err != nil {
		return nil, err
	}
	c.users[query] = st
	return st, nil
}

// execCached runs a proxy statement (the undo-log insert) prepared.
func (c *conn) execCached(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	st, err := c.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	return execStmt(ctx, st, args)
}

func prepare(ctx context.Context, c driver.Conn, query string) (driver.Stmt, error) {
	if p, ok := c.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Prepare(query)
}

func execStmt(ctx context.Context, s driver.Stmt, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := s.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	vals, err := values(args)
	if err != nil {
		return nil, err
	}
	return s.Exec(vals) //nolint:staticcheck // a driver without StmtExecContext
}

func queryStmt(ctx context.Context, s driver.Stmt, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := s.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	vals, err := values(args)
	if err != nil {
		return nil, err
	}
	return s.Query(vals) //nolint:staticcheck // a driver without StmtQueryContext
}

func values(args []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, invalid("named argument %q: the wrapped driver takes positional arguments only", a.Name)
		}
		out[i] = a.Value
	}
	return out, nil
}
