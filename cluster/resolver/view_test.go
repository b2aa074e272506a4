package resolver

import (
	"maps"
	"testing"
)

// TestView: nodes by name; for each partition the owner is the candidate
// created first, the next one once it is gone; keys outside the cluster's
// prefixes or not shaped <partition>/<lease> are ignored.
func TestView(t *testing.T) {
	v := newView("/c")
	check := func(step string, nodes, owners map[string]string) {
		t.Helper()
		if got := v.liveNodes(); !maps.Equal(got, nodes) {
			t.Fatalf("%s: nodes %v, want %v", step, got, nodes)
		}
		if got := v.owners(); !maps.Equal(got, owners) {
			t.Fatalf("%s: owners %v, want %v", step, got, owners)
		}
	}
	check("empty", map[string]string{}, map[string]string{})
	v.put("/c/nodes/b", "10.0.0.2:8091", 5)
	v.put("/c/nodes/a", "10.0.0.1:8091", 6)
	v.put("/c/other", "10.0.0.9:8091", 8)
	v.put("/cx/nodes/z", "10.0.0.9:8091", 8)
	v.put("/c/owners/a", "10.0.0.9:8091", 8)  // no lease part
	v.put("/c/owners//1", "10.0.0.9:8091", 8) // no partition
	v.put("/c/leader/1", "10.0.0.9:8091", 1)
	nodes := map[string]string{"a": "10.0.0.1:8091", "b": "10.0.0.2:8091"}
	check("nodes only", nodes, map[string]string{})
	v.put("/c/owners/a/7", "10.0.0.2:8091", 12)
	v.put("/c/owners/a/5", "10.0.0.1:8091", 11)
	v.put("/c/owners/b/6", "10.0.0.2:8091", 13)
	check("owners", nodes, map[string]string{"a": "10.0.0.1:8091", "b": "10.0.0.2:8091"})
	v.remove("/c/owners/a/5")
	check("owner of a gone", nodes, map[string]string{"a": "10.0.0.2:8091", "b": "10.0.0.2:8091"})
	v.remove("/c/nodes/a")
	check("node a gone", map[string]string{"b": "10.0.0.2:8091"}, map[string]string{"a": "10.0.0.2:8091", "b": "10.0.0.2:8091"})
	v.reset()
	check("reset", map[string]string{}, map[string]string{})
}
