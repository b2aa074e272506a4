// Package rm is the resource-manager side of txc: it registers branches
// (retrying lock conflicts, for at most a lock wait: WithLockWait) and
// runs phase 2 of branches through handlers registered per resource and
// branch type.
//
// AT, TCC, Saga and Generic branches are all just branch types here; the
// handlers that know how to undo SQL, confirm or cancel a TCC action, or
// compensate a saga step live in their own packages and are added with
// Manager.AddResource.
//
// # Contracts
//
// Phase 2 is at-least-once: the coordinator retries a branch until its
// handler succeeds or fails permanently, and may deliver a command again
// after it succeeded (a lost result, a reconnect, a coordinator restart).
// Every Handler must therefore be idempotent: committing a committed branch
// and rolling back a rolled-back or never-executed branch must succeed.
//
// Several RM instances (several processes, or several Conns) may serve the
// same resource; the coordinator sends each command to any one of them.
// Nothing here assumes a resource is served only once.
package rm
