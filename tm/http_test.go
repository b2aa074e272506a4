package tm

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/txcio/txc"
)

// xidEcho answers with the XID its request's context carries, or "-".
var xidEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	xid, ok := XIDFromContext(r.Context())
	if !ok {
		xid = "-"
	}
	io.WriteString(w, string(xid))
})

func TestHTTPMiddleware(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		code   int
		body   string
	}{
		{"no header", nil, http.StatusOK, "-"},
		{"valid", []string{"tc1:3"}, http.StatusOK, "tc1:3"},
		{"same twice", []string{"tc1:3", "tc1:3"}, http.StatusOK, "tc1:3"},
		{"malformed", []string{"tc1:x"}, http.StatusBadRequest, "tm: bad Txc-Xid header: "},
		{"empty", []string{""}, http.StatusBadRequest, "tm: bad Txc-Xid header: "},
		{"conflicting", []string{"tc1:3", "tc1:4"}, http.StatusBadRequest, "tm: bad Txc-Xid header: "},
	}
	h := HTTPMiddleware(xidEcho)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, v := range tt.header {
				r.Header.Add(Header, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.code || !strings.HasPrefix(w.Body.String(), tt.body) {
				t.Fatalf("got %d %q, want %d %q…", w.Code, w.Body.String(), tt.code, tt.body)
			}
		})
	}
}

// The RoundTripper and the middleware end to end, over a real loopback server.
func TestHTTPRoundTrip(t *testing.T) {
	srv := httptest.NewServer(HTTPMiddleware(xidEcho))
	defer srv.Close()
	client := &http.Client{Transport: RoundTripper(srv.Client().Transport)}
	defer client.CloseIdleConnections()

	get := func(req *http.Request) string {
		t.Helper()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	req, _ := http.NewRequestWithContext(ContextWithXID(t.Context(), "tc1:8"), http.MethodGet, srv.URL, nil)
	req.Header.Set("X-Tenant", "acme")
	if got := get(req); got != "tc1:8" {
		t.Fatalf("server saw %q, want tc1:8", got)
	}
	if v := req.Header.Get(Header); v != "" || len(req.Header) != 1 {
		t.Errorf("caller's request was modified: %v", req.Header)
	}

	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	if got := get(req); got != "-" {
		t.Fatalf("server saw %q, want no XID", got)
	}
}

// roundTripFunc lets a test see exactly what the RoundTripper passes on.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestRoundTripperClonesRequest(t *testing.T) {
	var got *http.Request
	rt := RoundTripper(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	}))

	// No XID: the very same request goes through.
	req := httptest.NewRequest(http.MethodGet, "http://example.test/", nil)
	if _, err := rt.RoundTrip(req); err != nil || got != req {
		t.Fatalf("request without XID not passed through untouched: %v", err)
	}

	// XID: a clone with the header; the original untouched.
	req = httptest.NewRequestWithContext(ContextWithXID(t.Context(), "tc1:1"), http.MethodGet, "http://example.test/", nil)
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if got == req || got.Header.Get(Header) != "tc1:1" || req.Header.Get(Header) != "" {
		t.Fatalf("want a clone carrying the header; sent %v, caller's %v", got.Header, req.Header)
	}

	// Same XID already set: passed as is.
	req.Header.Set(Header, "tc1:1")
	if _, err := rt.RoundTrip(req); err != nil || got != req {
		t.Fatalf("same XID: %v", err)
	}

	// Different XID already set: refused, body closed, base not called.
	got = nil
	body := &closeRecorder{Reader: strings.NewReader("x")}
	req = httptest.NewRequestWithContext(ContextWithXID(t.Context(), "tc1:1"), http.MethodPost, "http://example.test/", body)
	req.Header.Set(Header, "tc1:2")
	_, err := rt.RoundTrip(req)
	if !errors.Is(err, txc.ErrInvalidArgument) || got != nil || !body.closed {
		t.Fatalf("conflict: err = %v, base called = %v, body closed = %v", err, got != nil, body.closed)
	}
	if !strings.HasPrefix(err.Error(), "tm: ") {
		t.Errorf("message %q", err)
	}
}

func TestRoundTripperNilBase(t *testing.T) {
	if rt := RoundTripper(nil).(*roundTripper); rt.base != http.DefaultTransport {
		t.Fatal("nil base is not http.DefaultTransport")
	}
}
