// Package cluster runs several txc-server nodes on one shared store, with
// etcd for discovery and for choosing the node that drives transactions.
//
// One node at a time is the leader: it alone opens the store, restores the
// coordinator's state and serves the gRPC port; the others are standbys
// that campaign in an etcd election and serve only their admin port. The
// store's owner lock (see tc/store/sqlstore) is the fence: a new leader
// cannot load or write the store before the old leader's database session
// has ended, so two nodes never decide for the same transactions, even
// when etcd and the store disagree about who is alive.
//
// Keys, under a prefix (default "/txc"):
//
//	<prefix>/nodes/<node>   the node's gRPC address, under the node's lease
//	<prefix>/leader/<lease> an election candidate; the value is its gRPC
//	                        address; the oldest key is the leader
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
