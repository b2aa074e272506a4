package resolver

import (
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	grpcresolver "google.golang.org/grpc/resolver"

	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/internal/etcdtest"
	"github.com/txcio/txc/internal/logtest"
)

// recorder is the channel side of a resolver: it records what the
// resolver reports.
type recorder struct {
	grpcresolver.ClientConn
	states chan []string
	errs   chan error
}

func newRecorder() *recorder {
	return &recorder{states: make(chan []string, 16), errs: make(chan error, 16)}
}

func (r *recorder) UpdateState(s grpcresolver.State) error {
	addrs := make([]string, len(s.Addresses))
	for i, a := range s.Addresses {
		if a.ServerName != a.Addr {
			panic("address without its own server name: " + a.Addr)
		}
		addrs[i] = a.Addr
	}
	r.states <- addrs
	return nil
}

func (r *recorder) ReportError(err error) { r.errs <- err }

// next waits (up to 10 s) for the next addresses reported and checks them.
func (r *recorder) next(t *testing.T, want ...string) {
	t.Helper()
	select {
	case got := <-r.states:
		if !slices.Equal(got, want) {
			t.Fatalf("reported %v, want %v", got, want)
		}
	case err := <-r.errs:
		t.Fatalf("reported error %v, want addresses %v", err, want)
	case <-time.After(10 * time.Second):
		t.Fatalf("no addresses reported in 10 s, want %v", want)
	}
}

// until waits (up to 10 s) for want to be reported, allowing only the
// lists in on the way.
func (r *recorder) until(t *testing.T, on []string, want ...string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-r.states:
			if slices.Equal(got, want) {
				return
			}
			if !slices.Equal(got, on) {
				t.Fatalf("reported %v on the way to %v", got, want)
			}
		case <-deadline:
			t.Fatalf("%v not reported in 10 s", want)
		}
	}
}

// build starts an etcd resolver on target reporting to a recorder.
func build(t *testing.T, target string, logs *logtest.Buffer, opts ...EtcdOption) *recorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	r, err := NewEtcdBuilder(append(opts, WithLogger(logs.Logger()))...).Build(grpcresolver.Target{URL: *u}, rec, grpcresolver.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return rec
}

// TestEtcdResolver: registered nodes are reported until one leads; then
// the leader alone, and the next one when it goes; when no key is left the
// last addresses stay.
func TestEtcdResolver(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client(t)
	var logs logtest.Buffer
	rec := build(t, "etcd://"+etcd.Endpoint+"/it", &logs)
	select {
	case err := <-rec.errs:
		if !strings.Contains(err.Error(), "no txc-server node") {
			t.Fatalf("error before any node: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no error reported while no node is registered")
	}
	lease, err := cli.Grant(t.Context(), 30)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(t.Context(), cluster.NodeKey("/it", "b"), "127.0.0.1:2", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	rec.next(t, "127.0.0.1:2")
	a := etcdtest.Campaign(t, cli, "/it", "a", "127.0.0.1:1")
	a.WaitLeader()
	// The node key of a is put before it campaigns: the list of both
	// nodes may show first.
	rec.until(t, []string{"127.0.0.1:1", "127.0.0.1:2"}, "127.0.0.1:1")
	c := etcdtest.Campaign(t, cli, "/it", "c", "127.0.0.1:3")
	a.End()
	c.WaitLeader()
	// c may campaign after a's keys went: the nodes may show first.
	rec.until(t, []string{"127.0.0.1:2", "127.0.0.1:3"}, "127.0.0.1:3")
	c.End()
	rec.next(t, "127.0.0.1:2")
	if _, err := cli.Revoke(t.Context(), lease.ID); err != nil {
		t.Fatal(err)
	}
	waitLog(t, &logs, "no node registered in etcd; keeping the last known coordinator addresses")
	select {
	case got := <-rec.states:
		t.Fatalf("reported %v after the last key went", got)
	case err := <-rec.errs:
		t.Fatalf("reported %v after the last key went", err)
	default:
	}
}

// TestEtcdResolverUnreachable: etcd that cannot be reached before any
// address is known is an error the channel sees; once addresses are
// known, etcd going away keeps them (logged), and changes made after it
// is back are followed again.
func TestEtcdResolverUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	var logs logtest.Buffer
	rec := build(t, "etcd://"+dead, &logs, func(o *etcdOptions) { o.dialTimeout = 500 * time.Millisecond })
	select {
	case err := <-rec.errs:
		t.Logf("reported: %v", err)
	case got := <-rec.states:
		t.Fatalf("reported %v from an etcd that is not there", got)
	case <-time.After(10 * time.Second):
		t.Fatal("no error reported while etcd is unreachable")
	}

	etcd := etcdtest.Start(t)
	cli := etcd.Client(t)
	a := etcdtest.Campaign(t, cli, "", "a", "127.0.0.1:1")
	a.WaitLeader()
	rec = build(t, "etcd://"+etcd.Endpoint, &logs)
	rec.next(t, "127.0.0.1:1")
	etcd.Stop()
	waitLog(t, &logs, "etcd unreachable; keeping the last known coordinator addresses")
	etcd.Restart()
	waitLog(t, &logs, "etcd reachable again")
	b := etcdtest.Campaign(t, cli, "", "b", "127.0.0.1:2")
	a.End()
	b.WaitLeader()
	rec.until(t, []string{"127.0.0.1:1"}, "127.0.0.1:2")
}

func waitLog(t *testing.T, logs *logtest.Buffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line %q in 10 s; log:\n%s", want, logs.String())
		}
	}
}
