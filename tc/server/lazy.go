package server

import (
	"fmt"
	"time"

	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
)

// lazyWrites holds back the batches of lazy Readies (tc.Ready.Lazy: no
// reply and no command depends on them) until a Ready that must be synced
// carries them to the store, in order, in the same Apply; or until timer
// fires (Config.LazyWriteDelay) with no such Ready. Owned by the
// persister.
type lazyWrites struct {
	batch   store.Batch
	readies uint64      // how many Readies batch holds
	timer   *time.Timer // set while batch holds something; its firing calls for a write
	delay   time.Duration
}

// write makes rd's batch durable with one sync, together with the batches
// held back before it; or, when sync is false, holds rd's batch back with
// them. It reports false if the store failed: the server is stopping then.
func (p *partition) write(lw *lazyWrites, rd *tc.Ready, sync bool) bool {
	b := &rd.Batch
	switch {
	case !sync && b.Empty() && lw.readies == 0:
		p.readies.persisted(1)
		return true
	case !sync:
		if lw.readies == 0 {
			lw.timer.Reset(lw.delay)
		}
		lw.batch.Append(b)
		lw.readies++
		return true
	case lw.readies == 0:
		if !p.sync(b) {
			return false
		}
		p.readies.persisted(1)
		return true
	}
	lw.batch.Append(b)
	lw.readies++
	return p.writeHeld(lw)
}

// writeHeld makes what lw holds back durable with one sync (when its timer
// fires, or with a Ready that must be synced).
func (p *partition) writeHeld(lw *lazyWrites) bool {
	if lw.readies == 0 {
		return true
	}
	if !p.sync(&lw.batch) {
		return false
	}
	p.readies.persisted(lw.readies)
	lw.batch = store.Batch{}
	lw.readies = 0
	lw.timer.Stop()
	return true
}

// sync applies b to the store with one sync; a failure stops the
// partition (and, for the process's own partition of a single node, the
// server).
func (p *partition) sync(b *store.Batch) bool {
	if b.Empty() {
		return true
	}
	start := time.Now()
	if err := p.apply(b); err != nil {
		p.s.log.Error("store write failed; stopping so that a restart reloads the durable state", "partition", p.name, "err", err)
		p.stop(fmt.Errorf("server: store write of partition %q failed: %w", p.name, err))
		return false
	}
	p.s.metrics.observeSync(time.Since(start), b)
	return true
}

// flushLazy writes what lw holds back, at a clean stop: a restart then has
// fewer phase-2 commands to send again.
func (p *partition) flushLazy(lw *lazyWrites) {
	lw.timer.Stop()
	if lw.readies == 0 || p.fatalErr() != nil {
		return
	}
	if err := p.apply(&lw.batch); err != nil {
		p.s.log.Warn("writing the held-back batches at shutdown failed; a restart sends their phase-2 commands again", "partition", p.name, "err", err)
	}
}
