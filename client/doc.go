// Package client is the one connection a process keeps to a txc
// coordinator cluster.
//
// A Conn holds a link to every coordinator node: a gRPC ClientConn and one
// Coordinator.Session stream over it. Every request from every goroutine
// of the process (transaction manager and resource manager alike) is
// multiplexed on the stream of the node it is for: each request gets a
// fresh id and is queued; one writer goroutine per stream drains the queue
// into as few frames as the size limit allows, so frames batch naturally
// under load; one reader goroutine per stream matches replies to callers
// by id and hands phase-2 BranchCommands to the handlers registered with
// Serve.
//
// # Targets
//
// Dial's target names one coordinator or the nodes of a cluster:
//
//	127.0.0.1:8091                      one coordinator: one link
//	tc1:8091,tc2:8091,tc3:8091          a static list of nodes: a link to
//	                                    each; no etcd needed
//	etcd://10.0.0.5:2379,10.0.0.6:2379/txc
//	                                    the nodes registered in etcd under the
//	                                    key prefix /txc (empty path: /txc)
//	dns:///tc.example:8091, unix:///…   any other gRPC target, as gRPC reads
//	                                    it: one link (pick_first over the
//	                                    addresses the name resolves to)
//
// With etcd (package cluster/resolver) the links follow the live nodes: a
// link is added when a node registers and closed when its key is gone;
// while etcd cannot be reached the last known nodes stay in use. The Conn
// also follows the owner of every partition there.
//
// Over TLS each node's certificate is verified against the host of its own
// address, unless the TLS configuration names the server to verify. The
// connection to etcd is plaintext unless WithEtcdTLS says otherwise.
//
// # Which node
//
// Every node of a cluster is active: it begins transactions with XIDs
// named after it ("<node>:<seq>", its partition) and drives them, and for
// a while those of nodes that are gone, whose partitions it adopted.
// Begins go round robin over the links that are up. A request about an XID
// (Commit, Rollback, Status, Register, Report, LockQuery with an XID) goes
// to the node serving the XID's partition: its owner as etcd names it,
// else the node whose Hello gave the partition's name, else (that node is
// down, or unknown) any node that is up. A node that does not serve the
// partition answers txc.ErrNotServedHere, having changed nothing, and the
// request goes on to the next node, round after round with the Conn's
// backoff, until one takes it or the request's ctx is done; it then fails
// with an error wrapping txc.ErrUnavailable and ErrNotSent that says no
// node serves the partition. The requests about a pipelined Begin's XID
// made on the same Conn go on the stream that carries the Begin.
//
// Serve announces the resources on every link, including links added or
// reconnected later, so that whichever node drives phase 2 of a branch
// reaches the process; the commands of every link share one pool of
// handler goroutines, and each result goes back on the stream its command
// came on.
//
// # Outcomes and retries
//
// A reply is a durable decision of the coordinator. When a stream breaks,
// every request in flight on it fails at once with an error wrapping
// txc.ErrUnavailable: its outcome is unknown. The client never resends a
// request whose outcome is unknown. Commit, Rollback and Status are
// idempotent and safe for the caller to retry; Begin and Register are not
// (a retried Begin begins a second transaction, which times out harmlessly
// if unused).
//
// While a link's stream is down the link redials in the background with
// capped exponential backoff and jitter, and announces again every
// resource announced by Serve. A request that has no node to go to (every
// link down) waits for one until its context is done.
//
// # Phase 2
//
// Commands are delivered at least once (after a lost result, a reconnect or
// a coordinator restart a command is sent again), so every CommandHandler
// must be idempotent.
package client
