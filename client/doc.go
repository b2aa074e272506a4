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
