package cluster

import (
	"maps"
	"testing"
)

func TestViewWantedAndOwners(t *testing.T) {
	v := newView("/v")
	for _, k := range []struct {
		key, value string
		created    int64
	}{
		{NodeKey("/v", "a"), "a:1", 1},
		{NodeKey("/v", "b"), "b:1", 2},
		{PartitionsPrefix("/v") + "a", "a:1", 3},
		{PartitionsPrefix("/v") + "b", "b:1", 4},
		{PartitionsPrefix("/v") + "c", "c:1", 5},
		{OwnerElection("/v", "a") + "/1a", "a:1", 6},
		{OwnerElection("/v", "c") + "/2b", "b:1", 8},
		{OwnerElection("/v", "c") + "/3c", "a:1", 7}, // created first: the owner
		// Junk under the prefix changes nothing.
		{NodeKey("/v", "bad name"), "x:1", 9},
		{PartitionsPrefix("/v") + "", "x:1", 10},
		{OwnerElection("/v", "a"), "x:1", 11},
		{OwnersPrefix("/v") + "a/", "x:1", 12},
		{"/v/leader/1", "x:1", 13},
	} {
		v.put(k.key, k.value, k.created)
	}
	if got, want := v.orphans("a"), map[string]bool{"c": true}; !maps.Equal(got, want) {
		t.Errorf("a wants %v, want %v", got, want)
	}
	if got, want := v.owners(), map[string]string{"a": "a:1", "b": "", "c": "a:1"}; !maps.Equal(got, want) {
		t.Errorf("owners %v, want %v", got, want)
	}
	// c's owner goes; b's node goes: b is an orphan too.
	v.remove(OwnerElection("/v", "c") + "/3c")
	v.remove(NodeKey("/v", "b"))
	if got, want := v.orphans("a"), map[string]bool{"b": true, "c": true}; !maps.Equal(got, want) {
		t.Errorf("a wants %v, want %v", got, want)
	}
	if got, want := v.owners(), map[string]string{"a": "a:1", "b": "", "c": "b:1"}; !maps.Equal(got, want) {
		t.Errorf("owners %v, want %v", got, want)
	}
}
