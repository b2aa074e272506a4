package cluster

import "strings"

// DefaultPrefix is the etcd key prefix nodes and clients use by default.
const DefaultPrefix = "/txc"

// NodesPrefix is the key prefix under which every live node registers its
// gRPC address as <NodesPrefix>/<node name>.
func NodesPrefix(prefix string) string { return clean(prefix) + "/nodes/" }

// NodeKey is the key node registers its address under.
func NodeKey(prefix, node string) string { return NodesPrefix(prefix) + node }

// clean drops trailing slashes and makes the prefix absolute.
func clean(prefix string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	prefix = strings.TrimRight(prefix, "/")
	if !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}
	return prefix
}

// Every node is active and drives its own partition of the transactions
// (XIDs named after it). A partition has an owner, elected per partition:
// the node itself while it lives, another node that adopts it while it is
// gone.

// PartitionsPrefix is the key prefix under which every partition ever
// started is recorded as <PartitionsPrefix>/<node name> (no lease: the
// record outlives the node, so that a dead node's partition is adopted).
func PartitionsPrefix(prefix string) string { return clean(prefix) + "/partitions/" }

// OwnersPrefix is the root of the per-partition elections: the candidates
// for partition p have keys <OwnersPrefix>p/<lease id in hex>, valued with
// their gRPC address; the key with the lowest create revision under
// OwnerElection(prefix, p) is the owner's.
func OwnersPrefix(prefix string) string { return clean(prefix) + "/owners/" }

// OwnerElection is the election prefix of partition p.
func OwnerElection(prefix, p string) string { return OwnersPrefix(prefix) + p }
