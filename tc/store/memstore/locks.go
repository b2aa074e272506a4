package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/lock"
	"github.com/txcio/txc/tc/store"
)

// Locks is an in-memory store.SharedLocks: the shared lock table of
// several partitions hosted in one process (or of several servers in one
// test). Safe for concurrent use.
type Locks struct {
	mu       sync.Mutex
	rows     map[lockKey]txc.XID
	failNext error
}

// lockKey names one row; the three parts are kept apart, so no choice of
// separator can make two rows collide.
type lockKey struct{ resource, table, row string }

// NewLocks returns an empty lock table.
func NewLocks() *Locks { return &Locks{rows: map[lockKey]txc.XID{}} }

// Fail makes the next call of any method return err and change nothing,
// as a shared table whose database is down does.
func (l *Locks) Fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failNext = err
}

// takeFailure reports the failure set by Fail, once; l.mu is held.
func (l *Locks) takeFailure() error {
	err := l.failNext
	l.failNext = nil
	return err
}

// Claim implements store.SharedLocks.
func (l *Locks) Claim(_ context.Context, claims []store.LockClaim) ([]store.ClaimResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.takeFailure(); err != nil {
		return nil, err
	}
	for _, c := range claims {
		if err := lock.CheckRequest(c.XID, false, c.Resource, c.Keys); err != nil {
			return nil, err
		}
	}
	out := make([]store.ClaimResult, len(claims))
	for i := range claims {
		out[i] = l.claim(&claims[i])
	}
	return out, nil
}

// claim takes c's rows, all or none; l.mu is held. Claims are taken one
// after the other, so an earlier claim of a call wins a row over a later.
func (l *Locks) claim(c *store.LockClaim) store.ClaimResult {
	for _, k := range c.Keys {
		for _, r := range k.Rows {
			if h, ok := l.rows[lockKey{c.Resource, k.Table, r}]; ok && h != c.XID {
				return store.ClaimResult{Holder: h, Table: k.Table}
			}
		}
	}
	var res store.ClaimResult
	for _, k := range c.Keys {
		for _, r := range k.Rows {
			key := lockKey{c.Resource, k.Table, r}
			if _, ok := l.rows[key]; !ok {
				l.rows[key] = c.XID
				res.Added = append(res.Added, store.LockRow{XID: c.XID, Resource: c.Resource, Table: k.Table, Row: r})
			}
		}
	}
	return res
}

// Free implements store.SharedLocks.
func (l *Locks) Free(_ context.Context, rows []store.LockRow) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.takeFailure(); err != nil {
		return err
	}
	for _, r := range rows {
		key := lockKey{r.Resource, r.Table, r.Row}
		if l.rows[key] == r.XID {
			delete(l.rows, key)
		}
	}
	return nil
}

// Query implements store.SharedLocks.
func (l *Locks) Query(_ context.Context, xid txc.XID, resource string, keys []txc.LockKey) (txc.XID, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.takeFailure(); err != nil {
		return "", false, err
	}
	if err := lock.CheckRequest(xid, true, resource, keys); err != nil {
		return "", false, err
	}
	for _, k := range keys {
		for _, r := range k.Rows {
			if h, ok := l.rows[lockKey{resource, k.Table, r}]; ok && h != xid {
				return h, true, nil
			}
		}
	}
	return "", false, nil
}

// Reconcile implements store.SharedLocks. A row held lists that another
// partition's transaction holds stays that transaction's, and Reconcile
// then fails with CodeLockConflict naming the holder, after every other
// change: the table, not a restored partition, decides between two holders.
func (l *Locks) Reconcile(_ context.Context, partition string, held []store.LockRow) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.takeFailure(); err != nil {
		return err
	}
	if !txc.ValidNodeName(partition) {
		return txc.Errorf(txc.CodeInvalidArgument, "memstore: reconcile: malformed partition name %q", partition)
	}
	keep := make(map[lockKey]txc.XID, len(held))
	for _, r := range held {
		if partitionOf(r.XID) != partition {
			return txc.Errorf(txc.CodeInvalidArgument, "memstore: reconcile: XID %q is not of partition %q", r.XID, partition)
		}
		keep[lockKey{r.Resource, r.Table, r.Row}] = r.XID
	}
	for key, h := range l.rows {
		if partitionOf(h) == partition && keep[key] != h {
			delete(l.rows, key)
		}
	}
	var conflict error
	for key, x := range keep {
		h, ok := l.rows[key]
		switch {
		case !ok:
			l.rows[key] = x
		case h != x && conflict == nil:
			conflict = &txc.Error{Code: txc.CodeLockConflict, XID: x, Holder: h,
				Message: fmt.Sprintf("memstore: reconcile: row %q of table %q on %s, held by %s in its stored branches, is held by %s", key.row, key.table, key.resource, x, h)}
		}
	}
	return conflict
}

// partitionOf is the node part of xid ("" for a malformed one).
func partitionOf(xid txc.XID) string {
	node, _, _ := xid.Parse()
	return node
}

// Rows lists the locked rows, ordered by resource, table and row: for
// tests to see the table.
func (l *Locks) Rows() []store.LockRow {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]store.LockRow, 0, len(l.rows))
	for k, h := range l.rows {
		out = append(out, store.LockRow{XID: h, Resource: k.resource, Table: k.table, Row: k.row})
	}
	slices.SortFunc(out, func(a, b store.LockRow) int {
		return cmp.Or(strings.Compare(a.Resource, b.Resource), strings.Compare(a.Table, b.Table), strings.Compare(a.Row, b.Row))
	})
	return out
}

var _ store.SharedLocks = (*Locks)(nil)
