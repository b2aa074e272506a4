package client_test

import (
	"crypto/tls"
	"os"
	"testing"

	"github.com/txcio/txc/client"
	"github.com/txcio/txc/internal/etcdtest"
	"github.com/txcio/txc/internal/pemfile"
)

// TestClientCertificateRotated: a client certificate from TLSFromFiles
// is read again when its files change, so a long-running client presents
// a rotated certificate on its next connection without a restart; a pair
// that cannot be used (a key of another certificate, half rotated) keeps
// the last good one.
func TestClientCertificateRotated(t *testing.T) {
	every := pemfile.CheckEvery
	pemfile.CheckEvery = 0
	t.Cleanup(func() { pemfile.CheckEvery = every })
	certs := etcdtest.NewCerts(t)
	certFile, keyFile := copyPair(t, certs.ClientCert, certs.ClientKey)
	cfg, err := client.TLSFromFiles(certs.CA, certFile, keyFile, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	srv := tlsServer(t, certs)
	if got := presented(t, srv, cfg); got != etcdtest.ClientName {
		t.Fatalf("presented %q, want %q", got, etcdtest.ClientName)
	}
	newCert, newKey := certs.Issue("rotated-client", "client")
	writeFrom(t, certFile, newCert)
	if got := presented(t, srv, cfg); got != etcdtest.ClientName {
		t.Fatalf("half rotated (new certificate, old key): presented %q, want the last good %q", got, etcdtest.ClientName)
	}
	writeFrom(t, keyFile, newKey)
	if got := presented(t, srv, cfg); got != "rotated-client" {
		t.Fatalf("after the rotation: presented %q, want %q", got, "rotated-client")
	}
}

func copyPair(t *testing.T, cert, key string) (string, string) {
	dir := t.TempDir()
	c, k := dir+"/client.pem", dir+"/client-key.pem"
	writeFrom(t, c, cert)
	writeFrom(t, k, key)
	return c, k
}

func writeFrom(t *testing.T, dst, src string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsServer listens on loopback, requiring a client certificate of the
// test CA, and sends back each client's common name.
func tlsServer(t *testing.T, certs *etcdtest.Certs) string {
	cert, err := tls.LoadX509KeyPair(certs.ServerCert, certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := certs.ClientTLS().RootCAs
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			if tc.Handshake() == nil {
				tc.Write([]byte(tc.ConnectionState().PeerCertificates[0].Subject.CommonName + "\n"))
			}
			tc.Close()
		}
	}()
	return ln.Addr().String()
}

// presented dials addr with cfg and returns the common name the server saw.
func presented(t *testing.T, addr string, cfg *tls.Config) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 256)
	n, _ := c.Read(buf)
	if n == 0 {
		t.Fatal("no answer from the server")
	}
	return string(buf[:n-1])
}
