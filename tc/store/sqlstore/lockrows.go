package sqlstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/lock"
	"github.com/txcio/txc/tc/store"
)

// lockRef is one row of the shared lock table as the statements write or
// match it: the row's key hash, its holder and the holder's partition,
// and the readable columns.
type lockRef struct {
	hash      []byte
	xid       string
	partition string
	resource  string
	table     string
	row       string
}

// rowHash is the shared table's key of a locked row: SHA-256 of the
// length-prefixed resource, table and row key, so that no two different
// rows share the input.
func rowHash(resource, table, row string) []byte {
	buf := make([]byte, 0, 3*binary.MaxVarintLen64+len(resource)+len(table)+len(row))
	for _, s := range [...]string{resource, table, row} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	sum := sha256.Sum256(buf)
	return sum[:]
}

// newLockRef is r as a row of the table; the XID's validity is the
// caller's to check (its node part is the partition).
func newLockRef(r store.LockRow) lockRef {
	node, _, _ := r.XID.Parse()
	return lockRef{hash: rowHash(r.Resource, r.Table, r.Row), xid: string(r.XID), partition: node,
		resource: r.Resource, table: r.Table, row: r.Row}
}

func (r lockRef) lockRow() store.LockRow {
	return store.LockRow{XID: txc.XID(r.xid), Resource: r.resource, Table: r.table, Row: r.row}
}

func byHash(a, b lockRef) int { return bytes.Compare(a.hash, b.hash) }

// claimRefs checks the claims and returns each one's rows, every row once.
func claimRefs(claims []store.LockClaim) ([][]lockRef, error) {
	out := make([][]lockRef, len(claims))
	for i, c := range claims {
		if err := lock.CheckRequest(c.XID, false, c.Resource, c.Keys); err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, k := range c.Keys {
			for _, r := range k.Rows {
				ref := newLockRef(store.LockRow{XID: c.XID, Resource: c.Resource, Table: k.Table, Row: r})
				if !seen[string(ref.hash)] {
					seen[string(ref.hash)] = true
					out[i] = append(out[i], ref)
				}
			}
		}
	}
	return out, nil
}

// uniqueRefs returns rows as table rows, each once, sorted by key (so that
// concurrent deletions lock rows in one order), leaving out the rows of
// the XIDs in skip (deleted whole anyway). Bad XIDs are left out: they
// hold nothing.
func uniqueRefs(rows []store.LockRow, skip map[txc.XID]bool) []lockRef {
	seen := make(map[string]bool, len(rows))
	var out []lockRef
	for _, r := range rows {
		if skip[r.XID] || !r.XID.Valid() {
			continue
		}
		ref := newLockRef(r)
		if k := string(ref.hash) + "\x00" + ref.xid; !seen[k] {
			seen[k] = true
			out = append(out, ref)
		}
	}
	slices.SortFunc(out, byHash)
	return out
}

// decide answers claims, whose rows are refs, given the rows' current
// holders (by key hash): in order, a claim none of whose rows another
// transaction holds (in the table, or by an earlier claim of the call)
// takes them all. It returns the results and the rows to insert, sorted
// by key (concurrent claims then insert in one order and cannot
// deadlock). held is updated with the rows taken.
func decide(claims []store.LockClaim, refs [][]lockRef, held map[string]txc.XID) ([]store.ClaimResult, []lockRef) {
	results := make([]store.ClaimResult, len(claims))
	var insert []lockRef
	for i, c := range claims {
		if conflict, ok := firstConflict(c.XID, refs[i], held); ok {
			results[i] = store.ClaimResult{Holder: held[string(conflict.hash)], Table: conflict.table}
			continue
		}
		for _, r := range refs[i] {
			if _, ok := held[string(r.hash)]; !ok {
				held[string(r.hash)] = c.XID
				results[i].Added = append(results[i].Added, r.lockRow())
				insert = append(insert, r)
			}
		}
	}
	slices.SortFunc(insert, byHash)
	return results, insert
}

func firstConflict(xid txc.XID, refs []lockRef, held map[string]txc.XID) (lockRef, bool) {
	for _, r := range refs {
		if h, ok := held[string(r.hash)]; ok && h != xid {
			return r, true
		}
	}
	return lockRef{}, false
}

// reconcileDiff compares the rows a partition has in the table (hash ->
// XID) with those it should have: it returns the rows to delete (held by
// another XID of the partition than wanted, or not wanted at all) and the
// wanted rows missing.
func reconcileDiff(have map[string]txc.XID, want []lockRef) (del, ins []lockRef) {
	wanted := make(map[string]string, len(want))
	for _, w := range want {
		wanted[string(w.hash)] = w.xid
		if x, ok := have[string(w.hash)]; !ok || string(x) != w.xid {
			ins = append(ins, w)
		}
	}
	for h, x := range have {
		if w, ok := wanted[h]; !ok || w != string(x) {
			del = append(del, lockRef{hash: []byte(h), xid: string(x)})
		}
	}
	slices.SortFunc(del, byHash)
	slices.SortFunc(ins, byHash)
	return del, ins
}
