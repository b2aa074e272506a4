package cluster

import "strings"

// DefaultPrefix is the etcd key prefix nodes and clients use by default.
const DefaultPrefix = "/txc"

// NodesPrefix is the key prefix under which every live node registers its
// gRPC address as <NodesPrefix>/<node name>.
func NodesPrefix(prefix string) string { return clean(prefix) + "/nodes/" }

// NodeKey is the key node registers its address under.
func NodeKey(prefix, node string) string { return NodesPrefix(prefix) + node }

// ElectionPrefix is the prefix of the leader election: each candidate's key
// lies under it, its value the candidate's gRPC address, and the key with
// the lowest create revision is the leader's.
func ElectionPrefix(prefix string) string { return clean(prefix) + "/leader" }

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
