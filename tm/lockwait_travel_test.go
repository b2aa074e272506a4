package tm

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// lockWaitEcho answers with the lock wait its request's context carries
// ("-": none).
var lockWaitEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	d, ok := LockWaitFromContext(r.Context())
	if !ok {
		io.WriteString(w, "-")
		return
	}
	io.WriteString(w, d.String())
})

// TestLockWaitTravelsOverGRPC: the lock wait of a transaction begun here
// goes with its XID (rounded up to whole milliseconds) and is the
// handler's transaction's lock wait; a malformed one is refused before
// the handler runs; one that came from elsewhere is relayed further.
func TestLockWaitTravelsOverGRPC(t *testing.T) {
	tmConn, rawConn, rec := startHealth(t)
	m, _, _ := newTestManager()
	call := func(client healthpb.HealthClient, ctx context.Context) error {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}

	err := m.WithGlobalTx(t.Context(), Config{LockWait: 1500 * time.Microsecond}, func(ctx context.Context) error {
		return call(healthpb.NewHealthClient(tmConn), ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	s := rec.take()
	if len(s) != 1 || s[0].lockWait != 2*time.Millisecond || !s[0].hasLockWait {
		t.Fatalf("handler saw %+v, want a lock wait of 2ms", s)
	}
	raw := healthpb.NewHealthClient(rawConn)
	for _, c := range []struct {
		name string
		vals []string
		code codes.Code
		want time.Duration
	}{
		{"from a client without tm", []string{"250"}, codes.OK, 250 * time.Millisecond},
		{"not a number", []string{"1s"}, codes.InvalidArgument, 0},
		{"zero", []string{"0"}, codes.InvalidArgument, 0},
		{"over a day", []string{"86400001"}, codes.InvalidArgument, 0},
		{"conflicting", []string{"250", "300"}, codes.InvalidArgument, 0},
	} {
		md := metadata.Pairs(MetadataKey, "tc1:7")
		for _, v := range c.vals {
			md.Append(LockWaitKey, v)
		}
		err := call(raw, metadata.NewOutgoingContext(t.Context(), md))
		if status.Code(err) != c.code {
			t.Fatalf("%s: got %v, want %v", c.name, err, c.code)
		}
		s := rec.take()
		if c.code != codes.OK {
			if len(s) != 0 {
				t.Fatalf("%s: the handler ran", c.name)
			}
			continue
		}
		if len(s) != 1 || s[0].lockWait != c.want {
			t.Fatalf("%s: handler saw %+v, want %v", c.name, s, c.want)
		}
	}
	// A participant relays what it received; another XID carries none.
	in, err := withLockWait(ContextWithXID(t.Context(), "tc1:9"), "tc1:9", []string{"40"})
	if err != nil {
		t.Fatal(err)
	}
	in = ContextWithXID(in, "tc1:9")
	if err := call(healthpb.NewHealthClient(tmConn), in); err != nil {
		t.Fatal(err)
	}
	if s := rec.take(); len(s) != 1 || s[0].lockWait != 40*time.Millisecond {
		t.Fatalf("relayed: handler saw %+v, want 40ms", s)
	}
	if _, ok := LockWaitFromContext(ContextWithXID(in, "tc1:10")); ok {
		t.Fatal("another XID kept the received lock wait")
	}
}

// TestLockWaitTravelsOverHTTP: the same through the RoundTripper and
// HTTPMiddleware.
func TestLockWaitTravelsOverHTTP(t *testing.T) {
	srv := httptest.NewServer(HTTPMiddleware(lockWaitEcho))
	defer srv.Close()
	client := &http.Client{Transport: RoundTripper(srv.Client().Transport)}
	defer client.CloseIdleConnections()
	get := func(ctx context.Context, header ...string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Add(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	m, _, _ := newTestManager()
	var body string
	err := m.WithGlobalTx(t.Context(), Config{LockWait: 300 * time.Millisecond}, func(ctx context.Context) error {
		_, body = get(ctx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if body != "300ms" {
		t.Fatalf("handler saw lock wait %q, want 300ms", body)
	}
	if code, body := get(t.Context(), Header, "tc1:3", LockWaitHeader, "75"); code != http.StatusOK || body != "75ms" {
		t.Fatalf("raw header: %d %q", code, body)
	}
	if code, body := get(t.Context(), Header, "tc1:3", LockWaitHeader, "-5"); code != http.StatusBadRequest || !strings.HasPrefix(body, "tm: bad "+LockWaitHeader) {
		t.Fatalf("malformed: %d %q", code, body)
	}
	if code, body := get(t.Context(), Header, "tc1:3"); code != http.StatusOK || body != "-" {
		t.Fatalf("no lock wait: %d %q", code, body)
	}
}
