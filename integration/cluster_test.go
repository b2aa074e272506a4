package integration

import (
	"database/sql"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/internal/etcdtest"
)

// testCluster is three txc-server processes on one SQL store and a real
// etcd (in the test process, so that killing a node leaves etcd up).
type testCluster struct {
	t      *testing.T
	etcd   *etcdtest.Server
	nodes  []*tcProcess
	db     *sql.DB
	prefix string // store tables
}

// clusterStores are the SQL stores the cluster tests run on.
var clusterStores = []struct {
	store, dsn string
	db         func(testing.TB) *sql.DB
}{
	{"postgres", dbtest.PostgresDSN, dbtest.Postgres},
	{"mysql", dbtest.MySQLDSN, dbtest.MySQL},
}

// startCluster starts n nodes; dsnOf gives node i's store DSN (through a
// fault proxy, say), nil for dsn itself.
func startCluster(t *testing.T, store, dsn string, db *sql.DB, n int, dsnOf func(i int) string, extra ...string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, etcd: etcdtest.Start(t), db: db, prefix: dbtest.Name("icl") + "_"}
	t.Cleanup(func() {
		for _, name := range []string{"schema", "global", "branch", "sequence"} {
			db.Exec("DROP TABLE IF EXISTS " + c.prefix + name)
		}
	})
	etcdPrefix := "/" + strings.TrimSuffix(c.prefix, "_")
	for i := range n {
		nodeDSN := dsn
		if dsnOf != nil {
			nodeDSN = dsnOf(i)
		}
		// Node names unique to the run: XIDs name their node, and the
		// databases' undo and fence tables outlive earlier runs' stores.
		args := append([]string{"--node", fmt.Sprintf("n%d-%s", i+1, strings.TrimSuffix(c.prefix[4:], "_")), "--store", store, "--store-dsn", nodeDSN,
			"--store-table-prefix", c.prefix, "--etcd-endpoints", c.etcd.Endpoint, "--etcd-prefix", etcdPrefix,
			"--etcd-lease-ttl", "2s", "--default-timeout", "3s", "--retry-min", "50ms", "--retry-max", "500ms",
			"--ack-timeout", "5s", "--store-timeout", "3s"}, extra...)
		c.nodes = append(c.nodes, startTCWith(t, func(p *tcProcess) { p.readyPath = "/healthz" }, args...))
	}
	return c
}

// target is the static address list clients dial.
func (c *testCluster) target() string {
	addrs := make([]string, len(c.nodes))
	for i, p := range c.nodes {
		addrs[i] = p.addr
	}
	return strings.Join(addrs, ",")
}

// leader waits until exactly one node is ready and returns it; other than
// skip (a node known to be dead or cut off) no node may be ready along
// with it.
func (c *testCluster) leader(within time.Duration, skip *tcProcess) *tcProcess {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var ready []*tcProcess
		for _, p := range c.nodes {
			if p == skip || p.cmd == nil {
				continue
			}
			if code, _ := p.get("/readyz"); code == 200 {
				ready = append(ready, p)
			}
		}
		if len(ready) > 1 {
			c.t.Fatalf("%d nodes serve at once", len(ready))
		}
		if len(ready) == 1 {
			return ready[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("no node became leader within %v", within)
	return nil
}

// faultProxy forwards TCP connections to a target until cut: then it
// closes every connection it carries and refuses new ones, as a failed
// link between a node and its store would.
type faultProxy struct {
	lis    net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
}

func startFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{lis: lis, target: target, conns: map[net.Conn]struct{}{}}
	go p.accept()
	t.Cleanup(func() { lis.Close(); p.setCut(true) })
	return p
}

func (p *faultProxy) addr() string { return p.lis.Addr().String() }

func (p *faultProxy) accept() {
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		go p.carry(c)
	}
}

func (p *faultProxy) carry(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(c, up) {
		c.Close()
		if up != nil {
			up.Close()
		}
		return
	}
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

// track registers a carried pair unless the link is cut.
func (p *faultProxy) track(a, b net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	p.conns[a], p.conns[b] = struct{}{}, struct{}{}
	return true
}

func (p *faultProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}
