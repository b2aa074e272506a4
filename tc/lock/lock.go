// Package lock is the coordinator's row-lock table: which global transaction
// holds which rows of which resource. It is pure (no I/O, no clock) and not
// safe for concurrent use; the coordinator core owns it from one goroutine.
//
// A lock is identified by (resource, table, row key). Resource IDs and table
// names may not contain NUL (Validate refuses them), which keeps the flat key
// unambiguous; row keys may contain any bytes.
//
// Locks are re-entrant per transaction: several branches of one global
// transaction may hold the same row; the row is free again when the last of
// them releases it.
package lock

import (
	"strings"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

// holder is who holds one row; kept by value in the table's map, so a row
// costs no allocation but its key's.
type holder struct {
	xid    txc.XID
	branch txc.BranchID   // the first branch of xid holding the row
	more   []txc.BranchID // the others, in the order they took it; usually none
}

func (h *holder) holds(b txc.BranchID) bool { return h.branch == b || containsBranch(h.more, b) }

// drop removes b, reporting whether h held it and whether no branch is
// left.
func (h *holder) drop(b txc.BranchID) (found, empty bool) {
	if h.branch == b {
		if len(h.more) == 0 {
			return true, true
		}
		h.branch, h.more = h.more[0], h.more[1:]
		return true, false
	}
	for i, x := range h.more {
		if x == b {
			h.more = append(h.more[:i], h.more[i+1:]...)
			return true, false
		}
	}
	return false, false
}

// Table maps locked rows to their holders.
type Table struct {
	rows map[string]holder
	key  []byte // scratch for flat keys: a lookup by string(key) does not allocate
}

// New returns an empty table.
func New() *Table { return &Table{rows: make(map[string]holder)} }

// Len is the number of locked rows.
func (t *Table) Len() int { return len(t.rows) }

// Validate checks lock keys for use with resource: non-empty table names,
// no NUL in resource or table, bounded sizes and counts.
func Validate(resource string, keys []txc.LockKey) error {
	if strings.IndexByte(resource, 0) >= 0 {
		return txc.Errorf(txc.CodeInvalidArgument, "lock: resource ID contains NUL")
	}
	n := 0
	for _, k := range keys {
		if k.Table == "" || len(k.Table) > txc.MaxLockKeyLen || strings.IndexByte(k.Table, 0) >= 0 {
			return txc.Errorf(txc.CodeInvalidArgument, "lock: table name must be 1..%d bytes without NUL", txc.MaxLockKeyLen)
		}
		for _, r := range k.Rows {
			if len(r) > txc.MaxLockKeyLen {
				return txc.Errorf(txc.CodeInvalidArgument, "lock: row key of table %q longer than %d bytes", k.Table, txc.MaxLockKeyLen)
			}
		}
		n += len(k.Rows)
	}
	if n > txc.MaxLockRows {
		return txc.Errorf(txc.CodeInvalidArgument, "lock: %d rows in one request, at most %d", n, txc.MaxLockRows)
	}
	return nil
}

// flat returns the row's flat key, "resource\x00table\x00row", in the
// table's scratch buffer, valid until the next call.
func (t *Table) flat(resource, table, row string) []byte {
	t.key = append(t.key[:0], resource...)
	t.key = append(t.key, 0)
	t.key = append(t.key, table...)
	t.key = append(t.key, 0)
	t.key = append(t.key, row...)
	return t.key
}

// Acquire takes every row of keys for branch of xid, or none of them. When a
// row is held by another transaction it returns that holder and false, and
// the table is unchanged.
func (t *Table) Acquire(xid txc.XID, branch txc.BranchID, resource string, keys []txc.LockKey) (txc.XID, bool) {
	if holder, held := t.Query(xid, resource, keys); held {
		return holder, false
	}
	for _, k := range keys {
		for _, r := range k.Rows {
			key := t.flat(resource, k.Table, r)
			if h, ok := t.rows[string(key)]; !ok {
				t.rows[string(key)] = holder{xid: xid, branch: branch}
			} else if !h.holds(branch) {
				h.more = append(h.more, branch)
				t.rows[string(key)] = h
			}
		}
	}
	return "", true
}

// ConflictTable returns the table of the first row of keys held by a
// transaction other than xid ("" when none is), to say where a refused
// Acquire conflicted.
func (t *Table) ConflictTable(xid txc.XID, resource string, keys []txc.LockKey) string {
	for _, k := range keys {
		if _, held := t.Query(xid, resource, []txc.LockKey{k}); held {
			return k.Table
		}
	}
	return ""
}

// Release frees the rows of keys held by branch of xid. Rows held by other
// branches of xid stay held; rows held by others are not touched. When
// freed is not nil, every row that became free (no branch of xid holds it
// any more) is appended to *freed, so that a shared copy of the lock (see
// store.SharedLocks) can go too; with nil nothing is allocated.
func (t *Table) Release(xid txc.XID, branch txc.BranchID, resource string, keys []txc.LockKey, freed *[]store.LockRow) {
	for _, k := range keys {
		for _, r := range k.Rows {
			key := t.flat(resource, k.Table, r)
			h, ok := t.rows[string(key)]
			if !ok || h.xid != xid {
				continue
			}
			found, empty := h.drop(branch)
			switch {
			case !found:
			case !empty:
				t.rows[string(key)] = h
			default:
				delete(t.rows, string(key))
				if freed != nil {
					*freed = append(*freed, store.LockRow{XID: xid, Resource: resource, Table: k.Table, Row: r})
				}
			}
		}
	}
}

// Query reports whether any row of keys is held by a transaction other than
// xid (xid may be empty), and by which.
func (t *Table) Query(xid txc.XID, resource string, keys []txc.LockKey) (txc.XID, bool) {
	for _, k := range keys {
		for _, r := range k.Rows {
			if h, ok := t.rows[string(t.flat(resource, k.Table, r))]; ok && h.xid != xid {
				return h.xid, true
			}
		}
	}
	return "", false
}

// NotHeld appends to dst the rows of keys in resource that xid does not
// hold (free, or held by another transaction): after a registration whose
// rows were claimed in the shared lock table is refused, these are the
// rows whose shared copies must go again.
func (t *Table) NotHeld(dst []store.LockRow, xid txc.XID, resource string, keys []txc.LockKey) []store.LockRow {
	for _, k := range keys {
		for _, r := range k.Rows {
			if h, ok := t.rows[string(t.flat(resource, k.Table, r))]; !ok || h.xid != xid {
				dst = append(dst, store.LockRow{XID: xid, Resource: resource, Table: k.Table, Row: r})
			}
		}
	}
	return dst
}

// HoldsAll reports whether xid holds every row of rows (their XID field
// is not read).
func (t *Table) HoldsAll(xid txc.XID, rows []store.LockRow) bool {
	for i := range rows {
		r := &rows[i]
		if h, ok := t.rows[string(t.flat(r.Resource, r.Table, r.Row))]; !ok || h.xid != xid {
			return false
		}
	}
	return true
}

func containsBranch(bs []txc.BranchID, b txc.BranchID) bool {
	for _, x := range bs {
		if x == b {
			return true
		}
	}
	return false
}

// Row is one locked row, as Each reports it.
type Row struct {
	Resource string         `json:"resource_id"`
	Table    string         `json:"table"`
	Key      string         `json:"row"`
	Holder   txc.XID        `json:"holder"`
	Branches []txc.BranchID `json:"branches"`
}

// Each calls fn for every locked row, in no particular order, until fn
// returns false. fn must not change the table; Row.Branches is a copy.
func (t *Table) Each(fn func(Row) bool) {
	for k, h := range t.rows {
		res, rest, _ := strings.Cut(k, "\x00")
		table, row, _ := strings.Cut(rest, "\x00")
		if !fn(Row{Resource: res, Table: table, Key: row, Holder: h.xid, Branches: append([]txc.BranchID{h.branch}, h.more...)}) {
			return
		}
	}
}

// CheckRequest refuses what no lock table may take: a malformed xid
// (empty is allowed when emptyOK, as a lock query without a transaction),
// a resource ID the coordinator refuses, keys Validate refuses. The error
// is a *txc.Error of code CodeInvalidArgument.
func CheckRequest(xid txc.XID, emptyOK bool, resource string, keys []txc.LockKey) error {
	if !(emptyOK && xid == "") && !xid.Valid() {
		return txc.Errorf(txc.CodeInvalidArgument, "lock: malformed XID %q", xid)
	}
	if resource == "" || len(resource) > txc.MaxResourceIDLen {
		return txc.Errorf(txc.CodeInvalidArgument, "lock: resource ID must be 1..%d bytes", txc.MaxResourceIDLen)
	}
	return Validate(resource, keys)
}
