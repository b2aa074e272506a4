// Package tcc lets services whose resources are not SQL tables (a payment
// API, a stock service, a cache) take part in a txc global transaction as
// Try/Confirm/Cancel participants, with an optional fence table that makes
// phase 2 idempotent and safe against reordering.
//
// # Shape
//
// A Resource is one TCC resource of a service (its resource ID, for example
// "tcc:stock", names the service and must never contain a secret). It is
// added to an rm.Manager and receives the branch's phase-2 commands. Each
// Participant is declared on a Resource under a name, with its three
// functions, generic over the argument type A:
//
//	res, _ := tcc.NewResource(mgr, "tcc:stock")
//	reserve, _ := tcc.Declare(res, "reserve", tcc.Funcs[Reservation]{Try: ..., Confirm: ..., Cancel: ...})
//	err := tm.WithGlobalTx(ctx, cfg, func(ctx context.Context) error {
//		return reserve.Try(ctx, Reservation{SKU: "apple", N: 2})
//	})
//
// Participant.Try, inside a global transaction (an XID in ctx, from
// tm.WithGlobalTx or from the tm interceptors/middleware of a remote call),
// registers a txc.BranchTCC branch at the coordinator whose application data
// holds the participant's name and its arguments (JSON, versioned), then runs
// Try. Confirm and Cancel later receive the same arguments decoded from the
// branch, so they work in another process or after a restart. Outside a
// global transaction Try fails with an error matching
// txc.ErrNotInTransaction and runs nothing.
//
// # Phase 2 contracts
//
// The coordinator delivers Confirm (on commit) or Cancel (on rollback) at
// least once, to any live RM instance serving the resource, and retries with
// capped exponential backoff while a function returns an error. A function
// returning an error wrapped by txc.Permanent stops the retries and parks the
// global transaction as needing manual action. Cancel is delivered even when
// Try failed or never ran (the TM rolls back when Try returns an error), so
// without a fence Confirm and Cancel must be idempotent and Cancel must cope
// with a Try that did nothing.
//
// # The fence
//
// A Fence is a table in the participant's own database (MySQL/MariaDB or
// PostgreSQL). A participant declared with DeclareFenced gets a *sql.Tx in
// Try, Confirm and Cancel; the fence row of the branch is written in that
// same local transaction, so the business change and the fence commit or
// roll back together. It guarantees:
//
//   - a repeated Confirm or Cancel runs the business function once;
//   - a Cancel that arrives before Try ever ran records that (an empty
//     rollback) and succeeds without calling the business Cancel;
//   - a Try that arrives after its Cancel does not run (no hanging
//     reservation) and fails with an error matching ErrTryAfterCancel;
//   - a Try that fails leaves no fence row, so its Cancel is an empty rollback.
//
// Finished fence rows are deleted by Fence.RunCleanup after a retention that
// must exceed the longest time a Try may be delayed and the longest time the
// coordinator may keep redelivering a command.
package tcc
