package cluster_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/internal/etcdtest"
)

// TestCATrustVerifies: the credentials an etcd client gets with a CAFile
// accept etcd's certificate only with the server usage, signed by the
// file's CAs, and valid for the configured server name or else for the
// host of the endpoint dialed — not for another endpoint of the same
// client (a certificate of one etcd member must not pass for another);
// a refusal is a *tls.CertificateVerificationError.
func TestCATrustVerifies(t *testing.T) {
	certs := etcdtest.NewCerts(t)
	ca, err := cluster.OpenCAFile(certs.CA, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := cluster.OpenCAFile(certs.OtherCA, nil)
	if err != nil {
		t.Fatal(err)
	}
	server, _ := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey) // for 127.0.0.1 and localhost
	client, _ := tls.LoadX509KeyPair(certs.ClientCert, certs.ClientKey)
	for _, c := range []struct {
		name       string
		ca         *cluster.CAFile
		cert       tls.Certificate
		serverName string // configured
		authority  string // the endpoint dialed
		ok         bool
	}{
		{"IP endpoint", ca, server, "", "127.0.0.1:2379", true},
		{"another IP endpoint of the same client", ca, server, "", "10.1.2.3:2379", false},
		{"IP endpoint, server name", ca, server, "localhost", "10.1.2.3:2379", true},
		{"server name not in the certificate", ca, server, "etcd.example", "127.0.0.1:2379", false},
		{"server name an IP not in the certificate", ca, server, "10.1.2.3", "localhost:2379", false},
		{"DNS endpoint", ca, server, "", "localhost:2379", true},
		{"DNS endpoint not in the certificate", ca, server, "", "etcd.example:2379", false},
		{"client certificate", ca, client, "", "127.0.0.1:2379", false},
		{"another CA", other, server, "", "127.0.0.1:2379", false},
	} {
		err := handshake(t, c.ca, c.cert, c.serverName, c.authority)
		if _, refused := errors.AsType[*tls.CertificateVerificationError](err); (err == nil) != c.ok || (err != nil && !refused) {
			t.Errorf("%s: %v, want accepted %v", c.name, err, c.ok)
		}
	}
}

// handshake runs the credentials' client handshake for authority against
// a TLS server on loopback presenting cert.
func handshake(t *testing.T, ca *cluster.CAFile, cert tls.Certificate, serverName, authority string) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := ca.Credentials(&tls.Config{ServerName: serverName}).ClientHandshake(ctx, authority, raw)
	if err == nil {
		conn.Close()
	}
	return err
}
