package client_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
)

// TestOptionsFromEnv: nothing set gives plaintext; a token without TLS is
// refused by Dial before anything is sent; unreadable or empty TLS files
// are errors naming the file.
func TestOptionsFromEnv(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	if opts, err := client.OptionsFromEnv(env(nil)); err != nil || len(opts) != 0 {
		t.Fatalf("empty env: %d options, %v", len(opts), err)
	}
	opts, err := client.OptionsFromEnv(env(map[string]string{"TXC_TOKEN": "tok-0123456789abcdef"}))
	if err != nil || len(opts) != 1 {
		t.Fatalf("token only: %d options, %v", len(opts), err)
	}
	if _, err := client.Dial(context.Background(), closedAddr(t), opts...); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("a token over plaintext: %v, want ErrInvalidArgument", err)
	}
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range []map[string]string{
		{"TXC_TLS_CA": notPEM},
		{"TXC_TLS_CA": "/no/such/ca.pem"},
		{"TXC_TLS": "true", "TXC_TLS_CERT": notPEM},
	} {
		if _, err := client.OptionsFromEnv(env(kv)); err == nil {
			t.Errorf("%v: accepted", kv)
		}
	}
	opts, err = client.OptionsFromEnv(env(map[string]string{"TXC_TLS": "true", "TXC_TOKEN": "tok-0123456789abcdef"}))
	if err != nil || len(opts) != 2 {
		t.Fatalf("TLS with the system's CAs and a token: %d options, %v", len(opts), err)
	}
}
