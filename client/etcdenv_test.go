package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/internal/etcdtest"
)

// TestEtcdOptionsFromEnv: the TXC_ETCD_* variables give an etcd:// target
// what it needs to reach a secure etcd (TLS with a client certificate, a
// user with a password), as WithEtcdTLS and WithEtcdAuth would.
func TestEtcdOptionsFromEnv(t *testing.T) {
	etcd, sec := secureNode(t)
	env := map[string]string{
		"TXC_ETCD_CA": sec.Certs.CA, "TXC_ETCD_CERT": sec.Certs.ClientCert, "TXC_ETCD_KEY": sec.Certs.ClientKey,
		"TXC_ETCD_USER": "shop-client", "TXC_ETCD_PASSWORD": sec.Password,
	}
	opts, err := client.OptionsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	conn, _ := dialList(t, "etcd://"+etcd.Endpoint+"/shop", opts...)
	if conn.Node() != "a" {
		t.Fatalf("connected to %q, want a", conn.Node())
	}
	roundTrip(t, conn)
}

// TestEtcdOptionsFromEnvRefused: combinations that cannot work are errors
// from OptionsFromEnv or from Dial, and no error holds the password.
func TestEtcdOptionsFromEnvRefused(t *testing.T) {
	certs := etcdtest.NewCerts(t)
	for _, kv := range []map[string]string{
		{"TXC_ETCD_CERT": certs.ClientCert, "TXC_ETCD_KEY": certs.ClientKey},
		{"TXC_ETCD_SERVER_NAME": "etcd"},
		{"TXC_ETCD_CA": "/no/such/ca.pem"},
		{"TXC_ETCD_CA": certs.CA, "TXC_ETCD_CERT": certs.ClientCert},
	} {
		if _, err := client.OptionsFromEnv(func(k string) string { return kv[k] }); err == nil {
			t.Errorf("%v: accepted", kv)
		}
	}
	// A user and password without TLS: Dial refuses before sending it.
	kv := map[string]string{"TXC_ETCD_USER": "txc", "TXC_ETCD_PASSWORD": "pw-" + etcdPlanted}
	opts, err := client.OptionsFromEnv(func(k string) string { return kv[k] })
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Dial(context.Background(), "etcd://127.0.0.1:1/shop", opts...)
	if !errors.Is(err, txc.ErrInvalidArgument) || strings.Contains(err.Error(), etcdPlanted) {
		t.Fatalf("a password in clear: %v, want ErrInvalidArgument without the password", err)
	}
}
