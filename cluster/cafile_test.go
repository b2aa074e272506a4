package cluster_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/internal/etcdtest"
	"github.com/txcio/txc/internal/logtest"
)

// TestCAFileReloads: a CAFile follows its file's content: a bundle adds
// the new CA, the new CA alone drops the old one; a file that becomes
// invalid, half written, a key, or unreadable keeps the CAs last read,
// each failure logged once.
func TestCAFileReloads(t *testing.T) {
	every := *cluster.CACheckEvery
	*cluster.CACheckEvery = 0
	t.Cleanup(func() { *cluster.CACheckEvery = every })
	certs := etcdtest.NewCerts(t)
	file := filepath.Join(t.TempDir(), "ca.pem")
	etcdtest.WriteBundle(t, file, certs.CA)
	var logs logtest.Buffer
	ca, err := cluster.OpenCAFile(file, logs.Logger())
	if err != nil {
		t.Fatal(err)
	}
	oldCert := certs.ServerCert
	newCA := certs.RotateCA("new-ca")
	newCert, _ := certs.Issue("etcd", "server")
	want := func(step string, old, new bool) {
		t.Helper()
		if got := trusts(t, ca, oldCert); got != old {
			t.Fatalf("%s: old CA trusted %v, want %v", step, got, old)
		}
		if got := trusts(t, ca, newCert); got != new {
			t.Fatalf("%s: new CA trusted %v, want %v", step, got, new)
		}
	}
	want("first read", true, false)
	etcdtest.WriteBundle(t, file, certs.CA, newCA)
	want("bundle", true, true)

	newPEM, _ := os.ReadFile(newCA)
	oldPEM, _ := os.ReadFile(certs.CA)
	keyPEM, _ := os.ReadFile(certs.ServerKey)
	for i, broken := range []struct {
		name  string
		write func()
	}{
		{"not PEM", func() { os.WriteFile(file, []byte("not a certificate\n"), 0o600) }},
		{"half written", func() { os.WriteFile(file, append(oldPEM, newPEM[:len(newPEM)/2]...), 0o600) }},
		{"a bad certificate", func() {
			os.WriteFile(file, append(oldPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})...), 0o600)
		}},
		{"a key", func() { os.WriteFile(file, keyPEM, 0o600) }},
		{"removed", func() { os.Remove(file) }},
	} {
		broken.write()
		want(broken.name, true, true)
		want(broken.name+", again", true, true)
		if n := strings.Count(logs.String(), "cannot be used; keeping the CAs last read"); n != i+1 {
			t.Fatalf("%s: %d failures logged, want %d:\n%s", broken.name, n, i+1, logs.String())
		}
	}
	etcdtest.WriteBundle(t, file, newCA)
	want("new CA alone", false, true)
	if !strings.Contains(logs.String(), "new connections to etcd trust its CAs") {
		t.Fatalf("no reload logged:\n%s", logs.String())
	}
}

// TestOpenCAFileRefused: a CA file that cannot serve fails OpenCAFile,
// naming the file.
func TestOpenCAFileRefused(t *testing.T) {
	certs := etcdtest.NewCerts(t)
	for file, want := range map[string]string{
		"/no/such/ca.pem": "no such file",
		certs.ServerKey:   "holds no PEM certificate",
	} {
		if _, err := cluster.OpenCAFile(file, nil); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), file) {
			t.Errorf("OpenCAFile(%s) = %v, want an error naming it, saying %q", file, err, want)
		}
	}
}

// trusts reports whether ca's current CAs verify the certificate in file.
func trusts(t *testing.T, ca *cluster.CAFile, file string) bool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: ca.Pool()})
	return err == nil
}
