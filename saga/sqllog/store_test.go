package sqllog

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/saga"
	"github.com/txcio/txc/saga/storetest"
)

type dbCase struct {
	name  string
	store func(t *testing.T) *Store
}

// newStore opens a log store on fresh tables of a real database and
// checks the dialect it detected.
func newStore(t *testing.T, db *sql.DB, d Dialect) *Store {
	t.Helper()
	prefix := dbtest.Name("saga")
	t.Cleanup(func() {
		db.Exec("DROP TABLE IF EXISTS " + prefix + "_instance")
		db.Exec("DROP TABLE IF EXISTS " + prefix + "_step")
	})
	s, err := New(t.Context(), db, Options{TablePrefix: prefix, CreateTables: true, MaxBatch: 64})
	if err != nil {
		t.Fatal(err)
	}
	if s.dialect != d {
		t.Fatalf("detected %v, want %v", s.dialect, d)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dbCases() []dbCase {
	return []dbCase{
		{"mysql", func(t *testing.T) *Store { return newStore(t, dbtest.MySQL(t), MySQL) }},
		{"postgres", func(t *testing.T) *Store { return newStore(t, dbtest.Postgres(t), Postgres) }},
	}
}

// TestStoreConformance runs the saga.Store suite on both databases.
func TestStoreConformance(t *testing.T) {
	for _, sc := range dbCases() {
		t.Run(sc.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) saga.Store { return sc.store(t) })
		})
	}
}

// TestBatchIsAtomic: a batch the database refuses leaves nothing.
func TestBatchIsAtomic(t *testing.T) {
	for _, sc := range dbCases() {
		t.Run(sc.name, func(t *testing.T) {
			s := sc.store(t)
			err := s.Save(t.Context(), saga.Batch{Instances: []saga.Instance{{ID: "x1", Definition: "d", XID: "n:1", Engine: "e", Status: saga.StatusRunning}},
				Steps: []saga.StepRecord{{Instance: "x1", Seq: 1, State: strings.Repeat("s", 600), Status: saga.StepRunning}}})
			if err == nil {
				t.Fatal("a 600-byte state name was accepted")
			}
			if _, _, err := s.Load(t.Context(), "x1"); !errors.Is(err, txc.ErrUnknownTransaction) {
				t.Fatalf("half a batch kept: %v", err)
			}
		})
	}
}

// TestCleanup: finished instances and their steps go, running ones
// stay, both by DeleteFinished and by the scheduled RunCleanup.
func TestCleanup(t *testing.T) {
	for _, sc := range dbCases() {
		t.Run(sc.name, func(t *testing.T) {
			s := sc.store(t)
			ctx := t.Context()
			save := func(id string, st saga.Status) {
				t.Helper()
				err := s.Save(ctx, saga.Batch{Instances: []saga.Instance{{ID: id, Definition: "d", XID: "n:1", Engine: "e", Status: st}},
					Steps: []saga.StepRecord{{Instance: id, Seq: 1, State: "a", Status: saga.StepRunning}}})
				if err != nil {
					t.Fatal(err)
				}
			}
			save("done1", saga.StatusSucceeded)
			save("live1", saga.StatusRunning)
			if n, err := s.DeleteFinished(ctx, time.Hour, 100); err != nil || n != 0 {
				t.Fatalf("deleted %d (%v) within the retention", n, err)
			}
			if n, err := s.DeleteFinished(ctx, 0, 100); err != nil || n != 1 {
				t.Fatalf("DeleteFinished = %d, %v; want 1", n, err)
			}
			if _, _, err := s.Load(ctx, "done1"); !errors.Is(err, txc.ErrUnknownTransaction) {
				t.Fatalf("finished instance still there: %v", err)
			}
			var steps int
			if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.step+" WHERE instance_id = 'done1'").Scan(&steps); err != nil || steps != 0 {
				t.Fatalf("%d steps of the deleted instance left (%v)", steps, err)
			}
			save("done2", saga.StatusCompensated)
			cctx, cancel := context.WithCancel(ctx)
			stopped := make(chan error, 1)
			go func() { stopped <- s.RunCleanup(cctx, 5*time.Millisecond, time.Nanosecond) }()
			deadline := time.Now().Add(10 * time.Second)
			for {
				if _, _, err := s.Load(ctx, "done2"); errors.Is(err, txc.ErrUnknownTransaction) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("RunCleanup did not delete the finished instance")
				}
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			if err := <-stopped; !errors.Is(err, context.Canceled) {
				t.Fatalf("RunCleanup returned %v", err)
			}
			if _, _, err := s.Load(ctx, "live1"); err != nil {
				t.Fatalf("running instance deleted: %v", err)
			}
		})
	}
}

// TestCancelledSaveIsNeverAppliedLater: a Save that returns an error must
// not be written afterwards. The engine takes a failed save as "the run
// stopped here" and the next delivery resumes from the log; a batch that
// lands after that (a stale end of a step, a stale final status) would
// overwrite what the resumed run wrote.
func TestCancelledSaveIsNeverAppliedLater(t *testing.T) {
	for _, sc := range dbCases() {
		t.Run(sc.name, func(t *testing.T) {
			s := sc.store(t)
			ctx := t.Context()
			in := saga.Instance{ID: "x1", Definition: "d", XID: "n:1", Engine: "e", Status: saga.StatusRunning}
			if err := s.Save(ctx, saga.Batch{Instances: []saga.Instance{in}}); err != nil {
				t.Fatal(err)
			}
			// Hold the instance's row so that the writer's transaction waits.
			lock, err := s.db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Rollback()
			if _, err := lock.ExecContext(ctx, "SELECT id FROM "+s.inst+" WHERE id = 'x1' FOR UPDATE"); err != nil {
				t.Fatal(err)
			}
			time.AfterFunc(time.Second, func() { lock.Rollback() })
			sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			in.Status = saga.StatusSucceeded
			saveErr := s.Save(sctx, saga.Batch{Instances: []saga.Instance{in}})
			time.Sleep(1500 * time.Millisecond) // the lock is gone; a late write would have landed
			got, _, err := s.Load(ctx, "x1")
			if err != nil {
				t.Fatal(err)
			}
			if applied := got.Status == saga.StatusSucceeded; applied != (saveErr == nil) {
				t.Fatalf("Save returned %v, yet the log says %v afterwards", saveErr, got.Status)
			}
		})
	}
}
