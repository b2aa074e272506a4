package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/storetest"
)

// oldLayout is the state a single node left under the base prefix:
// unfinished transactions of two partitions whose branches hold rows, a
// finished one (its branches deleted), and a next ID above them all.
func oldLayout() *store.Batch {
	now := time.UnixMilli(1_700_000_000_123)
	g := func(x txc.XID, s txc.GlobalStatus) store.Global {
		return store.Global{XID: x, Name: "transfer", Status: s, Begun: now, Deadline: now.Add(time.Minute), Updated: now}
	}
	br := func(x txc.XID, id txc.BranchID, s txc.BranchStatus, rows ...string) store.Branch {
		return store.Branch{XID: x, ID: id, Type: txc.BranchAT, ResourceID: "jdbc:db1", Status: s,
			LockKeys: []txc.LockKey{{Table: "account", Rows: rows}}, ApplicationData: []byte("app")}
	}
	return &store.Batch{
		PutGlobals: []store.Global{g("n1:5", txc.GlobalBegin), g("n1:9", txc.GlobalRollbacking),
			g("n1:3", txc.GlobalCommitted), g("n-2:4", txc.GlobalBegin)},
		PutBranches: []store.Branch{br("n1:5", 6, txc.BranchRegistered, "1", "2"), br("n1:5", 7, txc.BranchPhaseOneDone, "3"),
			br("n1:9", 10, txc.BranchPhaseOneDone, "4"), br("n-2:4", 8, txc.BranchRegistered, "5")},
		NextID: 500,
	}
}

// partState is the part of b's state that belongs to partition node (all
// of it for ""), with next ID next.
func partState(b *store.Batch, node string, next uint64) *store.State {
	st := &store.State{NextID: next}
	mine := func(x txc.XID) bool { n, _, _ := x.Parse(); return node == "" || n == node }
	for _, g := range b.PutGlobals {
		if mine(g.XID) {
			st.Globals = append(st.Globals, g)
		}
	}
	for _, r := range b.PutBranches {
		if mine(r.XID) {
			st.Branches = append(st.Branches, r)
		}
	}
	return st
}

// moveEnv is a base prefix with a single node's state, and the tables a
// move may make, dropped when the test ends.
type moveEnv struct {
	t    *testing.T
	d    Dialect
	dsn  string
	db   *sql.DB
	base string
}

func newMoveEnv(t *testing.T, d Dialect, dsn string, db *sql.DB, b *store.Batch) *moveEnv {
	e := &moveEnv{t: t, d: d, dsn: dsn, db: db, base: dbtest.Name("mv") + "_"}
	t.Cleanup(func() {
		dropTables(db, e.base)
		for _, node := range []string{"n1", "n-2"} {
			dropTables(db, e.prefix(node))
		}
		for _, name := range []string{"locks", "locks_schema", "moved", "moved_schema"} {
			_, _ = db.Exec("DROP TABLE IF EXISTS " + e.base + name)
		}
	})
	if b != nil {
		s := openStore(t, d, dsn, e.base)
		if err := s.Apply(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	return e
}

func (e *moveEnv) prefix(node string) string {
	p, err := PartitionPrefix(e.base, node)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *moveEnv) opts() Options { return Options{Dialect: e.d, DSN: e.dsn, TablePrefix: e.base} }

// load reads the store under prefix as a cluster node opens it.
func (e *moveEnv) load(prefix string) *store.State {
	e.t.Helper()
	s, err := Open(e.t.Context(), Options{Dialect: e.d, DSN: e.dsn, TablePrefix: prefix, LockTablePrefix: e.base})
	if err != nil {
		e.t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Load(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// lockHolders lists the shared lock table's rows as "xid row" (none when
// the table is missing).
func (e *moveEnv) lockHolders() []string {
	e.t.Helper()
	rows, err := e.db.Query("SELECT xid, row_key FROM " + e.base + "locks")
	if err != nil {
		if strings.Contains(err.Error(), "exist") {
			return nil
		}
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var xid, row string
		if err := rows.Scan(&xid, &row); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, xid+" "+row)
	}
	slices.Sort(out)
	return out
}

// checkMoved asserts the layout after a move of b: the base store empty,
// each partition holding its part with its next ID above every ID, the
// unfinished transactions' rows in the shared lock table.
func (e *moveEnv) checkMoved(b *store.Batch) {
	e.t.Helper()
	if st := e.load(e.base); len(st.Globals)+len(st.Branches) != 0 {
		e.t.Fatalf("base store after the move: %+v", st)
	}
	for node, next := range map[string]uint64{"n1": 500, "n-2": 500} {
		if d := storetest.Diff(e.load(e.prefix(node)), partState(b, node, next)); d != "" {
			e.t.Fatalf("partition %s after the move:\n%s", node, d)
		}
	}
	want := []string{"n-2:4 5", "n1:5 1", "n1:5 2", "n1:5 3", "n1:9 4"}
	if got := e.lockHolders(); !slices.Equal(got, want) {
		e.t.Fatalf("shared lock rows %q, want %q", got, want)
	}
}

// TestMoveToPartitions: a single node's unfinished transactions, their
// branches and the rows they lock reach their partitions' stores, with
// each sequence above every ID; a second run changes nothing.
func TestMoveToPartitions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		b := oldLayout()
		e := newMoveEnv(t, d, dsn, db, b)
		res, err := MoveToPartitions(t.Context(), e.opts())
		if err != nil {
			t.Fatal(err)
		}
		if res.Transactions["n1"] != 3 || res.Transactions["n-2"] != 1 || !slices.Equal(res.Partitions, []string{"n-2", "n1"}) {
			t.Fatalf("move = %+v", res)
		}
		e.checkMoved(b)

		res, err = MoveToPartitions(t.Context(), e.opts())
		if err != nil || len(res.Transactions) != 0 || !slices.Equal(res.Partitions, []string{"n-2", "n1"}) {
			t.Fatalf("second move = %+v, %v; want nothing moved, both partitions listed", res, err)
		}
		e.checkMoved(b)
	})
}

// TestMoveSequenceAboveMovedIDs: a base store whose next ID is below the
// IDs it holds (as no store writes it, but the move must not trust it)
// still gives each partition a sequence above every moved ID.
func TestMoveSequenceAboveMovedIDs(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		b := oldLayout()
		b.NextID = 2
		e := newMoveEnv(t, d, dsn, db, b)
		if _, err := MoveToPartitions(t.Context(), e.opts()); err != nil {
			t.Fatal(err)
		}
		if n := e.load(e.prefix("n1")).NextID; n != 11 {
			t.Fatalf("n1's next ID %d, want 11 (above branch 10)", n)
		}
		if n := e.load(e.prefix("n-2")).NextID; n != 9 {
			t.Fatalf("n-2's next ID %d, want 9 (above branch 8)", n)
		}
	})
}

// TestMoveCrashKeepsOldLayout: a move whose transaction fails after all
// its statements, before its commit, leaves the base store as it was and
// the partitions and the lock table empty; the next move completes.
func TestMoveCrashKeepsOldLayout(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		b := oldLayout()
		e := newMoveEnv(t, d, dsn, db, b)
		if _, err := moveToPartitions(t.Context(), e.opts(), true); err == nil {
			t.Fatal("a move failing before its commit reported success")
		}
		if diff := storetest.Diff(e.load(e.base), partState(b, "", 500)); diff != "" {
			t.Fatalf("base store after a failed move: %s", diff)
		}
		for _, node := range []string{"n1", "n-2"} {
			if st := e.load(e.prefix(node)); len(st.Globals)+len(st.Branches) != 0 {
				t.Fatalf("partition %s after a failed move: %+v", node, st)
			}
		}
		if rows := e.lockHolders(); len(rows) != 0 {
			t.Fatalf("lock rows after a failed move: %q", rows)
		}
		if _, err := MoveToPartitions(t.Context(), e.opts()); err != nil {
			t.Fatal(err)
		}
		e.checkMoved(b)
	})
}

// TestMoveWaitsForOwners: while a single node holds the base store, or a
// node hosts a partition to fill, the move fails with ErrInUse naming the
// tables, changing nothing.
func TestMoveWaitsForOwners(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		b := oldLayout()
		e := newMoveEnv(t, d, dsn, db, b)
		for _, held := range []string{e.base, e.prefix("n-2")} {
			s := openStore(t, d, dsn, held)
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			_, err := MoveToPartitions(ctx, e.opts())
			cancel()
			s.Close()
			if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), held) {
				t.Fatalf("move while %s* is held: %v, want ErrInUse naming it", held, err)
			}
		}
		if st := e.load(e.base); len(st.Globals) != 4 {
			t.Fatalf("base store after refused moves: %+v", st)
		}
		if _, err := MoveToPartitions(t.Context(), e.opts()); err != nil {
			t.Fatal(err)
		}
		e.checkMoved(b)
	})
}

// TestMoveRefusesWhatItCannotPlace: an XID already in its partition, or
// one naming no partition, fails the move with an *OldLayoutError
// counting the unfinished transactions, changing nothing.
func TestMoveRefusesWhatItCannotPlace(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		for _, c := range []struct {
			name   string
			setup  func(e *moveEnv, b *store.Batch)
			reason string
		}{
			{"already in its partition", func(e *moveEnv, b *store.Batch) {
				s := openStore(t, d, dsn, e.prefix("n1"))
				defer s.Close()
				if err := s.Apply(t.Context(), someBatch("n1:9")); err != nil {
					t.Fatal(err)
				}
			}, "n1:9 is also in"},
			{"no partition", func(e *moveEnv, b *store.Batch) {
				b.PutGlobals = append(b.PutGlobals, store.Global{XID: "no-sequence", Name: "x", Status: txc.GlobalBegin})
			}, `"no-sequence" names no partition`},
		} {
			t.Run(c.name, func(t *testing.T) {
				b := oldLayout()
				e := newMoveEnv(t, d, dsn, db, nil)
				c.setup(e, b)
				s := openStore(t, d, dsn, e.base)
				if err := s.Apply(t.Context(), b); err != nil {
					t.Fatal(err)
				}
				s.Close()
				_, err := MoveToPartitions(t.Context(), e.opts())
				var le *OldLayoutError
				if !errors.As(err, &le) || !errors.Is(err, ErrOldLayout) || le.Prefix != e.base || le.Unfinished != len(b.PutGlobals)-1 ||
					!strings.Contains(err.Error(), c.reason) {
					t.Fatalf("move = %v, want an OldLayoutError (%s, %d unfinished)", err, c.reason, len(b.PutGlobals)-1)
				}
				if st := e.load(e.base); len(st.Globals) != len(b.PutGlobals) {
					t.Fatalf("base store after a refused move: %+v", st)
				}
				if rows := e.lockHolders(); len(rows) != 0 {
					t.Fatalf("lock rows after a refused move: %q", rows)
				}
			})
		}
	})
}

// TestMoveWithoutOldTables: with no base tables the move does nothing and
// creates nothing.
func TestMoveWithoutOldTables(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		e := newMoveEnv(t, d, dsn, db, nil)
		res, err := MoveToPartitions(t.Context(), e.opts())
		if err != nil || len(res.Transactions) != 0 || len(res.Partitions) != 0 {
			t.Fatalf("move = %+v, %v", res, err)
		}
		if got := snapshot(t, db, e.base); strings.Count(got, "missing") != 4 {
			t.Fatalf("base tables after a move of nothing: %s", got)
		}
	})
}
