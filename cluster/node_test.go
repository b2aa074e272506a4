package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/internal/etcdtest"
)

// leads counts how many nodes lead at once and who led last.
type leads struct {
	mu      sync.Mutex
	now     int
	most    int
	last    string
	started chan string
}

func newLeads() *leads { return &leads{started: make(chan string, 16)} }

func (l *leads) fn(name string) cluster.Lead {
	return func(ctx context.Context) error {
		l.mu.Lock()
		l.now++
		l.most = max(l.most, l.now)
		l.last = name
		l.mu.Unlock()
		l.started <- name
		<-ctx.Done()
		l.mu.Lock()
		l.now--
		l.mu.Unlock()
		return nil
	}
}

func (l *leads) next(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case n := <-l.started:
		return n
	case <-time.After(within):
		t.Fatalf("no node started leading within %v", within)
		return ""
	}
}

type running struct {
	n      *cluster.Node
	cancel context.CancelFunc
	done   chan struct{}
	runErr chan error
}

func start(t *testing.T, ep, name string, l *leads) *running {
	t.Helper()
	return startWith(t, cluster.Config{Endpoints: []string{ep}, Prefix: "/t-" + t.Name(), Node: name, Addr: name + ":1", TTL: 2 * time.Second}, l)
}

// startWith runs a node of cfg; its Run's error arrives on runErr.
func startWith(t *testing.T, cfg cluster.Config, l *leads) *running {
	t.Helper()
	n, err := cluster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{n: n, cancel: cancel, done: make(chan struct{}), runErr: make(chan error, 1)}
	go func() { defer close(r.done); r.runErr <- n.Run(ctx, l.fn(cfg.Node)) }()
	t.Cleanup(func() { r.stop(); n.Close() })
	return r
}

func (r *running) stop() { r.cancel(); <-r.done }

func TestOneLeaderAndHandOver(t *testing.T) {
	etcd := etcdtest.Start(t)
	l := newLeads()
	nodes := map[string]*running{}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("n%d", i)
		nodes[name] = start(t, etcd.Endpoint, name, l)
	}
	first := l.next(t, 10*time.Second)
	// A graceful stop resigns: another node leads at once.
	nodes[first].stop()
	second := l.next(t, 5*time.Second)
	if second == first {
		t.Fatalf("%s led again after stopping", first)
	}
	// A node that dies (its etcd client gone, no resignation) is replaced
	// once its lease runs out.
	began := time.Now()
	nodes[second].n.Die()
	third := l.next(t, 10*time.Second)
	if third == second || third == first {
		t.Fatalf("leader after %s died is %s", second, third)
	}
	t.Logf("takeover after a dead leader took %v", time.Since(began).Round(time.Millisecond))
	if l.most > 2 {
		// The dead node's Lead still runs (its context ends only when its
		// Run notices); the store's owner lock is what keeps it from
		// deciding. Two at most: the dead one and the new one.
		t.Fatalf("%d nodes led at once", l.most)
	}
	for deadline := time.Now().Add(5 * time.Second); nodes[third].n.Leader() != third+":1"; {
		if time.Now().After(deadline) {
			t.Fatalf("leader seen by %s is %q", third, nodes[third].n.Leader())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLeaderKeepsLeadingWhileEtcdIsDown(t *testing.T) {
	etcd := etcdtest.Start(t)
	l := newLeads()
	var stopped atomic.Bool
	a := start(t, etcd.Endpoint, "a", l)
	_ = a
	first := l.next(t, 10*time.Second)
	b := start(t, etcd.Endpoint, "b", l)
	_ = b
	etcd.Stop()
	// Three lease lengths without etcd: the leader must not have stepped
	// down (its Lead's context would have ended and decremented now).
	deadline := time.Now().Add(6 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		now := l.now
		l.mu.Unlock()
		if now != 1 {
			stopped.Store(true)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if stopped.Load() {
		t.Fatalf("leader %s stopped leading while etcd was down", first)
	}
	etcd.Restart()
	// Back online: the leader confirms itself with a new lease, or hands
	// over; either way exactly one node leads.
	deadline = time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		now := l.now
		l.mu.Unlock()
		if now == 1 && (a.n.Leading() != b.n.Leading()) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("after etcd came back: a leading %v, b leading %v", a.n.Leading(), b.n.Leading())
}
