package datasource

import (
	"context"
	"errors"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/datasource/undo"
)

// The coordinator counts an AT branch committed at the commit decision
// and sends the RM a notice it does not wait for (an AT commit only
// deletes the undo log). A notice that never arrived (no RM connected,
// a stream lost) or was not carried out (the RM killed before its
// DELETE, the DELETE failed) leaves the branch's undo row behind. The
// leftover sweep finds those rows and deletes the ones whose transaction
// the coordinator reports committed.
//
// Why that is safe: a row is deleted only when its transaction's commit
// is decided and durable, which is what the notice itself acts on. A
// transaction the coordinator no longer knows (it began on the node the
// RM is connected to, finished and was forgotten after its retention)
// committed: it registered the branch before the row was written, and a
// rollback finishes only after deleting the row or inserting the
// finished marker that keeps it from ever being written.

// leftoverFirst is how long after open the first sweep runs.
const leftoverFirst = time.Second

// leftoverPage is how many old undo rows the sweep reads at a time, and
// leftoverPages how many pages one sweep goes through at most: rows it
// keeps (transactions still open, rolling back or parked) are skipped on
// the next page, so they cannot hide newer leftovers.
const (
	leftoverPage  = 500
	leftoverPages = 20
)

// leftoverTimeout bounds one sweep, coordinator questions included, so
// that an unreachable coordinator does not hold up the deletes of
// committed branches that run on the same goroutine.
const leftoverTimeout = 10 * time.Second

// leftoverAsk bounds one question about one transaction: the client offers
// a request no node serves now to the nodes again until its context ends.
const leftoverAsk = 2 * time.Second

// sweepLeftovers deletes the undo rows older than age whose transaction
// committed, and returns how many it deleted.
func (r *Resource) sweepLeftovers(ctx context.Context, age time.Duration) (int64, error) {
	m, err := r.manager()
	if err != nil {
		return 0, nil // no coordinator to ask yet; the next turn tries again
	}
	ctx, cancel := context.WithTimeout(ctx, leftoverTimeout)
	defer cancel()
	conn := m.Conn()
	var total int64
	kept := 0
	for range leftoverPages {
		keys, err := r.undo.ListOld(ctx, r.phase2, age, kept, leftoverPage)
		if err != nil {
			return total, err
		}
		done, err := committedKeys(ctx, conn, keys)
		kept += len(keys) - len(done)
		if len(done) > 0 {
			n, derr := r.undo.DeleteBatch(ctx, r.phase2, done)
			total += n
			if derr != nil {
				return total, derr
			}
		}
		if err != nil || len(keys) < leftoverPage {
			return total, err
		}
	}
	return total, nil
}

// committedKeys returns the keys whose transaction committed, asking the
// coordinator once per transaction, each question bounded by leftoverAsk:
// a transaction the coordinator cannot answer for now (no node serves its
// partition) is skipped, not waited for, and the first such error is
// returned along with every key found.
func committedKeys(ctx context.Context, conn *client.Conn, keys []undo.Key) ([]undo.Key, error) {
	var done []undo.Key
	var first error
	asked := make(map[txc.XID]bool)
	for _, k := range keys {
		ok, seen := asked[k.XID]
		if !seen {
			actx, cancel := context.WithTimeout(ctx, leftoverAsk)
			var err error
			ok, err = committed(actx, conn, k.XID)
			cancel()
			if err != nil && first == nil {
				first = err
			}
			if ctx.Err() != nil {
				return done, first
			}
			asked[k.XID] = ok
		}
		if ok {
			done = append(done, k)
		}
	}
	return done, first
}

// committed reports whether the coordinator behind conn counts xid's
// commit as decided (see above for a transaction it forgot).
func committed(ctx context.Context, conn *client.Conn, xid txc.XID) (bool, error) {
	s, err := conn.Status(ctx, xid)
	if err == nil {
		return s.IsCommit(), nil
	}
	var te *txc.Error
	if errors.As(err, &te) && te.Code == txc.CodeUnknownTransaction {
		node, _, perr := xid.Parse()
		return perr == nil && conn.Linked(node), nil
	}
	return false, err
}

// runLeftoverSweep is the sweep's turn in the cleanup loop: it logs what
// it did.
func (r *Resource) runLeftoverSweep(ctx context.Context, age time.Duration) {
	n, err := r.sweepLeftovers(ctx, age)
	if err != nil {
		r.log.Warn("datasource: sweeping leftover undo logs failed; tried again later", "resource", r.id, "err", err)
	}
	if n > 0 {
		r.log.Info("datasource: deleted undo logs of committed branches whose commit notice was lost", "resource", r.id, "rows", n)
	}
}
