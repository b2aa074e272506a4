package tc

import (
	"fmt"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

// With shared locks a row this core freed stays in the shared table until
// the batch carrying its FreeLocks is applied. A claim of the same XID
// for that row in the meantime finds it held by that XID already and so
// adds nothing; were the core to accept the registration, applying the
// batch would then delete a row the core holds again, and another node
// could take it. Such a registration is refused as a lock conflict with
// its own transaction, to be retried (as any conflict is) once the free
// is applied, when a new claim inserts the row.

//
// The freeing may also have been applied between the claim and the core
// seeing the registration: the claim reports the rows it found held
// (Msg.Found), and each must still be held in the core's own lock table.

// freeingConflict returns the refusal of a claimed registration m that
// wants a row whose freeing is not applied yet, or that its claim found
// held by m's XID while the core no longer holds it; or nil.
func (c *Core) freeingConflict(m *Msg) *txc.Error {
	if !m.Claimed || !c.cfg.SharedLocks {
		return nil
	}
	if !freesAny(c.rd.Batch.FreeLocks, m) && !freesAny(c.inflightFree, m) && c.locks.HoldsAll(m.XID, m.Found) {
		return nil
	}
	return &txc.Error{Code: txc.CodeLockConflict, XID: m.XID, Holder: m.XID,
		Message: fmt.Sprintf("tc: rows on resource %s are being released by %s itself; retry", m.ResourceID, m.XID)}
}

// freesAny reports whether rows frees a row of m's keys for m's XID.
func freesAny(rows []store.LockRow, m *Msg) bool {
	for i := range rows {
		r := &rows[i]
		if r.XID != m.XID || r.Resource != m.ResourceID {
			continue
		}
		for _, k := range m.LockKeys {
			if k.Table != r.Table {
				continue
			}
			for _, row := range k.Rows {
				if row == r.Row {
					return true
				}
			}
		}
	}
	return false
}
