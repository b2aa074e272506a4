package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store/logstore"
	"github.com/txcio/txc/tc/store/memstore"
)

// adminCall serves one request on h and returns its status and body.
func adminCall(h http.Handler, method, path, body string) (int, string, http.Header) {
	w := httptest.NewRecorder()
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
	}
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String(), w.Header()
}

// parkOnServer begins a transaction with one branch on resource whose
// rollback fails unretryably, rolls it back and waits until it is parked.
func parkOnServer(t *testing.T, addr, resource string) txc.XID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	conn, err := client.Dial(ctx, addr, client.WithName("rm-under-test"), client.WithBackoff(10*time.Millisecond, 200*time.Millisecond))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	m := rm.New(conn)
	m.AddResource(resource, txc.BranchGeneric, rm.HandlerFuncs{
		RollbackFunc: func(context.Context, rm.Branch) error {
			return txc.Permanent(errors.New("row t/7 changed behind our back"))
		},
	})
	ctx = context.Background()
	xid, err := conn.Begin(ctx, "transfer", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.RegisterBranch(ctx, client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: resource,
		LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"7"}}}}); err != nil {
		t.Fatal(err)
	}
	conn.Rollback(ctx, xid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s, _ := conn.Status(ctx, xid); s == txc.GlobalRollbackFailed {
			return xid
		}
		if time.Now().After(deadline) {
			t.Fatal("transaction not parked")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkResolveRefused: a resolve without a comment, with bad JSON, or
// from a page of another site is refused and changes nothing.
func checkResolveRefused(t *testing.T, h http.Handler, path string) {
	t.Helper()
	for _, b := range []string{"", `{"operator": "alice"}`, `{"comment": `} {
		if code, body, _ := adminCall(h, "POST", path, b); code != 400 {
			t.Fatalf("resolve with body %q: %d %s", b, code, body)
		}
	}
	// A page of another site cannot make an operator's browser act.
	w := httptest.NewRecorder()
	forged := httptest.NewRequest("POST", path, strings.NewReader(`{"operator": "x", "comment": "forged"}`))
	forged.Header.Set("Origin", "http://evil.example")
	forged.Host = "127.0.0.1:7091" // the port by address: refuseRebound lets it through, sameOrigin must not
	h.ServeHTTP(w, forged)
	if w.Code != http.StatusForbidden {
		t.Fatalf("cross-site resolve: %d %s", w.Code, w.Body)
	}
}

func TestAdminResolveIsDurableAndAudited(t *testing.T) {
	dir := t.TempDir()
	st, err := logstore.Open(dir, logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, st, tc.Config{Node: "adm1"})
	h := r.srv.AdminHandler(nil)
	xid := parkOnServer(t, r.addr, "db")

	code, body, hdr := adminCall(h, "GET", "/v1/transactions?status=RollbackFailed&resource=db&name=trans", "")
	if code != 200 || hdr.Get("X-Total-Count") != "1" || !strings.Contains(body, string(xid)) ||
		!strings.Contains(body, "row t/7 changed behind our back") {
		t.Fatalf("filtered list: %d %s %v", code, body, hdr)
	}
	if code, body, _ := adminCall(h, "GET", "/v1/transactions?status=Bogus", ""); code != 400 {
		t.Fatalf("bad status filter: %d %s", code, body)
	}
	if code, body, _ := adminCall(h, "GET", "/v1/transactions?min_age=soon", ""); code != 400 {
		t.Fatalf("bad min_age: %d %s", code, body)
	}
	code, body, hdr = adminCall(h, "GET", "/v1/locks?resource=db&table=t", "")
	if code != 200 || hdr.Get("X-Total-Count") != "1" || !strings.Contains(body, `"holder": "`+string(xid)) {
		t.Fatalf("locks: %d %s", code, body)
	}
	code, body, _ = adminCall(h, "GET", "/v1/rms", "")
	if code != 200 || !strings.Contains(body, `"rm-under-test"`) || !strings.Contains(body, `"resource_id": "db"`) {
		t.Fatalf("rms: %d %s", code, body)
	}

	path := "/v1/transactions/" + string(xid) + "/resolve"
	checkResolveRefused(t, h, path)
	code, body, _ = adminCall(h, "POST", path, `{"operator": "alice", "comment": "restored row 7 by hand"}`)
	if code != 200 || !strings.Contains(body, `"Rollbacked"`) {
		t.Fatalf("resolve: %d %s", code, body)
	}
	if code, body, _ := adminCall(h, "POST", path, `{"operator": "alice", "comment": "again"}`); code != 409 {
		t.Fatalf("second resolve: %d %s", code, body)
	}
	if code, body, _ := adminCall(h, "GET", "/v1/locks", ""); code != 200 || strings.TrimSpace(body) != "[]" {
		t.Fatalf("locks after resolve: %d %s", code, body)
	}
	var v tc.TxView
	code, body, _ = adminCall(h, "GET", "/v1/transactions/"+string(xid), "")
	if err := json.Unmarshal([]byte(body), &v); code != 200 || err != nil || !v.Finished || v.StatusS != "Rollbacked" {
		t.Fatalf("resolved view: %d %s", code, body)
	}
	var audited bool
	for _, e := range v.History {
		audited = audited || (e.Action == tc.ActionResolve && e.Who == "alice" && e.Note == "restored row 7 by hand")
	}
	if !audited {
		t.Fatalf("history lacks the resolution: %+v", v.History)
	}

	// The resolution is durable: a coordinator restarted on the same
	// store knows the outcome.
	r.stop()
	<-r.done
	r.done <- nil // for the cleanup of the first server
	st2, err := logstore.Open(dir, logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r2 := start(t, st2, tc.Config{Node: "adm1"})
	code, body, _ = adminCall(r2.srv.AdminHandler(nil), "GET", "/v1/transactions/"+string(xid), "")
	if code != 200 || !strings.Contains(body, `"status": "Rollbacked"`) {
		t.Fatalf("after restart: %d %s", code, body)
	}
}

func TestConsoleIsServed(t *testing.T) {
	r := start(t, memstore.New(), tc.Config{})
	h := r.srv.AdminHandler(nil)
	code, body, hdr := adminCall(h, "GET", "/", "")
	if code != 200 || !strings.Contains(body, "<title>txc console</title>") || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("console: %d %v %.200s", code, hdr, body)
	}
	if code, body, _ := adminCall(h, "GET", "/console.js", ""); code != 200 || !strings.Contains(body, "/v1/transactions") {
		t.Fatalf("console.js: %d", code)
	}
}
