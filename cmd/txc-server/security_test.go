package main

import (
	"strings"
	"testing"
)

func TestSecuritySettingsMustAgree(t *testing.T) {
	f := writeFile(t, "x")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", f}, "tls_cert and tls_key go together"},
		{[]string{"--client-ca", f}, "client_ca needs tls_cert"},
		{[]string{"--policy-file", f}, "policy_file needs a way to know identities"},
		{[]string{"--tokens-file", "/no/such/file"}, "tokens_file"},
		{[]string{"--max-streams-per-conn", "0"}, "max_streams_per_conn"},
		{[]string{"--max-active-per-client", "-1"}, "max_active_per_client"},
	} {
		if _, err := parse(t, c.args, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error about %s", c.args, err, c.want)
		}
	}
	c, err := parse(t, []string{"--tls-cert", f, "--tls-key", f, "--client-ca", f, "--policy-file", f}, nil)
	if err != nil || !c.accessConfigured() {
		t.Fatalf("mutual TLS with a policy: %v", err)
	}
	if c, err := parse(t, nil, nil); err != nil || c.accessConfigured() || c.TLSCert != "" || c.MaxActive != 0 || c.MaxStreams != 16 {
		t.Fatalf("defaults must stay plaintext and open: %+v %v", c, err)
	}
}

// Bearer tokens on ports that speak plaintext beyond this machine would
// cross the network in clear: refused, as etcd_user without TLS is.
func TestTokensWithoutTLSOnlyOnLoopback(t *testing.T) {
	tokens := writeFile(t, "ops: \"0123456789abcdef0123\"\n")
	for _, args := range [][]string{
		{"--tokens-file", tokens, "--listen", "0.0.0.0:8091"},
		{"--tokens-file", tokens, "--admin-listen", "10.0.0.5:7091"},
		{"--tokens-file", tokens, "--listen", ":8091"},
	} {
		if _, err := parse(t, args, nil); err == nil || !strings.Contains(err.Error(), "tokens_file needs tls_cert") {
			t.Errorf("%v: %v, want an error about tokens in clear", args, err)
		}
	}
	for _, args := range [][]string{
		{"--tokens-file", tokens},
		{"--tokens-file", tokens, "--listen", "localhost:8091", "--admin-listen", "[::1]:7091"},
	} {
		if _, err := parse(t, args, nil); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
}
