package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/internal/faultlink"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/storetest"
)

// freshBase returns a base prefix no concurrent test uses and drops its
// shared lock table when the test ends.
func freshBase(t testing.TB, db *sql.DB) string {
	base := dbtest.Name("lk") + "_"
	t.Cleanup(func() {
		for _, name := range []string{base + "locks", base + "locks_schema"} {
			_, _ = db.Exec("DROP TABLE IF EXISTS " + name)
		}
	})
	return base
}

func openLocks(t testing.TB, d Dialect, dsn, base string) *Locks {
	t.Helper()
	l, err := OpenLocks(context.Background(), Options{Dialect: d, DSN: dsn, TablePrefix: base})
	if err != nil {
		t.Fatalf("OpenLocks: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestLocksConformance runs the shared-lock suite, the race of two nodes
// included, on MariaDB and PostgreSQL.
func TestLocksConformance(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		storetest.Locks(t, func(t *testing.T) func() store.SharedLocks {
			base := freshBase(t, db)
			return func() store.SharedLocks { return openLocks(t, d, dsn, base) }
		})
	})
}

// TestLocksSchemaVersionRefused: a shared table recording a version this
// build does not know is refused, by OpenLocks and by a store opened
// beside it, with a typed error.
func TestLocksSchemaVersionRefused(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		base := freshBase(t, db)
		openLocks(t, d, dsn, base).Close()
		if _, err := db.Exec(fmt.Sprintf("UPDATE %slocks_schema SET version = %d WHERE id = 1", base, LocksSchemaVersion+1)); err != nil {
			t.Fatal(err)
		}
		var ve *SchemaVersionError
		_, err := OpenLocks(t.Context(), Options{Dialect: d, DSN: dsn, TablePrefix: base})
		if !errors.As(err, &ve) || ve.Table != base+"locks_schema" || ve.Found != LocksSchemaVersion+1 {
			t.Fatalf("OpenLocks = %v, want a *SchemaVersionError", err)
		}
		part, _ := PartitionPrefix(base, "n1")
		t.Cleanup(func() { dropTables(db, part) })
		_, err = Open(t.Context(), Options{Dialect: d, DSN: dsn, TablePrefix: part, LockTablePrefix: base})
		if !errors.Is(err, ErrSchemaVersion) {
			t.Fatalf("Open beside it = %v, want ErrSchemaVersion", err)
		}
	})
}

// partitionStore opens node's partition store beside the shared table of
// base.
func partitionStore(t *testing.T, d Dialect, dsn string, db *sql.DB, base, node string) *Store {
	t.Helper()
	part, err := PartitionPrefix(base, node)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropTables(db, part) })
	s, err := Open(t.Context(), Options{Dialect: d, DSN: dsn, TablePrefix: part, LockTablePrefix: base})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func lockRows(xid txc.XID, rows ...string) []store.LockRow {
	var out []store.LockRow
	for _, r := range rows {
		out = append(out, store.LockRow{XID: xid, Resource: "db", Table: "t", Row: r})
	}
	return out
}

// holders returns who holds each row of db.t ("" if nobody).
func holders(t *testing.T, l *Locks, rows ...string) []txc.XID {
	t.Helper()
	out := make([]txc.XID, len(rows))
	for i, r := range rows {
		h, _, err := l.Query(t.Context(), "", "db", []txc.LockKey{{Table: "t", Rows: []string{r}}})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = h
	}
	return out
}

// claimAll takes rows for their XIDs, failing the test on a conflict.
func claimAll(t *testing.T, l *Locks, claims ...store.LockClaim) {
	t.Helper()
	res, err := l.Claim(t.Context(), claims)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Holder != "" {
			t.Fatalf("claim refused: %+v", r)
		}
	}
}

func lockClaim(xid txc.XID, rows ...string) store.LockClaim {
	return store.LockClaim{XID: xid, Resource: "db", Keys: []txc.LockKey{{Table: "t", Rows: rows}}}
}

// TestApplyFreesSharedLocks: a partition store beside the shared table
// deletes the batch's FreeLocks (only while held by their XID) and every
// row of the transactions whose branches or records it deletes, in the
// batch's transaction: an Apply that fails leaves the table as it was. A
// store without the option ignores FreeLocks.
func TestApplyFreesSharedLocks(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		base := freshBase(t, db)
		l := openLocks(t, d, dsn, base)
		s := partitionStore(t, d, dsn, db, base, "n1")
		if !s.FreesSharedLocks() {
			t.Fatal("FreesSharedLocks = false beside the shared table")
		}
		claimAll(t, l, lockClaim("n1:1", "a", "b"), lockClaim("n1:2", "c"), lockClaim("n1:3", "d"), lockClaim("n2:1", "x"))
		b := someBatch("n1:9")
		b.FreeLocks = append(lockRows("n1:1", "a"), lockRows("n1:9", "b")...) // b is not n1:9's
		b.FreeLocks = append(b.FreeLocks, lockRows("n2:1", "zz")...)
		b.DeleteBranches = []txc.XID{"n1:2"}
		b.DeleteGlobals = []txc.XID{"n1:3"}

		s.failNext = &injected{err: errors.New("simulated crash")}
		if err := s.Apply(t.Context(), b); err == nil {
			t.Fatal("the injected failure did not fail Apply")
		}
		all := []string{"a", "b", "c", "d", "x"}
		if got := fmt.Sprint(holders(t, l, all...)); got != "[n1:1 n1:1 n1:2 n1:3 n2:1]" {
			t.Fatalf("after a failed Apply the holders are %s", got)
		}
		// A failed Apply ends the store's session (ErrOwnerLost): the
		// batch goes again through the store opened anew.
		s.Close()
		s = partitionStore(t, d, dsn, db, base, "n1")
		if err := s.Apply(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(holders(t, l, all...)); got != "[ n1:1   n2:1]" {
			t.Fatalf("after Apply the holders are %q", got)
		}

		plain := openStore(t, d, dsn, freshPrefix(t, db))
		if plain.FreesSharedLocks() {
			t.Fatal("FreesSharedLocks = true without a shared table")
		}
		if err := plain.Apply(t.Context(), &store.Batch{FreeLocks: lockRows("n1:1", "b"), DeleteBranches: []txc.XID{"n2:1"}}); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(holders(t, l, "b", "x")); got != "[n1:1 n2:1]" {
			t.Fatalf("a store without the shared table changed it: %s", got)
		}
	})
}

// BenchmarkClaim: 64 concurrent claimers, each call a batch of four
// claims of three rows (a server grouping the registrations that arrive
// together), each batch freed again.
func BenchmarkClaim(b *testing.B) {
	for _, c := range dialects {
		b.Run(c.d.String(), func(b *testing.B) {
			base := freshBase(b, c.db(b))
			l := openLocks(b, c.d, c.dsn, base)
			const claimers = 64
			var next atomic.Uint64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := range claimers {
				wg.Go(func() {
					for {
						n := next.Add(1)
						if n > uint64(b.N) {
							return
						}
						claimBatch(b, l, w, n)
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(4*b.N)/b.Elapsed().Seconds(), "claims/s")
		})
	}
}

func claimBatch(b *testing.B, l *Locks, worker int, n uint64) {
	var claims []store.LockClaim
	var rows []store.LockRow
	for i := range uint64(4) {
		xid := txc.NewXID(fmt.Sprintf("w%d", worker), 4*n+i)
		keys := []string{fmt.Sprint(xid, "/1"), fmt.Sprint(xid, "/2"), fmt.Sprint(xid, "/3")}
		claims = append(claims, lockClaim(xid, keys...))
		rows = append(rows, lockRows(xid, keys...)...)
	}
	ctx := context.Background()
	res, err := l.Claim(ctx, claims)
	if err != nil || res[0].Holder != "" {
		b.Errorf("Claim = %+v, %v", res, err)
		return
	}
	if err := l.Free(ctx, rows); err != nil {
		b.Error(err)
	}
}

// TestLocksPing: Ping answers while the database does, fails with the
// database out of reach (a link that now refuses connections: the pool's
// connections are cut), and after Close.
func TestLocksPing(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		target := "127.0.0.1:5432"
		if d == MySQL {
			target = "127.0.0.1:3306"
		}
		link := faultlink.Start(t, target)
		l := openLocks(t, d, strings.Replace(dsn, target, link.Addr(), 1), freshBase(t, db))
		if err := l.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		link.SetCut(true)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if err := l.Ping(ctx); err == nil {
			t.Fatal("Ping succeeded with the database out of reach")
		}
		l.Close()
		if err := l.Ping(t.Context()); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("Ping after Close: %v", err)
		}
	})
}
