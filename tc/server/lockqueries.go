package server

import (
	"sync"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
)

// Defaults of Config.LockQueryWorkers and Config.LockQueryBacklog.
const (
	DefaultLockQueryWorkers = 4
	DefaultLockQueryBacklog = 1024
)

// lockQueries answers lock queries from the shared table (Config.Locks)
// off the streams' readers and every core loop, with at most workers
// queries running at once (each holds a connection of the table) and at
// most backlog more waiting, in arrival order. A query over the backlog
// is refused with txc.CodeUnavailable: a flood of queries costs bounded
// goroutines, memory and connections. Workers are started on demand and
// end when nothing waits.
type lockQueries struct {
	s       *Server
	workers int // the most running at once
	backlog int // the most waiting

	mu      sync.Mutex
	queue   []tc.Msg
	running int
}

func newLockQueries(s *Server, workers, backlog int) *lockQueries {
	if workers <= 0 {
		workers = DefaultLockQueryWorkers
	}
	if backlog <= 0 {
		backlog = DefaultLockQueryBacklog
	}
	return &lockQueries{s: s, workers: workers, backlog: backlog}
}

// add queues msg for a worker, starting one if fewer than workers run;
// false means the backlog is full and msg was not taken.
func (q *lockQueries) add(msg tc.Msg) bool {
	q.mu.Lock()
	if len(q.queue) >= q.backlog {
		q.mu.Unlock()
		return false
	}
	q.queue = append(q.queue, msg)
	start := q.running < q.workers
	if start {
		q.running++
	}
	q.mu.Unlock()
	if start {
		go q.work()
	}
	return true
}

// work answers queued queries until none waits.
func (q *lockQueries) work() {
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.running--
			q.queue = nil // a flood's backing array is not kept
			q.mu.Unlock()
			return
		}
		msg := q.queue[0]
		q.queue[0] = tc.Msg{}
		q.queue = q.queue[1:]
		q.mu.Unlock()
		q.s.answer(q.s.queryShared(&msg))
	}
}

// queryShared answers one lock query from the shared table.
func (s *Server) queryShared(msg *tc.Msg) *tc.Reply {
	ctx, cancel := s.lockContext()
	defer cancel()
	r := &tc.Reply{Conn: msg.Conn, ID: msg.ID, Kind: msg.Kind}
	holder, locked, err := s.cfg.Locks.Query(ctx, msg.XID, msg.ResourceID, msg.LockKeys)
	if err != nil {
		r.Err = txc.Errorf(txc.CodeUnavailable, "server: the shared lock table cannot be reached: %v", err)
	}
	r.Locked, r.Holder = locked, holder
	return r
}

// tooManyLockQueries refuses a lock query over the backlog.
func tooManyLockQueries(backlog int) *txc.Error {
	return txc.Errorf(txc.CodeUnavailable, "server: %d lock queries wait for the shared lock table already; try again later", backlog)
}
