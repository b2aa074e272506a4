package main

import (
	"bytes"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/txcio/txc/internal/etcdtest"
)

const etcdPw = "Pl4ntedEtcdPw"

// clusterArgs are the settings of a cluster node on etcd at ep.
func clusterArgs(ep string, more ...string) []string {
	return append([]string{"--store", "postgres", "--etcd-endpoints", ep, "--listen", "10.0.0.5:8091"}, more...)
}

var pgEnv = map[string]string{"TXC_STORE_DSN": "postgres://txc:pw@db:5432/txc"}

func withEnv(env map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// TestEtcdAccessSettings: the CA, client certificate, server name, user
// and password (from the environment, the config file or a file) reach
// the config; the TLS configuration trusts the CA and presents the
// certificate.
func TestEtcdAccessSettings(t *testing.T) {
	certs := etcdtest.NewCerts(t)
	tlsArgs := []string{"--etcd-ca", certs.CA, "--etcd-cert", certs.ClientCert, "--etcd-key", certs.ClientKey,
		"--etcd-server-name", "etcd.internal", "--etcd-user", "txc"}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(etcdPw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		args []string
		env  map[string]string
	}{
		"env":           {clusterArgs("https://e1:2379,https://e2:2379", tlsArgs...), withEnv(pgEnv, "TXC_ETCD_PASSWORD", etcdPw)},
		"config file":   {clusterArgs("e1:2379", append(tlsArgs, "--config", writeFile(t, "etcd_password: "+etcdPw+"\n"))...), pgEnv},
		"password file": {clusterArgs("e1:2379", append(tlsArgs, "--etcd-password-file", pwFile)...), pgEnv},
	} {
		cfg, err := parse(t, c.args, c.env)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if cfg.EtcdUser != "txc" || cfg.EtcdPassword != etcdPw {
			t.Fatalf("%s: user %q, password set %v", name, cfg.EtcdUser, cfg.EtcdPassword == etcdPw)
		}
		tc, ca, err := etcdTLS(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := tc.GetClientCertificate(&tls.CertificateRequestInfo{})
		want, _ := tls.LoadX509KeyPair(certs.ClientCert, certs.ClientKey)
		if err != nil || !bytes.Equal(cert.Certificate[0], want.Certificate[0]) || ca == nil || tc.ServerName != "etcd.internal" {
			t.Fatalf("%s: etcd TLS = %+v, %v", name, tc, err)
		}
	}
}

// TestEtcdPasswordHasNoFlag: the password cannot be given on the command
// line, where the process list would show it.
func TestEtcdPasswordHasNoFlag(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	registerFlags(fs)
	if fs.Lookup("etcd-password") != nil {
		t.Fatal("there is an --etcd-password flag")
	}
	if f := fs.Lookup("etcd-password-file"); f == nil || !strings.Contains(f.Usage, "TXC_ETCD_PASSWORD_FILE") {
		t.Fatalf("--etcd-password-file: %+v", f)
	}
}

// TestEtcdAccessSettingsRefused: combinations that cannot work are
// refused at start, naming the settings, never showing the password.
func TestEtcdAccessSettingsRefused(t *testing.T) {
	certs := etcdtest.NewCerts(t)
	pw := withEnv(pgEnv, "TXC_ETCD_PASSWORD", etcdPw)
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	checkRefused(t, []badSetting{
		{args: []string{"--etcd-ca", certs.CA}, env: pgEnv, want: []string{"need etcd_endpoints"}},
		{args: clusterArgs("e1:2379", "--etcd-ca", certs.CA, "--etcd-cert", certs.ClientCert), env: pgEnv, want: []string{"etcd_cert and etcd_key go together"}},
		{args: clusterArgs("e1:2379", "--etcd-ca", certs.CA, "--etcd-key", certs.ClientKey), env: pgEnv, want: []string{"etcd_cert and etcd_key go together"}},
		{args: clusterArgs("e1:2379", "--etcd-ca", certs.CA, "--etcd-cert", certs.ClientCert, "--etcd-key", certs.ServerKey), env: pgEnv, want: []string{"etcd_cert and etcd_key", "private key does not match"}},
		{args: clusterArgs("e1:2379", "--etcd-ca", "/nonexistent/ca.pem"), env: pgEnv, want: []string{"etcd_ca", "not a readable file"}},
		{args: clusterArgs("e1:2379", "--etcd-ca", certs.ClientKey), env: pgEnv, want: []string{"etcd_ca", "no PEM certificate"}},
		{args: clusterArgs("https://e1:2379"), env: pgEnv, want: []string{"https://", "etcd_ca is not set", "'system'"}},
		{args: clusterArgs("http://e1:2379", "--etcd-ca", "system"), env: pgEnv, want: []string{"etcd_ca", "http://"}},
		{args: clusterArgs("https://e1:2379,e2:2379", "--etcd-ca", "system"), env: pgEnv, want: []string{"etcd_endpoints", "mix forms"}},
		{args: clusterArgs("e1:2379", "--etcd-cert", certs.ClientCert, "--etcd-key", certs.ClientKey), env: pgEnv, want: []string{"need TLS to etcd", "etcd_ca"}},
		{args: clusterArgs("e1:2379", "--etcd-user", "txc"), env: pw, want: []string{"etcd_user needs TLS", "in clear"}},
		{args: clusterArgs("e1:2379", "--etcd-ca", certs.CA, "--etcd-user", "txc"), env: pgEnv, want: []string{"etcd_user needs a password", "TXC_ETCD_PASSWORD"}},
		{args: clusterArgs("e1:2379", "--etcd-ca", certs.CA), env: pw, want: []string{"etcd_user is not"}},
		{args: clusterArgs("e1:2379", "--etcd-ca", certs.CA, "--etcd-user", "txc", "--etcd-password-file", empty), env: pgEnv, want: []string{"etcd_password_file", "empty"}},
		{args: clusterArgs("e1:2379", "--etcd-ca", certs.CA, "--etcd-user", "txc", "--etcd-password-file", certs.CA), env: pw, want: []string{"set one"}},
		{args: clusterArgs("e1:2379", "--etcd-ca", certs.CA), env: pgEnv, file: "etcd_password: " + etcdPw + "\n", want: []string{"etcd_user is not"}},
	}, etcdPw)
}

// TestEtcdClientCertReloaded: a client certificate rotated on disk is the
// one presented to etcd at the next handshake, without a restart.
func TestEtcdClientCertReloaded(t *testing.T) {
	certs := etcdtest.NewCerts(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	install := func(cert, key string, at time.Time) {
		for src, dst := range map[string]string{cert: certFile, key: keyFile} {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o600); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(dst, at, at)
		}
	}
	install(certs.ClientCert, certs.ClientKey, time.Now().Add(-time.Minute))
	cfg, err := parse(t, clusterArgs("e1:2379", "--etcd-ca", certs.CA, "--etcd-cert", certFile, "--etcd-key", keyFile), pgEnv)
	if err != nil {
		t.Fatal(err)
	}
	tc, _, err := etcdTLS(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	presented := func() []byte {
		c, err := tc.GetClientCertificate(&tls.CertificateRequestInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Certificate[0]
	}
	first := presented()
	newCert, newKey := certs.Issue("rotated", "client")
	install(newCert, newKey, time.Now())
	want, _ := tls.LoadX509KeyPair(newCert, newKey)
	for deadline := time.Now().Add(10 * time.Second); !bytes.Equal(presented(), want.Certificate[0]); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the rotated certificate was not presented within 10 s")
		}
	}
	if bytes.Equal(first, want.Certificate[0]) {
		t.Fatal("the first certificate was already the rotated one")
	}
}
