package store

import (
	"context"

	"github.com/txcio/txc"
)

// Several active nodes share one lock table (see SharedLocks): each node
// drives its own partition of the transactions (those it began, XIDs
// named after it) with a core of its own, so a core's in-memory lock table
// sees only its partition's locks. The shared table makes a row locked
// through one node conflict with a registration through any other.

// LockRow is one locked row in the shared lock table: the row Row of
// table Table in resource Resource, held by XID.
type LockRow struct {
	XID      txc.XID
	Resource string
	Table    string
	Row      string
}

// LockClaim asks for every row of Keys in Resource for XID, all or none.
type LockClaim struct {
	XID      txc.XID
	Resource string
	Keys     []txc.LockKey
}

// ClaimResult answers one LockClaim. Holder is empty when every row is now
// held by the claim's XID (some may have been held by it before); then
// Added lists the rows this claim inserted, the ones to take back if the
// registration is refused after all. Holder names another transaction
// holding a row of the claim (Table is that row's table) when the claim
// took nothing.
type ClaimResult struct {
	Holder txc.XID
	Table  string
	Added  []LockRow
}

// SharedLocks is the global row-lock table of a cluster, shared by every
// node's partition. Claims of one partition's XIDs are made only by the
// node that drives the partition. Safe for concurrent use.
type SharedLocks interface {
	// Claim takes the claims' rows, each claim all or none, in one atomic
	// round trip: results[i] answers claims[i]. Two claims of one call
	// wanting the same row for different XIDs: the earlier one wins.
	// An error means nothing was taken.
	Claim(ctx context.Context, claims []LockClaim) ([]ClaimResult, error)
	// Free deletes rows, each only while held by its XID.
	Free(ctx context.Context, rows []LockRow) error
	// Query reports whether any row of keys in resource is held by a
	// transaction other than xid (xid may be empty), and by which.
	Query(ctx context.Context, xid txc.XID, resource string, keys []txc.LockKey) (holder txc.XID, locked bool, err error)
	// Reconcile makes the rows held by XIDs of partition (XIDs whose node
	// part is partition) exactly held: rows in the table that held does
	// not list are deleted (claims of a node that died between its claim
	// and storing the branch); it is called when a node starts driving
	// the partition, before it serves it. held lists rows the partition's
	// stored branches hold.
	Reconcile(ctx context.Context, partition string, held []LockRow) error
}
