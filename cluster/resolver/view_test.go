package resolver

import (
	"slices"
	"testing"
)

// TestViewAddresses: the leader alone while the election has a candidate
// (the one created first), else every node in key order without repeats,
// else nothing; keys outside the cluster's prefixes are ignored.
func TestViewAddresses(t *testing.T) {
	v := newView("/c")
	check := func(step string, want ...string) {
		t.Helper()
		if got := v.addresses(); !slices.Equal(got, want) {
			t.Fatalf("%s: addresses %v, want %v", step, got, want)
		}
	}
	check("empty")
	v.put("/c/nodes/b", "10.0.0.2:8091", 5)
	v.put("/c/nodes/a", "10.0.0.1:8091", 6)
	v.put("/c/nodes/a2", "10.0.0.1:8091", 7)
	v.put("/c/other", "10.0.0.9:8091", 8)
	v.put("/cx/nodes/z", "10.0.0.9:8091", 8)
	check("nodes only", "10.0.0.1:8091", "10.0.0.2:8091")
	v.put("/c/leader/7", "10.0.0.2:8091", 12)
	v.put("/c/leader/5", "10.0.0.3:8091", 11)
	v.put("/c/leader/9", "", 3)
	check("election", "10.0.0.3:8091")
	v.put("/c/leader/5", "10.0.0.4:8091", 11) // proclaimed a new value
	check("proclaimed", "10.0.0.4:8091")
	v.remove("/c/leader/5")
	check("leader gone", "10.0.0.2:8091")
	v.remove("/c/leader/7")
	check("no candidate left", "10.0.0.1:8091", "10.0.0.2:8091")
	v.reset()
	check("reset")
}
