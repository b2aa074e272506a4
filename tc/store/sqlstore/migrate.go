package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

// A single node (and the former single-leader cluster) keeps its state in
// the tables under the base prefix; a cluster keeps each node's partition
// under PartitionPrefix(base, node) and never reads the base tables.
// MoveToPartitions moves what the base tables hold into the partitions,
// so that a cluster started on a single node's database drives that
// node's unfinished transactions to their end.

// ErrOldLayout matches an *OldLayoutError with errors.Is.
var ErrOldLayout = errors.New(pkg + ": state in the single-store layout cannot be moved to the partitions")

// OldLayoutError is returned by MoveToPartitions when the tables under the
// base prefix hold state it cannot move: nothing was changed.
type OldLayoutError struct {
	Prefix     string // the base table prefix whose tables hold the state
	Unfinished int    // transactions in them that have not finished
	Reason     string // why they cannot be moved
}

func (e *OldLayoutError) Error() string {
	return fmt.Sprintf("%s: tables %s* (the single-store layout) hold %d unfinished transactions, which a cluster does not read, and they cannot be moved to the partitions: %s;"+
		" run a single node (without etcd) on these tables until they are finished, or move them by hand, before starting the cluster",
		pkg, e.Prefix, e.Unfinished, e.Reason)
}

// Is makes errors.Is(err, ErrOldLayout) hold.
func (e *OldLayoutError) Is(target error) bool { return target == ErrOldLayout }

// MovedSchemaVersion is the newest version of the table recording moved
// partitions (<base>moved, scripts schema/moved/<dialect>/<n>.sql).
const MovedSchemaVersion = 1

// movedSchema is the schema of the record of moved partitions of base
// prefix base.
func movedSchema(base string) schemaSet {
	return schemaSet{dir: "schema/moved", known: MovedSchemaVersion, prefix: base, version: base + "moved_schema"}
}

// Moved is what MoveToPartitions did.
type Moved struct {
	// Transactions maps each partition this call moved transactions into
	// to how many (global records, finished ones included); empty when the
	// base tables held nothing.
	Transactions map[string]int
	// Partitions lists (sorted) every partition a move ever filled, this
	// call's and earlier ones': each must be recorded in etcd so that the
	// live nodes adopt it while no node of its name runs.
	Partitions []string
}

// MoveToPartitions moves every global and branch record of the store
// whose tables begin with the base prefix opts.TablePrefix (a single
// node's layout) into the store of its XID's partition (tables
// PartitionPrefix(base, node), created when missing), raising each
// partition's ID sequence above the base store's and every ID moved, and
// adds the rows that the moved unfinished transactions' branches lock to
// the shared lock table <base>locks (Reconcile trims them to the rows the
// partition's core holds once it is hosted). It holds the owner lock of
// the base store and of every partition it fills (see owner.go), waiting
// as Open does: while a single node runs on the base tables, or a node
// hosts a partition to fill, it fails with ErrInUse naming the tables,
// having changed nothing. All the changes are one SQL transaction: a
// crash leaves the old layout or the new one. Base tables that are
// missing or empty make it a no-op. State it cannot place (an XID naming
// no partition, an XID already in its partition) fails it with an
// *OldLayoutError, changing nothing.
func MoveToPartitions(ctx context.Context, opts Options) (*Moved, error) {
	return moveToPartitions(ctx, opts, false)
}

// moveToPartitions is MoveToPartitions; abort (tests) fails the move's
// transaction after all its statements, before its commit.
func moveToPartitions(ctx context.Context, opts Options, abort bool) (*Moved, error) {
	base, log, secret, err := opts.check()
	if err != nil {
		return nil, err
	}
	var m mover
	switch opts.Dialect {
	case MySQL:
		m, err = openMyMover(ctx, opts.DSN, secret, log)
	case Postgres:
		m, err = openPGMover(ctx, opts.DSN)
	default:
		return nil, fmt.Errorf("%w: unknown dialect %v", ErrInvalid, opts.Dialect)
	}
	if err != nil {
		return nil, scrub(err, secret)
	}
	defer m.close()
	mv := &move{m: m, d: opts.Dialect, base: newTables(base), log: log, abort: abort}
	res, err := mv.run(ctx)
	return res, scrub(err, secret)
}

// mover is one dialect's half of a move: one database session, which
// holds the owner locks it takes until close.
type mover interface {
	schema(version string) schemaDB
	// own takes the owner lock of the store whose tables are t.
	own(ctx context.Context, t tables) error
	// load reads the store whose tables are t.
	load(ctx context.Context, t tables) (*store.State, error)
	// recorded lists the partitions in the record of moves table.
	recorded(ctx context.Context, table string) ([]string, error)
	// commit makes c in one transaction.
	commit(ctx context.Context, c *change) error
	close() error
}

// change is what a move writes, in one transaction.
type change struct {
	parts  []partChange // sorted by name
	drop   partChange   // the base store's records, deleted
	locks  []lockRef    // rows to add to the shared lock table (when free)
	lockT  string       // the shared lock table
	moved  string       // the record of moves
	abort  bool
	abortT tables // names the missing table of a simulated crash
}

// partChange is a plan on one store's tables.
type partChange struct {
	name string
	t    tables
	p    *plan
}

// move is one run of MoveToPartitions.
type move struct {
	m     mover
	d     Dialect
	base  tables
	log   *slog.Logger
	abort bool
}

func (mv *move) run(ctx context.Context) (*Moved, error) {
	res := &Moved{Transactions: map[string]int{}}
	v, err := mv.m.schema(mv.base.schema).schemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	if v < 0 || v > SchemaVersion {
		return nil, &SchemaVersionError{Table: mv.base.schema, Found: v, Known: SchemaVersion}
	}
	if v > 0 {
		if err := mv.m.own(ctx, mv.base); err != nil {
			return nil, err
		}
		st, err := mv.m.load(ctx, mv.base)
		if err != nil {
			return nil, err
		}
		if len(st.Globals) > 0 || len(st.Branches) > 0 {
			if err := mv.moveState(ctx, st, res); err != nil {
				return nil, err
			}
		}
	}
	res.Partitions, err = mv.recorded(ctx)
	return res, err
}

// moveState moves st, the base store's state, to the partitions.
func (mv *move) moveState(ctx context.Context, st *store.State, res *Moved) error {
	c, err := mv.plan(st)
	if err != nil {
		return err
	}
	for _, set := range []schemaSet{locksSchema(mv.base.prefix), movedSchema(mv.base.prefix)} {
		if err := ensureSchema(ctx, mv.m.schema(set.version), mv.d, set, mv.log); err != nil {
			return err
		}
	}
	for _, pc := range c.parts {
		if err := mv.openPartition(ctx, st, pc); err != nil {
			return err
		}
	}
	if err := mv.m.commit(ctx, c); err != nil {
		return err
	}
	for _, pc := range c.parts {
		res.Transactions[pc.name] = len(pc.p.globals)
		mv.log.Warn("sqlstore: transactions of the single-store layout moved to their partition", "from", mv.base.prefix,
			"partition", pc.name, "to", pc.t.prefix, "transactions", len(pc.p.globals), "branches", len(pc.p.branches))
	}
	return nil
}

// openPartition creates the tables of pc's partition when missing, takes
// its owner lock and checks that none of the moved XIDs is there already.
func (mv *move) openPartition(ctx context.Context, st *store.State, pc partChange) error {
	if err := ensureSchema(ctx, mv.m.schema(pc.t.schema), mv.d, storeSchema(pc.t), mv.log); err != nil {
		return err
	}
	if err := mv.m.own(ctx, pc.t); err != nil {
		return err
	}
	have, err := mv.m.load(ctx, pc.t)
	if err != nil {
		return err
	}
	there := map[txc.XID]bool{}
	for _, g := range have.Globals {
		there[g.XID] = true
	}
	for _, b := range have.Branches {
		there[b.XID] = true
	}
	for _, g := range pc.p.globals {
		if there[g.XID] {
			return mv.refuse(st, fmt.Sprintf("transaction %s is also in the tables %s* of its partition", g.XID, pc.t.prefix))
		}
	}
	for _, b := range pc.p.branches {
		if there[b.XID] {
			return mv.refuse(st, fmt.Sprintf("a branch of transaction %s is also in the tables %s* of its partition", b.XID, pc.t.prefix))
		}
	}
	return nil
}

// refuse is the error of a move that cannot place st.
func (mv *move) refuse(st *store.State, reason string) error {
	n := 0
	for _, g := range st.Globals {
		if !g.Status.IsFinal() {
			n++
		}
	}
	return &OldLayoutError{Prefix: mv.base.prefix, Unfinished: n, Reason: reason}
}

// plan splits st by partition: each partition's records, its next ID
// above the base store's and every ID moved, the lock rows of the
// unfinished transactions' branches, and the deletion of the base
// records.
func (mv *move) plan(st *store.State) (*change, error) {
	batches := map[string]*store.Batch{}
	batch := func(x txc.XID) (*store.Batch, error) {
		node, seq, err := x.Parse()
		if err != nil {
			return nil, mv.refuse(st, fmt.Sprintf("XID %q names no partition", x))
		}
		b := batches[node]
		if b == nil {
			b = &store.Batch{NextID: st.NextID}
			batches[node] = b
		}
		b.NextID = max(b.NextID, seq+1)
		return b, nil
	}
	unfinished := map[txc.XID]bool{}
	drop := &store.Batch{}
	for _, g := range st.Globals {
		b, err := batch(g.XID)
		if err != nil {
			return nil, err
		}
		b.PutGlobals = append(b.PutGlobals, g)
		unfinished[g.XID] = !g.Status.IsFinal()
		drop.DeleteGlobals = append(drop.DeleteGlobals, g.XID)
	}
	var held []store.LockRow
	for _, r := range st.Branches {
		b, err := batch(r.XID)
		if err != nil {
			return nil, err
		}
		b.PutBranches = append(b.PutBranches, r)
		b.NextID = max(b.NextID, uint64(r.ID)+1)
		drop.DeleteGlobals = append(drop.DeleteGlobals, r.XID)
		if unfinished[r.XID] {
			for _, k := range r.LockKeys {
				for _, row := range k.Rows {
					held = append(held, store.LockRow{XID: r.XID, Resource: r.ResourceID, Table: k.Table, Row: row})
				}
			}
		}
	}
	c := &change{drop: partChange{t: mv.base, p: newPlan(drop, false)}, locks: uniqueRefs(held, nil),
		lockT: mv.base.prefix + "locks", moved: mv.base.prefix + "moved", abort: mv.abort, abortT: mv.base}
	for _, node := range slices.Sorted(maps.Keys(batches)) {
		prefix, err := PartitionPrefix(mv.base.prefix, node)
		if err != nil {
			return nil, err
		}
		c.parts = append(c.parts, partChange{name: node, t: newTables(prefix), p: newPlan(batches[node], false)})
	}
	return c, nil
}

// recorded lists every partition a move filled, none when no move ever
// did.
func (mv *move) recorded(ctx context.Context) ([]string, error) {
	set := movedSchema(mv.base.prefix)
	v, err := mv.m.schema(set.version).schemaVersion(ctx)
	if err != nil || v == 0 {
		return nil, err
	}
	if v > set.known {
		return nil, &SchemaVersionError{Table: set.version, Found: v, Known: set.known}
	}
	names, err := mv.m.recorded(ctx, mv.base.prefix+"moved")
	slices.Sort(names)
	return names, err
}
