package client_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
)

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestDialGivesUp: with a context without deadline, Dial to an address no
// coordinator answers fails after the dial timeout (instead of trying
// forever in silence), with an error matching txc.ErrUnavailable that
// names the target; WithDialTimeout(0) leaves the bound to ctx; without
// the option DefaultDialTimeout bounds a ctx without deadline.
func TestDialGivesUp(t *testing.T) {
	addr := closedAddr(t)
	start := time.Now()
	_, err := client.Dial(context.Background(), addr, client.WithDialTimeout(300*time.Millisecond))
	if !errors.Is(err, txc.ErrUnavailable) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Dial: %v, want unavailable naming %s", err, addr)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Fatalf("gave up after %v, before the dial timeout", waited)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := client.Dial(ctx, addr, client.WithDialTimeout(0)); !errors.Is(err, txc.ErrUnavailable) {
		t.Fatalf("Dial bounded by ctx only: %v", err)
	}
	start = time.Now()
	if _, err := client.Dial(context.Background(), addr); !errors.Is(err, txc.ErrUnavailable) || time.Since(start) < client.DefaultDialTimeout {
		t.Fatalf("Dial with the default bound: %v after %v", err, time.Since(start))
	}
}
