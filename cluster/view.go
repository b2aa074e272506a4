package cluster

import (
	"strings"

	"github.com/txcio/txc"
)

// view is what a node knows of the cluster's keys: the
// live nodes, the recorded partitions and the candidates of each
// partition's election. It is pure: the node feeds it the keys it reads
// and watches, and asks it what to campaign for and who owns what.
type view struct {
	nodesPrefix, partitionsPrefix, ownersPrefix string

	nodes      map[string]bool                 // live node names
	partitions map[string]bool                 // recorded partitions
	candidates map[string]map[string]candidate // partition → election key → candidate
}

// candidate is one key of a partition's election: the one created first
// owns the partition.
type candidate struct {
	created int64 // the key's create revision
	addr    string
}

func newView(prefix string) *view {
	return &view{nodesPrefix: NodesPrefix(prefix), partitionsPrefix: PartitionsPrefix(prefix), ownersPrefix: OwnersPrefix(prefix),
		nodes: map[string]bool{}, partitions: map[string]bool{}, candidates: map[string]map[string]candidate{}}
}

// put records a key; keys of no interest, or naming no valid node, are
// ignored (and so is a junk key someone wrote under the prefix).
func (v *view) put(key, value string, created int64) {
	if name, ok := v.name(key, v.nodesPrefix); ok {
		v.nodes[name] = true
	} else if name, ok := v.name(key, v.partitionsPrefix); ok {
		v.partitions[name] = true
	} else if p, ok := v.partitionOf(key); ok {
		if v.candidates[p] == nil {
			v.candidates[p] = map[string]candidate{}
		}
		v.candidates[p][key] = candidate{created: created, addr: value}
	}
}

// remove forgets a deleted key.
func (v *view) remove(key string) {
	if name, ok := v.name(key, v.nodesPrefix); ok {
		delete(v.nodes, name)
	} else if name, ok := v.name(key, v.partitionsPrefix); ok {
		delete(v.partitions, name)
	} else if p, ok := v.partitionOf(key); ok {
		delete(v.candidates[p], key)
		if len(v.candidates[p]) == 0 {
			delete(v.candidates, p)
		}
	}
}

// name returns the node name a key under prefix ends with.
func (v *view) name(key, prefix string) (string, bool) {
	name, ok := strings.CutPrefix(key, prefix)
	return name, ok && txc.ValidNodeName(name)
}

// partitionOf returns the partition whose election key is key
// (<owners prefix><partition>/<lease>).
func (v *view) partitionOf(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, v.ownersPrefix)
	p, lease, found := strings.Cut(rest, "/")
	return p, ok && found && lease != "" && txc.ValidNodeName(p)
}

// orphans returns the recorded partitions other than own whose node is
// gone: the ones node own campaigns for.
func (v *view) orphans(own string) map[string]bool {
	orphans := map[string]bool{}
	for p := range v.partitions {
		if p != own && !v.nodes[p] {
			orphans[p] = true
		}
	}
	return orphans
}

// owners maps every recorded or contested partition to its owner's
// address ("" when its election has no candidate).
func (v *view) owners() map[string]string {
	owners := map[string]string{}
	for p := range v.partitions {
		owners[p] = ""
	}
	for p, cands := range v.candidates {
		var first *candidate
		for _, c := range cands {
			if first == nil || c.created < first.created {
				first = &c
			}
		}
		owners[p] = first.addr
	}
	return owners
}
