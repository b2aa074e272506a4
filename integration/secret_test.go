package integration

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
)

// planted is in every secret these tests give the coordinator: tokens and
// a store password. It must appear nowhere the coordinator or txcctl
// writes: logs, metrics, admin views, errors.
const planted = "Pl4nted5ecret"

func TestNoPlantedSecretInLogsMetricsViewsOrErrors(t *testing.T) {
	ca := newTestCA(t, "txc-test-ca")
	dir := t.TempDir()
	tokens, policy := filepath.Join(dir, "tokens.yaml"), filepath.Join(dir, "policy.yaml")
	ordersTok, opsTok, wrongTok := "orders-"+planted+"-0001", "ops-"+planted+"-0002", "wrong-"+planted+"-0003"
	writeFile(t, tokens, "orders: \""+ordersTok+"\"\nops: \""+opsTok+"\"\n")
	writeFile(t, policy, "identities:\n  orders:\n    tm: true\n    resources: [\"orders-db\"]\n  ops:\n    admin: write\n")
	p := startTLSTC(t, ca, nil, "--tokens-file", tokens, "--policy-file", policy)
	tlsOpt := client.WithTLS(clientTLS(t, ca, "", ""))
	ctx := context.Background()

	var seen []string // everything a user or operator could read
	note := func(what string, s string) { seen = append(seen, what+": "+s) }

	orders, err := tryDial(t, p.addr, tlsOpt, client.WithToken(ordersTok))
	if err != nil {
		t.Fatal(err)
	}
	if err := orders.Serve([]string{"orders-db"}, func(context.Context, client.Command) (txc.BranchStatus, string) {
		return txc.BranchCommitted, ""
	}); err != nil {
		t.Fatal(err)
	}
	xid, err := orders.Begin(ctx, "secret-free", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := orders.Register(ctx, client.Branch{XID: xid, Type: txc.BranchTCC, ResourceID: "orders-db",
		LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"1"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := orders.Register(ctx, client.Branch{XID: xid, Type: txc.BranchTCC, ResourceID: "payments-db"}); !errors.Is(err, txc.ErrPermissionDenied) {
		t.Fatalf("Register on payments-db = %v", err)
	} else {
		note("register error", err.Error())
	}
	if _, err := tryDial(t, p.addr, tlsOpt, client.WithToken(wrongTok)); err == nil {
		t.Fatal("a wrong token was accepted")
	} else {
		note("dial error", err.Error())
	}
	for _, path := range []string{"/v1/stats", "/v1/transactions", "/v1/transactions/" + string(xid), "/v1/locks", "/v1/rms", "/metrics"} {
		code, body := adminCall(t, p, "GET", path, opsTok)
		if code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		note(path, body)
		_, body = adminCall(t, p, "GET", path, wrongTok)
		note(path+" refused", body)
	}
	if _, rms := adminCall(t, p, "GET", "/v1/rms", opsTok); !strings.Contains(rms, `"identity": "orders"`) {
		t.Errorf("/v1/rms does not name the stream's identity:\n%s", rms)
	}
	_, body := adminCall(t, p, "POST", "/v1/transactions/"+string(xid)+"/retry", wrongTok)
	note("refused action", body)
	if _, err := orders.Commit(ctx, xid); err != nil {
		t.Fatal(err)
	}
	for tok, wantExit := range map[string]int{opsTok: 0, wrongTok: 6} {
		out, code := txcctl(t, []string{"TXC_TOKEN=" + tok, "TXC_TLS_CA=" + ca.certFile()}, "--admin", "https://"+p.admin, "tx", "list", "-o", "json")
		if code != wantExit {
			t.Errorf("txcctl tx list: exit %d, want %d\n%s", code, wantExit, out)
		}
		note("txcctl", out)
	}
	out, code := txcctl(t, nil, "--admin", "http://10.255.255.1:7091", "--token", wrongTok, "status")
	if code != 2 || !strings.Contains(out, "plain http") {
		t.Errorf("txcctl sent a token over plain http: exit %d\n%s", code, out)
	}
	note("txcctl flag", out)
	note("server log", p.waitLog(t, "permission denied", 1))
	note("store password", storeSecretOutput(t))
	for _, s := range seen {
		if strings.Contains(s, planted) {
			t.Errorf("a secret leaked into %s", tail(s, 2000))
		}
	}
}

// txcctl runs the txcctl binary and returns its combined output and exit
// code.
func txcctl(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "txcctl"), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// storeSecretOutput starts txc-server with store DSNs holding the planted
// password (one the database refuses, one that does not parse) and
// returns all they printed.
func storeSecretOutput(t *testing.T) string {
	t.Helper()
	var all strings.Builder
	for _, args := range [][]string{
		{"--store", "mysql", "--store-dsn", "txc_no_such_user:" + planted + "@tcp(127.0.0.1:3306)/test"},
		{"--store", "postgres", "--store-dsn", "postgres://nobody:" + planted + "@127.0.0.1:5432/test?sslmode=disable"},
		{"--store", "postgres", "--store-dsn", "postgres://nobody:" + planted + "@127.0.0.1:notaport/test"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		args = append([]string{"--listen", freeAddr(t), "--admin-listen", freeAddr(t)}, args...)
		out, err := exec.CommandContext(ctx, filepath.Join(binDir, "txc-server"), args...).CombinedOutput()
		cancel()
		if err == nil {
			t.Fatalf("txc-server %v started with a refused store:\n%s", args, out)
		}
		all.Write(out)
	}
	if !strings.Contains(all.String(), "store") {
		t.Fatalf("the store failures said nothing:\n%s", all.String())
	}
	return all.String()
}
