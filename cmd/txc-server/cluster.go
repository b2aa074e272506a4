package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/sqlstore"
)

// runCluster takes part in the cluster until ctx is done: standing by,
// and serving whenever this node is elected.
func (p *process) runCluster(ctx context.Context) error {
	etcdTLS, err := etcdTLS(p.cfg, p.log)
	if err != nil {
		return err
	}
	node, err := cluster.New(cluster.Config{Endpoints: p.cfg.EtcdEndpoints, Prefix: p.cfg.EtcdPrefix,
		Node: p.cfg.Node, Addr: p.cfg.AdvertiseAddr, TTL: p.cfg.EtcdLeaseTTL, Logger: p.log,
		TLS: etcdTLS, Username: p.cfg.EtcdUser, Password: p.cfg.EtcdPassword})
	if err != nil {
		return err
	}
	defer node.Close()
	p.node = node
	p.admin.set(p.standby("standing by"))
	p.log.Info("cluster: standing by", "etcd", p.cfg.EtcdEndpoints, "prefix", p.cfg.EtcdPrefix, "advertise", p.cfg.AdvertiseAddr,
		"etcd_tls", etcdTLS != nil, "etcd_client_cert", p.cfg.EtcdCert != "", "etcd_user", p.cfg.EtcdUser)
	return node.Run(ctx, func(ctx context.Context) error {
		defer p.admin.set(p.standby("standing by"))
		p.admin.set(p.standby("elected; loading the store"))
		return p.serve(ctx, openStoreWaiting)
	})
}

// openStoreWaiting opens the store, waiting as long as ctx lasts while
// another session holds it: the previous leader's, until it has stopped.
func openStoreWaiting(ctx context.Context, cfg *config, log *slog.Logger) (store.Store, error) {
	for {
		st, err := openStore(ctx, cfg, log)
		if !errors.Is(err, sqlstore.ErrInUse) || ctx.Err() != nil {
			return st, err
		}
		log.Warn("cluster: the store is still held by another session (the previous leader's); waiting")
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// standby is the admin port of a node that does not serve: /healthz
// answers, everything else is 503 with the leader's address.
func (p *process) standby(state string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte("ok\n"))
			return
		}
		body := map[string]string{"error": "this node is not serving: " + state, "node": p.cfg.Node, "state": state}
		if p.node != nil {
			body["leader"] = p.node.Leader()
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(body)
	})
}

// swapHandler serves whichever handler was set last.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := s.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "starting", http.StatusServiceUnavailable)
}
