package server

import (
	"context"

	"github.com/txcio/txc/tc/store"
)

// LockFreer is implemented by a store that lives beside the shared lock
// table (Config.Locks) and deletes a batch's FreeLocks in the same atomic
// change as the rest of the batch. For any other store the persister
// frees them through Config.Locks right after the batch is durable:
// never before, since a row freed for a change that is then lost could
// be claimed by another transaction while the restored one still holds it.
type LockFreer interface {
	FreesSharedLocks() bool
}

// freeShared frees the shared rows b released, now that b is durable
// (persister only). A Free that fails is tried again after the next
// write: meanwhile the rows only refuse registrations, they lose nothing.
func (p *partition) freeShared(ctx context.Context, b *store.Batch) {
	locks := p.s.cfg.Locks
	if locks == nil || p.freesLocks || len(b.FreeLocks)+len(p.unfreed) == 0 {
		return
	}
	rows := append(p.unfreed, b.FreeLocks...)
	if err := locks.Free(ctx, rows); err != nil {
		p.s.log.Warn("freeing shared lock rows failed; trying again after the next write", "partition", p.name,
			"rows", len(rows), "err", err)
		p.unfreed = rows
		return
	}
	clear(rows)
	p.unfreed = rows[:0]
}

// giveBack frees rows claimed for registrations the partition refused
// without writing them (they were free before their claims), when it
// stops. A Free that fails leaves them to the partition's next owner,
// whose Reconcile deletes every row no stored branch holds.
func (p *partition) giveBack(rows []store.LockRow) {
	if len(rows) == 0 {
		return
	}
	ctx, cancel := p.s.storeContext()
	defer cancel()
	if err := p.s.cfg.Locks.Free(ctx, rows); err != nil {
		p.s.log.Warn("freeing the rows of refused registrations failed; the partition's next owner reconciles them",
			"partition", p.name, "rows", len(rows), "err", err)
	}
}
