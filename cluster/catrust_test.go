package cluster_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/internal/etcdtest"
)

// TestCATrustVerifies: a configuration made by Trust accepts etcd's
// certificate only with the server usage, signed by the file's CAs, and
// valid for the name of the handshake or, without one (an IP endpoint),
// for the configured server name or an endpoint's host; a refusal is a
// *tls.CertificateVerificationError.
func TestCATrustVerifies(t *testing.T) {
	certs := etcdtest.NewCerts(t)
	ca, err := cluster.OpenCAFile(certs.CA, nil)
	if err != nil {
		t.Fatal(err)
	}
	server, _ := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	client, _ := tls.LoadX509KeyPair(certs.ClientCert, certs.ClientKey)
	for _, c := range []struct {
		name       string
		cert       tls.Certificate
		serverName string // configured
		endpoints  []string
		sni        string // reported by TLS
		ok         bool
	}{
		{"IP endpoint", server, "", []string{"https://127.0.0.1:2379"}, "", true},
		{"another IP", server, "", []string{"10.1.2.3:2379"}, "", false},
		{"IP endpoint, server name", server, "localhost", []string{"10.1.2.3:2379"}, "", true},
		{"DNS name", server, "", []string{"localhost:2379"}, "localhost", true},
		{"DNS name not in the certificate", server, "", []string{"127.0.0.1:2379"}, "etcd.example", false},
		{"client certificate", client, "", []string{"127.0.0.1:2379"}, "", false},
	} {
		cfg := &tls.Config{ServerName: c.serverName}
		ca.Trust(cfg, c.endpoints)
		cs := tls.ConnectionState{ServerName: c.sni, PeerCertificates: []*x509.Certificate{leaf(t, c.cert)}}
		err := cfg.VerifyConnection(cs)
		if _, refused := errors.AsType[*tls.CertificateVerificationError](err); (err == nil) != c.ok || (err != nil && !refused) {
			t.Errorf("%s: %v, want accepted %v", c.name, err, c.ok)
		}
		if !cfg.InsecureSkipVerify || cfg.RootCAs != nil {
			t.Errorf("%s: Go's own check left on", c.name)
		}
	}
}

func leaf(t *testing.T, c tls.Certificate) *x509.Certificate {
	t.Helper()
	cert, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
