// Package resolver lets a client find the nodes of a txc cluster: it
// parses the targets client.Dial accepts and, for an etcd target, follows
// the cluster's keys in etcd.
//
//	host:port                        one node (or any gRPC target)
//	host:port,host:port,…            a static list of nodes
//	etcd://ep[,ep…][/prefix]         the nodes registered in etcd (EtcdScheme)
//
// Every node of a cluster is active and drives its own partition of the
// transactions (and, for a while, those of nodes that are gone), so a
// client holds a connection to each node. A Watcher reads the keys package
// cluster defines and keeps watching them: the live nodes
// (cluster.NodesPrefix) with their gRPC addresses, and the owner of every
// partition (the candidate created first in cluster.OwnerElection), so
// that nodes that join or leave and partitions that change hands reach
// running clients. While etcd cannot be reached the last state stays.
// WithTLS and WithAuth reach an etcd that requires TLS or a user.
package resolver
