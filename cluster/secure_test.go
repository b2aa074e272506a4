package cluster_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/txcio/txc"
	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/internal/etcdtest"
	"github.com/txcio/txc/internal/logtest"
)

// planted is in every etcd password these tests use: it must appear in
// no log line and no error.
const planted = "Pl4ntedEtcdPw"

// secureConfig is a node of etcd with its client certificate and user.
func secureConfig(etcd *etcdtest.Server, name string, logs *logtest.Buffer) cluster.Config {
	sec := etcd.Secure()
	return cluster.Config{Endpoints: []string{etcd.Endpoint}, Prefix: sec.Prefix, Node: name, Addr: name + ":1",
		TTL: 2 * time.Second, TLS: sec.Certs.ClientTLS(), Username: sec.User, Password: sec.Password, Logger: logs.Logger()}
}

// TestSecureEtcdNodeHosts: over TLS with a client certificate, as a user
// whose role is limited to the cluster's prefix, a node registers its
// address and hosts its own partition; the endpoint works as host:port and
// as an https:// URL.
func TestSecureEtcdNodeHosts(t *testing.T) {
	etcd := etcdtest.StartSecure(t, etcdtest.Secure{Prefix: "/sec", Password: "right-" + planted})
	h := newHosts(t)
	for i, ep := range []string{etcd.Endpoint, etcd.ClientURL()} {
		cfg := secureConfig(etcd, "n"+string(rune('1'+i)), &h.logs)
		cfg.Endpoints = []string{ep}
		a := startActiveWith(t, cfg, h)
		waitFor(t, 15*time.Second, cfg.Node+" hosts its own partition", func() bool {
			holder, _ := h.now()
			return holder[cfg.Node] == cfg.Node
		})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := etcd.RootClient(t).Get(ctx, cluster.NodeKey("/sec", cfg.Node))
		cancel()
		if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != cfg.Addr {
			t.Fatalf("%s's key: %v, %v", cfg.Node, resp, err)
		}
		a.stop(t)
	}
	if strings.Contains(h.logs.String(), planted) {
		t.Fatalf("the etcd password is in the log:\n%s", h.logs.String())
	}
}

// TestSecureEtcdRefusesNode: a wrong password, a wrong CA (in the
// configuration or in a CA file), no client
// certificate, no user, or a user without permission on the prefix make
// RunPartitions return an error wrapping ErrEtcdAccess that says what to
// check, without ever hosting or writing a key, and without the password
// in the error or the log.
func TestSecureEtcdRefusesNode(t *testing.T) {
	etcd := etcdtest.StartSecure(t, etcdtest.Secure{Prefix: "/sec", Password: "right-" + planted})
	certs := etcd.Secure().Certs
	otherCA, err := os.ReadFile(certs.OtherCA)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		change func(*cluster.Config)
		want   string
	}{
		{"wrong password", func(c *cluster.Config) { c.Password = "wrong-" + planted }, `user "txc" or its password was refused`},
		{"wrong CA", func(c *cluster.Config) {
			c.TLS.RootCAs = x509.NewCertPool()
			c.TLS.RootCAs.AppendCertsFromPEM(otherCA)
		}, "TLS handshake failed"},
		{"wrong CA file", func(c *cluster.Config) {
			ca, err := cluster.OpenCAFile(certs.OtherCA, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.CA = ca
		}, "TLS handshake failed"},
		{"no client certificate", func(c *cluster.Config) { c.TLS.Certificates = nil }, "TLS handshake failed"},
		{"no user", func(c *cluster.Config) { c.Username, c.Password = "", "" }, "without a user"},
		{"prefix outside the role", func(c *cluster.Config) { c.Prefix = "/elsewhere" }, "lacks permission"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHosts(t)
			cfg := secureConfig(etcd, "refused", &h.logs)
			c.change(&cfg)
			r := startActiveWith(t, cfg, h)
			select {
			case <-r.done:
			case <-time.After(30 * time.Second):
				t.Fatal("RunPartitions did not give up in 30 s")
			}
			if !errors.Is(r.err, cluster.ErrEtcdAccess) || !strings.Contains(r.err.Error(), c.want) {
				t.Fatalf("RunPartitions = %v, want ErrEtcdAccess saying %q", r.err, c.want)
			}
			if holder, ended := h.now(); len(holder) != 0 || ended != 0 {
				t.Fatalf("the refused node hosted: now %v, %d ended", holder, ended)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			resp, gerr := etcd.RootClient(t).Get(ctx, "/", clientv3.WithPrefix(), clientv3.WithCountOnly())
			if gerr != nil || resp.Count != 0 {
				t.Fatalf("keys after a refused node: %v, %v", resp, gerr)
			}
			if strings.Contains(r.err.Error()+h.logs.String(), planted) {
				t.Fatalf("the etcd password leaked: %v\n%s", r.err, h.logs.String())
			}
		})
	}
}

// TestEtcdSettingsRefused: settings that cannot work are refused by New.
func TestEtcdSettingsRefused(t *testing.T) {
	base := cluster.Config{Endpoints: []string{"127.0.0.1:2379"}, Node: "n", Addr: "n:1"}
	for _, c := range []struct {
		change func(*cluster.Config)
		want   string
	}{
		{func(c *cluster.Config) { c.Username = "txc" }, "go together"},
		{func(c *cluster.Config) { c.Password = "pw-" + planted }, "go together"},
		{func(c *cluster.Config) { c.Username, c.Password = "txc", "pw-"+planted }, "in clear"},
		{func(c *cluster.Config) { c.Endpoints = []string{"http://127.0.0.1:2379"}; c.TLS = &tls.Config{} }, "http:// but TLS"},
		{func(c *cluster.Config) { c.Endpoints = []string{"https://e1:2379", "e2:2379"} }, "mix forms"},
	} {
		cfg := base
		c.change(&cfg)
		_, err := cluster.New(cfg)
		if !errors.Is(err, txc.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), planted) {
			t.Errorf("New(%v) = %v, want invalid argument saying %q", cfg.Endpoints, err, c.want)
		}
	}
}

// TestSecureEtcdCertificateAsUser: with client certificate auth, etcd
// takes the certificate's common name as the user when no password is
// given: a node whose certificate names the cluster's user needs none.
func TestSecureEtcdCertificateAsUser(t *testing.T) {
	etcd := etcdtest.StartSecure(t, etcdtest.Secure{Prefix: "/sec"})
	certs := etcd.Secure().Certs
	certFile, keyFile := certs.Issue(etcd.Secure().User, "client")
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	h := newHosts(t)
	cfg := secureConfig(etcd, "n1", &h.logs)
	cfg.Username, cfg.Password = "", ""
	cfg.TLS.Certificates = []tls.Certificate{cert}
	startActiveWith(t, cfg, h)
	waitFor(t, 15*time.Second, "n1 hosts its own partition", func() bool {
		holder, _ := h.now()
		return holder["n1"] == "n1"
	})
}
