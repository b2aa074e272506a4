package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/internal/etcdtest"
	"github.com/txcio/txc/internal/faultlink"
	"github.com/txcio/txc/internal/logtest"
)

// TestEtcdCARotated: a node's etcd CA file is read again when it
// changes. The CA file gets the new CA besides the old, etcd then presents
// a certificate of the new CA: the node's etcd client, connected before,
// connects again once its connection is cut, and a new one connects,
// without a restart. The CA file then becomes invalid: the CAs last read
// stay (new clients connect, the node's connects again after another
// cut), and the failure is logged.
func TestEtcdCARotated(t *testing.T) {
	etcd := etcdtest.StartSecure(t, etcdtest.Secure{Password: "pw-" + etcdPw})
	sec := etcd.Secure()
	link := faultlink.Start(t, etcd.Endpoint)
	caFile := filepath.Join(t.TempDir(), "etcd-ca.pem")
	etcdtest.WriteBundle(t, caFile, sec.Certs.CA)
	cfg, err := parse(t, clusterArgs(link.Addr(), "--etcd-ca", caFile, "--etcd-cert", sec.Certs.ClientCert,
		"--etcd-key", sec.Certs.ClientKey, "--etcd-user", sec.User), withEnv(pgEnv, "TXC_ETCD_PASSWORD", sec.Password))
	if err != nil {
		t.Fatal(err)
	}
	var logs logtest.Buffer
	tc, ca, err := etcdTLS(cfg, logs.Logger())
	if err != nil {
		t.Fatal(err)
	}
	access := cluster.Etcd{Endpoints: cfg.EtcdEndpoints, TLS: tc, CA: ca, Username: cfg.EtcdUser, Password: cfg.EtcdPassword}
	cli := connectEtcd(t, access)
	putEtcd(t, cli, "before the rotation")

	newCA := sec.Certs.RotateCA("etcdtest-new-ca")
	etcdtest.WriteBundle(t, caFile, sec.Certs.CA, newCA)
	link.SetCut(true)
	etcd.ServeCert(sec.Certs.Issue("etcd", "server"))
	link.SetCut(false)
	putEtcd(t, cli, "after the rotation")
	putEtcd(t, connectEtcd(t, access), "new client after the rotation")

	if err := os.WriteFile(caFile, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(logs.String(), "cannot be used; keeping the CAs last read"); {
		if time.Now().After(deadline) {
			t.Fatalf("the invalid CA file was not logged in 20 s:\n%s", logs.String())
		}
		putEtcd(t, connectEtcd(t, access), "new client with the CA file invalid")
		time.Sleep(200 * time.Millisecond)
	}
	link.SetCut(true)
	link.SetCut(false)
	putEtcd(t, cli, "after a cut with the CA file invalid")
}

// connectEtcd connects to etcd as a node does, closed when the test ends.
func connectEtcd(t *testing.T, access cluster.Etcd) *clientv3.Client {
	t.Helper()
	cli, err := access.Connect(t.Context(), clientv3.Config{DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("connect to etcd: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// putEtcd writes a key under the cluster's prefix through cli, trying for
// up to 30 s while cli reconnects.
func putEtcd(t *testing.T, cli *clientv3.Client, what string) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		_, err = cli.Put(ctx, cluster.KeysPrefix("")+"ca-test", what)
		cancel()
		if err == nil {
			return
		}
	}
	t.Fatalf("%s: put in etcd for 30 s: %v", what, err)
}
