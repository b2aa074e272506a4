package integration

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/txcio/txc/client"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/internal/etcdtest"
)

// secureEtcdCluster is a PostgreSQL store and an etcd on TLS with client
// certificates and auth, whose user txc may use only the cluster's prefix.
type secureEtcdCluster struct {
	etcd         *etcdtest.Server
	prefix       string // store tables
	etcdPrefix   string
	passwordFile string
}

func newSecureEtcdCluster(t *testing.T) *secureEtcdCluster {
	t.Helper()
	db := dbtest.Postgres(t)
	c := &secureEtcdCluster{prefix: dbtest.Name("ies") + "_"}
	c.etcdPrefix = "/" + strings.TrimSuffix(c.prefix, "_")
	t.Cleanup(func() { dropTables(db, c.prefix) })
	c.etcd = etcdtest.StartSecure(t, etcdtest.Secure{Prefix: c.etcdPrefix, Password: "etcd-" + planted})
	c.passwordFile = filepath.Join(t.TempDir(), "etcd-password")
	writeFile(t, c.passwordFile, c.etcd.Secure().Password+"\n")
	return c
}

// args are a node's settings; access are its etcd TLS and user settings.
func (c *secureEtcdCluster) args(node string, access ...string) []string {
	return append([]string{"--node", node, "--store", "postgres", "--store-dsn", dbtest.PostgresDSN,
		"--store-table-prefix", c.prefix, "--etcd-endpoints", c.etcd.ClientURL(), "--etcd-prefix", c.etcdPrefix,
		"--etcd-lease-ttl", "2s"}, access...)
}

// access are the settings of a node that etcd accepts.
func (c *secureEtcdCluster) access() []string {
	certs := c.etcd.Secure().Certs
	return []string{"--etcd-ca", certs.CA, "--etcd-cert", certs.ClientCert, "--etcd-key", certs.ClientKey,
		"--etcd-user", "txc", "--etcd-password-file", c.passwordFile}
}

// TestClusterOnSecureEtcd: nodes reach an etcd that requires TLS with
// client certificates and a user limited to the cluster's prefix (the
// password from a file for one node, from the config file for the other).
// Both serve; a client finds them through etcd with TLS and its own user; neither the nodes' logs nor anything their admin ports
// show holds the password.
func TestClusterOnSecureEtcd(t *testing.T) {
	c := newSecureEtcdCluster(t)
	sec := c.etcd.Secure()
	first := startTC(t, c.args("n1-"+c.prefix[4:len(c.prefix)-1], c.access()...)...)
	cfgFile := filepath.Join(t.TempDir(), "txc.yaml")
	writeFile(t, cfgFile, "etcd_password: "+sec.Password+"\n")
	access := append(c.access()[:8], "--config", cfgFile)
	second := startTC(t, c.args("n2-"+c.prefix[4:len(c.prefix)-1], access...)...)

	conn, err := tryDial(t, "etcd://"+c.etcd.Endpoint+c.etcdPrefix, client.WithDialTimeout(20*time.Second),
		client.WithEtcdTLS(sec.Certs.ClientTLS()), client.WithEtcdAuth(sec.User, sec.Password))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	xid, err := conn.Begin(ctx, "secure-etcd", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Commit(ctx, xid); err != nil {
		t.Fatal(err)
	}
	waitBothRegistered(t, c.etcd, c.etcdPrefix)

	var seen []string
	for _, p := range []*tcProcess{first, second} {
		for _, path := range []string{"/healthz", "/readyz", "/v1/stats", "/v1/transactions", "/v1/rms", "/metrics"} {
			code, body := p.get(path)
			seen = append(seen, path+" ("+p.addr+"): "+body)
			if code != 200 {
				t.Fatalf("GET %s (%s): %d %s", path, p.addr, code, body)
			}
		}
	}
	for _, p := range []*tcProcess{first, second} {
		b, err := os.ReadFile(p.logPath)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, "log: "+string(b))
	}
	for _, s := range seen {
		if strings.Contains(s, planted) {
			t.Errorf("the etcd password leaked into %s", tail(s, 2000))
		}
	}
}

// waitBothRegistered waits until both nodes have registered.
func waitBothRegistered(t *testing.T, etcd *etcdtest.Server, prefix string) {
	t.Helper()
	cli := etcd.RootClient(t)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := cli.Get(ctx, prefix+"/nodes/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		cancel()
		if err == nil && resp.Count == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes registered: %v, %v", resp, err)
		}
	}
}

// TestClusterRefusedBySecureEtcd: a node with a wrong password, a CA that
// did not sign etcd's certificate, or no client certificate exits at
// start with a message saying what etcd refused and what to check; it
// never registers nor listens on its gRPC port, and prints no password.
func TestClusterRefusedBySecureEtcd(t *testing.T) {
	c := newSecureEtcdCluster(t)
	certs := c.etcd.Secure().Certs
	wrongPw := filepath.Join(t.TempDir(), "wrong")
	writeFile(t, wrongPw, "wrong-"+planted)
	ok := c.access()
	for _, tc := range []struct {
		name   string
		access []string
		want   string
	}{
		{"wrong password", append(ok[:8:8], "--etcd-password-file", wrongPw), `user "txc" or its password was refused`},
		{"wrong CA", append([]string{"--etcd-ca", certs.OtherCA}, ok[2:]...), "TLS handshake failed"},
		{"no client certificate", append(ok[:2:2], ok[6:]...), "TLS handshake failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := freeAddr(t)
			args := append([]string{"--listen", addr, "--admin-listen", freeAddr(t)}, c.args("refused", tc.access...)...)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, filepath.Join(binDir, "txc-server"), args...).CombinedOutput()
			if err == nil || ctx.Err() != nil {
				t.Fatalf("txc-server did not exit with an error (%v):\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) || strings.Contains(string(out), planted) {
				t.Fatalf("output does not say %q, or shows the password:\n%s", tc.want, out)
			}
			if conn, err := net.Dial("tcp", addr); err == nil {
				conn.Close()
				t.Fatal("the refused node listens on its gRPC port")
			}
			gctx, gcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer gcancel()
			resp, err := c.etcd.RootClient(t).Get(gctx, c.etcdPrefix+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
			if err != nil || resp.Count != 0 {
				t.Fatalf("keys after a refused node: %v, %v", resp, err)
			}
		})
	}
}
