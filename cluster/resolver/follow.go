package resolver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/connectivity"
)

var (
	// errNotRead is State.Err until etcd was first read.
	errNotRead = errors.New("etcd not read yet")
	// errNoNode is State.Err while etcd knows no node and none was ever
	// known.
	errNoNode = errors.New("no txc-server node registered in etcd")
)

// run connects to etcd, reads the keys and follows them with a watch;
// after a failure it connects or reads again, with capped exponential
// backoff, until Close. The last state stays meanwhile.
func (w *Watcher) run() {
	defer w.wg.Done()
	delay := w.o.backoffMin
	for {
		err := w.connect()
		var rev int64
		if err == nil {
			rev, err = w.load()
		}
		if err == nil {
			delay = w.o.backoffMin
			err = w.follow(rev)
		}
		if w.ctx.Err() != nil {
			return
		}
		st, _ := w.State()
		w.log.Warn("cluster resolver: reading etcd failed; keeping the last known coordinator addresses",
			"nodes", st.Nodes, "retry_in", delay, "err", err)
		if len(st.Nodes) == 0 {
			st.Err = fmt.Errorf("cluster resolver: %w", w.access.Explain(err))
			w.set(st)
		}
		select {
		case <-time.After(delay):
		case <-w.ctx.Done():
			return
		}
		delay = min(2*delay, w.o.backoffMax)
	}
}

// connect makes the etcd client, once: a client that etcd refused (its
// TLS, its user or password) is not made, and the error, naming what to
// check, shows in State.Err.
func (w *Watcher) connect() error {
	if w.cli != nil {
		return nil
	}
	cli, err := w.access.Connect(w.ctx, clientv3.Config{DialTimeout: w.o.dialTimeout})
	if err != nil {
		return err
	}
	w.cli = cli
	w.wg.Add(1)
	go w.watchConnectivity()
	return nil
}

// load reads the nodes and the owner elections at one revision, publishes
// them and returns the revision.
func (w *Watcher) load() (int64, error) {
	ctx, cancel := context.WithTimeout(w.ctx, w.o.dialTimeout)
	defer cancel()
	resp, err := w.cli.Txn(ctx).Then(
		clientv3.OpGet(w.view.nodesPrefix, clientv3.WithPrefix()),
		clientv3.OpGet(w.view.ownersPrefix, clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return 0, err
	}
	w.view.reset()
	for _, op := range resp.Responses {
		for _, kv := range op.GetResponseRange().GetKvs() {
			w.view.put(string(kv.Key), string(kv.Value), kv.CreateRevision)
		}
	}
	w.publish()
	return resp.Header.Revision, nil
}

// follow applies every change after rev until the watch fails or Close.
// One watch covers nodes and owners, so that a lease ending (a node key
// and its owner keys deleted at one revision) arrives as one batch and
// the state changes once. The watch requires an etcd leader: a member cut
// off from its cluster ends it, and run reads again once a quorum
// answers.
func (w *Watcher) follow(rev int64) error {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(w.ctx))
	defer cancel()
	for resp := range w.cli.Watch(ctx, w.view.keysPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if err := resp.Err(); err != nil {
			return err
		}
		for _, ev := range resp.Events {
			if ev.Type == clientv3.EventTypeDelete {
				w.view.remove(string(ev.Kv.Key))
			} else {
				w.view.put(string(ev.Kv.Key), string(ev.Kv.Value), ev.Kv.CreateRevision)
			}
		}
		w.publish()
	}
	return errors.New("watch closed")
}

// publish makes the view the state when it changed. Nodes never go from
// some to none: a node whose key vanished (its lease expired while etcd
// was away) may well still serve.
func (w *Watcher) publish() {
	last, _ := w.State()
	next := State{Nodes: w.view.liveNodes(), Owners: w.view.owners()}
	switch {
	case len(next.Nodes) == 0 && len(last.Nodes) > 0:
		w.log.Warn("cluster resolver: no node registered in etcd; keeping the last known coordinator addresses", "nodes", last.Nodes)
		next.Nodes = last.Nodes
	case len(next.Nodes) == 0:
		next.Err = errNoNode
	}
	if maps.Equal(next.Nodes, last.Nodes) && maps.Equal(next.Owners, last.Owners) && next.Err == last.Err {
		return
	}
	if !maps.Equal(next.Nodes, last.Nodes) {
		w.log.Info("cluster resolver: coordinator nodes", "nodes", next.Nodes)
	}
	w.set(next)
}

// watchConnectivity logs when the connection to etcd fails and when it is
// back: a watch retries silently, so this is how an outage shows.
func (w *Watcher) watchConnectivity() {
	defer w.wg.Done()
	conn := w.cli.ActiveConnection()
	down := false
	for {
		st := conn.GetState()
		switch {
		case st == connectivity.TransientFailure && !down:
			down = true
			nodes, _ := w.State()
			w.log.Warn("cluster resolver: etcd unreachable; keeping the last known coordinator addresses", "nodes", nodes.Nodes)
		case st == connectivity.Ready && down:
			down = false
			w.log.Info("cluster resolver: etcd reachable again")
		}
		if !conn.WaitForStateChange(w.ctx, st) {
			return
		}
	}
}
