package cputime

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// Spinning makes the process's CPU time grow (on a busy machine it may
// take longer than the CPU time it gets).
func TestProcessGrowsWithWork(t *testing.T) {
	before, ok := Process()
	if !ok {
		if runtime.GOOS == "linux" || os.Getenv("CI") == "true" {
			t.Fatalf("no CPU time on %s (CI=%q)", runtime.GOOS, os.Getenv("CI"))
		}
		t.Skip("this system does not tell the CPU time")
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if now, _ := Process(); now-before >= 20*time.Millisecond {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("10 s of spinning never counted 20 ms of CPU time")
		}
	}
}
