package server

import (
	"time"

	"github.com/txcio/txc/tc"
)

// loop is the only goroutine that touches the partition's core.
func (p *partition) loop(persist chan<- job, persisted <-chan tc.Ready) {
	ticker := time.NewTicker(p.s.cfg.TickInterval)
	defer ticker.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	busy := false // a Ready is with the persister
	for {
		select {
		case <-p.stopping:
			if busy {
				p.core.Advance(<-persisted)
			}
			return
		case in := <-p.inputs:
			now := time.Now()
			p.step(now, in)
			// Take whatever else is already queued: one sync for all of it.
			for more := true; more; {
				select {
				case in = <-p.inputs:
					p.step(now, in)
				default:
					more = false
				}
			}
		case rd := <-persisted:
			busy = false
			p.core.Advance(rd)
		case <-ticker.C:
			p.core.Tick(time.Now())
		case <-timer.C:
			p.core.Tick(time.Now())
		case q := <-p.queries:
			q(p.core)
		}
		if !busy && (p.core.HasReady() || p.force) {
			rd := p.core.Ready()
			// Rows of the shared lock table are freed once their batch is
			// durable: such a batch is not held back.
			eager := p.force || !rd.Lazy() || len(rd.Batch.FreeLocks) > 0
			select {
			case persist <- job{rd: rd, sync: eager}:
				busy = true
				p.force = false
				p.readies.taken++
				// Written or failed with rd from now on: not given back.
				clear(p.stepped)
				p.stepped = p.stepped[:0]
			case <-p.stopping:
				p.left = rd // never written: refuseLeft answers its requests
				return
			}
		}
		if w := p.core.NextWake(); !w.IsZero() {
			timer.Reset(max(time.Until(w), time.Millisecond))
		}
	}
}

func (p *partition) step(now time.Time, in input) {
	for i := range in.msgs {
		p.core.Step(now, in.msgs[i])
	}
	putBatch(in.msgs)
	p.stepped = append(p.stepped, in.claimed...)
}

// freeBatches recycles the input slices: the core copies each Msg, so a
// slice is free once stepped. Unlike a sync.Pool, a channel keeps them
// across garbage collections and takes one back without allocating.
var freeBatches = make(chan []tc.Msg, 64)

// minBatch is the least capacity of a new input slice, so that a recycled
// one usually fits the next frame.
const minBatch = 16

func getBatch(n int) []tc.Msg {
	select {
	case b := <-freeBatches:
		if cap(b) >= n {
			return b
		}
	default:
	}
	return make([]tc.Msg, 0, max(n, minBatch))
}

func putBatch(b []tc.Msg) {
	if cap(b) > 4096 {
		return
	}
	clear(b)
	select {
	case freeBatches <- b[:0]:
	default:
	}
}
