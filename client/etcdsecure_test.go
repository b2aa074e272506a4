package client_test

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/internal/etcdtest"
	"github.com/txcio/txc/internal/logtest"
	"github.com/txcio/txc/tc/store/memstore"
)

// etcdPlanted is in every etcd password of these tests: it must appear in
// no log line and no error.
const etcdPlanted = "Pl4ntedEtcdPw"

// TestEtcdTargetSecure: with etcd on TLS requiring client certificates
// and auth on, a client logged in as a user that may only read the
// cluster's keys finds the node and works with it. Dial's log never
// holds the password.
func TestEtcdTargetSecure(t *testing.T) {
	etcd, sec := secureNode(t)
	conn, logs := dialList(t, "etcd://"+etcd.Endpoint+"/shop",
		client.WithEtcdTLS(sec.Certs.ClientTLS()), client.WithEtcdAuth("shop-client", sec.Password))
	if conn.Node() != "a" {
		t.Fatalf("connected to %q, want a", conn.Node())
	}
	roundTrip(t, conn)
	if strings.Contains(logs.String(), etcdPlanted) {
		t.Fatalf("the etcd password is in the client's log:\n%s", logs.String())
	}
}

// secureNode starts a secure etcd (prefix /shop, read-only user
// shop-client) where node "a", serving, is registered and owns its
// partition.
func secureNode(t *testing.T) (*etcdtest.Server, *etcdtest.Secure) {
	etcd := etcdtest.StartSecure(t, etcdtest.Secure{Prefix: "/shop", ReadOnlyUser: "shop-client", Password: "pw-" + etcdPlanted})
	a := newNode(t, "a", memstore.New())
	etcdtest.Join(t, etcd.UserClient(t), "/shop", "a", a.addr)
	a.up()
	return etcd, etcd.Secure()
}

// TestEtcdTargetSecureRefused: a wrong password, a wrong CA, no client
// certificate or no user make Dial fail as soon as etcd refuses, well
// before its dial timeout, with an error matching txc.ErrUnavailable and
// cluster.ErrEtcdAccess that names what etcd refused, with neither the
// password in the error nor in the log.
func TestEtcdTargetSecureRefused(t *testing.T) {
	etcd := etcdtest.StartSecure(t, etcdtest.Secure{Prefix: "/shop", Password: "pw-" + etcdPlanted})
	sec := etcd.Secure()
	otherCA, err := os.ReadFile(sec.Certs.OtherCA)
	if err != nil {
		t.Fatal(err)
	}
	wrongCA := sec.Certs.ClientTLS()
	wrongCA.RootCAs = x509.NewCertPool()
	wrongCA.RootCAs.AppendCertsFromPEM(otherCA)
	noCert := sec.Certs.ClientTLS()
	noCert.Certificates = nil
	for _, c := range []struct {
		name string
		opts []client.Option
		want string
	}{
		{"wrong password", []client.Option{client.WithEtcdTLS(sec.Certs.ClientTLS()), client.WithEtcdAuth(sec.User, "wrong-"+etcdPlanted)}, "password was refused"},
		{"wrong CA", []client.Option{client.WithEtcdTLS(wrongCA), client.WithEtcdAuth(sec.User, sec.Password)}, "TLS handshake failed"},
		{"no client certificate", []client.Option{client.WithEtcdTLS(noCert), client.WithEtcdAuth(sec.User, sec.Password)}, "TLS handshake failed"},
		{"no user", []client.Option{client.WithEtcdTLS(sec.Certs.ClientTLS())}, "without a user"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs logtest.Buffer
			opts := append([]client.Option{client.WithLogger(logs.Logger()), client.WithDialTimeout(refusedDialTimeout)}, c.opts...)
			start := time.Now()
			_, err := client.Dial(context.Background(), "etcd://"+etcd.Endpoint+"/shop", opts...)
			if !errors.Is(err, txc.ErrUnavailable) || !errors.Is(err, cluster.ErrEtcdAccess) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Dial = %v, want unavailable and etcd access refused, saying %q", err, c.want)
			}
			if took := time.Since(start); took > refusedDialTimeout/3 {
				t.Fatalf("Dial failed after %v: it waited for the dial timeout (%v) instead of failing when etcd refused", took, refusedDialTimeout)
			}
			if strings.Contains(err.Error()+logs.String(), etcdPlanted) {
				t.Fatalf("the etcd password leaked: %v\n%s", err, logs.String())
			}
		})
	}
}

// refusedDialTimeout is the dial timeout of Dials etcd refuses: they must
// end long before it.
const refusedDialTimeout = 30 * time.Second

// TestEtcdTargetUnreachableWaited: an etcd that cannot be reached is not
// a refusal: Dial keeps trying until its dial timeout, and its error does
// not match cluster.ErrEtcdAccess.
func TestEtcdTargetUnreachableWaited(t *testing.T) {
	certs := etcdtest.NewCerts(t)
	const timeout = time.Second
	start := time.Now()
	_, err := client.Dial(context.Background(), "etcd://"+closedAddr(t)+"/shop",
		client.WithEtcdTLS(certs.ClientTLS()), client.WithDialTimeout(timeout))
	if !errors.Is(err, txc.ErrUnavailable) || errors.Is(err, cluster.ErrEtcdAccess) {
		t.Fatalf("Dial = %v, want unavailable, not refused", err)
	}
	if took := time.Since(start); took < timeout {
		t.Fatalf("Dial gave up after %v, before its dial timeout %v", took, timeout)
	}
}

// TestEtcdOptionsRefused: etcd options that cannot work fail Dial at once
// with an invalid-argument error.
func TestEtcdOptionsRefused(t *testing.T) {
	for _, c := range []struct {
		target string
		opts   []client.Option
		want   string
	}{
		{"etcd://127.0.0.1:2379", []client.Option{client.WithEtcdAuth("txc", "pw-"+etcdPlanted)}, "in clear"},
		{"etcd://127.0.0.1:2379", []client.Option{client.WithEtcdAuth("txc", "")}, "go together"},
		{"127.0.0.1:8091", []client.Option{client.WithEtcdAuth("txc", "pw-"+etcdPlanted)}, "etcd:// targets only"},
		{"127.0.0.1:8091", []client.Option{client.WithEtcdCAFile(os.DevNull)}, "etcd:// targets only"},
		{"etcd://127.0.0.1:2379", []client.Option{client.WithEtcdCAFile("/no/such/ca.pem")}, "no such file"},
		{"etcd://127.0.0.1:2379", []client.Option{client.WithEtcdCAFile(os.DevNull)}, "no PEM certificate"},
	} {
		_, err := client.Dial(context.Background(), c.target, c.opts...)
		if !errors.Is(err, txc.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), etcdPlanted) {
			t.Errorf("Dial %s = %v, want invalid argument saying %q", c.target, err, c.want)
		}
	}
}
