package resolver

import (
	"context"
	"crypto/tls"
	"log/slog"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	grpcresolver "google.golang.org/grpc/resolver"

	"github.com/txcio/txc/cluster"
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
	access      cluster.Etcd  // TLS and user; endpoints come from each target
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

// WithTLS makes the resolvers reach etcd over TLS with cfg (a client
// certificate in it is presented for mutual TLS). Without it the
// connection to etcd is plaintext.
func WithTLS(cfg *tls.Config) EtcdOption {
	return func(o *etcdOptions) { o.access.TLS = cfg.Clone() }
}

// WithAuth makes the resolvers log in to etcd as user, whose role needs
// read permission on the cluster's prefix. It needs WithTLS: the password
// is never sent in clear, nor logged.
func WithAuth(user, password string) EtcdOption {
	return func(o *etcdOptions) { o.access.Username, o.access.Password = user, password }
}

// NewEtcdBuilder returns the gRPC resolver builder of EtcdScheme targets.
// Each resolver has its own etcd client.
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
	access := b.o.access
	access.Endpoints = endpoints
	if err := access.Check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &etcdResolver{o: b.o, cc: cc, access: access, ctx: ctx, cancel: cancel, view: newView(prefix),
		log: b.o.log.With("etcd", strings.Join(endpoints, ","), "prefix", prefix)}
	r.wg.Add(1)
	go r.run()
	return r, nil
}

// etcdResolver follows the cluster's keys in etcd and reports the
// addresses view.addresses chooses.
type etcdResolver struct {
	o      etcdOptions
	cc     grpcresolver.ClientConn
	access cluster.Etcd
	cli    *clientv3.Client // set by run's goroutine once etcd was reached
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
	if r.cli != nil {
		r.cli.Close()
	}
}
