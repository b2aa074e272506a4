package cluster_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/internal/etcdtest"
	"github.com/txcio/txc/internal/logtest"
)

// hosts records which node hosts which partition. A host starting while
// another node hosts the same partition fails the test: in production the
// store's owner lock is that fence, here the test asserts it.
type hosts struct {
	t      *testing.T
	logs   logtest.Buffer // every node's log, shown when the test fails
	mu     sync.Mutex
	holder map[string]string // partition → node hosting it
	ended  int               // hosts that returned
	// fail, when set, is called as a host starts; an error from it is
	// returned at once, as a store that failed would.
	fail func(node, partition string) error
}

func newHosts(t *testing.T) *hosts {
	h := &hosts{t: t, holder: map[string]string{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nodes' log:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *hosts) fn(node string) cluster.Host {
	return func(ctx context.Context, p string) error {
		h.mu.Lock()
		if other, ok := h.holder[p]; ok {
			h.t.Errorf("%s started hosting %s while %s hosts it", node, p, other)
		}
		h.holder[p] = node
		fail := h.fail
		h.mu.Unlock()
		defer func() {
			h.mu.Lock()
			if h.holder[p] == node {
				delete(h.holder, p)
			}
			h.ended++
			h.mu.Unlock()
		}()
		if fail != nil {
			if err := fail(node, p); err != nil {
				return err
			}
		}
		<-ctx.Done()
		return nil
	}
}

// now returns who hosts what and how many hosts have returned.
func (h *hosts) now() (map[string]string, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.holder), h.ended
}

// waitFor waits until cond holds, failing the test with what after within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// active is a running node.
type active struct {
	n      *cluster.Node
	cancel context.CancelFunc
	done   chan struct{} // closed when RunPartitions returned, with err
	err    error
}

func startActive(t *testing.T, ep, name string, h *hosts) *active {
	t.Helper()
	return startActiveWith(t, cluster.Config{Endpoints: []string{ep}, Prefix: "/p-" + t.Name(), Node: name, Addr: name + ":1",
		TTL: 2 * time.Second, Logger: h.logs.Logger()}, h)
}

// startActiveWith runs a node of cfg.
func startActiveWith(t *testing.T, cfg cluster.Config, h *hosts) *active {
	t.Helper()
	n, err := cluster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &active{n: n, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(a.done); a.err = n.RunPartitions(ctx, h.fn(cfg.Node)) }()
	t.Cleanup(func() { a.stop(t); n.Close() })
	return a
}

// stop ends the node's run and waits for it.
func (a *active) stop(t *testing.T) {
	t.Helper()
	a.cancel()
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
		t.Fatal("RunPartitions did not return within 30s of its context ending")
	}
}

// kill ends the node as a killed process would: its etcd client goes
// first, so it resigns nothing and its lease runs out.
func (a *active) kill(t *testing.T) {
	a.n.Die()
	a.stop(t)
}

// settled reports whether every node hosts its own partition alone and
// sees every partition owned by its node.
func settled(h *hosts, nodes map[string]*active) bool {
	holder, _ := h.now()
	owners := map[string]string{}
	for name := range nodes {
		if holder[name] != name {
			return false
		}
		owners[name] = name + ":1"
	}
	if len(holder) != len(nodes) {
		return false
	}
	for name, a := range nodes {
		if !slices.Equal(a.n.Hosting(), []string{name}) || !maps.Equal(a.n.Owners(), owners) {
			return false
		}
	}
	return true
}

func startThree(t *testing.T, ep string, h *hosts) map[string]*active {
	nodes := map[string]*active{}
	for _, name := range []string{"a", "b", "c"} {
		nodes[name] = startActive(t, ep, name, h)
	}
	waitFor(t, 15*time.Second, "each node hosts its own partition", func() bool { return settled(h, nodes) })
	return nodes
}

func TestPartitionsEachNodeHostsItsOwn(t *testing.T) {
	etcd := etcdtest.Start(t)
	h := newHosts(t)
	nodes := startThree(t, etcd.Endpoint, h)
	// A graceful stop resigns and ends the host; the partition stays
	// recorded and is adopted by one of the others.
	nodes["c"].stop(t)
	delete(nodes, "c")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, key := range []string{cluster.NodeKey("/p-"+t.Name(), "c"), cluster.OwnerElection("/p-"+t.Name(), "c") + "/"} {
		resp, err := etcd.Client(t).Get(ctx, key, clientv3.WithPrefix())
		if err != nil || len(resp.Kvs) > 0 && string(resp.Kvs[0].Value) == "c:1" {
			t.Fatalf("after c stopped, %s: %v, %v", key, resp, err)
		}
	}
	waitFor(t, 10*time.Second, "a or b hosts c", func() bool {
		holder, _ := h.now()
		return holder["c"] == "a" || holder["c"] == "b"
	})
	holder, _ := h.now()
	adopter := nodes[holder["c"]].n
	waitFor(t, 5*time.Second, "Hosting and Owners show the adoption", func() bool {
		return slices.Equal(adopter.Hosting(), slices.Sorted(slices.Values([]string{"c", holder["c"]}))) && adopter.Owners()["c"] == holder["c"]+":1"
	})
}

func TestPartitionsAdoptedAndHandedBack(t *testing.T) {
	etcd := etcdtest.Start(t)
	h := newHosts(t)
	nodes := startThree(t, etcd.Endpoint, h)
	killed := time.Now()
	nodes["b"].kill(t)
	waitFor(t, 8*time.Second, "a or c hosts b", func() bool {
		holder, _ := h.now()
		return holder["b"] == "a" || holder["b"] == "c"
	})
	t.Logf("b adopted %v after it was killed", time.Since(killed).Round(time.Millisecond))
	nodes["b"] = startActive(t, etcd.Endpoint, "b", h)
	waitFor(t, 15*time.Second, "b hosts b again, each node its own", func() bool { return settled(h, nodes) })
}

func TestPartitionsHostFailureCampaignsAgain(t *testing.T) {
	etcd := etcdtest.Start(t)
	h := newHosts(t)
	failed := make(chan struct{})
	var once sync.Once
	h.fail = func(node, p string) error {
		var err error
		if node == "a" && p == "a" {
			once.Do(func() { err = errors.New("store failed"); close(failed) })
		}
		return err
	}
	nodes := map[string]*active{"a": startActive(t, etcd.Endpoint, "a", h), "b": startActive(t, etcd.Endpoint, "b", h)}
	select {
	case <-failed:
	case <-time.After(15 * time.Second):
		t.Fatal("a never hosted a")
	}
	waitFor(t, 15*time.Second, "a hosts a again", func() bool { return settled(h, nodes) })
}

func TestPartitionsKeepHostingWhileEtcdIsDown(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client(t)
	h := newHosts(t)
	nodes := startThree(t, etcd.Endpoint, h)
	before := ownerLeases(t, cli)
	_, ended := h.now()
	etcd.Stop()
	// Three lease lengths without etcd: no host may have been cancelled.
	for deadline := time.Now().Add(6 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		holder, e := h.now()
		if e != ended || len(holder) != 3 {
			t.Fatalf("while etcd was down: hosts %v, %d ended", holder, e-ended)
		}
	}
	etcd.Restart()
	back := time.Now()
	waitFor(t, 20*time.Second, "each node owns its partition again, with a new lease", func() bool {
		now := ownerLeases(t, cli)
		for _, p := range []string{"a", "b", "c"} {
			if now[p] == 0 || now[p] == before[p] {
				return false
			}
		}
		return settled(h, nodes)
	})
	t.Logf("settled %v after etcd came back", time.Since(back).Round(time.Millisecond))
	if _, e := h.now(); e != ended {
		t.Errorf("%d hosts ended around etcd's outage", e-ended)
	}
}

// ownerLeases maps each partition whose owner is its own node to the
// lease of the owner's election key.
func ownerLeases(t *testing.T, cli *clientv3.Client) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	leases := map[string]int64{}
	for _, p := range []string{"a", "b", "c"} {
		resp, err := cli.Get(ctx, cluster.OwnerElection("/p-"+t.Name(), p)+"/", clientv3.WithFirstCreate()...)
		if err == nil && len(resp.Kvs) == 1 && string(resp.Kvs[0].Value) == p+":1" {
			leases[p] = resp.Kvs[0].Lease
		}
	}
	return leases
}

// TestPartitionsCutOffNodeStepsOut: node a's store is out of reach (its
// host fails at once, and its Check too, as while a link to the database
// is cut) when it starts: a leaves the cluster, b adopts a's partition and drives it; once a's
// Check passes, a registers again and gets its partition back.
func TestPartitionsCutOffNodeStepsOut(t *testing.T) {
	etcd := etcdtest.Start(t)
	h := newHosts(t)
	var cut atomic.Bool
	errCut := errors.New("store out of reach")
	h.fail = func(node, p string) error {
		if node == "a" && cut.Load() {
			return errCut
		}
		return nil
	}
	cfg := func(name string) cluster.Config {
		return cluster.Config{Endpoints: []string{etcd.Endpoint}, Prefix: "/p-" + t.Name(), Node: name, Addr: name + ":1",
			TTL: 2 * time.Second, Logger: h.logs.Logger(), Check: func(context.Context) error {
				if name == "a" && cut.Load() {
					return errCut
				}
				return nil
			}}
	}
	nodes := map[string]*active{"a": startActiveWith(t, cfg("a"), h), "b": startActiveWith(t, cfg("b"), h)}
	waitFor(t, 15*time.Second, "each node hosts its own", func() bool { return settled(h, nodes) })
	cut.Store(true)
	// a restarts while its store is out of reach: its host fails at once.
	nodes["a"].kill(t)
	nodes["a"] = startActiveWith(t, cfg("a"), h)
	waitFor(t, 15*time.Second, "b adopts a's partition while a cannot serve", func() bool {
		holder, _ := h.now()
		return holder["a"] == "b"
	})
	if got := nodes["a"].n.Hosting(); len(got) != 0 {
		t.Fatalf("a, cut off, hosts %v", got)
	}
	cut.Store(false)
	waitFor(t, 20*time.Second, "a hosts its own again", func() bool { return settled(h, nodes) })
}
