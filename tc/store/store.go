// Package store defines what the coordinator keeps durably and the narrow
// interface every storage backend implements.
//
// The coordinator core produces one Batch per persistence round; the server
// shell hands it to Store.Apply, and only after Apply returns nil does it
// send the replies and phase-2 commands that depend on it. A backend
// therefore has exactly two duties: make a Batch durable atomically (all of
// it or none of it, synced to stable storage before Apply returns) and give
// back, from Load, the state that the applied batches add up to.
//
// Row locks are not stored: they are rebuilt on Load from the lock keys of
// the branches of transactions that still hold them.
//
// Every backend must pass the conformance suite in package storetest.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/txcio/txc"
)

// Global is the durable record of a global transaction.
type Global struct {
	XID    txc.XID
	Name   string
	Status txc.GlobalStatus
	// Begun is when the coordinator began it; Deadline is when it is rolled
	// back unless committed. Both have millisecond precision in storage.
	Begun    time.Time
	Deadline time.Time
	// Updated is when Status last changed.
	Updated time.Time
}

// Branch is the durable record of one branch of a global transaction.
type Branch struct {
	XID        txc.XID
	ID         txc.BranchID // registration order within a transaction is ID order
	Type       txc.BranchType
	ResourceID string
	LockKeys   []txc.LockKey
	// ApplicationData is opaque to the coordinator and handed back with
	// every phase-2 command.
	ApplicationData []byte
	Status          txc.BranchStatus
}

// BranchStatus changes the status of a stored branch without rewriting the
// rest of it.
type BranchStatus struct {
	XID    txc.XID
	ID     txc.BranchID
	Status txc.BranchStatus
}

// Batch is one atomic, durable change. Within a batch the operations take
// effect in this order: PutGlobals, PutBranches, SetBranchStatus,
// DeleteBranches, DeleteGlobals. A batch may mention a transaction in
// several lists.
type Batch struct {
	// PutGlobals inserts or replaces global records.
	PutGlobals []Global
	// PutBranches inserts or replaces branch records.
	PutBranches []Branch
	// SetBranchStatus updates branches already stored (or put earlier in
	// the same batch); an update for a branch that does not exist is
	// ignored.
	SetBranchStatus []BranchStatus
	// DeleteBranches removes all branches of the transactions named,
	// keeping their global records. The coordinator does this when a
	// transaction finishes: the global record stays, with its final status,
	// for a retention period so that a late Commit or Status learns the
	// outcome even across a restart.
	DeleteBranches []txc.XID
	// DeleteGlobals removes transactions together with all their branches.
	// Deleting a transaction that does not exist is not an error.
	DeleteGlobals []txc.XID
	// NextID, when non-zero, records that sequence numbers below it may
	// have been handed out; Load returns the largest NextID ever applied.
	NextID uint64
	// FreeLocks are rows of the shared lock table (see SharedLocks) that
	// the core released: a store that lives beside the shared table
	// deletes them (each only while held by its XID) in the same atomic
	// change. Stores of a single node ignore them; the core fills them
	// only when its Config asks for shared locks.
	FreeLocks []LockRow
}

// Empty reports whether b changes nothing.
func (b *Batch) Empty() bool {
	return len(b.PutGlobals) == 0 && len(b.PutBranches) == 0 && len(b.SetBranchStatus) == 0 &&
		len(b.DeleteBranches) == 0 && len(b.DeleteGlobals) == 0 && b.NextID == 0 && len(b.FreeLocks) == 0
}

// Append adds o's changes after b's, list by list, so that one Apply of b
// does what applying b and then o would, provided o puts no branch of, and
// changes nothing in, a transaction whose branches or record b deletes
// (the coordinator never writes a finished transaction's branches again,
// nor a forgotten one at all). o is not changed.
func (b *Batch) Append(o *Batch) {
	b.PutGlobals = append(b.PutGlobals, o.PutGlobals...)
	b.PutBranches = append(b.PutBranches, o.PutBranches...)
	b.SetBranchStatus = append(b.SetBranchStatus, o.SetBranchStatus...)
	b.DeleteBranches = append(b.DeleteBranches, o.DeleteBranches...)
	b.DeleteGlobals = append(b.DeleteGlobals, o.DeleteGlobals...)
	b.NextID = max(b.NextID, o.NextID)
	b.FreeLocks = append(b.FreeLocks, o.FreeLocks...)
}

// Reset empties b, keeping its slices' capacity.
func (b *Batch) Reset() {
	b.PutGlobals = b.PutGlobals[:0]
	b.PutBranches = b.PutBranches[:0]
	b.SetBranchStatus = b.SetBranchStatus[:0]
	b.DeleteBranches = b.DeleteBranches[:0]
	b.DeleteGlobals = b.DeleteGlobals[:0]
	b.NextID = 0
	clear(b.FreeLocks)
	b.FreeLocks = b.FreeLocks[:0]
}

// State is everything a store holds.
type State struct {
	Globals []Global
	// Branches of all stored globals, ordered by (XID, ID) is not
	// required; callers sort.
	Branches []Branch
	NextID   uint64
}

// Store is a durable home for coordinator state.
//
// Apply and Load are called from one goroutine at a time; a backend need
// not be safe for concurrent use unless it says so. The slices in a Batch
// belong to the caller and may be reused after Apply returns: a backend that
// keeps them must copy.
type Store interface {
	// Apply makes b durable atomically: when it returns nil every change in
	// b is on stable storage; when it returns an error, none, some or all of
	// b may be stored (a crash mid-write), and the caller must stop using
	// its in-memory state and reload.
	Apply(ctx context.Context, b *Batch) error
	// Load returns the state that the applied batches add up to.
	Load(ctx context.Context) (*State, error)
	// Close releases the store. It does not need to be called for data
	// applied earlier to stay durable.
	Close() error
}

// ErrClosed is returned by a store used after Close.
var ErrClosed = errors.New("store: closed")
