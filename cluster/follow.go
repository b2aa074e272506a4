package cluster

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// follow keeps a view of the cluster's keys while ctx lasts and hands it to
// changed after every read and every batch of changes, from one goroutine.
// While etcd cannot be reached the view stays as last seen: a node does not
// adopt partitions on the strength of an outage it shares with the others.
func (n *Node) follow(ctx context.Context, changed func(*view)) {
	keys := KeysPrefix(n.cfg.Prefix)
	for attempt := 0; ctx.Err() == nil; attempt++ {
		v := newView(n.cfg.Prefix)
		resp, err := n.cli.Load().Get(ctx, keys, clientv3.WithPrefix())
		if err != nil {
			if ctx.Err() == nil {
				n.log.Warn("cluster: cannot read the cluster's keys; retrying", "err", n.etcd.Explain(err), "attempt", attempt)
				pause(ctx, time.Second)
			}
			continue
		}
		attempt = 0
		for _, kv := range resp.Kvs {
			v.put(string(kv.Key), string(kv.Value), kv.CreateRevision)
		}
		changed(v)
		n.watch(ctx, v, resp.Header.Revision+1, changed)
	}
}

// watch applies the changes from revision rev on to v until the watch
// fails (compacted history, say) or ctx ends.
func (n *Node) watch(ctx context.Context, v *view, rev int64, changed func(*view)) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for wr := range n.cli.Load().Watch(wctx, KeysPrefix(n.cfg.Prefix), clientv3.WithPrefix(), clientv3.WithRev(rev)) {
		if err := wr.Err(); err != nil {
			if ctx.Err() == nil {
				n.log.Warn("cluster: watch of the cluster's keys ended; reading them again", "err", n.etcd.Explain(err))
			}
			return
		}
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete {
				v.remove(string(ev.Kv.Key))
			} else {
				v.put(string(ev.Kv.Key), string(ev.Kv.Value), ev.Kv.CreateRevision)
			}
		}
		changed(v)
	}
}
