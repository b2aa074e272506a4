// Package resolver lets a client find the node of a txc cluster that
// serves: gRPC name resolvers for the target forms client.Dial accepts
// beyond gRPC's own.
//
//	host:port,host:port,…            a static list (scheme ListScheme)
//	etcd://ep[,ep…][/prefix]         the nodes registered in etcd (EtcdScheme)
//
// Either way the client's channel uses gRPC's pick_first policy: it
// connects to the first address in the list that accepts a connection and
// keeps that one until it breaks. Standby nodes do not listen on their
// gRPC port, so the one that accepts is the leader; after the leader dies
// the next connection attempt goes down the list again and reaches the new
// one.
//
// The etcd resolver reads the keys package cluster defines and keeps
// watching them, so nodes that join or leave and leader changes reach
// running clients; while etcd cannot be reached it keeps the last
// addresses it knew. WithTLS and WithAuth reach an etcd that requires TLS
// or a user.
package resolver
