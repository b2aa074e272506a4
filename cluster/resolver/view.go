package resolver

import (
	"maps"
	"slices"
	"strings"

	"github.com/txcio/txc/cluster"
)

// view is what the etcd resolver knows of a cluster: the addresses nodes
// registered and the election's candidates. It is pure: the resolver feeds
// it the keys it reads and watches and asks it for the addresses.
type view struct {
	keysPrefix     string               // <prefix>/, holding both
	nodesPrefix    string               // <prefix>/nodes/
	electionPrefix string               // <prefix>/leader/
	nodes          map[string]string    // node key → gRPC address
	candidates     map[string]candidate // election key → candidate
}

// candidate is one election key: the one created first leads.
type candidate struct {
	created int64 // the key's create revision
	addr    string
}

func newView(prefix string) *view {
	return &view{
		keysPrefix:     cluster.KeysPrefix(prefix),
		nodesPrefix:    cluster.NodesPrefix(prefix),
		electionPrefix: cluster.ElectionPrefix(prefix) + "/",
		nodes:          map[string]string{},
		candidates:     map[string]candidate{},
	}
}

// reset forgets every key, before a full read.
func (v *view) reset() {
	clear(v.nodes)
	clear(v.candidates)
}

// put records a key's value; keys under neither prefix are ignored.
func (v *view) put(key, value string, created int64) {
	switch {
	case strings.HasPrefix(key, v.nodesPrefix):
		v.nodes[key] = value
	case strings.HasPrefix(key, v.electionPrefix):
		v.candidates[key] = candidate{created: created, addr: value}
	}
}

// remove forgets a deleted key.
func (v *view) remove(key string) {
	delete(v.nodes, key)
	delete(v.candidates, key)
}

// addresses returns what the client's channel should dial: the leader's
// address alone while there is a leader, else every registered node's
// address in key order, else nothing.
//
// Only the leader, rather than the leader first and then the others,
// because pick_first keeps a connection that is ready as long as its
// address is still in a new list: with the others listed, a client would
// stay on a node that lost the election for as long as that node keeps its
// connections; with the leader alone, gRPC drops the old connection and
// dials the new leader as soon as etcd names it. Without a leader (no
// candidate yet, or all of them gone) the nodes are listed so that
// whichever starts serving is found.
func (v *view) addresses() []string {
	var lead *candidate
	for _, c := range v.candidates {
		if c.addr != "" && (lead == nil || c.created < lead.created) {
			lead = &c
		}
	}
	if lead != nil {
		return []string{lead.addr}
	}
	var addrs []string
	for _, k := range slices.Sorted(maps.Keys(v.nodes)) {
		if a := v.nodes[k]; a != "" && !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	return addrs
}
