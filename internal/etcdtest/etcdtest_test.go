package etcdtest

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	put := func(v string) error {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{s.Endpoint}, DialTimeout: 5 * time.Second})
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := c.Put(ctx, "/k", v); err != nil {
			return err
		}
		r, err := c.Get(ctx, "/k")
		if err != nil {
			return err
		}
		if got := string(r.Kvs[0].Value); got != v {
			t.Fatalf("read %q, want %q", got, v)
		}
		return nil
	}
	if err := put("a"); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s.Restart()
	if err := put("b"); err != nil {
		t.Fatal(err)
	}
}
