package resolver

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	grpcresolver "google.golang.org/grpc/resolver"
)

// EtcdScheme is the scheme of a target found through etcd:
// "etcd://host:port[,host:port…][/prefix]", the endpoints of the etcd
// cluster in the authority and the key prefix the nodes use in the path
// (cluster.DefaultPrefix when empty).
const EtcdScheme = "etcd"

// EtcdOption configures NewEtcdBuilder.
type EtcdOption func(*etcdOptions)

type etcdOptions struct {
	log         *slog.Logger
	dialTimeout time.Duration // bounds one full read of the keys
	backoffMin  time.Duration // first wait after a failed read
	backoffMax  time.Duration
}

// WithLogger sets the logger of the resolvers the builder makes: etcd
// becoming unreachable and reachable again, and every change of the
// addresses. The default discards.
func WithLogger(l *slog.Logger) EtcdOption {
	return func(o *etcdOptions) {
		if l != nil {
			o.log = l
		}
	}
}

// NewEtcdBuilder returns the gRPC resolver builder of EtcdScheme targets.
// Each resolver has its own etcd client; the connection to etcd is
// plaintext.
func NewEtcdBuilder(opts ...EtcdOption) grpcresolver.Builder {
	o := etcdOptions{log: slog.New(slog.DiscardHandler), dialTimeout: 5 * time.Second,
		backoffMin: 100 * time.Millisecond, backoffMax: 5 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	return etcdBuilder{o: o}
}

type etcdBuilder struct{ o etcdOptions }

func (etcdBuilder) Scheme() string { return EtcdScheme }

func (b etcdBuilder) Build(t grpcresolver.Target, cc grpcresolver.ClientConn, _ grpcresolver.BuildOptions) (grpcresolver.Resolver, error) {
	endpoints, prefix, err := parseEtcd(&t.URL)
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(b.etcdConfig(endpoints))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &etcdResolver{o: b.o, cc: cc, cli: cli, ctx: ctx, cancel: cancel, view: newView(prefix),
		log: b.o.log.With("etcd", strings.Join(endpoints, ","), "prefix", prefix)}
	r.wg.Add(2)
	go r.run()
	go r.watchConnectivity()
	return r, nil
}

// etcdConfig is the etcd client's configuration: the one place where the
// connection to etcd is set up (TLS would go here). The client's own zap
// log is off; the resolver logs what matters to the caller's logger.
func (b etcdBuilder) etcdConfig(endpoints []string) clientv3.Config {
	return clientv3.Config{Endpoints: endpoints, DialTimeout: b.o.dialTimeout, Logger: zap.NewNop()}
}

// etcdResolver follows the cluster's keys in etcd and reports the
// addresses view.addresses chooses.
type etcdResolver struct {
	o      etcdOptions
	cc     grpcresolver.ClientConn
	cli    *clientv3.Client
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	view *view // owned by run's goroutine

	mu   sync.Mutex // guards last's writes and reads outside run's goroutine
	last []string   // the addresses last reported; nil before the first
}

// lastSeen returns the addresses last reported, from any goroutine.
func (r *etcdResolver) lastSeen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// ResolveNow does nothing: the watch keeps the addresses current, and a
// read of etcd on every failed connection attempt of every client would
// only add load when etcd is the part that is failing.
func (r *etcdResolver) ResolveNow(grpcresolver.ResolveNowOptions) {}

// Close stops following etcd and closes the etcd client.
func (r *etcdResolver) Close() {
	r.cancel()
	r.wg.Wait()
	r.cli.Close()
}
