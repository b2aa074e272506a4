package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/lock"
	"github.com/txcio/txc/tc/store"
)

// LocksSchemaVersion is the newest version of the shared lock table this
// build knows (scripts schema/locks/<dialect>/<n>.sql).
const LocksSchemaVersion = 1

// locksSchema is the schema of the shared lock table of base prefix base.
func locksSchema(base string) schemaSet {
	return schemaSet{dir: "schema/locks", known: LocksSchemaVersion, prefix: base, version: base + "locks_schema"}
}

// Locks is the shared lock table of a cluster (store.SharedLocks), the
// table <base>locks beside the partitions' stores. It is safe for
// concurrent use: calls run on a small pool of connections.
//
// Claim reads the current holders of the claimed rows (one round trip),
// decides every claim in order, and inserts the rows taken in one atomic
// statement (a second round trip). Two processes racing for a row both
// insert it: the key makes one wait for the other and fail, and the loser
// reads again and decides again; a failed insert takes nothing.
type Locks struct {
	b      locksBackend
	secret string
	mu     sync.Mutex
	closed bool
}

var _ store.SharedLocks = (*Locks)(nil)

// locksBackend is one dialect's half of Locks.
type locksBackend interface {
	// holders returns the holder of each of hashes that is held.
	holders(ctx context.Context, hashes [][]byte) (map[string]txc.XID, error)
	// insert adds rows in one atomic change; with ignoreTaken a row
	// already held by anyone is left as it is, without it the insert
	// fails (raced) and adds nothing.
	insert(ctx context.Context, rows []lockRef, ignoreTaken bool) error
	// free deletes rows, each only while held by its XID.
	free(ctx context.Context, rows []lockRef) error
	// query returns a holder other than xid of one of hashes.
	query(ctx context.Context, xid txc.XID, hashes [][]byte) (txc.XID, bool, error)
	// partitionRows returns the rows of partition's XIDs: hash -> XID.
	partitionRows(ctx context.Context, partition string) (map[string]txc.XID, error)
	// replace deletes del (each while held by its XID) and inserts ins,
	// leaving rows held by others, in one transaction.
	replace(ctx context.Context, del, ins []lockRef) error
	// raced reports whether err is a lost race with a concurrent change
	// (a duplicate key, a deadlock): trying again may succeed.
	raced(err error) bool
	// ping reaches the database.
	ping(ctx context.Context) error
	close()
}

// maxClaimAttempts bounds how often Claim decides again after losing a
// race for a row.
const maxClaimAttempts = 20

// undoWait bounds the deletion of the rows of an insert whose outcome is
// unknown.
const undoWait = 5 * time.Second

// OpenLocks connects to the shared lock table of the cluster whose stores
// use base prefix opts.TablePrefix (DefaultTablePrefix when empty),
// creating it when it is missing; a table whose schema version this build
// does not know fails with a *SchemaVersionError and is left as it is.
func OpenLocks(ctx context.Context, opts Options) (*Locks, error) {
	base, log, secret, err := opts.check()
	if err != nil {
		return nil, err
	}
	var b locksBackend
	switch opts.Dialect {
	case MySQL:
		b, err = openMyLocks(ctx, opts.DSN, secret, base, log)
	case Postgres:
		b, err = openPGLocks(ctx, opts.DSN, base, log)
	default:
		return nil, fmt.Errorf("%w: unknown dialect %v", ErrInvalid, opts.Dialect)
	}
	if err != nil {
		return nil, scrub(err, secret)
	}
	return &Locks{b: b, secret: secret}, nil
}

// Close releases the connections.
func (l *Locks) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		l.b.close()
	}
	return nil
}

func (l *Locks) open() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return store.ErrClosed
	}
	return nil
}

// Claim implements store.SharedLocks. Bad claims (a malformed XID,
// resource or key) fail the call with a txc.CodeInvalidArgument error,
// taking nothing.
func (l *Locks) Claim(ctx context.Context, claims []store.LockClaim) ([]store.ClaimResult, error) {
	if err := l.open(); err != nil {
		return nil, err
	}
	refs, err := claimRefs(claims)
	if err != nil {
		return nil, err
	}
	var hashes [][]byte
	for _, rs := range refs {
		for _, r := range rs {
			hashes = append(hashes, r.hash)
		}
	}
	// The first attempt guesses that no row is held, which under load
	// without contention is right: one statement instead of a read and an
	// insert. A row held after all fails the whole insert (a duplicate
	// key, nothing taken), and the attempts that follow read the holders.
	held := map[string]txc.XID{}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if held, err = l.b.holders(ctx, hashes); err != nil {
				return nil, l.scrub(fmt.Errorf("%s: claim: %w", pkg, err))
			}
		}
		results, ins := decide(claims, refs, held)
		if len(ins) == 0 {
			return results, nil
		}
		err = l.b.insert(ctx, ins, false)
		if err == nil {
			return results, nil
		}
		if !l.b.raced(err) {
			return nil, l.scrub(l.undo(ctx, ins, err))
		}
		if attempt == maxClaimAttempts {
			return nil, l.scrub(fmt.Errorf("%s: claim: still racing after %d attempts: %w", pkg, attempt, err))
		}
	}
}

// undo deletes rows whose insert failed without saying whether it was
// committed (a lost connection), so that an error still means nothing was
// taken.
func (l *Locks) undo(ctx context.Context, rows []lockRef, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoWait)
	defer cancel()
	if err := l.b.free(ctx, rows); err != nil {
		return fmt.Errorf("%s: claim: %w; taking back its rows failed too, some may stay held until Reconcile: %w", pkg, cause, err)
	}
	return fmt.Errorf("%s: claim: %w", pkg, cause)
}

// Free implements store.SharedLocks.
func (l *Locks) Free(ctx context.Context, rows []store.LockRow) error {
	if err := l.open(); err != nil {
		return err
	}
	refs := uniqueRefs(rows, nil)
	if len(refs) == 0 {
		return nil
	}
	if err := l.b.free(ctx, refs); err != nil {
		return l.scrub(fmt.Errorf("%s: free: %w", pkg, err))
	}
	return nil
}

// Query implements store.SharedLocks.
func (l *Locks) Query(ctx context.Context, xid txc.XID, resource string, keys []txc.LockKey) (txc.XID, bool, error) {
	if err := l.open(); err != nil {
		return "", false, err
	}
	if err := lock.CheckRequest(xid, true, resource, keys); err != nil {
		return "", false, err
	}
	var hashes [][]byte
	for _, k := range keys {
		for _, r := range k.Rows {
			hashes = append(hashes, rowHash(resource, k.Table, r))
		}
	}
	if len(hashes) == 0 {
		return "", false, nil
	}
	holder, locked, err := l.b.query(ctx, xid, hashes)
	if err != nil {
		return "", false, l.scrub(fmt.Errorf("%s: query: %w", pkg, err))
	}
	return holder, locked, nil
}

// Reconcile implements store.SharedLocks: in one transaction it deletes
// the partition's rows held does not list and inserts the listed rows
// missing. A listed row that another partition's transaction holds stays
// that transaction's; Reconcile then fails with a *txc.Error of code
// CodeLockConflict naming the holder, after making every other change:
// two partitions' locks overlap, which should never happen, and an
// operator must look.
func (l *Locks) Reconcile(ctx context.Context, partition string, held []store.LockRow) error {
	if err := l.open(); err != nil {
		return err
	}
	if !txc.ValidNodeName(partition) {
		return txc.Errorf(txc.CodeInvalidArgument, "%s: reconcile: malformed partition name %q", pkg, partition)
	}
	for _, r := range held {
		if node, _, err := r.XID.Parse(); err != nil || node != partition {
			return txc.Errorf(txc.CodeInvalidArgument, "%s: reconcile: XID %q is not of partition %q", pkg, r.XID, partition)
		}
	}
	want := uniqueRefs(held, nil)
	have, err := l.b.partitionRows(ctx, partition)
	if err != nil {
		return l.scrub(fmt.Errorf("%s: reconcile: %w", pkg, err))
	}
	del, ins := reconcileDiff(have, want)
	if err := l.b.replace(ctx, del, ins); err != nil {
		return l.scrub(fmt.Errorf("%s: reconcile: %w", pkg, err))
	}
	return l.scrub(l.checkHeld(ctx, ins))
}

// checkHeld fails with a lock conflict when a row of rows is not held by
// its XID.
func (l *Locks) checkHeld(ctx context.Context, rows []lockRef) error {
	if len(rows) == 0 {
		return nil
	}
	hashes := make([][]byte, len(rows))
	for i, r := range rows {
		hashes[i] = r.hash
	}
	holders, err := l.b.holders(ctx, hashes)
	if err != nil {
		return fmt.Errorf("%s: reconcile: %w", pkg, err)
	}
	for _, r := range rows {
		if h := holders[string(r.hash)]; string(h) != r.xid {
			return &txc.Error{Code: txc.CodeLockConflict, XID: txc.XID(r.xid), Holder: h,
				Message: fmt.Sprintf("%s: reconcile: row %q of table %q on %s, held by %s in its stored branches, is held by %s",
					pkg, r.row, r.table, r.resource, r.xid, h)}
		}
	}
	return nil
}

// Ping reports whether the database of the table answers: a node cut off
// from it (and so from its partitions' stores, which live beside it)
// learns when it may serve again.
func (l *Locks) Ping(ctx context.Context) error {
	if err := l.open(); err != nil {
		return err
	}
	return l.scrub(l.b.ping(ctx))
}

func (l *Locks) scrub(err error) error { return scrub(err, l.secret) }
