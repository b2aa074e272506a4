package etcdtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/internal/dbtest"
)

// Secure is what StartSecure sets up: etcd's client port speaks TLS only
// and requires a client certificate signed by Certs.CA, and auth is on
// with a root user and User, whose role may read and write the keys
// under Prefix and nothing else.
type Secure struct {
	Certs    *Certs
	Prefix   string // the cluster's key prefix; default cluster.DefaultPrefix
	User     string // default "txc"
	Password string // User's password; default "txc-test-password"
	// ReadOnlyUser, when set, is a user (password Password) whose role may
	// only read the keys under Prefix, as a client's would.
	ReadOnlyUser string
}

// RootPassword is the password of the root user of a secure server.
const RootPassword = "etcdtest-root-password"

// StartSecure starts an etcd server as sec says (certificates made with
// NewCerts when sec.Certs is nil) and stops it when the test ends; the
// server's Endpoint is host:port, to be reached over TLS.
func StartSecure(t testing.TB, sec Secure) *Server {
	t.Helper()
	dbtest.SkipShort(t, "etcd")
	if sec.Certs == nil {
		sec.Certs = NewCerts(t)
	}
	if sec.User == "" {
		sec.User = "txc"
	}
	if sec.Password == "" {
		sec.Password = "txc-test-password"
	}
	s := &Server{t: t, dir: t.TempDir(), client: "https://" + freeAddr(t), peer: "http://" + freeAddr(t), secure: &sec}
	s.Endpoint = s.client[len("https://"):]
	// Files of its own, which ServeCert replaces.
	certDir := t.TempDir()
	s.certFile, s.keyFile = filepath.Join(certDir, "server.pem"), filepath.Join(certDir, "server-key.pem")
	s.ServeCert(sec.Certs.ServerCert, sec.Certs.ServerKey)
	s.start()
	t.Cleanup(s.Stop)
	s.enableAuth()
	return s
}

// Secure returns what the server was started with (nil when plaintext).
func (s *Server) Secure() *Secure { return s.secure }

// serverTLS sets the client port's TLS, client certificates required.
func (s *Server) serverTLS(cfg *embed.Config) {
	sec := s.secure
	cfg.ClientTLSInfo.CertFile, cfg.ClientTLSInfo.KeyFile = s.certFile, s.keyFile
	cfg.ClientTLSInfo.TrustedCAFile = sec.Certs.CA
	cfg.ClientTLSInfo.ClientCertAuth = true
	// The lowest cost bcrypt allows: passwords hashed in a blink, even
	// under the race detector.
	cfg.BcryptCost = 4
}

// RootClient returns a client of a secure server logged in as root,
// closed when the test ends.
func (s *Server) RootClient(t testing.TB) *clientv3.Client {
	t.Helper()
	return s.clientAs(t, "root", RootPassword)
}

// UserClient returns a client of a secure server logged in as its user.
func (s *Server) UserClient(t testing.TB) *clientv3.Client {
	t.Helper()
	return s.clientAs(t, s.secure.User, s.secure.Password)
}

func (s *Server) clientAs(t testing.TB, user, password string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.Endpoint}, DialTimeout: 5 * time.Second,
		TLS: s.secure.Certs.ClientTLS(), Username: user, Password: password, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcdtest: client as %s: %v", user, err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// enableAuth adds the root user, the cluster's user and role, and turns
// auth on.
func (s *Server) enableAuth() {
	t, sec := s.t, s.secure
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.Endpoint}, DialTimeout: 5 * time.Second,
		TLS: sec.Certs.ClientTLS(), Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys := cluster.KeysPrefix(sec.Prefix)
	end := clientv3.GetPrefixRangeEnd(keys)
	steps := []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", RootPassword); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, "txc"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "txc", keys, end, clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, sec.User, sec.Password); return err },
		func() error { _, err := cli.UserGrantRole(ctx, sec.User, "txc"); return err },
	}
	if sec.ReadOnlyUser != "" {
		steps = append(steps,
			func() error { _, err := cli.RoleAdd(ctx, "txc-read"); return err },
			func() error {
				_, err := cli.RoleGrantPermission(ctx, "txc-read", keys, end, clientv3.PermissionType(clientv3.PermRead))
				return err
			},
			func() error { _, err := cli.UserAdd(ctx, sec.ReadOnlyUser, sec.Password); return err },
			func() error { _, err := cli.UserGrantRole(ctx, sec.ReadOnlyUser, "txc-read"); return err })
	}
	steps = append(steps, func() error { _, err := cli.AuthEnable(ctx); return err })
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("etcdtest: auth setup step %d: %v", i, err)
		}
	}
}

// ClientURL is the server's client URL (https://host:port for a secure
// server).
func (s *Server) ClientURL() string { return s.client }

// ServeCert makes a secure server present the certificate and key files
// cert and key (made with Certs.Issue, after Certs.RotateCA say) from its
// next TLS handshake on, as etcd reads its certificate files at each
// handshake; connections made before keep the certificate they saw.
// Cut them (see package faultlink) to have clients connect again.
func (s *Server) ServeCert(cert, key string) {
	s.t.Helper()
	copyFile(s.t, key, s.keyFile)
	copyFile(s.t, cert, s.certFile)
}

// copyFile replaces dst with a copy of src at once (a handshake reading
// dst sees the old or the new content, never a part).
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}
