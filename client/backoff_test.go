package client

import (
	"testing"
	"time"
)

// TestDelayWithin: no bound gives Delay; the delay is cut to what is left
// of the bound; nothing left, no delay and false.
func TestDelayWithin(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second, Jitter: func(time.Duration) time.Duration { return 0 }}
	now := time.Now()
	if d, ok := b.DelayWithin(3, now, 0); d != b.Delay(3) || !ok {
		t.Errorf("no bound: %v, %v; want %v, true", d, ok, b.Delay(3))
	}
	if d, ok := b.DelayWithin(3, now, time.Hour); d != b.Delay(3) || !ok {
		t.Errorf("far bound: %v, %v; want %v, true", d, ok, b.Delay(3))
	}
	// 200 ms left (less by the time the call is made), Delay(3) 800 ms.
	if d, ok := b.DelayWithin(3, now.Add(-time.Hour+200*time.Millisecond), time.Hour); d > 200*time.Millisecond || !ok {
		t.Errorf("200ms left of the bound at most: %v, %v; want at most 200ms, true", d, ok)
	}
	if d, ok := b.DelayWithin(0, now.Add(-2*time.Second), time.Second); d != 0 || ok {
		t.Errorf("bound passed: %v, %v; want 0, false", d, ok)
	}
}
