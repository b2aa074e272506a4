// Package cluster runs several txc-server nodes with etcd for discovery and
// for choosing which node drives which transactions, in one of two modes.
//
// Leader mode (Node.Run): one node at a time is the leader on a shared
// store: it alone opens the store, restores the coordinator's state and
// serves the gRPC port; the others are standbys that campaign in an etcd
// election and serve only their admin port.
//
// Partition mode (Node.RunPartitions): every node is active. Node N
// drives the transactions it began (XIDs N:<seq>) over its own partition
// of the store. Each partition has an etcd election: N always campaigns
// for its own and hosts it while elected; while N is gone (no node key),
// the live nodes campaign for N's partition and the winner hosts it, until
// N registers again and the winner hands it back (stops hosting, then
// resigns, so that N, queued in the election, wins).
//
// In both modes the store's owner lock (see tc/store/sqlstore) is the
// fence: a node elected for a store cannot load or write it before the
// previous owner's database session has ended, so two nodes never decide
// for the same transactions, even when etcd and the store disagree about
// who is alive. etcd says who should try.
//
// Keys, under a prefix (default "/txc"):
//
//	<prefix>/nodes/<node>         the node's gRPC address, under the node's lease
//	<prefix>/leader/<lease>       leader mode: an election candidate; the value
//	                              is its gRPC address; the oldest key is the leader
//	<prefix>/partitions/<node>    partition mode: the partition was started (no
//	                              lease: it outlives its node, to be adopted)
//	<prefix>/owners/<p>/<lease>   partition mode: a candidate for partition p;
//	                              the value is its gRPC address; the oldest key
//	                              is p's owner
//
// Clients find the nodes and the leader from these keys (see package
// cluster/resolver) or from a static list of addresses.
//
// Nodes and clients reach etcd as Etcd says: over TLS (with a client
// certificate for mutual TLS) and as an etcd user whose role covers the
// prefix. etcd refusing a node (its handshake, user, password or
// permissions) is an error wrapping ErrEtcdAccess, not an outage to wait
// out.
package cluster
