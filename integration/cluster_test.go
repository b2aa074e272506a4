package integration

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/internal/etcdtest"
	"github.com/txcio/txc/tc/store/sqlstore"
)

// testCluster is txc-server processes on one SQL database and a real
// etcd (in the test process, so that killing a node leaves etcd up). Every
// node is active: it drives its own partition (the transactions it began,
// in tables of its own) and adopts the partition of a node that is gone.
type testCluster struct {
	t      *testing.T
	etcd   *etcdtest.Server
	nodes  []*tcProcess
	names  []string // node names, as nodes
	db     *sql.DB
	prefix string // base of every store table and of the shared lock table
}

// clusterStores are the SQL stores the cluster tests run on.
var clusterStores = []struct {
	store, dsn string
	db         func(testing.TB) *sql.DB
}{
	{"postgres", dbtest.PostgresDSN, dbtest.Postgres},
	{"mysql", dbtest.MySQLDSN, dbtest.MySQL},
}

// startCluster starts n nodes and waits until each hosts its own
// partition; dsnOf gives node i's store DSN (through a fault proxy, say),
// nil for dsn itself.
func startCluster(t *testing.T, store, dsn string, db *sql.DB, n int, dsnOf func(i int) string, extra ...string) *testCluster {
	t.Helper()
	c := newCluster(t, db)
	c.start(store, dsn, n, dsnOf, extra...)
	return c
}

// newCluster is a cluster of no node yet: etcd, and a fresh base prefix
// on db whose tables are dropped when the test ends.
func newCluster(t *testing.T, db *sql.DB) *testCluster {
	t.Helper()
	c := &testCluster{t: t, etcd: etcdtest.Start(t), db: db, prefix: dbtest.Name("icl") + "_"}
	t.Cleanup(func() { dropTables(db, c.prefix) })
	return c
}

// start starts n nodes as startCluster does.
func (c *testCluster) start(store, dsn string, n int, dsnOf func(i int) string, extra ...string) {
	t := c.t
	t.Helper()
	etcdPrefix := "/" + strings.TrimSuffix(c.prefix, "_")
	for i := range n {
		nodeDSN := dsn
		if dsnOf != nil {
			nodeDSN = dsnOf(i)
		}
		// Node names unique to the run: XIDs name their node, and the
		// databases' undo and fence tables outlive earlier runs' stores.
		name := fmt.Sprintf("n%d-%s", i+1, strings.TrimSuffix(c.prefix[4:], "_"))
		args := append([]string{"--node", name, "--store", store, "--store-dsn", nodeDSN,
			"--store-table-prefix", c.prefix, "--etcd-endpoints", c.etcd.Endpoint, "--etcd-prefix", etcdPrefix,
			"--etcd-lease-ttl", "2s", "--default-timeout", "3s", "--retry-min", "50ms", "--retry-max", "500ms",
			"--ack-timeout", "5s", "--store-timeout", "3s"}, extra...)
		c.names = append(c.names, name)
		c.nodes = append(c.nodes, startTCWith(t, func(p *tcProcess) { p.readyPath = "/healthz" }, args...))
	}
	for i := range c.nodes {
		c.hostedBy(c.names[i], 30*time.Second, nil)
	}
}

// dropTables drops every table whose name begins with prefix.
func dropTables(db *sql.DB, prefix string) {
	q := "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE $1"
	if _, err := db.Exec("SELECT 1 FROM pg_tables LIMIT 0"); err != nil {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE ?"
	}
	rows, err := db.Query(q, strings.ReplaceAll(prefix, "_", `\_`)+"%")
	if err != nil {
		return
	}
	var names []string
	for rows.Next() {
		var n string
		if rows.Scan(&n) == nil {
			names = append(names, n)
		}
	}
	rows.Close()
	for _, n := range names {
		db.Exec("DROP TABLE IF EXISTS " + n)
	}
}

// target is the static address list clients dial.
func (c *testCluster) target() string {
	addrs := make([]string, len(c.nodes))
	for i, p := range c.nodes {
		addrs[i] = p.addr
	}
	return strings.Join(addrs, ",")
}

// nodeOf returns the name of node p.
func (c *testCluster) nodeOf(p *tcProcess) string {
	for i, q := range c.nodes {
		if q == p {
			return c.names[i]
		}
	}
	c.t.Fatalf("no such node %s", p.addr)
	return ""
}

// hostedBy waits until exactly one node other than skip (a node known to
// be dead or cut off) hosts partition, and returns it. Two nodes hosting
// one partition at once fail the test.
func (c *testCluster) hostedBy(partition string, within time.Duration, skip *tcProcess) *tcProcess {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var hosts []*tcProcess
		for _, p := range c.nodes {
			if p != skip && p.cmd != nil && slices.Contains(p.hosting(), partition) {
				hosts = append(hosts, p)
			}
		}
		if len(hosts) > 1 {
			c.t.Fatalf("%d nodes host partition %s at once", len(hosts), partition)
		}
		if len(hosts) == 1 {
			return hosts[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("no node hosted partition %s within %v", partition, within)
	return nil
}

// handedBack waits until partition is hosted by its own node p (and only
// by it).
func (c *testCluster) handedBack(partition string, p *tcProcess, within time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for c.hostedBy(partition, within, nil) != p {
		if time.Now().After(deadline) {
			c.t.Fatalf("partition %s was not handed back to its own node %s within %v", partition, p.addr, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hosting lists the partitions p hosts, nil when it does not answer.
func (p *tcProcess) hosting() []string {
	code, body := p.get("/v1/cluster")
	if code != 200 {
		return nil
	}
	var v struct {
		Hosting []string `json:"hosting"`
	}
	if json.Unmarshal([]byte(body), &v) != nil {
		return nil
	}
	return v.Hosting
}

// checkNoBranches fails the test if a store table still holds a branch,
// or the shared lock table a row, a few seconds after every transaction
// finished.
func (c *testCluster) checkNoBranches() {
	c.t.Helper()
	for _, n := range c.names {
		prefix, err := sqlstore.PartitionPrefix(c.prefix, n)
		if err != nil {
			c.t.Fatal(err)
		}
		waitNoBranches(c.t, c.db, prefix)
	}
	var rows int
	waitFor(c.t, 5*time.Second, func() bool {
		return c.db.QueryRow("SELECT COUNT(*) FROM "+c.prefix+"locks").Scan(&rows) == nil && rows == 0
	}, "no row left in the shared lock table")
}
