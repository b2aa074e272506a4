package client_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc/client"
	"github.com/txcio/txc/internal/etcdtest"
	"github.com/txcio/txc/internal/faultlink"
	"github.com/txcio/txc/tc/store/memstore"
)

// TestEtcdCARotatedClient: TXC_ETCD_CA is read again when it changes. The
// CA file gets the new CA besides the old, etcd then presents a
// certificate of the new CA: a Conn dialed before follows etcd again once
// its connection to etcd is cut (it links to a node that registers
// after), and a new Dial with the options read before the rotation works.
// The CA file then becomes invalid: the Conn keeps the CAs last read
// (after more cuts it still follows etcd), and logs the failure.
func TestEtcdCARotatedClient(t *testing.T) {
	etcd, sec := secureNode(t)
	caFile := filepath.Join(t.TempDir(), "etcd-ca.pem")
	etcdtest.WriteBundle(t, caFile, sec.Certs.CA)
	env := map[string]string{"TXC_ETCD_CA": caFile, "TXC_ETCD_CERT": sec.Certs.ClientCert, "TXC_ETCD_KEY": sec.Certs.ClientKey,
		"TXC_ETCD_USER": "shop-client", "TXC_ETCD_PASSWORD": sec.Password}
	opts, err := client.OptionsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	link := faultlink.Start(t, etcd.Endpoint)
	target := "etcd://" + link.Addr() + "/shop"
	conn, logs := dialList(t, target, opts...)

	newCA := sec.Certs.RotateCA("etcdtest-new-ca")
	etcdtest.WriteBundle(t, caFile, sec.Certs.CA, newCA)
	link.SetCut(true)
	etcd.ServeCert(sec.Certs.Issue("etcd", "server"))
	link.SetCut(false)
	b := newNode(t, "b", memstore.New())
	mb := etcdtest.Join(t, etcd.UserClient(t), "/shop", "b", b.addr)
	b.up()
	waitLong(t, "the Conn to see node b in etcd", func() bool { return strings.Contains(logs.String(), b.addr) })
	beginOnEach(t, conn, "a", "b")
	fresh, _ := dialList(t, target, opts...)
	roundTrip(t, fresh)

	if err := os.WriteFile(caFile, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Each cut makes the Conn connect again, reading the file (at most
	// once a second).
	waitLong(t, "the invalid CA file logged", func() bool {
		link.SetCut(true)
		link.SetCut(false)
		return strings.Contains(logs.String(), "cannot be used; keeping the CAs last read")
	})
	mb.End()
	waitLong(t, "the Conn to see node b leave", func() bool {
		return strings.Contains(logs.String(), "coordinator node left; closing its link")
	})
}

// waitLong checks cond every 100 ms and fails the test when it is still
// false after 30 s (etcd's client reconnects with backoff).
func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for %s", what)
		}
	}
}
