package resolver

import (
	"maps"
	"strings"

	"github.com/txcio/txc/cluster"
)

// view is what the Watcher knows of a cluster: the address each live node
// registered and the candidates of every partition's owner election. It is
// pure: the Watcher feeds it the keys it reads and watches and asks it for
// the nodes and the owners.
type view struct {
	keysPrefix   string               // <prefix>/, holding both
	nodesPrefix  string               // <prefix>/nodes/
	ownersPrefix string               // <prefix>/owners/
	nodes        map[string]string    // node name → address
	candidates   map[string]candidate // owner election key → candidate
}

// candidate is one key of a partition's owner election: the one created
// first owns the partition.
type candidate struct {
	partition string
	created   int64 // the key's create revision
	addr      string
}

func newView(prefix string) *view {
	return &view{
		keysPrefix:   cluster.KeysPrefix(prefix),
		nodesPrefix:  cluster.NodesPrefix(prefix),
		ownersPrefix: cluster.OwnersPrefix(prefix),
		nodes:        map[string]string{},
		candidates:   map[string]candidate{},
	}
}

// reset forgets every key, before a full read.
func (v *view) reset() {
	clear(v.nodes)
	clear(v.candidates)
}

// put records a key's value; keys under neither prefix, and owner keys
// that are not <partition>/<lease>, are ignored.
func (v *view) put(key, value string, created int64) {
	switch {
	case strings.HasPrefix(key, v.nodesPrefix):
		if name := key[len(v.nodesPrefix):]; name != "" && value != "" {
			v.nodes[name] = value
		}
	case strings.HasPrefix(key, v.ownersPrefix):
		p, lease, ok := strings.Cut(key[len(v.ownersPrefix):], "/")
		if ok && p != "" && lease != "" && value != "" {
			v.candidates[key] = candidate{partition: p, created: created, addr: value}
		}
	}
}

// remove forgets a deleted key.
func (v *view) remove(key string) {
	if strings.HasPrefix(key, v.nodesPrefix) {
		delete(v.nodes, key[len(v.nodesPrefix):])
	}
	delete(v.candidates, key)
}

// liveNodes returns a copy of the nodes map: node name → address.
func (v *view) liveNodes() map[string]string { return maps.Clone(v.nodes) }

// owners returns, for every partition with a candidate, the address of
// the candidate created first.
func (v *view) owners() map[string]string {
	first := map[string]candidate{}
	for _, c := range v.candidates {
		if f, ok := first[c.partition]; !ok || c.created < f.created {
			first[c.partition] = c
		}
	}
	out := make(map[string]string, len(first))
	for p, c := range first {
		out[p] = c.addr
	}
	return out
}
