package main

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// Failures of different error types are counted; keeping the first one
// must not panic (an atomic.Value refuses a second concrete type).
func TestRunLoadCountsFailuresOfAnyType(t *testing.T) {
	out := runLoad(2, 0, 20*time.Millisecond, func(id, n int) error {
		switch n % 3 {
		case 0:
			return errors.New("plain")
		case 1:
			return fmt.Errorf("wrapped: %w", errors.ErrUnsupported)
		}
		time.Sleep(time.Millisecond)
		return nil
	})
	if out.failed == 0 || out.ok == 0 {
		t.Fatalf("ok %d, failed %d", out.ok, out.failed)
	}
}
