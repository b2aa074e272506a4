package server

import (
	"fmt"
	"time"

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

// DefaultFreeWindow is how long a failing Free of shared rows is tried
// again when Config.StoreTimeout is 0.
const DefaultFreeWindow = 10 * time.Second

// Backoff between attempts of a failing Free.
const (
	freeBackoffMin = 10 * time.Millisecond
	freeBackoffMax = 500 * time.Millisecond
)

// freeShared frees the shared rows b released, now that b is durable
// (persister only). A Free that fails is tried again, with backoff, for
// up to the store timeout (DefaultFreeWindow without one). Meanwhile the
// Ready stays with the persister: no other batch is written, and the core
// keeps refusing a claim of these rows by their own transaction
// (tc/freeing.go), which a row deleted later would otherwise betray.
// Nothing is kept past b, so memory stays bounded by one batch.
//
// Rows still not freed at the end stay in the table, where they only
// refuse registrations: the partition steps out (a fatal error, as after
// a failed store write; b's replies still go out, b is durable) so that
// its next owner's Reconcile deletes them. A stop asked meanwhile ends
// the attempts the same way, without the error.
func (p *partition) freeShared(b *store.Batch) {
	locks := p.s.cfg.Locks
	if locks == nil || p.freesLocks || len(b.FreeLocks) == 0 {
		return
	}
	ctx, cancel := p.s.lockContext()
	defer cancel()
	wait := freeBackoffMin
	for {
		err := locks.Free(ctx, b.FreeLocks)
		if err == nil {
			return
		}
		p.s.log.Warn("freeing shared lock rows failed; trying again", "partition", p.name,
			"rows", len(b.FreeLocks), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
			wait = min(2*wait, freeBackoffMax)
			continue
		case <-ctx.Done():
			p.stop(fmt.Errorf("server: freeing %d shared lock rows of partition %q failed until its deadline; "+
				"stepping out so that the partition's next owner reconciles them: %w", len(b.FreeLocks), p.name, err))
		case <-p.stopping:
			p.s.log.Warn("partition stopping with shared lock rows not freed; its next owner reconciles them",
				"partition", p.name, "rows", len(b.FreeLocks))
		}
		t.Stop()
		return
	}
}

// giveBack frees rows claimed for registrations the partition refused
// without writing them (they were free before their claims), when it
// stops. A Free that fails leaves them to the partition's next owner,
// whose Reconcile deletes every row no stored branch holds.
func (p *partition) giveBack(rows []store.LockRow) {
	if len(rows) == 0 {
		return
	}
	ctx, cancel := p.s.lockContext()
	defer cancel()
	if err := p.s.cfg.Locks.Free(ctx, rows); err != nil {
		p.s.log.Warn("freeing the rows of refused registrations failed; the partition's next owner reconciles them",
			"partition", p.name, "rows", len(rows), "err", err)
	}
}
