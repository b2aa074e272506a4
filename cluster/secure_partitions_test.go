package cluster_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/internal/etcdtest"
)

// TestSecureEtcdPartitions: as a user whose role is limited to the
// cluster's prefix, over TLS, active nodes register, record and host
// their partitions; a node refused by etcd gets ErrEtcdAccess from
// RunPartitions, having hosted and written nothing, and the password is in
// no log line.
func TestSecureEtcdPartitions(t *testing.T) {
	etcd := etcdtest.StartSecure(t, etcdtest.Secure{Prefix: "/sec", Password: "right-" + planted})
	h := newHosts(t)
	nodes := map[string]*active{}
	for _, name := range []string{"a", "b"} {
		nodes[name] = startActiveWith(t, secureConfig(etcd, name, &h.logs), h)
	}
	waitFor(t, 15*time.Second, "each node hosts its own partition", func() bool { return settled(h, nodes) })

	cfg := secureConfig(etcd, "refused", &h.logs)
	cfg.Password = "wrong-" + planted
	r := startActiveWith(t, cfg, h)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatal("RunPartitions did not give up in 30 s")
	}
	if !errors.Is(r.err, cluster.ErrEtcdAccess) || strings.Contains(r.err.Error(), planted) {
		t.Fatalf("RunPartitions = %v, want ErrEtcdAccess without the password", r.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := etcd.RootClient(t).Get(ctx, cluster.PartitionsPrefix("/sec"), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var recorded []string
	for _, kv := range resp.Kvs {
		recorded = append(recorded, strings.TrimPrefix(string(kv.Key), cluster.PartitionsPrefix("/sec")))
	}
	if !slices.Equal(recorded, []string{"a", "b"}) || !settled(h, nodes) {
		holder, _ := h.now()
		t.Fatalf("after a refused node: partitions recorded %v, hosts %v", recorded, holder)
	}
	if strings.Contains(h.logs.String(), planted) {
		t.Fatalf("the etcd password is in the log:\n%s", h.logs.String())
	}
}
