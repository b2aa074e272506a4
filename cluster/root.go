package cluster

// KeysPrefix is the prefix of every key of the cluster under prefix
// (nodes, partitions, owners): one watch of it sees a change to several
// of them, such as a lease ending, as one event batch.
func KeysPrefix(prefix string) string { return clean(prefix) + "/" }
