package server

import (
	"fmt"
	"sync"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
)

// claimer takes the shared-table rows of a partition's registrations
// (Config.Locks) before its core sees them. Registrations that arrive
// while a Claim is in flight wait and are claimed together in the next
// one (group claiming, as the persister's group commit).
//
// A stream's requests about a partition must reach its core in the order
// the stream sent them (a pipelined Begin, Register, Commit): while a
// stream has a registration with the claimer, its later requests for the
// partition queue behind it, even those that claim nothing.
type claimer struct {
	p *partition

	mu      sync.Mutex
	queue   []claimItem
	pending map[tc.ConnID]int // items of each stream queued or being claimed
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
}

type claimItem struct {
	c     *conn
	msg   tc.Msg
	claim bool // take the rows of msg.LockKeys first
}

func newClaimer(p *partition) *claimer {
	return &claimer{p: p, pending: map[tc.ConnID]int{}, wake: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}
}

// offer queues msg if it needs a claim or if c has requests queued here
// already; false means msg was not taken and goes to the core directly.
func (cl *claimer) offer(c *conn, msg *tc.Msg, claim bool) bool {
	cl.mu.Lock()
	if !claim && cl.pending[c.id] == 0 {
		cl.mu.Unlock()
		return false
	}
	cl.queue = append(cl.queue, claimItem{c: c, msg: *msg, claim: claim})
	cl.pending[c.id]++
	cl.mu.Unlock()
	select {
	case cl.wake <- struct{}{}:
	default:
	}
	return true
}

// run claims what is queued, one Claim per round, until stop. What is
// queued once the partition stops is refused unclaimed (nothing is queued
// after stop: the partition no longer receives requests then).
func (cl *claimer) run() {
	defer close(cl.done)
	var items []claimItem
	for {
		stopping := false
		select {
		case <-cl.wake:
		case <-cl.quit:
			stopping = true
		}
		cl.mu.Lock()
		items, cl.queue = cl.queue, items[:0]
		cl.mu.Unlock()
		switch {
		case len(items) == 0:
		case stopping || cl.p.stopped():
			cl.refuse(items)
		default:
			cl.serve(items)
		}
		cl.settle(items)
		clear(items)
		if stopping {
			return
		}
	}
}

// stop ends run; what is queued is refused.
func (cl *claimer) stop() {
	if cl == nil {
		return
	}
	close(cl.quit)
	<-cl.done
}

// serve claims the rows of items in one call, answers the refused ones
// and hands the rest to the core in order, with the rows claimed for
// them: if the partition stops before they are decided, those rows are
// given back (refuseBatch, or the partition's refuseLeft).
func (cl *claimer) serve(items []claimItem) {
	s := cl.p.s
	results, err := cl.claimAll(items)
	batch := getBatch(len(items))
	var added []store.LockRow
	k := 0
	for i := range items {
		it := &items[i]
		if it.claim {
			r := claimResult(results, k, err, &it.msg)
			k++
			switch {
			case r.err != nil && r.err.Code == txc.CodeLockConflict:
				// The core refuses it, naming the holder, unless the
				// transaction is no longer open: then it says that.
				it.msg.HeldBy, it.msg.HeldTable = r.err.Holder, r.table
			case r.err != nil:
				s.answer(&tc.Reply{Conn: it.msg.Conn, ID: it.msg.ID, Kind: it.msg.Kind, Err: r.err})
				continue
			default:
				it.msg.Claimed = true
				it.msg.Found = foundRows(&it.msg, r.added)
				added = append(added, r.added...)
			}
		}
		batch = append(batch, it.msg)
	}
	if len(batch) > 0 && !cl.p.enqueueClaimed(batch, added) {
		cl.refuseBatch(batch, added)
	}
}

// refuse answers items, unclaimed, for a partition that stopped.
func (cl *claimer) refuse(items []claimItem) {
	for i := range items {
		cl.p.s.refuse(&items[i].msg, cl.p.refusal(false))
	}
}

// settle counts items as no longer queued for their streams.
func (cl *claimer) settle(items []claimItem) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for i := range items {
		if cl.pending[items[i].c.id]--; cl.pending[items[i].c.id] <= 0 {
			delete(cl.pending, items[i].c.id)
		}
	}
}

// claimAll makes the one Claim call for the claiming items.
func (cl *claimer) claimAll(items []claimItem) ([]store.ClaimResult, error) {
	claims := make([]store.LockClaim, 0, len(items))
	for i := range items {
		if m := &items[i].msg; items[i].claim {
			claims = append(claims, store.LockClaim{XID: m.XID, Resource: m.ResourceID, Keys: m.LockKeys})
		}
	}
	if len(claims) == 0 {
		return nil, nil
	}
	ctx, cancel := cl.p.s.lockContext()
	defer cancel()
	res, err := cl.p.s.cfg.Locks.Claim(ctx, claims)
	if err == nil && len(res) != len(claims) {
		err = fmt.Errorf("%d results for %d claims", len(res), len(claims))
	}
	if err != nil {
		cl.p.s.log.Warn("claiming shared lock rows failed", "partition", cl.p.name, "claims", len(claims), "err", err)
	}
	return res, err
}

// claimOutcome is what one claim of a Claim call came to.
type claimOutcome struct {
	err   *txc.Error // the registration's refusal; nil when its rows are taken
	table string     // the conflicting rows' table
	added []store.LockRow
}

// claimResult reads the outcome of the k-th claim, made for m, of a call
// that returned results and err.
func claimResult(results []store.ClaimResult, k int, err error, m *tc.Msg) claimOutcome {
	if err != nil {
		return claimOutcome{err: &txc.Error{Code: txc.CodeUnavailable, XID: m.XID,
			Message: fmt.Sprintf("server: the shared lock table cannot be reached; nothing was registered: %v", err)}}
	}
	r := &results[k]
	if r.Holder == "" {
		return claimOutcome{added: r.Added}
	}
	return claimOutcome{table: r.Table, err: &txc.Error{Code: txc.CodeLockConflict, XID: m.XID, Holder: r.Holder,
		Message: fmt.Sprintf("server: lock conflict on resource %s: rows of %s held by %s", m.ResourceID, r.Table, r.Holder)}}
}

// refuseBatch answers a batch the partition stopped before taking, and
// gives back the rows claimed for it: they were free before.
func (cl *claimer) refuseBatch(batch []tc.Msg, added []store.LockRow) {
	for i := range batch {
		cl.p.s.refuse(&batch[i], cl.p.refusal(false))
	}
	putBatch(batch)
	cl.p.giveBack(added)
}

// foundRows lists the rows of m's keys its claim did not insert (added):
// those it found held by m's XID already (tc.Msg.Found).
func foundRows(m *tc.Msg, added []store.LockRow) []store.LockRow {
	n := 0
	for _, k := range m.LockKeys {
		n += len(k.Rows)
	}
	if n == len(added) {
		return nil
	}
	type tableRow struct{ table, row string }
	inserted := make(map[tableRow]bool, len(added))
	for _, a := range added {
		inserted[tableRow{a.Table, a.Row}] = true
	}
	var found []store.LockRow
	for _, k := range m.LockKeys {
		for _, row := range k.Rows {
			if !inserted[tableRow{k.Table, row}] {
				found = append(found, store.LockRow{XID: m.XID, Resource: m.ResourceID, Table: k.Table, Row: row})
			}
		}
	}
	return found
}
