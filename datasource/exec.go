package datasource

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource/undo"
)

// Exec is what a Statement works with while it runs: the wrapped
// connection (image and metadata queries), the table metadata cache, and
// where undo records and lock keys go. It lives for one statement.
type Exec struct {
	c        *conn
	xid      txc.XID // empty under a global lock only
	recs     []undo.Record
	deferred []deferredAfter // records of recs whose After is read at commit
}

// Dialect returns the connection's dialect.
func (x *Exec) Dialect() Dialect { return x.c.res.dialect }

// Driver returns the wrapped driver's connection, for a dialect that
// reaches past database/sql (pipelining several statements in one round
// trip). The statement's local transaction is the connection's: whatever
// runs on it runs in that transaction, whose held-back BEGIN (see
// BeginFolder) is sent first unless TakeBegin took it. If that BEGIN
// failed, or a BEGIN taken was not reported (Begun), the connection
// returned refuses everything (driver.ErrBadConn), on every call: the
// dialect that took a BEGIN sends it on Peek's connection.
func (x *Exec) Driver() driver.Conn {
	// A BEGIN taken with TakeBegin is sent by its taker, on Peek's
	// connection: until it reports, nothing else may run.
	if err := x.c.begin(); err != nil {
		return badConn{}
	}
	return x.c.c
}

// Peek returns the wrapped driver's connection as it is: for what it
// knows without a round trip (a parameter the server reported when the
// session started), and for the dialect that took the BEGIN (TakeBegin)
// to send it first. Nothing else may be sent on it: a BEGIN held back is
// not sent first.
func (x *Exec) Peek() driver.Conn { return x.c.c }

// InGlobalTx reports whether the statement belongs to a global
// transaction (false: a local transaction under tm.WithGlobalLock).
func (x *Exec) InGlobalTx() bool { return x.xid != "" }

// Query runs an image query on the wrapped connection (see Querier).
func (x *Exec) Query(ctx context.Context, query string, args ...any) ([]undo.Row, error) {
	nv, err := x.args(args)
	if err != nil {
		return nil, err
	}
	return x.c.images(ctx, query, nv)
}

// args converts an image query's arguments for the wrapped driver.
func (x *Exec) args(args []any) ([]driver.NamedValue, error) {
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
		if err := x.c.convert(&nv[i]); err != nil {
			return nil, fmt.Errorf("datasource: image query argument %d: %w", i+1, err)
		}
	}
	return nv, nil
}

// QueryShape is Query that also returns the result's columns as the
// driver describes them (also when no row matched).
func (x *Exec) QueryShape(ctx context.Context, query string, args ...any) (Shape, []undo.Row, error) {
	nv, err := x.args(args)
	if err != nil {
		return nil, nil, err
	}
	return x.c.shapedImages(ctx, query, nv)
}

// QueryText runs a query without arguments on the wrapped connection
// unprepared (the text protocol): for what a server evaluates when it
// prepares a statement rather than when it runs it (MariaDB fixes
// DATABASE() of a prepared statement at prepare time).
func (x *Exec) QueryText(ctx context.Context, query string) ([]undo.Row, error) {
	return x.c.textQuery(ctx, query)
}

// QueryArgs is Query with arguments already checked by database/sql (the
// statement's own arguments, or a selection of them).
func (x *Exec) QueryArgs(ctx context.Context, query string, args []driver.NamedValue) ([]undo.Row, error) {
	return x.c.images(ctx, query, args)
}

// ExecArgs runs, on the wrapped connection (prepared once per
// connection), a write the dialect built to run in place of the
// application's statement (see datasource/mysql keyed.go). The statement
// has then run: a failure after it must Fail the local transaction.
func (x *Exec) ExecArgs(ctx context.Context, query string, args ...any) (driver.Result, error) {
	nv, err := x.args(args)
	if err != nil {
		return nil, err
	}
	return x.c.execCached(ctx, query, nv)
}

// Table returns the cached metadata of schema.name, loading it through the
// wrapped connection on first use.
func (x *Exec) Table(ctx context.Context, schema, name string) (*Table, error) {
	return x.c.res.table(ctx, x, schema, name)
}

// Forget drops the cached metadata of schema.name (after a statement
// found it out of date); the next use reloads it.
func (x *Exec) Forget(schema, name string) { x.c.res.forget(schema, name) }

// ForgetAll drops every cached table's metadata (a table changed, and
// the statements that name it may spell it several ways).
func (x *Exec) ForgetAll() { x.c.res.forgetAll() }

// TxValue returns what the dialect stored under key with SetTxValue in
// the current local transaction (nil: nothing, or no local transaction).
// Dialects keep there what holds until the transaction ends, such as
// metadata checked once per table while the statement's locks keep it
// from changing. A ROLLBACK TO SAVEPOINT sets every value back to what
// it was when the savepoint was set (PostgreSQL undoes the session
// settings made and releases the locks taken since).
func (x *Exec) TxValue(key any) any {
	if t := x.c.tx; t != nil {
		return t.vals[key]
	}
	return nil
}

// SetTxValue stores v under key for the rest of the current local
// transaction (nothing without one); a nil v deletes the key.
func (x *Exec) SetTxValue(key, v any) {
	t := x.c.tx
	if t == nil {
		return
	}
	if v == nil {
		delete(t.vals, key)
		return
	}
	if t.vals == nil {
		t.vals = map[any]any{}
	}
	t.vals[key] = v
}

// ConnValue returns what the dialect stored under key with SetConnValue
// on the statement's connection (nil: nothing, or dropped since).
// Dialects keep there what they verified about the connection's session
// (not about table data) and trust across local transactions, such as
// its current database and time zone.
//
// Values live until the connection closes or until a statement the proxy
// does not parse runs on it (any statement outside a global transaction
// or global lock, on the connection or on a statement prepared on it,
// and a Passthrough one inside) whose text the dialect does not vouch for
// (SessionKeeper); they are dropped before it runs. A dialect that is not
// a SessionKeeper vouches for none, and also loses them each time
// database/sql reuses the connection (ResetSession). Statements the
// dialect recognizes as Write or LockingRead keep them: one that changes
// what a value describes must delete it (SetConnValue(key, nil)).
func (x *Exec) ConnValue(key any) any { return x.c.vals[key] }

// MetadataMaxAge is how long the resource uses cached table metadata
// (WithMetadataMaxAge, else the dialect's default; 0: until a statement
// finds it out of date): what a dialect keeps per connection about the
// schema ages as that does.
func (x *Exec) MetadataMaxAge() time.Duration { return x.c.res.metaMaxAge }

// SetConnValue stores v under key on the statement's connection, for as
// long as ConnValue says; a nil v deletes the key.
func (x *Exec) SetConnValue(key, v any) {
	c := x.c
	if v == nil {
		delete(c.vals, key)
		return
	}
	if c.vals == nil {
		c.vals = map[any]any{}
	}
	c.vals[key] = v
}

// SetTimeZone records the session time zone the current local
// transaction's images are read in, for a dialect whose images depend on
// it (see SessionTimeZone): it is stored with the undo log and the
// rollback runs under it.
func (x *Exec) SetTimeZone(tz string) {
	if t := x.c.tx; t != nil {
		t.timeZone = tz
	}
}

// Home runs a read-only query on a connection of the resource's phase-2
// pool, whose session the application never touches (the connector's
// own database and settings), and caches its rows for the life of the
// resource: the first call per query text pays one round trip.
func (x *Exec) Home(ctx context.Context, query string) ([]undo.Row, error) {
	return x.c.res.home(ctx, query)
}

// QueryPhase2 runs a read-only query on a connection of the phase-2 pool
// that serves the resource's rollbacks in this process (the first open
// database with its ID), uncached: for what a rollback's session will see
// (its database user may differ, see WithPhase2Connector).
func (x *Exec) QueryPhase2(ctx context.Context, query string, args ...any) ([]undo.Row, error) {
	r := x.c.res
	if s := serving(r.id); s != nil {
		r = s
	}
	return r.queryPhase2(ctx, query, args...)
}

// ClearTxValues drops every value SetTxValue stored in the current local
// transaction (a session setting they depend on changed).
func (x *Exec) ClearTxValues() {
	if t := x.c.tx; t != nil {
		t.vals = nil
	}
}

// Fail marks the current local transaction as one that must not commit
// (its Commit rolls back and returns err): a dialect calls it when a
// statement may have changed rows without undo records, whether or not
// it could also abort the transaction on the server. A ROLLBACK TO a
// savepoint set before the call clears it: the server undoes the
// statement's changes.
func (x *Exec) Fail(err error) {
	if t := x.c.tx; t != nil && t.failed == nil {
		t.failed = err
	}
}

// Add appends an undo record of the statement. Records reach the local
// transaction only if the whole statement succeeds.
func (x *Exec) Add(rec undo.Record) {
	if len(rec.Before) == 0 && len(rec.After) == 0 {
		return
	}
	x.recs = append(x.recs, rec)
}

// insertRecords inserts the non-empty ones of recs among the statement's
// records at index at (records of referencing rows that a rollback must
// undo after those from at on: see Cascades.Record).
func (x *Exec) insertRecords(at int, recs []undo.Record) {
	recs = slices.DeleteFunc(recs, func(r undo.Record) bool { return len(r.Before) == 0 && len(r.After) == 0 })
	if len(recs) == 0 {
		return
	}
	x.recs = slices.Insert(x.recs, at, recs...)
	for i := range x.deferred {
		if x.deferred[i].idx >= at {
			x.deferred[i].idx += len(recs)
		}
	}
}

// Guard checks, under a global lock or for a locking read, that no other
// global transaction holds the global lock of any of rows (images holding
// at least the pk columns) of table, waiting with backoff while one does,
// until ctx is done or the lock wait is over (see WithLockWait). Inside a
// global transaction, writes need no guard (their registration takes the
// locks) and Guard of a write does nothing; locking reads are always
// guarded.
func (x *Exec) Guard(ctx context.Context, table string, pk []string, rows []undo.Row, lockingRead bool) error {
	if len(rows) == 0 || (x.xid != "" && !lockingRead) {
		return nil
	}
	keys, err := rowKeys(pk, rows)
	if err != nil {
		return err
	}
	// The global transaction's lock wait (tm.Config.LockWait) travels in
	// the ctx its local transaction began with; a statement of it may
	// carry another ctx.
	txCtx := ctx
	if st := x.c.tx; x.xid != "" && st != nil && st.ctx != nil {
		txCtx = st.ctx
	}
	return x.c.res.waitUnlocked(ctx, x.c.res.lockWaitFor(txCtx), x.xid, []txc.LockKey{{Table: table, Rows: keys}})
}

// rowKeys encodes the primary keys of rows as lock-key rows.
func rowKeys(pk []string, rows []undo.Row) ([]string, error) {
	out := make([]string, 0, len(rows))
	vals := make([]string, len(pk))
	for _, r := range rows {
		for i, name := range pk {
			v, ok := r.Get(name)
			if !ok {
				return nil, txc.Errorf(txc.CodeInternal, "datasource: image lacks primary-key column %q", name)
			}
			if v.IsNull() {
				return nil, txc.Errorf(txc.CodeUnsupported, "datasource: primary-key column %q is NULL", name)
			}
			vals[i] = KeyString(v)
		}
		out = append(out, txc.RowKey(vals...))
	}
	return out, nil
}

// KeyString is the text of a primary-key value in a lock key. Values read
// from the database the same way always give the same text.
func KeyString(v undo.Value) string {
	switch v.Kind() {
	case undo.KindInt:
		return strconv.FormatInt(v.Int64(), 10)
	case undo.KindUint:
		return strconv.FormatUint(v.Uint64(), 10)
	case undo.KindFloat32:
		return strconv.FormatFloat(v.Float(), 'g', -1, 32)
	case undo.KindFloat64:
		f := v.Float()
		if math.IsNaN(f) {
			return "NaN"
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	case undo.KindBool:
		return strconv.FormatBool(v.Boolean())
	}
	return v.Str()
}

// waitUnlocked asks the coordinator whether keys are locked by a global
// transaction other than xid, and waits with backoff while they are, for
// at most the lock wait (rm.Manager.LockWaitFor: the rows' local locks
// are held meanwhile).
func (r *Resource) waitUnlocked(ctx context.Context, wait time.Duration, xid txc.XID, keys []txc.LockKey) error {
	m, err := r.manager()
	if err != nil {
		return err
	}
	start := time.Now()
	var lastHolder txc.XID // the holder an earlier attempt saw, if any
	for attempt := 0; ; attempt++ {
		locked, holder, err := m.Conn().LockQuery(ctx, xid, r.id, keys)
		if err != nil {
			if lastHolder != "" && ctx.Err() != nil {
				// The budget ran out while asking again: the rows were
				// still locked when last seen, which is the answer.
				return errors.Join(&txc.Error{Code: txc.CodeLockConflict, XID: xid, Holder: lastHolder,
					Message: fmt.Sprintf("datasource: rows of %s on %q are globally locked by %s (waited %d times)", keys[0].Table, r.id, lastHolder, attempt)}, ctx.Err())
			}
			return fmt.Errorf("datasource: global lock query on %q: %w", r.id, err)
		}
		lastHolder = holder
		if !locked {
			return nil
		}
		d, more := r.lockBackoff.DelayWithin(attempt, start, wait)
		conflict := func() error {
			return &txc.Error{Code: txc.CodeLockConflict, XID: xid, Holder: holder,
				Message: fmt.Sprintf("datasource: rows of %s on %q are globally locked by %s (waited %d times)", keys[0].Table, r.id, holder, attempt+1)}
		}
		if !more {
			return conflict()
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return conflict()
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return errors.Join(conflict(), ctx.Err())
		}
	}
}

// lockWaitFor is the lock wait of a wait made in txCtx's transaction.
func (r *Resource) lockWaitFor(txCtx context.Context) time.Duration {
	m, err := r.manager()
	if err != nil {
		return 0
	}
	return m.LockWaitFor(txCtx, r.cfg.lockWait)
}
