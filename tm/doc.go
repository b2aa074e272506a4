// Package tm is the transaction-manager API of txc: it marks the boundaries
// of global transactions in application code and carries the transaction's
// XID across function calls (in a context.Context) and across processes (in
// gRPC metadata and HTTP headers).
//
// The usual entry point is WithGlobalTx:
//
//	err := tm.WithGlobalTx(ctx, tm.Config{Name: "transfer"}, func(ctx context.Context) error {
//		// Local SQL through the txc proxy driver and calls to other services
//		// made with ctx join the global transaction.
//		return nil
//	})
//
// WithGlobalTx begins a transaction at the coordinator, runs fn with the XID
// in its context, and then commits if fn returned nil or rolls back if fn
// returned an error or panicked. Config.Propagation says what happens when
// the context already carries a transaction (see Propagation).
//
// Contracts:
//   - A nil error from WithGlobalTx (or GlobalTx.Commit) means the
//     coordinator durably decided commit. Phase 2 continues in the
//     background; it is at-least-once and retried by the coordinator.
//   - Commit and Rollback are idempotent at the coordinator, so this package
//     retries them with capped exponential backoff while the coordinator is
//     unavailable, until ctx is done. It then returns an
//     *OutcomeUnknownError (errors.Is(err, txc.ErrUnavailable) is true): the
//     decision may or may not have been made.
//   - Begin is not idempotent and is never retried.
//   - A transaction that is neither committed nor rolled back is rolled back
//     by the coordinator at its deadline (Config.Timeout).
//
// The package depends on the coordinator only through the Coordinator
// interface, which a client connection (package client) satisfies.
package tm
