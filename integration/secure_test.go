package integration

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
)

// startTLSTC starts a txc-server with TLS on both ports (certificate from
// ca) plus args; its admin client trusts ca and presents adminCert if set.
func startTLSTC(t *testing.T, ca *testCA, adminCert *tls.Certificate, args ...string) *tcProcess {
	t.Helper()
	cert, key := ca.valid("txc-server", true)
	args = append([]string{"--tls-cert", cert, "--tls-key", key}, args...)
	return startTCWith(t, func(p *tcProcess) {
		cfg := &tls.Config{RootCAs: ca.pool(), MinVersion: tls.VersionTLS12}
		if adminCert != nil {
			cfg.Certificates = []tls.Certificate{*adminCert}
		}
		p.httpc = &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
		p.scheme = "https"
	}, args...)
}

// tryDial dials with a short bound and returns the Conn or the error.
func tryDial(t *testing.T, addr string, opts ...client.Option) (*client.Conn, error) {
	t.Helper()
	opts = append([]client.Option{client.WithName("secure-test"), client.WithDialTimeout(2 * time.Second),
		client.WithBackoff(20*time.Millisecond, 200*time.Millisecond)}, opts...)
	c, err := client.Dial(context.Background(), addr, opts...)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// adminCall sends method path to p's admin port with token (none if "")
// and returns the status and body.
func adminCall(t *testing.T, p *tcProcess, method, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.scheme+"://"+p.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := p.httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestMutualTLSRefusesPlaintextAndBadCertificates(t *testing.T) {
	ca := newTestCA(t, "txc-test-ca")
	other := newTestCA(t, "other-ca")
	goodCert, goodKey := ca.valid("orders-service", false)
	adminPair, err := tls.LoadX509KeyPair(goodCert, goodKey)
	if err != nil {
		t.Fatal(err)
	}
	p := startTLSTC(t, ca, &adminPair, "--client-ca", ca.certFile())

	// Plaintext, no client certificate, a certificate of another CA and an
	// expired one: each is refused at the handshake.
	expCert, expKey := ca.issue("expired-service", false, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	wrongCert, wrongKey := other.valid("orders-service", false)
	refused := map[string][]client.Option{
		"plaintext":      nil,
		"no client cert": {client.WithTLS(clientTLS(t, ca, "", ""))},
		"wrong CA":       {client.WithTLS(clientTLS(t, ca, wrongCert, wrongKey))},
		"expired":        {client.WithTLS(clientTLS(t, ca, expCert, expKey))},
	}
	for name, opts := range refused {
		if _, err := tryDial(t, p.addr, opts...); !errors.Is(err, txc.ErrUnavailable) {
			t.Errorf("%s: Dial = %v, want a refused connection (ErrUnavailable)", name, err)
		}
	}

	c, err := tryDial(t, p.addr, client.WithTLS(clientTLS(t, ca, goodCert, goodKey)))
	if err != nil {
		t.Fatalf("a valid client certificate: %v", err)
	}
	ctx := context.Background()
	xid, err := c.Begin(ctx, "over-mtls", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := c.Commit(ctx, xid); err != nil || st != txc.GlobalCommitted {
		t.Fatalf("Commit = %v, %v", st, err)
	}

	// The admin port speaks TLS only, and knows the client certificate's
	// identity: with no policy every authenticated identity may act.
	if resp, err := http.Get("http://" + p.admin + "/healthz"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("plaintext admin request answered: %s", b)
		}
	}
	if code, body := adminCall(t, p, "GET", "/v1/stats", ""); code != 200 {
		t.Fatalf("stats with a client certificate: %d %s", code, body)
	}
}

// tokenPolicySetup writes a tokens file and a policy: orders may act as TM
// and serve orders-*; payments serves payments-db only; ops-ro reads the
// admin API; ops-rw acts on it.
func tokenPolicySetup(t *testing.T) (tokensFile, policyFile string) {
	dir := t.TempDir()
	tokensFile, policyFile = filepath.Join(dir, "tokens.yaml"), filepath.Join(dir, "policy.yaml")
	writeFile(t, tokensFile, `orders: "orders-token-0123456789"
payments: "payments-token-0123456789"
ops-ro: "ops-ro-token-0123456789"
ops-rw: "ops-rw-token-0123456789"
`)
	writeFile(t, policyFile, `identities:
  orders:
    tm: true
    resources: ["orders-*"]
  payments:
    resources: ["payments-db"]
  ops-ro:
    admin: read
  ops-rw:
    admin: write
`)
	return tokensFile, policyFile
}

func TestPolicyRefusesWrongIdentityAndChangesNothing(t *testing.T) {
	ca := newTestCA(t, "txc-test-ca")
	tokens, policy := tokenPolicySetup(t)
	p := startTLSTC(t, ca, nil, "--tokens-file", tokens, "--policy-file", policy)
	tlsOpt := client.WithTLS(clientTLS(t, ca, "", ""))
	ctx := context.Background()

	if _, err := tryDial(t, p.addr, tlsOpt); !errors.Is(err, txc.ErrPermissionDenied) {
		t.Fatalf("Dial without a token = %v, want ErrPermissionDenied", err)
	}
	if _, err := tryDial(t, p.addr, tlsOpt, client.WithToken("not-a-known-token-at-all")); !errors.Is(err, txc.ErrPermissionDenied) {
		t.Fatalf("Dial with an unknown token = %v, want ErrPermissionDenied", err)
	}
	if _, err := client.Dial(ctx, p.addr, client.WithToken("orders-token-0123456789")); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("a token over plaintext = %v, want ErrInvalidArgument", err)
	}

	orders, err := tryDial(t, p.addr, tlsOpt, client.WithToken("orders-token-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	payments, err := tryDial(t, p.addr, tlsOpt, client.WithToken("payments-token-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	xid, err := orders.Begin(ctx, "policy", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := payments.Begin(ctx, "not-a-tm", 30*time.Second); !errors.Is(err, txc.ErrPermissionDenied) {
		t.Fatalf("payments Begin = %v, want ErrPermissionDenied", err)
	}
	if _, err := payments.Commit(ctx, xid); !errors.Is(err, txc.ErrPermissionDenied) {
		t.Fatalf("payments Commit of orders' transaction = %v, want ErrPermissionDenied", err)
	}
	lock := []txc.LockKey{{Table: "orders", Rows: []string{"1"}}}
	if _, err := payments.Register(ctx, client.Branch{XID: xid, Type: txc.BranchTCC, ResourceID: "orders-db", LockKeys: lock}); !errors.Is(err, txc.ErrPermissionDenied) {
		t.Fatalf("payments Register on orders-db = %v, want ErrPermissionDenied", err)
	}
	// A refused Hello announces nothing: payments gets no phase-2 command
	// of orders-db.
	if err := payments.Serve([]string{"orders-db"}, func(context.Context, client.Command) (txc.BranchStatus, string) {
		t.Error("payments got a command for orders-db")
		return txc.BranchCommitted, ""
	}); err != nil {
		t.Fatal(err)
	}
	// The Hello went ahead of this request on payments' stream, so once it
	// is answered the coordinator has handled the Hello.
	if _, err := payments.Status(ctx, xid); err != nil && !errors.Is(err, txc.ErrPermissionDenied) {
		t.Fatal(err)
	}

	code, body := adminCall(t, p, "GET", "/v1/transactions/"+string(xid), "ops-ro-token-0123456789")
	var view struct {
		Branches []json.RawMessage `json:"branches"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &view) != nil || len(view.Branches) != 0 {
		t.Fatalf("the refused register changed the transaction: %d %s", code, body)
	}
	if code, body := adminCall(t, p, "GET", "/v1/rms", "ops-ro-token-0123456789"); code != 200 || strings.Contains(body, "orders-db") {
		t.Fatalf("the refused Hello announced orders-db: %d %s", code, body)
	}
	if _, err := orders.Register(ctx, client.Branch{XID: xid, Type: txc.BranchTCC, ResourceID: "orders-db", LockKeys: lock}); err != nil {
		t.Fatalf("orders Register on orders-db: %v", err)
	}
	if st, err := orders.Rollback(ctx, xid); err != nil {
		t.Fatalf("Rollback = %v, %v", st, err)
	}
	_, metrics := adminCall(t, p, "GET", "/metrics", "ops-ro-token-0123456789")
	for _, want := range []string{`txc_permission_denied_total{kind="begin",port="grpc"} 1`, `txc_permission_denied_total{kind="register",port="grpc"} 1`,
		`txc_permission_denied_total{kind="hello",port="grpc"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestAdminAPINeedsCredential(t *testing.T) {
	ca := newTestCA(t, "txc-test-ca")
	tokens, policy := tokenPolicySetup(t)
	p := startTLSTC(t, ca, nil, "--tokens-file", tokens, "--policy-file", policy, "--pprof", "true")
	const xidPath = "/v1/transactions/txc1:999/retry"
	cases := []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/", "", 200}, // the console's page; its API calls need the token
		{"GET", "/v1/stats", "", 401},
		{"GET", "/metrics", "", 401},
		{"POST", xidPath, "", 401},
		{"GET", "/v1/stats", "orders-token-0123456789", 403}, // not an admin identity
		{"GET", "/v1/stats", "ops-ro-token-0123456789", 200},
		{"POST", xidPath, "ops-ro-token-0123456789", 403},
		{"POST", xidPath, "ops-rw-token-0123456789", 404}, // allowed; no such transaction
		{"GET", "/debug/pprof/", "", 401},                 // profiles hold secrets: write rights only
		{"GET", "/debug/pprof/", "ops-ro-token-0123456789", 403},
		{"GET", "/debug/pprof/", "ops-rw-token-0123456789", 200},
	}
	for _, c := range cases {
		if code, body := adminCall(t, p, c.method, c.path, c.token); code != c.want {
			t.Errorf("%s %s with token %q: %d %s, want %d", c.method, c.path, c.token, code, body, c.want)
		}
	}
	_, metrics := adminCall(t, p, "GET", "/metrics", "ops-ro-token-0123456789")
	if !strings.Contains(metrics, `txc_permission_denied_total{kind="write",port="admin"} 4`) {
		t.Errorf("admin refusals not counted:\n%s", grepLines(metrics, "permission_denied"))
	}
}

func TestTokensReloadWithoutRestart(t *testing.T) {
	ca := newTestCA(t, "txc-test-ca")
	tokens, policy := tokenPolicySetup(t)
	p := startTLSTC(t, ca, nil, "--tokens-file", tokens, "--policy-file", policy)
	if code, _ := adminCall(t, p, "GET", "/v1/stats", "ops-ro-token-0123456789"); code != 200 {
		t.Fatalf("before reload: %d", code)
	}
	writeFile(t, tokens, `ops-ro: "ops-ro-rotated-token-987654321"
orders: "orders-token-0123456789"
`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		newCode, _ := adminCall(t, p, "GET", "/v1/stats", "ops-ro-rotated-token-987654321")
		oldCode, _ := adminCall(t, p, "GET", "/v1/stats", "ops-ro-token-0123456789")
		if newCode == 200 && oldCode == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after rewriting the tokens file: new token %d, old token %d", newCode, oldCode)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A stream authenticates with the file as it is now.
	tlsOpt := client.WithTLS(clientTLS(t, ca, "", ""))
	if _, err := tryDial(t, p.addr, tlsOpt, client.WithToken("payments-token-0123456789")); !errors.Is(err, txc.ErrPermissionDenied) {
		t.Fatalf("a removed token = %v, want ErrPermissionDenied", err)
	}
	// A broken file keeps the last good one: the coordinator reads the
	// file again when a request needs it (at most once a second), so ask
	// until it has logged the failed reload, with the old token working
	// every time.
	const kept = "reload failed; keeping the previous one"
	failed := strings.Count(p.readLog(), kept)
	writeFile(t, tokens, "ops-ro: [not, a, token]\n")
	waitFor(t, 30*time.Second, func() bool {
		if code, _ := adminCall(t, p, "GET", "/v1/stats", "ops-ro-rotated-token-987654321"); code != 200 {
			t.Fatalf("a broken tokens file dropped the last good one: %d", code)
		}
		return strings.Count(p.readLog(), kept) > failed
	}, "the broken tokens file to be read and refused")
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestCertificatesReloadWithoutRestart(t *testing.T) {
	ca := newTestCA(t, "txc-test-ca")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	install := func(cn string) {
		c, k := ca.valid(cn, true)
		for src, dst := range map[string]string{c: certFile, k: keyFile} {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, dst, string(b))
		}
	}
	install("first-server")
	p := startTCWith(t, func(p *tcProcess) {
		p.httpc = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool()}}}
		p.scheme = "https"
	}, "--tls-cert", certFile, "--tls-key", keyFile)
	servedCN := func(addr string) string {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool()})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := servedCN(p.addr); cn != "first-server" {
		t.Fatalf("served %q", cn)
	}
	install("second-server")
	deadline := time.Now().Add(10 * time.Second)
	for servedCN(p.addr) != "second-server" || servedCN(p.admin) != "second-server" {
		if time.Now().After(deadline) {
			t.Fatal("the new certificate was not served within 10s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Connections made before and after keep working.
	c, err := tryDial(t, p.addr, client.WithTLS(clientTLS(t, ca, "", "")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Begin(context.Background(), "after-reload", 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestActiveTransactionsPerClientAreLimited(t *testing.T) {
	ca := newTestCA(t, "txc-test-ca")
	tokens, policy := tokenPolicySetup(t)
	p := startTLSTC(t, ca, nil, "--tokens-file", tokens, "--policy-file", policy, "--max-active-per-client", "2")
	tlsOpt := client.WithTLS(clientTLS(t, ca, "", ""))
	ctx := context.Background()
	a, err := tryDial(t, p.addr, tlsOpt, client.WithToken("orders-token-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := tryDial(t, p.addr, tlsOpt, client.WithToken("orders-token-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	x1, err := a.Begin(ctx, "limited", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Begin(ctx, "limited", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// The identity's third, on either stream, is refused.
	if _, err := b.Begin(ctx, "limited", 30*time.Second); !errors.Is(err, txc.ErrUnavailable) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("third Begin = %v, want the limit's ErrUnavailable", err)
	}
	if _, err := a.Commit(ctx, x1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := a.Begin(ctx, "limited", 30*time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Begin after one finished: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestClientCertificateNamesTheIdentity(t *testing.T) {
	ca := newTestCA(t, "txc-test-ca")
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, policy, "identities:\n  orders-service:\n    tm: true\n    resources: [orders-db]\n  ops:\n    admin: read\n")
	opsCert, opsKey := ca.valid("ops", false)
	opsPair, err := tls.LoadX509KeyPair(opsCert, opsKey)
	if err != nil {
		t.Fatal(err)
	}
	p := startTLSTC(t, ca, &opsPair, "--client-ca", ca.certFile(), "--policy-file", policy)
	ordersCert, ordersKey := ca.valid("orders-service", false)
	payCert, payKey := ca.valid("payments-service", false)
	orders, err := tryDial(t, p.addr, client.WithTLS(clientTLS(t, ca, ordersCert, ordersKey)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := orders.Begin(context.Background(), "by-cert", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	pay, err := tryDial(t, p.addr, client.WithTLS(clientTLS(t, ca, payCert, payKey)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pay.Begin(context.Background(), "by-cert", 10*time.Second); !errors.Is(err, txc.ErrPermissionDenied) || !strings.Contains(err.Error(), "payments-service") {
		t.Fatalf("payments-service Begin = %v, want ErrPermissionDenied naming it", err)
	}
	if code, body := adminCall(t, p, "GET", "/v1/stats", ""); code != 200 {
		t.Fatalf("admin read with the ops certificate: %d %s", code, body)
	}
	if code, body := adminCall(t, p, "POST", "/v1/transactions/txc1:5/retry", ""); code != 403 {
		t.Fatalf("admin action with a read-only certificate: %d %s", code, body)
	}
}

func TestAdminOpenReadsStillGuardActions(t *testing.T) {
	ca := newTestCA(t, "txc-test-ca")
	tokens, policy := tokenPolicySetup(t)
	p := startTLSTC(t, ca, nil, "--tokens-file", tokens, "--policy-file", policy, "--admin-open-reads", "true")
	if code, body := adminCall(t, p, "GET", "/v1/stats", ""); code != 200 {
		t.Fatalf("an open read: %d %s", code, body)
	}
	if code, body := adminCall(t, p, "POST", "/v1/transactions/txc1:7/retry", ""); code != 401 {
		t.Fatalf("an action without a credential: %d %s", code, body)
	}
}
