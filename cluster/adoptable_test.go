package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/txcio/txc"
	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/internal/etcdtest"
)

// TestAdoptablePartitionsRecordedAndAdopted: a node given adoptable
// partitions records each one no record exists for (an existing record is
// left as it is) and, no node of that name running, adopts it as it
// adopts a gone node's; the node named so takes it back when it starts.
func TestAdoptablePartitionsRecordedAndAdopted(t *testing.T) {
	etcd := etcdtest.Start(t)
	h := newHosts(t)
	prefix := "/p-" + t.Name()
	cli := etcd.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, cluster.PartitionsPrefix(prefix)+"kept", "kept:1"); err != nil {
		t.Fatal(err)
	}
	startActiveWith(t, cluster.Config{Endpoints: []string{etcd.Endpoint}, Prefix: prefix, Node: "a", Addr: "a:1",
		TTL: 2 * time.Second, Logger: h.logs.Logger(), Adoptable: []string{"ghost", "kept", "a", "ghost"}}, h)
	waitFor(t, 10*time.Second, "a hosts a, ghost and kept", func() bool {
		holder, _ := h.now()
		return holder["a"] == "a" && holder["ghost"] == "a" && holder["kept"] == "a"
	})
	resp, err := cli.Get(ctx, cluster.PartitionsPrefix(prefix), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range resp.Kvs {
		got[string(kv.Key)] = string(kv.Value)
	}
	want := map[string]string{cluster.PartitionsPrefix(prefix) + "a": "a:1", cluster.PartitionsPrefix(prefix) + "ghost": "",
		cluster.PartitionsPrefix(prefix) + "kept": "kept:1"}
	if !maps.Equal(got, want) {
		t.Fatalf("partition records %v, want %v", got, want)
	}
	startActive(t, etcd.Endpoint, "ghost", h)
	waitFor(t, 10*time.Second, "ghost takes its partition back", func() bool {
		holder, _ := h.now()
		return holder["ghost"] == "ghost"
	})
}

// TestAdoptableMustBeNodeNames: a malformed adoptable partition name is
// refused by New.
func TestAdoptableMustBeNodeNames(t *testing.T) {
	_, err := cluster.New(cluster.Config{Endpoints: []string{"127.0.0.1:1"}, Node: "a", Addr: "a:1", Adoptable: []string{"bad/name"}})
	if err == nil {
		t.Fatal("New accepted a malformed adoptable partition")
	}
}

// TestAdoptableBounded: more adoptable partitions than one registration
// transaction can record are refused, naming the limit.
func TestAdoptableBounded(t *testing.T) {
	many := make([]string, cluster.MaxAdoptable+1)
	for i := range many {
		many[i] = fmt.Sprintf("p%d", i)
	}
	_, err := cluster.New(cluster.Config{Endpoints: []string{"127.0.0.1:1"}, Node: "a", Addr: "a:1", Adoptable: many})
	if !errors.Is(err, txc.ErrInvalidArgument) || !strings.Contains(err.Error(), "at most 100") {
		t.Fatalf("New with %d adoptable partitions: %v", len(many), err)
	}
	if _, err := cluster.New(cluster.Config{Endpoints: []string{"127.0.0.1:1"}, Node: "a", Addr: "a:1", Adoptable: many[:cluster.MaxAdoptable]}); errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("New with %d adoptable partitions refused: %v", cluster.MaxAdoptable, err)
	}
}
