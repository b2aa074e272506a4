package cluster

import (
	"context"
	"sync"
)

// seats are the partition elections a node stands in, one candidacy per
// partition, started and withdrawn as the view changes: always its own
// partition; the orphans (recorded partitions whose node is gone) while
// the node is steady.
//
// Steady means registered for a lease's time without a break. A node that
// was itself cut off from etcd (etcd down for all, say) must not take the
// others' missing keys for their death as soon as it is back: they were
// cut off too and re-register as fast as it does. Adoptions already held
// are kept through a break: the hosting rule (hold.go) decides those.
type seats struct {
	ctx   context.Context // the node's run
	own   string
	stand func(ctx context.Context, partition string)

	mu      sync.Mutex
	steady  bool
	orphans map[string]bool
	live    map[string]bool  // partitions stood for now
	latest  map[string]*seat // each partition's latest candidacy, live or ending
	wg      sync.WaitGroup
}

// seat is one candidacy; done closes once it has ended (its host returned,
// the election resigned).
type seat struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func newSeats(ctx context.Context, own string, stand func(context.Context, string)) *seats {
	return &seats{ctx: ctx, own: own, stand: stand, live: map[string]bool{}, latest: map[string]*seat{}}
}

// see records the orphans of the latest view.
func (ss *seats) see(orphans map[string]bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.orphans = orphans
	ss.apply()
}

// setSteady records whether the node is steady.
func (ss *seats) setSteady(steady bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.steady = steady
	ss.apply()
}

// apply makes the node stand for exactly the partitions it wants: it
// starts a candidacy for each new one and withdraws the others (their
// hosts are cancelled; a candidacy resigns once its host returned). A
// partition wanted again before its withdrawn candidacy ended waits for
// that end, so that one node never hosts a partition twice.
func (ss *seats) apply() {
	if ss.ctx.Err() != nil {
		return
	}
	want := map[string]bool{ss.own: true}
	for p := range ss.orphans {
		if ss.steady || ss.live[p] {
			want[p] = true
		}
	}
	for p := range ss.live {
		if !want[p] {
			ss.latest[p].cancel()
			delete(ss.live, p)
		}
	}
	for p := range want {
		if !ss.live[p] {
			ss.live[p] = true
			ss.latest[p] = ss.start(p, ss.latest[p])
		}
	}
}

// start runs a candidacy for p once prev (when set) has ended.
func (ss *seats) start(p string, prev *seat) *seat {
	ctx, cancel := context.WithCancel(ss.ctx)
	s := &seat{cancel: cancel, done: make(chan struct{})}
	ss.wg.Go(func() {
		defer close(s.done)
		defer cancel()
		if prev != nil {
			<-prev.done
		}
		ss.stand(ctx, p)
	})
	return s
}

// wait waits until every candidacy has ended; call it once the node's run
// is done.
func (ss *seats) wait() { ss.wg.Wait() }
