package client_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/txcio/txc/client"
	"github.com/txcio/txc/tc/store/memstore"
)

// selfSigned returns a server certificate for 127.0.0.1 and "localhost"
// and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// TestListTLS: over TLS each node of a list is verified against its own
// host (the list as a whole is no host name), and a name to verify given
// by the caller (TXC_TLS_SERVER_NAME) still applies to every node.
func TestListTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	st := memstore.New()
	dead, live := newNode(t, "dead", st), newNode(t, "live", st)
	live.tls = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12}
	live.up()
	for _, serverName := range []string{"", "localhost"} {
		conn, _ := dialList(t, list(dead, live), client.WithTLS(&tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}))
		roundTrip(t, conn)
	}
	_, err := client.Dial(t.Context(), list(dead, live), client.WithDialTimeout(time.Second),
		client.WithTLS(&tls.Config{RootCAs: pool, ServerName: "tc.example", MinVersion: tls.VersionTLS12}))
	if err == nil {
		t.Fatal("a certificate not for the name to verify was accepted")
	}
}
