package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/tc/server"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/sqlstore"
)

// runCluster serves as one active node of a cluster until ctx is done:
// the gRPC port at once, the node's own partition (the transactions it
// begins) while etcd elects it its owner, and the partition of any node
// that is gone until that node is back.
func (p *process) runCluster(ctx context.Context) error {
	etcdTLS, etcdCA, err := etcdTLS(p.cfg, p.log)
	if err != nil {
		return err
	}
	locks, err := openLocks(ctx, p.cfg, p.log)
	if err != nil {
		return err
	}
	defer locks.Close()
	adoptable, err := moveOldLayout(ctx, p.cfg, p.log)
	if err != nil {
		return err
	}
	node, err := cluster.New(cluster.Config{Endpoints: p.cfg.EtcdEndpoints, Prefix: p.cfg.EtcdPrefix,
		Node: p.cfg.Node, Addr: p.cfg.AdvertiseAddr, TTL: p.cfg.EtcdLeaseTTL, Logger: p.log,
		TLS: etcdTLS, CA: etcdCA, Username: p.cfg.EtcdUser, Password: p.cfg.EtcdPassword, Check: locks.Ping, Adoptable: adoptable})
	if err != nil {
		return err
	}
	defer node.Close()
	p.node = node
	cfg := p.srvCfg
	cfg.Locks = locks
	srv, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", p.cfg.Listen)
	if err != nil {
		return fmt.Errorf("setting listen: %w", err)
	}
	p.log.Info("cluster: active node", "etcd", p.cfg.EtcdEndpoints, "prefix", p.cfg.EtcdPrefix, "advertise", p.cfg.AdvertiseAddr,
		"etcd_tls", etcdTLS != nil, "etcd_client_cert", p.cfg.EtcdCert != "", "etcd_user", p.cfg.EtcdUser)
	return p.serveCluster(ctx, srv, lis, node)
}

// serveCluster serves srv on lis while node takes part in the cluster,
// hosting whatever partitions it is elected for. It returns when ctx is
// done, or with the error of the gRPC server or of etcd refusing the node.
func (p *process) serveCluster(ctx context.Context, srv *server.Server, lis net.Listener, node *cluster.Node) error {
	col := srv.StateCollector()
	p.reg.MustRegister(col)
	defer p.reg.Unregister(col)
	p.admin.set(p.adminHandler(srv))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lis) }()
	err := node.RunPartitions(ctx, func(ctx context.Context, partition string) error {
		st, err := openPartition(ctx, p.cfg, partition, p.log)
		if err != nil {
			return err
		}
		return srv.Host(ctx, partition, st)
	})
	cancel()
	return errors.Join(err, <-served)
}

// openLocks opens the cluster's shared lock table (created when missing).
func openLocks(ctx context.Context, cfg *config, log *slog.Logger) (*sqlstore.Locks, error) {
	d, err := sqlstore.ParseDialect(cfg.Store)
	if err != nil {
		return nil, err
	}
	return sqlstore.OpenLocks(ctx, sqlstore.Options{Dialect: d, DSN: cfg.StoreDSN, TablePrefix: cfg.StorePrefix, Logger: log})
}

// openPartition opens partition's store, waiting as long as ctx lasts
// while another session holds it: that of the node that had it before,
// until it has stopped deciding for it.
func openPartition(ctx context.Context, cfg *config, partition string, log *slog.Logger) (store.Store, error) {
	d, err := sqlstore.ParseDialect(cfg.Store)
	if err != nil {
		return nil, err
	}
	prefix, err := sqlstore.PartitionPrefix(cfg.StorePrefix, partition)
	if err != nil {
		return nil, err
	}
	opts := sqlstore.Options{Dialect: d, DSN: cfg.StoreDSN, TablePrefix: prefix, LockTablePrefix: cfg.StorePrefix, Logger: log}
	for {
		st, err := sqlstore.Open(ctx, opts)
		if !errors.Is(err, sqlstore.ErrInUse) || ctx.Err() != nil {
			return st, err
		}
		log.Warn("cluster: the partition's store is still held by another session (its previous owner's); waiting", "partition", partition)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
