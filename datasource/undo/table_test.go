package undo

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
)

func tables(t *testing.T, f func(t *testing.T, db *sql.DB, tab *Table)) {
	for _, c := range []struct {
		name, driver, dsn string
		d                 Dialect
	}{{"mysql", "mysql", mysqlDSN, MySQL}, {"postgres", "pgx", postgresDSN, Postgres}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := openDB(t, c.driver, c.dsn)
			tab, err := NewTable(c.d, uniqueName(t, db, "undo_log"), Codec{})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // idempotent
				if err := tab.Create(t.Context(), db); err != nil {
					t.Fatal(err)
				}
			}
			f(t, db, tab)
		})
	}
}

func testLog(branch txc.BranchID, rows int) *Log {
	var before []Row
	for i := range rows {
		before = append(before, Row{{"id", Int(int64(i))}, {"name", String(strings.Repeat("n", 40))}, {"at", Text("DATETIME", "2024-01-02 03:04:05.000001")}})
	}
	return &Log{XID: "node-a:77", BranchID: branch, Records: []Record{{Table: "t", Kind: Delete, Before: before, PK: []string{"id"}}}}
}

func TestTableLifecycle(t *testing.T) {
	tables(t, func(t *testing.T, db *sql.DB, tab *Table) {
		ctx := t.Context()
		for _, rows := range []int{1, 2000} { // plain and compressed
			l := testLog(txc.BranchID(1<<63+uint64(rows)), rows) // the high bit survives the signed column
			if err := tab.Insert(ctx, db, l); err != nil {
				t.Fatal(err)
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			e, err := tab.SelectForUpdate(ctx, tx, l.XID, l.BranchID)
			if err != nil || e == nil || e.State != StateNormal || !e.Log.Equal(l) {
				t.Fatalf("select: %+v, %v", e, err)
			}
			if ok, err := tab.Delete(ctx, tx, l.XID, l.BranchID); !ok || err != nil {
				t.Fatalf("delete: %v, %v", ok, err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if ok, err := tab.Delete(ctx, db, l.XID, l.BranchID); ok || err != nil {
				t.Fatalf("second delete: %v, %v", ok, err)
			}
			if e, err := tab.SelectForUpdate(ctx, db, l.XID, l.BranchID); e != nil || err != nil {
				t.Fatalf("select after delete: %+v, %v", e, err)
			}
		}
		// A marker where nothing exists, once; then phase 1 fails.
		l := testLog(5, 1)
		for i, want := range []bool{true, false} {
			if ok, err := tab.InsertFinished(ctx, db, l.XID, l.BranchID); ok != want || err != nil {
				t.Fatalf("marker %d: %v, %v", i, ok, err)
			}
		}
		if e, err := tab.SelectForUpdate(ctx, db, l.XID, l.BranchID); err != nil || e == nil || e.State != StateFinished || e.Log != nil {
			t.Fatalf("select marker: %+v, %v", e, err)
		}
		if err := tab.Insert(ctx, db, l); !errors.Is(err, txc.ErrRolledBack) || !strings.HasPrefix(err.Error(), "undo: ") {
			t.Fatalf("phase 1 after marker: %v", err)
		}
		// No marker over an existing log.
		l2 := testLog(6, 1)
		if err := tab.Insert(ctx, db, l2); err != nil {
			t.Fatal(err)
		}
		if ok, err := tab.InsertFinished(ctx, db, l2.XID, l2.BranchID); ok || err != nil {
			t.Fatalf("marker over a log: %v, %v", ok, err)
		}
		// Bad input changes nothing.
		for _, xid := range []txc.XID{"", txc.XID(strings.Repeat("x", txc.MaxXIDLen+1))} {
			if err := tab.Insert(ctx, db, &Log{XID: xid}); !errors.Is(err, txc.ErrInvalidArgument) {
				t.Errorf("insert %q: %v", xid, err)
			}
			if _, err := tab.InsertFinished(ctx, db, xid, 1); !errors.Is(err, txc.ErrInvalidArgument) {
				t.Errorf("marker %q: %v", xid, err)
			}
		}
		// A row that holds another branch's log is refused.
		if _, err := db.ExecContext(ctx, "UPDATE "+tab.Name()+" SET branch_id = 99 WHERE branch_id = 6"); err != nil {
			t.Fatal(err)
		}
		if _, err := tab.SelectForUpdate(ctx, db, l2.XID, 99); !errors.Is(err, txc.ErrInvalidArgument) {
			t.Fatalf("misplaced log: %v", err)
		}
	})
}

// TestTableMarkerRace: a rollback that finds no undo log races a phase 1
// whose insert is not yet committed. The marker insert waits for phase 1;
// if phase 1 commits, no marker is written and the log is there to undo;
// if phase 1 rolls back, the marker is written and a retried phase 1
// fails on the key.
func TestTableMarkerRace(t *testing.T) {
	tables(t, func(t *testing.T, db *sql.DB, tab *Table) {
		ctx := t.Context()
		for _, commit := range []bool{true, false} {
			l := testLog(10, 3)
			if !commit {
				l.BranchID = 11
			}
			phase1, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := tab.Insert(ctx, phase1, l); err != nil {
				t.Fatal(err)
			}
			type result struct {
				inserted bool
				err      error
			}
			done := make(chan result, 1)
			go func() {
				ok, err := tab.InsertFinished(ctx, db, l.XID, l.BranchID)
				done <- result{ok, err}
			}()
			select {
			case r := <-done:
				t.Fatalf("marker did not wait for the uncommitted phase 1: %+v", r)
			case <-time.After(200 * time.Millisecond):
			}
			if commit {
				err = phase1.Commit()
			} else {
				err = phase1.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("marker insert still blocked")
			}
			if r.err != nil || r.inserted == commit {
				t.Fatalf("phase 1 commit=%v: marker inserted=%v, %v", commit, r.inserted, r.err)
			}
			e, err := tab.SelectForUpdate(ctx, db, l.XID, l.BranchID)
			if err != nil || e == nil {
				t.Fatalf("select: %+v, %v", e, err)
			}
			if commit && (e.State != StateNormal || !e.Log.Equal(l)) || !commit && e.State != StateFinished {
				t.Fatalf("phase 1 commit=%v: row %+v", commit, e)
			}
			if !commit {
				late, err := db.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := tab.Insert(ctx, late, l); !errors.Is(err, txc.ErrRolledBack) {
					t.Fatalf("late phase 1: %v", err)
				}
				late.Rollback()
			}
		}
	})
}

func TestTableDeleteBatches(t *testing.T) {
	tables(t, func(t *testing.T, db *sql.DB, tab *Table) {
		ctx := t.Context()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var keys []Key
		for i := range 1100 {
			k := Key{XID: txc.XID(fmt.Sprintf("n:%d", i)), BranchID: txc.BranchID(i)}
			if err := tab.Insert(ctx, tx, &Log{XID: k.XID, BranchID: k.BranchID}); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				keys = append(keys, k)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, Key{XID: "n:missing", BranchID: 1})
		if n, err := tab.DeleteBatch(ctx, db, keys); n != 550 || err != nil {
			t.Fatalf("DeleteBatch: %d, %v", n, err)
		}
		if n, err := tab.DeleteBatch(ctx, db, keys); n != 0 || err != nil {
			t.Fatalf("DeleteBatch again: %d, %v", n, err)
		}
		if n, err := tab.DeleteOlderThan(ctx, db, time.Hour, 100); n != 0 || err != nil {
			t.Fatalf("DeleteOlderThan(1h): %d, %v", n, err)
		}
		// Only finished markers are swept by age; the 550 logs stay (one
		// may belong to a branch parked for manual action).
		for i := range 250 {
			if _, err := tab.InsertFinished(ctx, db, txc.XID(fmt.Sprintf("m:%d", i)), txc.BranchID(i)); err != nil {
				t.Fatal(err)
			}
		}
		total := int64(0)
		for {
			n, err := tab.DeleteOlderThan(ctx, db, 0, 200)
			if err != nil {
				t.Fatal(err)
			}
			total += n
			if n < 200 {
				break
			}
		}
		if total != 250 {
			t.Fatalf("DeleteOlderThan deleted %d, want the 250 markers", total)
		}
		var logs int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tab.Name()+" WHERE state = 0").Scan(&logs); err != nil || logs != 550 {
			t.Fatalf("%d logs left (%v), want 550", logs, err)
		}
		if _, err := tab.DeleteOlderThan(ctx, db, 0, 0); !errors.Is(err, txc.ErrInvalidArgument) {
			t.Fatalf("limit 0: %v", err)
		}
	})
}

// ListOld lists undo logs, never finished markers, oldest first and a
// page at a time, and only those older than the age asked.
func TestTableListOld(t *testing.T) {
	tables(t, func(t *testing.T, db *sql.DB, tab *Table) {
		ctx := t.Context()
		var want []Key
		for i := range 5 {
			k := Key{XID: txc.XID(fmt.Sprintf("lo:%d", i)), BranchID: txc.BranchID(i)}
			if err := tab.Insert(ctx, db, &Log{XID: k.XID, BranchID: k.BranchID}); err != nil {
				t.Fatal(err)
			}
			want = append(want, k)
			time.Sleep(2 * time.Millisecond) // distinct creation times
		}
		if _, err := tab.InsertFinished(ctx, db, "lo:marker", 9); err != nil {
			t.Fatal(err)
		}
		if keys, err := tab.ListOld(ctx, db, time.Hour, 0, 10); len(keys) != 0 || err != nil {
			t.Fatalf("ListOld(1h): %v, %v", keys, err)
		}
		var got []Key
		for skip := 0; ; skip += 2 {
			keys, err := tab.ListOld(ctx, db, 0, skip, 2)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, keys...)
			if len(keys) < 2 {
				break
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("ListOld pages: %v, want %v", got, want)
		}
		if _, err := tab.ListOld(ctx, db, 0, -1, 1); !errors.Is(err, txc.ErrInvalidArgument) {
			t.Fatalf("skip -1: %v", err)
		}
	})
}

func TestNewTableRefusesBadNames(t *testing.T) {
	for _, name := range []string{"a b", "t;DROP TABLE x", strings.Repeat("a", 49), "1t"} {
		if _, err := NewTable(MySQL, name, Codec{}); !errors.Is(err, txc.ErrInvalidArgument) {
			t.Errorf("%q: %v", name, err)
		}
	}
	if _, err := NewTable(9, "", Codec{}); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Error("unknown dialect accepted")
	}
	tab, _ := NewTable(Postgres, "", Codec{})
	if s := tab.Schema(); !strings.Contains(s, "CREATE TABLE IF NOT EXISTS txc_undo_log") || strings.Contains(s, "password") {
		t.Error(s)
	}
}
