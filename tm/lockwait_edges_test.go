package tm

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// A Config.LockWait over a day (validate accepts it) is sent as a day, so
// that no call of the transaction fails at the participant.
func TestLockWaitOverADayStillCalls(t *testing.T) {
	tmConn, _, rec := startHealth(t)
	m, _, _ := newTestManager()
	for _, lw := range []time.Duration{25 * time.Hour, time.Duration(math.MaxInt64)} {
		err := m.WithGlobalTx(t.Context(), Config{LockWait: lw}, func(ctx context.Context) error {
			_, err := healthpb.NewHealthClient(tmConn).Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		})
		if err != nil {
			t.Errorf("LockWait %v: the call failed: %v", lw, err)
		}
		rec.take()
	}
}

func TestLockWaitOverADayStillCallsHTTP(t *testing.T) {
	srv := httptest.NewServer(HTTPMiddleware(lockWaitEcho))
	defer srv.Close()
	client := &http.Client{Transport: RoundTripper(srv.Client().Transport)}
	defer client.CloseIdleConnections()
	m, _, _ := newTestManager()
	err := m.WithGlobalTx(t.Context(), Config{LockWait: 25 * time.Hour}, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("LockWait 25h: participant answered %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A lock wait the caller put in the outgoing metadata itself is kept: the
// interceptor adds the transaction's only when the call carries none.
func TestCallerLockWaitMetadataKept(t *testing.T) {
	tmConn, _, rec := startHealth(t)
	m, _, _ := newTestManager()
	err := m.WithGlobalTx(t.Context(), Config{LockWait: 200 * time.Millisecond}, func(ctx context.Context) error {
		ctx = metadata.AppendToOutgoingContext(ctx, LockWaitKey, "100")
		_, err := healthpb.NewHealthClient(tmConn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	})
	s := rec.take()
	if err != nil {
		t.Fatalf("call failed (%v): %v; handler ran %d times", status.Code(err), err, len(s))
	}
	if len(s) != 1 || s[0].lockWait != 100*time.Millisecond {
		t.Fatalf("handler saw %+v, want the caller's 100ms", s)
	}
}

// Streams carry it too.
func TestLockWaitOverStream(t *testing.T) {
	tmConn, rawConn, rec := startHealth(t)
	m, _, _ := newTestManager()
	watch := func(conn healthpb.HealthClient, ctx context.Context) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		st, err := conn.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		_, err = st.Recv()
		return err
	}
	err := m.WithGlobalTx(t.Context(), Config{LockWait: 70 * time.Millisecond}, func(ctx context.Context) error {
		return watch(healthpb.NewHealthClient(tmConn), ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := rec.take(); len(s) != 1 || s[0].lockWait != 70*time.Millisecond {
		t.Fatalf("stream handler saw %+v", s)
	}
	ctx := metadata.AppendToOutgoingContext(t.Context(), MetadataKey, "tc1:7", LockWaitKey, "x")
	if err := watch(healthpb.NewHealthClient(rawConn), ctx); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("malformed over stream: %v", err)
	}
	if s := rec.take(); len(s) != 0 {
		t.Fatalf("stream handler ran: %+v", s)
	}
}

// A received lock wait never reaches another transaction.
func TestReceivedLockWaitStaysWithItsXID(t *testing.T) {
	m, _, _ := newTestManager()
	in, err := withLockWait(t.Context(), "tc1:9", []string{"40"})
	if err != nil {
		t.Fatal(err)
	}
	in = ContextWithXID(in, "tc1:9")
	if d, ok := LockWaitFromContext(in); !ok || d != 40*time.Millisecond {
		t.Fatalf("own: %v %v", d, ok)
	}
	if _, ok := LockWaitFromContext(ContextWithoutXID(in)); ok {
		t.Error("ContextWithoutXID kept it")
	}
	for _, p := range []Propagation{RequiresNew, NotSupported} {
		err := m.WithGlobalTx(in, Config{Propagation: p}, func(ctx context.Context) error {
			if d, ok := LockWaitFromContext(ctx); ok {
				t.Errorf("%v: inner ctx has lock wait %v", p, d)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err = m.WithGlobalTx(in, Config{Propagation: RequiresNew, LockWait: 5 * time.Millisecond}, func(ctx context.Context) error {
		if d, _ := LockWaitFromContext(ctx); d != 5*time.Millisecond {
			t.Errorf("RequiresNew with own: %v", d)
		}
		if d, _ := LockWaitFromContext(ContextWithXID(ctx, "tc1:9")); d != 40*time.Millisecond {
			t.Errorf("back to the received XID: %v", d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = m.WithGlobalTx(in, Config{LockWait: 5 * time.Millisecond}, func(ctx context.Context) error {
		if d, _ := LockWaitFromContext(ctx); d != 40*time.Millisecond {
			t.Errorf("Required joins: %v", d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Validation edge cases.
func TestLockWaitValidation(t *testing.T) {
	for _, c := range []struct {
		vals []string
		ok   bool
	}{
		{[]string{""}, false}, {[]string{"-5"}, false}, {[]string{"99999999999999999999999"}, false},
		{[]string{"１０"}, false}, {[]string{"86400000"}, true}, {[]string{"86400001"}, false},
		{[]string{"1"}, true}, {[]string{"5", "5"}, true}, {[]string{" 5"}, false},
		{[]string{"+5"}, false},     // sign accepted by ParseInt
		{[]string{"05", "5"}, true}, // same number, "conflicting" strings
	} {
		_, err := withLockWait(t.Context(), "tc1:1", c.vals)
		if (err == nil) != c.ok {
			t.Errorf("%q: err = %v, want ok=%v", c.vals, err, c.ok)
		}
		if err != nil {
			t.Logf("%q: %v", c.vals, err)
		}
	}
}

// The caller already put the same XID in the metadata or header: the lock
// wait still goes with it.
func TestPresetXIDKeepsLockWait(t *testing.T) {
	tmConn, _, rec := startHealth(t)
	m, _, _ := newTestManager()
	err := m.WithGlobalTx(t.Context(), Config{LockWait: 200 * time.Millisecond}, func(ctx context.Context) error {
		xid, _ := XIDFromContext(ctx)
		ctx = metadata.AppendToOutgoingContext(ctx, MetadataKey, string(xid))
		_, err := healthpb.NewHealthClient(tmConn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := rec.take(); len(s) != 1 || s[0].lockWait != 200*time.Millisecond {
		t.Errorf("gRPC, XID preset: handler saw lock wait %v", s[0].lockWait)
	}
	srv := httptest.NewServer(HTTPMiddleware(lockWaitEcho))
	defer srv.Close()
	client := &http.Client{Transport: RoundTripper(srv.Client().Transport)}
	defer client.CloseIdleConnections()
	for _, c := range []struct{ header, value, want string }{
		{Header, "", "200ms"},            // the same XID preset: the lock wait is added
		{LockWaitHeader, "100", "100ms"}, // a lock wait the caller set is kept
	} {
		var got string
		err := m.WithGlobalTx(t.Context(), Config{LockWait: 200 * time.Millisecond}, func(ctx context.Context) error {
			xid, _ := XIDFromContext(ctx)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			if c.header == Header {
				req.Header.Set(Header, string(xid))
			} else {
				req.Header.Set(c.header, c.value)
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			got = string(b)
			return err
		})
		if err != nil || got != c.want {
			t.Errorf("HTTP, preset %s: handler saw %q (%v), want %q", c.header, got, err, c.want)
		}
	}
}
