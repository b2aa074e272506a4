package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
)

// partition is one partition of the transactions hosted by this process:
// the XIDs of one node name, decided by a core of their own and made
// durable in a store of their own. Its goroutines are a core loop (the
// only one touching core) and a persister (see the package comment).
type partition struct {
	s      *Server
	name   string
	core   *tc.Core
	store  store.Store
	inputs chan input
	// inMu and sealed: refuseLeft seals the inputs before it drains them,
	// so that nothing enqueued after the drain goes unanswered.
	inMu    sync.RWMutex
	sealed  bool
	queries chan func(*tc.Core)
	readies readyCount
	claims  *claimer // nil without shared locks
	// freesLocks: the store deletes Batch.FreeLocks itself (LockFreer).
	freesLocks bool
	// stepped (core loop only) lists the shared rows claimed for the
	// registrations stepped since the persister took the last Ready: their
	// outcome is not written yet. If the partition stops before it is,
	// refuseLeft gives them back (see giveBack).
	stepped []store.LockRow

	force    bool     // core loop only: sync the next Ready even if lazy
	left     tc.Ready // core loop only: a Ready taken but never handed to the persister
	stopping chan struct{}
	stopOnce sync.Once
	fatalMu  sync.Mutex
	fatal    error
	done     chan struct{} // closed once the loop and the persister ended
}

// newPartition restores partition name from st. With shared locks, the
// shared table is reconciled with the rows the restored core holds before
// anything is served.
func (s *Server) newPartition(ctx context.Context, name string, st store.Store) (*partition, error) {
	cfg := s.cfg.Core
	cfg.Node, cfg.SharedLocks = name, s.cfg.Locks != nil
	core, err := tc.New(cfg)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	state, err := st.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("server: loading state of partition %q: %w", name, err)
	}
	state.NextID = max(state.NextID, firstSequence(state, time.Now()))
	if err := core.Restore(state); err != nil {
		return nil, err
	}
	s.log.Info("state restored", "node", s.Node(), "partition", name, "transactions", len(state.Globals),
		"branches", len(state.Branches), "took", time.Since(start).Round(time.Millisecond))
	p := &partition{s: s, name: name, core: core, store: st,
		inputs:   make(chan input, 4096),
		queries:  make(chan func(*tc.Core)),
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
	}
	if lf, ok := st.(LockFreer); ok {
		p.freesLocks = lf.FreesSharedLocks()
	}
	if s.cfg.Locks != nil {
		if err := s.cfg.Locks.Reconcile(ctx, name, heldRows(core)); err != nil {
			return nil, fmt.Errorf("server: reconciling the shared locks of partition %q: %w", name, err)
		}
		p.claims = newClaimer(p)
	}
	return p, nil
}

// heldRows lists the rows a restored core holds, for SharedLocks.Reconcile.
func heldRows(core *tc.Core) []store.LockRow {
	rows, _ := core.Locks(tc.LockFilter{})
	out := make([]store.LockRow, len(rows))
	for i, r := range rows {
		out[i] = store.LockRow{XID: r.Holder, Resource: r.Resource, Table: r.Table, Row: r.Key}
	}
	return out
}

// start runs the partition's goroutines until stop.
func (p *partition) start() {
	persist := make(chan job)
	persisted := make(chan tc.Ready)
	persisterDone := make(chan struct{})
	go func() { defer close(persisterDone); p.persister(persist, persisted) }()
	go func() {
		p.loop(persist, persisted)
		close(persist)
		<-persisterDone
		p.refuseLeft()
		close(p.done)
	}()
	if p.claims != nil {
		go p.claims.run()
	}
}

// stop makes the partition stop deciding; fatal, if not nil, is the store
// failure that ends it.
func (p *partition) stop(fatal error) {
	if fatal != nil {
		p.fatalMu.Lock()
		if p.fatal == nil {
			p.fatal = fatal
		}
		p.fatalMu.Unlock()
	}
	p.stopOnce.Do(func() { close(p.stopping) })
}

// stopped reports whether the partition stopped deciding.
func (p *partition) stopped() bool {
	select {
	case <-p.stopping:
		return true
	default:
		return false
	}
}

func (p *partition) fatalErr() error {
	p.fatalMu.Lock()
	defer p.fatalMu.Unlock()
	return p.fatal
}

// input is one hand-over to the core loop: requests, in order, and the
// shared-table rows claimed for the registrations among them (those with
// Msg.Claimed), to be given back if they are never decided.
type input struct {
	msgs    []tc.Msg
	claimed []store.LockRow
}

// enqueue hands batch to the core loop; false once the partition stops.
func (p *partition) enqueue(batch []tc.Msg) bool { return p.enqueueClaimed(batch, nil) }

// enqueueClaimed hands batch to the core loop with the rows claimed for
// its registrations; false once the partition stops: the caller answers
// batch and gives the rows back.
func (p *partition) enqueueClaimed(batch []tc.Msg, claimed []store.LockRow) bool {
	p.inMu.RLock()
	defer p.inMu.RUnlock()
	if p.sealed {
		return false
	}
	select {
	case p.inputs <- input{msgs: batch, claimed: claimed}:
		return true
	case <-p.stopping:
		return false
	}
}

// query runs f on the core loop and waits for it.
func (p *partition) query(ctx context.Context, f func(*tc.Core)) error {
	done := make(chan struct{})
	select {
	case p.queries <- func(c *tc.Core) { f(c); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.stopping:
		return txc.Errorf(txc.CodeUnavailable, "server: partition %q stopping", p.name)
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refuseLeft answers, once the partition stopped, what it took and will
// not decide: requests stepped into a Ready that was never written (their
// changes are lost with the core: CodeNotServedHere, or CodeUnavailable
// after a store failure, when a torn write may hold some of them) and
// requests still queued (never seen: CodeNotServedHere). The streams
// stay open when other partitions are still served, so no request may
// be left without an answer. The inputs are sealed before they are
// drained: a request offered later is refused by its sender.
//
// The shared rows claimed for all of these registrations are given back:
// none of them was written. The rows of a Ready the persister took are
// not in stepped: written, a stored branch holds them or the batch frees
// them; failed, the write may be stored in part, and the partition's next
// owner reconciles them from what is.
func (p *partition) refuseLeft() {
	unsure := p.fatalErr() != nil
	for _, rd := range []tc.Ready{p.left, p.core.Ready()} {
		for i := range rd.Replies {
			p.s.refuseReply(&rd.Replies[i], p.refusal(unsure))
		}
	}
	p.inMu.Lock()
	p.sealed = true
	p.inMu.Unlock()
	rows := p.stepped
	for {
		select {
		case in := <-p.inputs:
			for i := range in.msgs {
				p.s.refuse(&in.msgs[i], p.refusal(false))
			}
			putBatch(in.msgs)
			rows = append(rows, in.claimed...)
		default:
			p.giveBack(rows)
			return
		}
	}
}

// refusal is the error for a request the partition will not answer.
func (p *partition) refusal(unsure bool) *txc.Error {
	if unsure {
		return txc.Errorf(txc.CodeUnavailable, "server: the store of partition %q failed; the outcome is unknown", p.name)
	}
	return notServedHere(p.name, p.s.Node())
}
