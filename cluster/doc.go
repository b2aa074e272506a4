// Package cluster runs several txc-server nodes with etcd for discovery and
// for choosing which node drives which transactions.
//
// Every node is active (Node.RunPartitions). Node N drives the
// transactions it began (XIDs N:<seq>) over its own partition of the
// store. Each partition has an etcd election, whose winner is the
// partition's owner: N always campaigns for its own partition and hosts it
// while elected; while N is gone (no node key), the live nodes campaign
// for N's partition and the winner adopts it (hosts it), until N registers
// again and the winner hands it back (stops hosting, then resigns, so that
// N, queued in the election, wins). A node that cannot serve its own
// partition (its store fails) leaves the cluster until Config.Check says
// it can serve again, so that another node adopts the partition meanwhile.
//
// The partition store's owner lock (see tc/store/sqlstore) is the fence:
// a node elected for a partition cannot load or write its store before
// the previous owner's database session has ended, so two nodes never
// decide for the same transactions, even when etcd and the store disagree
// about who is alive. etcd says who should try.
//
// Keys, under a prefix (default "/txc"):
//
//	<prefix>/nodes/<node>         the node's gRPC address, under the node's lease
//	<prefix>/partitions/<node>    the partition was started (no lease: it
//	                              outlives its node, to be adopted)
//	<prefix>/owners/<p>/<lease>   a candidate for partition p; the value is
//	                              its gRPC address; the oldest key is p's owner
//
// Clients find the nodes and the partitions' owners from these keys (see
// package cluster/resolver) or from a static list of addresses.
//
// Nodes and clients reach etcd as Etcd says: over TLS (with a client
// certificate for mutual TLS) and as an etcd user whose role covers the
// prefix. etcd refusing a node (its handshake, user, password or
// permissions) is an error wrapping ErrEtcdAccess, not an outage to wait
// out. A CA file of etcd's certificate (CAFile, CAFile.Trust) is read
// again when it changes, so that a rotated CA needs no restart.
package cluster
