package resolver

import (
	"errors"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/internal/etcdtest"
	"github.com/txcio/txc/internal/logtest"
)

// watch starts a Watcher on endpoint and prefix, closed when the test ends.
func watch(t *testing.T, endpoint, prefix string, logs *logtest.Buffer, opts ...EtcdOption) *Watcher {
	t.Helper()
	w, err := Watch([]string{endpoint}, prefix, append(opts, WithLogger(logs.Logger()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// waitState waits (up to 10 s) until the Watcher's state satisfies ok.
func waitState(t *testing.T, w *Watcher, what string, ok func(State) bool) State {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		st, changed := w.State()
		if ok(st) {
			return st
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("waited 10 s for %s; state %+v", what, st)
		}
	}
}

// waitNodesOwners waits for exactly these nodes and owners.
func waitNodesOwners(t *testing.T, w *Watcher, nodes, owners map[string]string) {
	t.Helper()
	waitState(t, w, "nodes and owners", func(s State) bool {
		return maps.Equal(s.Nodes, nodes) && maps.Equal(s.Owners, owners) && s.Err == nil
	})
}

// TestWatcher: before any node the state says so; then nodes and owners
// follow the keys (the owner of a partition is its candidate created
// first, the next one once that key is gone); when no node key is left
// the last nodes stay.
func TestWatcher(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client(t)
	var logs logtest.Buffer
	w := watch(t, etcd.Endpoint, "/it", &logs)
	waitState(t, w, "no node", func(s State) bool { return errors.Is(s.Err, errNoNode) })

	lease, err := cli.Grant(t.Context(), 30)
	if err != nil {
		t.Fatal(err)
	}
	put := func(key, value string) {
		t.Helper()
		if _, err := cli.Put(t.Context(), key, value, clientv3.WithLease(lease.ID)); err != nil {
			t.Fatal(err)
		}
	}
	put(cluster.NodeKey("/it", "a"), "127.0.0.1:1")
	put(cluster.NodeKey("/it", "b"), "127.0.0.1:2")
	nodes := map[string]string{"a": "127.0.0.1:1", "b": "127.0.0.1:2"}
	waitNodesOwners(t, w, nodes, map[string]string{})
	put(cluster.OwnerElection("/it", "a")+"/1", "127.0.0.1:1")
	put(cluster.OwnerElection("/it", "a")+"/2", "127.0.0.1:2")
	waitNodesOwners(t, w, nodes, map[string]string{"a": "127.0.0.1:1"})
	if _, err := cli.Delete(t.Context(), cluster.OwnerElection("/it", "a")+"/1"); err != nil {
		t.Fatal(err)
	}
	waitNodesOwners(t, w, nodes, map[string]string{"a": "127.0.0.1:2"})

	if _, err := cli.Revoke(t.Context(), lease.ID); err != nil {
		t.Fatal(err)
	}
	waitState(t, w, "no owner", func(s State) bool { return len(s.Owners) == 0 })
	waitLog(t, &logs, "no node registered in etcd; keeping the last known coordinator addresses")
	if st, _ := w.State(); !maps.Equal(st.Nodes, nodes) || st.Err != nil {
		t.Fatalf("after the last node key went: %+v", st)
	}
}

// TestWatcherUnreachable: etcd that cannot be reached before any node is
// known shows in State.Err; once nodes are known, etcd going away keeps
// them (logged), and changes made after it is back are followed again.
func TestWatcherUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	var logs logtest.Buffer
	w := watch(t, dead, "", &logs, func(o *etcdOptions) { o.dialTimeout = 500 * time.Millisecond })
	st := waitState(t, w, "an error", func(s State) bool { return s.Err != errNotRead })
	if st.Err == nil || len(st.Nodes) != 0 {
		t.Fatalf("state from an etcd that is not there: %+v", st)
	}

	etcd := etcdtest.Start(t)
	cli := etcd.Client(t)
	etcdtest.Join(t, cli, "", "a", "127.0.0.1:1")
	w = watch(t, etcd.Endpoint, "", &logs)
	waitNodesOwners(t, w, map[string]string{"a": "127.0.0.1:1"}, map[string]string{"a": "127.0.0.1:1"})
	etcd.Stop()
	waitLog(t, &logs, "etcd unreachable; keeping the last known coordinator addresses")
	etcd.Restart()
	waitLog(t, &logs, "etcd reachable again")
	etcdtest.Join(t, cli, "", "b", "127.0.0.1:2")
	waitNodesOwners(t, w, map[string]string{"a": "127.0.0.1:1", "b": "127.0.0.1:2"}, map[string]string{"a": "127.0.0.1:1", "b": "127.0.0.1:2"})
}

func waitLog(t *testing.T, logs *logtest.Buffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line %q in 10 s; log:\n%s", want, logs.String())
		}
	}
}
