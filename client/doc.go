// Package client is the one connection a process keeps to a txc coordinator.
//
// A Conn holds one gRPC ClientConn and one Coordinator.Session stream over
// it. Every request from every goroutine of the process (transaction
// manager and resource manager alike) is multiplexed on that stream: each
// request gets a fresh id and is queued; one writer goroutine drains the
// queue into as few frames as the size limit allows, so frames batch
// naturally under load; one reader goroutine matches replies to callers by
// id and hands phase-2 BranchCommands to the handlers registered with Serve.
//
// # Targets
//
// Dial's target names one coordinator or the nodes of a cluster, of which
// one (the leader) serves at a time while the others refuse connections:
//
//	127.0.0.1:8091                      one coordinator
//	tc1:8091,tc2:8091,tc3:8091          a static list of nodes; no etcd needed
//	etcd://10.0.0.5:2379,10.0.0.6:2379/txc
//	                                    the nodes registered in etcd under the
//	                                    key prefix /txc (empty path: /txc)
//	dns:///tc.example:8091, unix:///…   any other gRPC target, as gRPC reads it
//
// The Conn's gRPC channel uses pick_first: it connects to the first
// address that accepts a connection. With a list, that is the first node
// in it that serves; when that node goes away the next attempt goes down
// the list again from the top. With etcd the resolver (package
// cluster/resolver) reports the elected leader's address, or every
// registered node while no leader is known, and follows changes, so nodes
// that join or leave and new leaders reach running clients; while etcd
// cannot be reached the last addresses stay in use. When the channel drops
// the connection the stream runs on (the leader changed), the Conn ends the
// session and opens a new one on the channel's new connection: requests in
// flight then fail with an unknown outcome, as when a coordinator dies.
//
// Over TLS each node's certificate is verified against the host of its own
// address, unless the TLS configuration names the server to verify. The
// connection to etcd is plaintext.
//
// # Outcomes and retries
//
// A reply is a durable decision of the coordinator. When the stream breaks,
// every request in flight fails at once with an error wrapping
// txc.ErrUnavailable: its outcome is unknown. The client never retries a
// request by itself. Commit, Rollback and Status are idempotent and safe for
// the caller to retry; Begin and Register are not (a retried Begin begins a
// second transaction, which times out harmlessly if unused).
//
// While the stream is down the Conn redials in the background with capped
// exponential backoff and jitter, and announces again every resource
// announced by Serve. Requests made during the outage wait for the new
// stream until their context is done.
//
// # Phase 2
//
// Commands are delivered at least once (after a lost result, a reconnect or
// a coordinator restart a command is sent again), so every CommandHandler
// must be idempotent.
package client
