package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
)

// heldQueries holds every Query until release, counting those running.
type heldQueries struct {
	store.SharedLocks
	running, most atomic.Int64
	release       chan struct{}
}

func (h *heldQueries) Query(ctx context.Context, xid txc.XID, resource string, keys []txc.LockKey) (txc.XID, bool, error) {
	n := h.running.Add(1)
	defer h.running.Add(-1)
	for m := h.most.Load(); n > m && !h.most.CompareAndSwap(m, n); m = h.most.Load() {
	}
	<-h.release
	return h.SharedLocks.Query(ctx, xid, resource, keys)
}

// A flood of lock queries runs at most LockQueryWorkers of them on the
// shared table at once, queues LockQueryBacklog more and refuses the
// rest at once with txc.ErrUnavailable.
func TestLockQueriesBounded(t *testing.T) {
	const workers, backlog, n = 2, 3, 12
	locks := &heldQueries{SharedLocks: memstore.NewLocks(), release: make(chan struct{})}
	r := startWith(t, Config{Core: tc.Config{Node: "a"}, Locks: locks, LockQueryWorkers: workers, LockQueryBacklog: backlog})
	conn := dial(t, r.addr)
	var refused atomic.Int64
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, _, err := conn.LockQuery(context.Background(), "", "db", []txc.LockKey{{Table: "t", Rows: []string{"1"}}})
			if errors.Is(err, txc.ErrUnavailable) {
				refused.Add(1)
			}
			errs <- err
		})
	}
	var once sync.Once
	open := func() { once.Do(func() { close(locks.release) }) }
	t.Cleanup(open)
	q := r.srv.lockQueries
	queued := func() int64 {
		q.mu.Lock()
		defer q.mu.Unlock()
		return int64(len(q.queue))
	}
	waitFor(t, "every query running, queued or refused", func() bool {
		return refused.Load()+locks.running.Load()+queued() == n
	})
	if run, wait := locks.running.Load(), queued(); run > workers || wait > backlog || refused.Load() < n-workers-backlog {
		t.Fatalf("%d queries running, %d waiting, %d refused", run, wait, refused.Load())
	}
	open()
	wg.Wait()
	close(errs)
	answered := 0
	for err := range errs {
		if err == nil {
			answered++
		} else if !errors.Is(err, txc.ErrUnavailable) {
			t.Fatalf("lock query = %v", err)
		}
	}
	if answered != n-int(refused.Load()) {
		t.Fatalf("%d queries answered and %d refused of %d", answered, refused.Load(), n)
	}
	if m := locks.most.Load(); m > workers {
		t.Fatalf("%d queries ran at once, at most %d wanted", m, workers)
	}
}
