// Package etcdtest runs a real etcd server inside the test process (the
// server of go.etcd.io/etcd/server/v3/embed, the same code as the etcd
// binary) on free loopback ports, for tests of the cluster mode. Nothing is
// installed or downloaded; the server keeps its data in a test directory.
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/txcio/txc/internal/dbtest"
)

// Server is one running single-member etcd cluster.
type Server struct {
	t        testing.TB
	dir      string
	client   string // client URL
	peer     string // peer URL
	e        *embed.Etcd
	stopped  bool
	secure   *Secure
	certFile string // the secure server's certificate and key (ServeCert)
	keyFile  string
	Endpoint string // host:port of the client URL
}

// Start starts an etcd server and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	dbtest.SkipShort(t, "etcd")
	s := &Server{t: t, dir: t.TempDir(), client: "http://" + freeAddr(t), peer: "http://" + freeAddr(t)}
	s.Endpoint = s.client[len("http://"):]
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	cfg := embed.NewConfig()
	if s.secure != nil {
		s.serverTLS(cfg)
	}
	cfg.Dir = s.dir
	cfg.Name = "etcdtest"
	cu, _ := url.Parse(s.client)
	pu, _ := url.Parse(s.peer)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.Name + "=" + s.peer
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		s.t.Fatalf("etcdtest: start: %v", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		e.Close()
		s.t.Fatalf("etcdtest: server not ready in 30s")
	}
	s.e, s.stopped = e, false
}

// Stop stops the server; its data stays for Restart.
func (s *Server) Stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	s.e.Close()
}

// Restart starts a stopped server again on the same ports and data.
func (s *Server) Restart() {
	s.t.Helper()
	if !s.stopped {
		return
	}
	s.start()
}

// freeAddr returns a loopback address with a port free at the time of the
// call.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	defer l.Close()
	return fmt.Sprintf("127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port)
}
