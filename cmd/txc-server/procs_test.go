package main

import (
	"testing"
	"time"
)

// The governor keeps one P while the process uses well under a core,
// gives it all as soon as it uses nearly one, and goes back to one only
// after a sustained drop.
func TestProcsGovernor(t *testing.T) {
	start := time.Unix(1000, 0)
	g := &procsGovernor{max: 8, procs: 1, at: start}
	now, cpu := start, time.Duration(0)
	// window spends cores of CPU over one procsWindow and returns the
	// governor's answer.
	window := func(cores float64) int {
		now = now.Add(procsWindow)
		cpu += time.Duration(cores * float64(procsWindow))
		return g.observe(now, cpu)
	}
	for _, c := range []float64{0, 0.3, 0.79, 0.5} {
		if n := window(c); n != 0 {
			t.Fatalf("%.2f cores with one P: set %d", c, n)
		}
	}
	if n := window(0.85); n != 8 {
		t.Fatalf("0.85 cores with one P: set %d, want the ceiling 8", n)
	}
	for _, c := range []float64{1.6, 0.7, 0.4, 0.3, 0.2, 0.55, 0.3, 0.3, 0.3} {
		if n := window(c); n != 0 {
			t.Fatalf("%.2f cores with 8 Ps: set %d (a drop must last %d windows)", c, n, lowerAfter)
		}
	}
	if n := window(0.1); n != 1 {
		t.Fatalf("after %d quiet windows: set %d, want 1", lowerAfter, n)
	}

	one := &procsGovernor{max: 1, procs: 1, at: start}
	if n := one.observe(start.Add(procsWindow), 5*procsWindow); n != 0 {
		t.Fatalf("a ceiling of one P: set %d", n)
	}
}
