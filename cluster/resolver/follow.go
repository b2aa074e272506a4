package resolver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/connectivity"
	grpcresolver "google.golang.org/grpc/resolver"
)

// errNoNode is reported to the channel while etcd knows no node and the
// resolver has never had an address.
var errNoNode = errors.New("no txc-server node registered in etcd")

// run connects to etcd, reads the keys and follows them with a watch;
// after a failure it connects or reads again, with capped exponential
// backoff, until Close. The addresses last reported stay in use
// meanwhile.
func (r *etcdResolver) run() {
	defer r.wg.Done()
	delay := r.o.backoffMin
	for {
		err := r.connect()
		var rev int64
		if err == nil {
			rev, err = r.load()
		}
		if err == nil {
			delay = r.o.backoffMin
			err = r.follow(rev)
		}
		if r.ctx.Err() != nil {
			return
		}
		r.log.Warn("cluster resolver: reading etcd failed; keeping the last known coordinator addresses",
			"addresses", r.last, "retry_in", delay, "err", err)
		if r.last == nil {
			r.cc.ReportError(fmt.Errorf("cluster resolver: %w", r.access.Explain(err)))
		}
		select {
		case <-time.After(delay):
		case <-r.ctx.Done():
			return
		}
		delay = min(2*delay, r.o.backoffMax)
	}
}

// connect makes the etcd client, once: a client that etcd refused (its
// TLS, its user or password) is not made, and the error, naming what to
// check, reaches the channel.
func (r *etcdResolver) connect() error {
	if r.cli != nil {
		return nil
	}
	cli, err := r.access.Connect(r.ctx, clientv3.Config{DialTimeout: r.o.dialTimeout})
	if err != nil {
		return err
	}
	r.cli = cli
	r.wg.Add(1)
	go r.watchConnectivity()
	return nil
}

// load reads both key ranges at one revision, reports the addresses and
// returns the revision.
func (r *etcdResolver) load() (int64, error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.o.dialTimeout)
	defer cancel()
	resp, err := r.cli.Txn(ctx).Then(
		clientv3.OpGet(r.view.nodesPrefix, clientv3.WithPrefix()),
		clientv3.OpGet(r.view.electionPrefix, clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return 0, err
	}
	r.view.reset()
	for _, op := range resp.Responses {
		for _, kv := range op.GetResponseRange().GetKvs() {
			r.view.put(string(kv.Key), string(kv.Value), kv.CreateRevision)
		}
	}
	r.publish()
	return resp.Header.Revision, nil
}

// follow applies every change after rev until the watch fails or Close.
// One watch covers nodes and election, so that a lease ending (a node key
// and an election key deleted at one revision) arrives as one batch and
// the addresses change once. The watch requires an etcd leader: a member
// cut off from its cluster ends it, and run reads again once a quorum
// answers.
func (r *etcdResolver) follow(rev int64) error {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(r.ctx))
	defer cancel()
	for resp := range r.cli.Watch(ctx, r.view.keysPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if err := resp.Err(); err != nil {
			return err
		}
		for _, ev := range resp.Events {
			if ev.Type == clientv3.EventTypeDelete {
				r.view.remove(string(ev.Kv.Key))
			} else {
				r.view.put(string(ev.Kv.Key), string(ev.Kv.Value), ev.Kv.CreateRevision)
			}
		}
		r.publish()
	}
	return errors.New("watch closed")
}

// publish reports the view's addresses when they changed. An empty list is
// never reported once there were addresses: a node whose key vanished
// (its lease expired while etcd was away) may well still serve.
func (r *etcdResolver) publish() {
	addrs := r.view.addresses()
	switch {
	case len(addrs) == 0 && r.last != nil:
		r.log.Warn("cluster resolver: no node registered in etcd; keeping the last known coordinator addresses", "addresses", r.last)
		return
	case len(addrs) == 0:
		r.cc.ReportError(errNoNode)
		return
	case slices.Equal(addrs, r.last):
		return
	}
	r.log.Info("cluster resolver: coordinator addresses", "addresses", addrs)
	r.mu.Lock()
	r.last = addrs
	r.mu.Unlock()
	if err := r.cc.UpdateState(grpcresolver.State{Addresses: grpcAddresses(addrs)}); err != nil {
		r.log.Warn("cluster resolver: the channel refused the addresses", "addresses", addrs, "err", err)
	}
}

// watchConnectivity logs when the connection to etcd fails and when it is
// back: a watch retries silently, so this is how an outage shows.
func (r *etcdResolver) watchConnectivity() {
	defer r.wg.Done()
	conn := r.cli.ActiveConnection()
	down := false
	for {
		st := conn.GetState()
		switch {
		case st == connectivity.TransientFailure && !down:
			down = true
			r.log.Warn("cluster resolver: etcd unreachable; keeping the last known coordinator addresses", "addresses", r.lastSeen())
		case st == connectivity.Ready && down:
			down = false
			r.log.Info("cluster resolver: etcd reachable again")
		}
		if !conn.WaitForStateChange(r.ctx, st) {
			return
		}
	}
}
