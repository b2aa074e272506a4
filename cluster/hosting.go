package cluster

import (
	"maps"
	"slices"
	"sync"
)

// partState is what a node tells about partitions: the
// ones it hosts, and every partition's owner as last seen in etcd.
type partState struct {
	mu     sync.Mutex
	hosted map[string]bool
	owners map[string]string
}

// hosting records that the node started (on) or stopped hosting p.
func (ps *partState) hosting(p string, on bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.hosted == nil {
		ps.hosted = map[string]bool{}
	}
	if on {
		ps.hosted[p] = true
	} else {
		delete(ps.hosted, p)
	}
}

// setView records the owners v names.
func (ps *partState) setView(v *view) {
	owners := v.owners()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.owners = owners
}

// Hosting lists the partitions this node hosts now (sorted).
func (n *Node) Hosting() []string {
	n.parts.mu.Lock()
	defer n.parts.mu.Unlock()
	return slices.Sorted(maps.Keys(n.parts.hosted))
}

// Owners maps each known partition to its owner's gRPC address as last
// seen in etcd ("" when it has none now).
func (n *Node) Owners() map[string]string {
	n.parts.mu.Lock()
	defer n.parts.mu.Unlock()
	return maps.Clone(n.parts.owners)
}
