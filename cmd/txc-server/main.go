// Command txc-server is the txc transaction coordinator.
//
//	txc-server [--listen 127.0.0.1:8091] [--admin-listen 127.0.0.1:7091] [--data-dir ./txc-data] [--config file.yaml]
//	           [--store embedded|mysql|postgres] [--store-dsn DSN]
//	           [--tls-cert F --tls-key F [--client-ca F]] [--tokens-file F] [--policy-file F]
//	           [--etcd-endpoints host:port,... --advertise-addr host:port [--etcd-prefix /txc]]
//
// With etcd endpoints the node is one of a cluster of active nodes on a
// mysql or postgres store: it drives the transactions it begins and adopts
// those of a node that is gone (see package cluster).
// Every setting can also come from a YAML file (--config) or a TXC_*
// environment variable; see --help. Bad settings are refused at start with
// a message naming the setting. Secrets (the store DSN, tokens) are never
// printed. With --tls-cert both ports speak TLS only; --client-ca makes the
// gRPC port require client certificates; --tokens-file, --policy-file or
// --client-ca make every client and admin request authenticate (see
// package server's Access). The process exits non-zero when its store
// fails; restarting it resumes every unfinished transaction.
//
// The admin address serves /healthz, /readyz, Prometheus /metrics, the /v1
// admin API (what txcctl uses) and the web console at /. Spans are
// exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, and not made at all otherwise.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/server"
	"github.com/txcio/txc/tc/store"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "txc-server:", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:           "txc-server",
		Short:         "txc transaction coordinator",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags(), os.Getenv)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return run(ctx, cfg)
		},
	}
	registerFlags(cmd.Flags())
	return cmd
}

func newLogger(cfg *config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func run(ctx context.Context, cfg *config) error {
	log := newLogger(cfg)
	governProcs(ctx, cfg.Procs, log)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	tp, err := newTracerProvider(ctx, os.Getenv, cfg.Node)
	if err != nil {
		return err
	}
	p := &process{cfg: cfg, log: log, reg: reg}
	p.srvCfg = server.Config{
		Core: tc.Config{Node: cfg.Node, DefaultTimeout: cfg.DefaultTimeout, MaxTimeout: cfg.MaxTimeout,
			RetryMin: cfg.RetryMin, RetryMax: cfg.RetryMax, AckTimeout: cfg.AckTimeout, FinishedRetention: cfg.Retention},
		Logger: log, MaxMessageSize: cfg.MaxMessageSize, Metrics: server.NewMetrics(reg),
		MaxStreamsPerConn: uint32(cfg.MaxStreams), MaxActivePerClient: cfg.MaxActive, StoreTimeout: cfg.StoreTimeout,
		LockQueryWorkers: cfg.LockQueryWorkers, LockQueryBacklog: cfg.LockQueryBacklog,
	}
	adminTLS, err := security(cfg, &p.srvCfg, log)
	if err != nil {
		return err
	}
	if tp != nil {
		p.srvCfg.TracerProvider = tp
		defer shutdownTracing(ctx, tp, log)
		log.Info("tracing: exporting spans over OTLP")
	}
	adminLis, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		return fmt.Errorf("setting admin_listen: %w", err)
	}
	if adminTLS != nil {
		adminLis = tls.NewListener(adminLis, adminTLS)
	}
	admin := newAdminServer(&p.admin)
	go func() {
		if err := admin.Serve(adminLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin server failed", "err", err)
		}
	}()
	log.Info("admin HTTP", "addr", adminLis.Addr().String())
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = admin.Shutdown(shutdownCtx)
	}()
	if len(cfg.EtcdEndpoints) > 0 {
		err = p.runCluster(ctx)
	} else {
		p.admin.set(p.notServing("starting"))
		err = p.serve(ctx, openStore)
	}
	if err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// adminIdle and adminRead bound how long an admin connection may sit
// idle between requests and take to send one (headers and body): without
// them anyone reaching the port holds connections, and descriptors, for
// ever. Variables for tests only.
var adminIdle, adminRead = 2 * time.Minute, 30 * time.Second

// newAdminServer is the HTTP server of the admin port.
func newAdminServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: adminRead, IdleTimeout: adminIdle}
}

// process is what one txc-server process keeps while it runs.
type process struct {
	cfg    *config
	log    *slog.Logger
	reg    *prometheus.Registry
	srvCfg server.Config // without Store: serve or each hosted partition opens its own
	admin  swapHandler
	node   *cluster.Node // nil without etcd
}

// serve opens the store, restores the coordinator from it and serves
// gRPC until ctx is done or the store fails.
func (p *process) serve(ctx context.Context, open func(context.Context, *config, *slog.Logger) (store.Store, error)) error {
	st, err := open(ctx, p.cfg, p.log)
	if err != nil {
		return err
	}
	cfg := p.srvCfg
	cfg.Store = st
	srv, err := server.New(ctx, cfg)
	if err != nil {
		st.Close()
		return err
	}
	lis, err := net.Listen("tcp", p.cfg.Listen)
	if err != nil {
		st.Close()
		return fmt.Errorf("setting listen: %w", err)
	}
	col := srv.StateCollector()
	p.reg.MustRegister(col)
	defer p.reg.Unregister(col)
	p.admin.set(p.adminHandler(srv))
	defer p.admin.set(p.notServing("stopped serving"))
	return srv.Serve(ctx, lis)
}

// adminHandler is srv's admin API, with pprof when asked for.
func (p *process) adminHandler(srv *server.Server) http.Handler {
	handler := srv.AdminHandler(p.reg)
	if !p.cfg.Pprof && p.node == nil {
		return handler
	}
	mux := http.NewServeMux()
	mux.Handle("/", handler)
	if p.node != nil {
		mux.Handle("GET /v1/cluster", srv.GuardAdmin(http.HandlerFunc(p.clusterView)))
	}
	if !p.cfg.Pprof {
		return mux
	}
	debug := http.NewServeMux()
	debug.HandleFunc("/debug/pprof/", pprof.Index)
	debug.HandleFunc("/debug/pprof/profile", pprof.Profile)
	debug.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	debug.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/", srv.GuardAdmin(debug))
	return mux
}
