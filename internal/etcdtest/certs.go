package etcdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Certs is the certificate material of a secure server, made for one
// test and written as PEM files in a test directory (no key is ever
// committed).
type Certs struct {
	t   testing.TB
	dir string
	ca  *x509.Certificate // signs what Issue makes
	key *ecdsa.PrivateKey
	cas []*x509.Certificate // every CA that signed: ClientTLS trusts them
	// CA is the file of the CA that signed the server's and the client's
	// certificates (the first ones, with RotateCA); OtherCA a CA that
	// signed neither.
	CA, OtherCA string
	// ServerCert and ServerKey are etcd's, for 127.0.0.1 and localhost.
	ServerCert, ServerKey string
	// ClientCert and ClientKey are a client certificate whose common name
	// is ClientName.
	ClientCert, ClientKey string
}

// ClientName is the common name of Certs.ClientCert; no etcd user has
// it, so the certificate alone gives no etcd permission.
const ClientName = "txc-test-client"

// NewCerts makes a CA, a server and a client certificate, and another CA.
func NewCerts(t testing.TB) *Certs {
	t.Helper()
	c := &Certs{t: t, dir: t.TempDir()}
	c.ca, c.key, c.CA = c.newCA("etcdtest-ca")
	c.cas = []*x509.Certificate{c.ca}
	_, _, c.OtherCA = c.newCA("etcdtest-other-ca")
	c.ServerCert, c.ServerKey = c.Issue("etcd", "server")
	c.ClientCert, c.ClientKey = c.Issue(ClientName, "client")
	return c
}

// newCA makes a self-signed CA and writes its certificate.
func (c *Certs) newCA(name string) (*x509.Certificate, *ecdsa.PrivateKey, string) {
	tmpl := certTemplate(name)
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage |= x509.KeyUsageCertSign
	key := newKey(c.t)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		c.t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	file := filepath.Join(c.dir, name+".pem")
	writePEM(c.t, file, "CERTIFICATE", der)
	return cert, key, file
}

// RotateCA makes a new CA named name, which signs what Issue makes from
// then on, and returns its file. The certificates made so far stay valid
// and etcd keeps verifying client certificates with CA; ClientTLS trusts
// both CAs.
func (c *Certs) RotateCA(name string) string {
	c.t.Helper()
	var file string
	c.ca, c.key, file = c.newCA(name)
	c.cas = append(c.cas, c.ca)
	return file
}

// Issue makes a certificate for cn signed by the CA, for a "server"
// (127.0.0.1 and localhost) or a "client", and returns its certificate
// and key files (new files at each call).
func (c *Certs) Issue(cn, use string) (certFile, keyFile string) {
	c.t.Helper()
	tmpl := certTemplate(cn)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if use == "server" {
		// etcd also presents it to itself (its gRPC gateway).
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		tmpl.IPAddresses, tmpl.DNSNames = []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"}
	}
	key := newKey(c.t)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.ca, &key.PublicKey, c.key)
	if err != nil {
		c.t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		c.t.Fatal(err)
	}
	base := filepath.Join(c.dir, cn+"-"+tmpl.SerialNumber.String())
	writePEM(c.t, base+".pem", "CERTIFICATE", der)
	writePEM(c.t, base+"-key.pem", "EC PRIVATE KEY", keyDER)
	return base + ".pem", base + "-key.pem"
}

// ClientTLS is a client configuration trusting the CA (and those of
// RotateCA) and presenting the client certificate.
func (c *Certs) ClientTLS() *tls.Config {
	c.t.Helper()
	cert, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey)
	if err != nil {
		c.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for _, ca := range c.cas {
		pool.AddCert(ca)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

func certTemplate(cn string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	return &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// WriteBundle writes to dst the concatenation of the PEM files srcs (a CA
// bundle, for a rotation: old and new CA), replacing dst's content.
func WriteBundle(t testing.TB, dst string, srcs ...string) {
	t.Helper()
	var all []byte
	for _, src := range srcs {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if err := os.WriteFile(dst, all, 0o600); err != nil {
		t.Fatal(err)
	}
}
