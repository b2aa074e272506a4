package main

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestRunLoadCountsFailuresOfAnyType: failures whose errors have
// different types are counted (the first kept for the message); a second
// type used to panic.
func TestRunLoadCountsFailuresOfAnyType(t *testing.T) {
	l := runLoad(2, 0, 50*time.Millisecond, func(id, n int) error {
		switch n % 3 {
		case 0:
			return errors.New("plain")
		case 1:
			return fmt.Errorf("wrapped: %w", errors.ErrUnsupported)
		}
		return nil
	})
	if l.failed == 0 || l.ok == 0 {
		t.Fatalf("failed %d, ok %d: want both", l.failed, l.ok)
	}
}
