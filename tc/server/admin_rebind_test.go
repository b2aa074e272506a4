package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store/memstore"
)

// A page of evil.example whose name is rebound to 127.0.0.1 is, to the
// browser, of the same origin as an open admin port on loopback: its
// requests carry Host and Origin evil.example, so the Origin check passes.
// Without credentials configured, browser requests to the API must name
// the coordinator by address or as localhost.
func TestOpenAdminRefusesBrowsersComingByAnotherName(t *testing.T) {
	r := start(t, memstore.New(), tc.Config{})
	h := r.srv.AdminHandler(nil)
	call := func(method, path, host string, headers map[string]string) int {
		req := httptest.NewRequest(method, path, nil)
		req.Host = host
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	evil := "evil.example:7091"
	action := "/v1/transactions/t1:42/retry"
	if code := call("POST", action, evil, map[string]string{"Origin": "http://" + evil}); code != http.StatusForbidden {
		t.Errorf("rebound action: %d, want 403", code)
	}
	if code := call("GET", "/v1/transactions", evil, map[string]string{"Sec-Fetch-Site": "same-origin"}); code != http.StatusForbidden {
		t.Errorf("rebound read: %d, want 403", code)
	}
	if code := call("GET", "/metrics", evil, map[string]string{"Sec-Fetch-Site": "same-origin"}); code == http.StatusOK {
		t.Errorf("rebound metrics: %d", code)
	}
	for _, host := range []string{"127.0.0.1:7091", "localhost:7091", "[::1]:7091", "10.0.0.5:7091", "txc.localhost:7091"} {
		if code := call("GET", "/v1/transactions", host, map[string]string{"Sec-Fetch-Site": "same-origin"}); code != http.StatusOK {
			t.Errorf("browser read by %s: %d", host, code)
		}
	}
	// Scripts, txcctl and Prometheus (no browser headers) by any name; the
	// console's files by any name (they hold no state).
	if code := call("GET", "/v1/transactions", "txc-admin.internal:7091", nil); code != http.StatusOK {
		t.Errorf("script read by name: %d", code)
	}
	if code := call("GET", "/", evil, map[string]string{"Sec-Fetch-Site": "none"}); code != http.StatusOK {
		t.Errorf("console by name: %d", code)
	}
}

// The console may not be framed by another site's page, which could lay
// it under a decoy and have an operator click Retry (clickjacking).
func TestConsoleRefusesFrames(t *testing.T) {
	r := start(t, memstore.New(), tc.Config{})
	_, _, hdr := adminCall(r.srv.AdminHandler(nil), "GET", "/", "")
	if !strings.Contains(hdr.Get("Content-Security-Policy"), "frame-ancestors 'none'") || hdr.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("console headers: CSP %q, X-Frame-Options %q", hdr.Get("Content-Security-Policy"), hdr.Get("X-Frame-Options"))
	}
}
