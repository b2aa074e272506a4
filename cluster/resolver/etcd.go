package resolver

import (
	"context"
	"crypto/tls"
	"log/slog"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/txcio/txc/cluster"
)

// EtcdScheme is the scheme of a target found through etcd:
// "etcd://host:port[,host:port…][/prefix]", the endpoints of the etcd
// cluster in the authority and the key prefix the nodes use in the path
// (cluster.DefaultPrefix when empty).
const EtcdScheme = "etcd"

// EtcdOption configures Watch.
type EtcdOption func(*etcdOptions)

type etcdOptions struct {
	log         *slog.Logger
	access      cluster.Etcd  // TLS and user; endpoints come from Watch
	dialTimeout time.Duration // bounds one full read of the keys
	backoffMin  time.Duration // first wait after a failed read
	backoffMax  time.Duration
}

// WithLogger sets the Watcher's logger: etcd becoming unreachable and
// reachable again, and every change of the nodes. The default discards.
func WithLogger(l *slog.Logger) EtcdOption {
	return func(o *etcdOptions) {
		if l != nil {
			o.log = l
		}
	}
}

// WithCA makes the Watcher verify etcd's certificate against the CAs of
// a file that may change (cluster.Etcd.CA).
func WithCA(ca *cluster.CAFile) EtcdOption {
	return func(o *etcdOptions) { o.access.CA = ca }
}

// WithTLS makes the Watcher reach etcd over TLS with cfg (a client
// certificate in it is presented for mutual TLS). Without it the
// connection to etcd is plaintext.
func WithTLS(cfg *tls.Config) EtcdOption {
	return func(o *etcdOptions) { o.access.TLS = cfg.Clone() }
}

// WithAuth makes the Watcher log in to etcd as user, whose role needs read
// permission on the cluster's prefix. It needs WithTLS: the password is
// never sent in clear, nor logged.
func WithAuth(user, password string) EtcdOption {
	return func(o *etcdOptions) { o.access.Username, o.access.Password = user, password }
}

// State is what a Watcher knows of the cluster at one moment. Its maps are
// never changed after the Watcher hands them out.
type State struct {
	// Nodes maps the name of every live node to its gRPC address. Once
	// nodes were known it is never empty: when the last key goes (leases
	// that expired while etcd was away, say) the last nodes stay, since
	// they may well still serve.
	Nodes map[string]string
	// Owners maps each partition that has an owner to the owner's gRPC
	// address.
	Owners map[string]string
	// Err says why no node is known yet (etcd unreachable or refusing
	// this client, or no node registered); nil once nodes are known.
	Err error
}

// Watcher follows the nodes and partition owners of a cluster in etcd: it
// reads the keys package cluster defines and keeps watching them. While
// etcd cannot be reached the last state stays.
type Watcher struct {
	o      etcdOptions
	access cluster.Etcd
	cli    *clientv3.Client // set by run's goroutine once etcd was reached
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	view *view // owned by run's goroutine

	mu      sync.Mutex
	state   State
	changed chan struct{} // closed and replaced at every change of state
}

// Watch starts following the cluster whose keys lie under prefix in the
// etcd at endpoints. It fails at once only for settings that cannot work
// (txc.ErrInvalidArgument); etcd being unreachable shows in State.Err.
func Watch(endpoints []string, prefix string, opts ...EtcdOption) (*Watcher, error) {
	o := etcdOptions{log: slog.New(slog.DiscardHandler), dialTimeout: 5 * time.Second,
		backoffMin: 100 * time.Millisecond, backoffMax: 5 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	access := o.access
	access.Endpoints = endpoints
	if err := access.Check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{o: o, access: access, ctx: ctx, cancel: cancel, view: newView(prefix),
		log:     o.log.With("etcd", strings.Join(endpoints, ","), "prefix", prefix),
		state:   State{Nodes: map[string]string{}, Owners: map[string]string{}, Err: errNotRead},
		changed: make(chan struct{})}
	w.wg.Add(1)
	go w.run()
	return w, nil
}

// State returns the current state and a channel closed at its next change.
func (w *Watcher) State() (State, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state, w.changed
}

// set replaces the state and wakes those waiting for a change.
func (w *Watcher) set(s State) {
	w.mu.Lock()
	w.state = s
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// Close stops following etcd and closes the etcd client.
func (w *Watcher) Close() {
	w.cancel()
	w.wg.Wait()
	if w.cli != nil {
		w.cli.Close()
	}
}
