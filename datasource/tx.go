package datasource

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/datasource/undo"
	"github.com/txcio/txc/rm"
)

var _ driver.Tx = (*tx)(nil)

// txState is the proxy's state of one local transaction.
type txState struct {
	xid  txc.XID         // the global transaction it belongs to, if any
	lock bool            // begun under tm.WithGlobalLock
	ctx  context.Context // BeginTx's: it bounds the registration at commit
	recs []undo.Record
	// deferred are the records of recs whose After is read at commit
	// (see Exec.AddDeferred).
	deferred []deferredAfter
	// failed is set when a statement ran without an undo record, or the
	// server rolled the transaction back (TxAborter); the transaction can
	// then only roll back, and its statements are refused, but for
	// savepoint statements: a ROLLBACK TO a savepoint set before the
	// failure undoes the statement and clears it (see rollbackTo).
	failed error
	// doomed is set with failed when no ROLLBACK TO can clear it: the
	// server rolled the whole transaction back, its savepoints with it,
	// or the proxy lost track of the server's savepoints (see outOfStep).
	// Savepoint statements are then refused too.
	doomed bool
	// marks are the savepoints set in the transaction, oldest first (see
	// conn.savepoint); kept in a global transaction only.
	marks []savepointMark
	// vals holds what the dialect keeps for the length of the local
	// transaction (see Exec.TxValue).
	vals map[any]any
	// timeZone is the session time zone the images were read in (see
	// Exec.SetTimeZone); it goes with the undo log.
	timeZone string
	// xa is set for a local transaction of a global one in XA mode.
	xa *xaBranch
	// held is set for a transaction that held its BEGIN back (see
	// BeginFolder); folded once a dialect sent it (see Exec.TakeBegin).
	held   *heldBegin
	folded bool
	// wtx is the wrapped driver's transaction, once begun through it.
	wtx driver.Tx
}

// tx wraps a local transaction of the wrapped driver.
type tx struct {
	c  *conn
	st *txState
}

// Commit commits the local transaction. In a global transaction with
// undo records it first, in the same local transaction: reads the after
// images left to the commit (see Exec.AddDeferred), registers the AT
// branch with the rows' lock keys (lock conflicts retried by the
// rm.Manager within the BeginTx context's budget, and for at most the
// lock wait: see WithLockWait), then writes the undo
// log under the branch ID; then commits (with a Committer dialect the
// insert and the commit go in one round trip). The undo log is durable
// exactly when the changes are. If any step before the commit fails, the local
// transaction is rolled back and the error returned; a branch already
// registered is reported PhaseOneFailed (see failed).
// If the commit itself fails the outcome is the wrapped driver's.
func (t *tx) Commit() error {
	defer t.done()
	st := t.st
	if st.xa != nil {
		return t.xaCommit()
	}
	if st.failed != nil {
		return t.abort(st.failed)
	}
	if st.xid != "" && len(st.recs) > 0 {
		if err := t.c.begin(); err != nil {
			return t.abort(err)
		}
		l, q, args, err := t.c.phaseOne(st)
		if err != nil && l != nil {
			return t.failed(l, t.abort(err))
		}
		if err != nil {
			return t.abort(err)
		}
		if cm, ok := t.c.res.dialect.(Committer); ok {
			handled, qerr, cerr := cm.ExecCommit(st.ctx, t.c.c, q, args)
			if handled {
				if qerr != nil {
					return t.failed(l, t.abort(t.c.res.undo.InsertError(l, qerr)))
				}
				return cerr
			}
		}
		nv := make([]driver.NamedValue, len(args))
		for i, a := range args {
			nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
		}
		if _, err := t.c.execCached(st.ctx, q, nv); err != nil {
			return t.failed(l, t.abort(t.c.res.undo.InsertError(l, err)))
		}
	}
	return t.end(true)
}

// reportTimeout bounds the report of a branch whose local transaction
// rolled back after it registered.
const reportTimeout = 5 * time.Second

// failed reports the branch of l as PhaseOneFailed to the coordinator:
// its local transaction rolled back after the branch registered (the undo
// log could not be written), so it has nothing to undo and its row locks
// can go at once, and the global transaction's rollback does not wait for
// an RM to undo it. A report that fails only costs that wait (the
// rollback then finds no undo row and leaves a finished marker); it is
// logged. Returns err.
func (t *tx) failed(l *undo.Log, err error) error {
	m, merr := t.c.res.manager()
	if merr != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.st.ctx), reportTimeout)
	defer cancel()
	if rerr := m.Conn().Report(ctx, l.XID, l.BranchID, txc.BranchPhaseOneFailed); rerr != nil {
		t.c.res.log.Warn("datasource: reporting a branch whose local transaction rolled back failed; its global rollback will look for an undo log that is not there",
			"resource", t.c.res.id, "xid", l.XID, "branch", l.BranchID, "err", rerr)
	}
	return err
}

func (t *tx) Rollback() error {
	defer t.done()
	if t.st.xa != nil {
		return t.xaRollback()
	}
	return t.end(false)
}

func (t *tx) done() {
	if t.c.tx == t.st {
		t.c.tx = nil
	}
}

func (t *tx) abort(err error) error {
	if rerr := t.end(false); rerr != nil {
		return errors.Join(err, fmt.Errorf("datasource: rolling back the local transaction: %w", rerr))
	}
	return err
}

// phaseOne completes the undo log of st, registers its branch, and
// returns the log with the statement (and arguments) that inserts it. On
// an error after the branch registered, the log comes back too.
func (c *conn) phaseOne(st *txState) (*undo.Log, string, []any, error) {
	if err := c.fillDeferred(st.ctx, st); err != nil {
		return nil, "", nil, err
	}
	keys, err := lockKeys(st.recs)
	if err != nil {
		return nil, "", nil, err
	}
	m, err := c.res.manager()
	if err != nil {
		return nil, "", nil, err
	}
	if err := c.res.announce(); err != nil {
		return nil, "", nil, err
	}
	bid, err := m.RegisterBranch(st.ctx, client.Branch{XID: st.xid, Type: txc.BranchAT, ResourceID: c.res.id, LockKeys: keys},
		rm.LockWait(c.res.cfg.lockWait))
	if err != nil {
		return nil, "", nil, fmt.Errorf("datasource: register AT branch of %s on %q: %w", st.xid, c.res.id, err)
	}
	l := &undo.Log{XID: st.xid, BranchID: bid, Records: st.recs, TimeZone: st.timeZone}
	q, args, err := c.res.undo.InsertStatement(l)
	if err != nil {
		return l, "", nil, err // registered: the caller reports it failed
	}
	return l, q, args, nil
}

// lockKeys collects the primary keys of every imaged row, per lock table
// (Record.LockTable, else Table), without duplicates, in first-seen order.
func lockKeys(recs []undo.Record) ([]txc.LockKey, error) {
	var out []txc.LockKey
	index := map[string]int{}
	seen := map[[2]string]bool{}
	total := 0
	for _, r := range recs {
		for _, rows := range [][]undo.Row{r.Before, r.After} {
			keys, err := rowKeys(r.PK, rows)
			if err != nil {
				return nil, err
			}
			table := r.Table
			if r.LockTable != "" {
				table = r.LockTable
			}
			for _, k := range keys {
				if seen[[2]string{table, k}] {
					continue
				}
				seen[[2]string{table, k}] = true
				i, ok := index[table]
				if !ok {
					i = len(out)
					index[table] = i
					out = append(out, txc.LockKey{Table: table})
				}
				out[i].Rows = append(out[i].Rows, k)
				total++
			}
		}
	}
	if total > txc.MaxLockRows {
		return nil, txc.Errorf(txc.CodeUnsupported, "datasource: the local transaction changed %d rows; one branch may lock at most %d", total, txc.MaxLockRows)
	}
	return out, nil
}
