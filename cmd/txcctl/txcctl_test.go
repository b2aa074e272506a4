package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/server/servertest"
)

// ctl runs txcctl with args and env and returns its exit code and output.
func ctl(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

// parked runs a coordinator, parks one transaction on it (its rollback on
// resource "db" fails for good) and returns the admin URL and the XID.
func parked(t *testing.T) (string, txc.XID) {
	t.Helper()
	conn, admin := servertest.StartWithAdmin(t, "ctl")
	web := httptest.NewServer(admin)
	t.Cleanup(web.Close)
	return web.URL, servertest.Park(t, conn, "db", "row accounts/7 changed behind our back")
}

func TestTxcctlFindsAndResolvesAParkedTransaction(t *testing.T) {
	url, xid := parked(t)
	env := map[string]string{"TXC_ADMIN": url}
	x := string(xid)
	expect := func(want int, wantOut []string, args ...string) string {
		t.Helper()
		code, out, errOut := ctl(t, env, args...)
		if code != want {
			t.Fatalf("txcctl %v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, want, out, errOut)
		}
		for _, w := range wantOut {
			if !strings.Contains(out+errOut, w) {
				t.Fatalf("txcctl %v: output lacks %q\nstdout: %s\nstderr: %s", args, w, out, errOut)
			}
		}
		return out
	}
	expect(0, []string{"ready", "true", "RollbackFailed"}, "status")
	expect(0, []string{x, "RollbackFailed", "row accounts/7 changed behind our back", "1 of 1 transactions"}, "tx", "list", "--manual")
	expect(0, []string{"0 of 0"}, "tx", "list", "--status", "Begin")
	expect(2, []string{"unknown status"}, "tx", "list", "--status", "Stuck")
	_, seq, _ := xid.Parse()
	branch := fmt.Sprintf("branch %d locks accounts: 7", seq+1) // the branch takes the sequence's next number
	expect(0, []string{x, "NEEDS MANUAL ACTION", "row accounts/7 changed", "HISTORY", branch}, "tx", "show", x)
	expect(0, []string{"accounts", x, "1 of 1 locked rows"}, "locks")
	expect(0, []string{"db"}, "rms")

	var list []tc.TxView
	if err := json.Unmarshal([]byte(expect(0, nil, "tx", "list", "-o", "json")), &list); err != nil || len(list) != 1 || list[0].XID != xid {
		t.Fatalf("json list: %v %+v", err, list)
	}

	expect(2, []string{"--comment"}, "tx", "resolve", x)
	expect(2, []string{"malformed"}, "tx", "show", "not-an-xid")
	expect(2, nil, "tx", "frobnicate")
	expect(2, nil, "tx", "show")
	expect(3, []string{"no transaction"}, "tx", "show", "ctl0:424242")
	expect(2, []string{"table or json"}, "status", "-o", "yaml")

	expect(0, []string{x, "resolved", "Rollbacked"}, "tx", "resolve", x, "--operator", "alice", "--comment", "restored row 7 by hand")
	expect(4, []string{"already finished"}, "tx", "resolve", x, "--comment", "again")
	expect(4, []string{"already finished"}, "tx", "retry", x)
	expect(0, []string{"Rollbacked", "resolve", "alice", "restored row 7 by hand"}, "tx", "show", x)
	expect(0, []string{"0 of 0 locked rows"}, "locks")

	code, _, errOut := ctl(t, nil, "status", "--admin", "http://127.0.0.1:1", "--timeout", "2s")
	if code != 5 || !strings.Contains(errOut, "unreachable") {
		t.Fatalf("unreachable coordinator: exit %d, %s", code, errOut)
	}
}
