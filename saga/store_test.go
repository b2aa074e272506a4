package saga

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
)

type storeCase struct {
	name  string
	store func(t *testing.T) Store
}

// sqlStore opens a log store on fresh tables of a real database.
func sqlStore(t *testing.T, db *sql.DB, d Dialect) *SQLStore {
	t.Helper()
	prefix := dbtest.Name("saga")
	t.Cleanup(func() {
		db.Exec("DROP TABLE IF EXISTS " + prefix + "_instance")
		db.Exec("DROP TABLE IF EXISTS " + prefix + "_step")
	})
	s, err := NewSQLStore(t.Context(), db, SQLOptions{TablePrefix: prefix, CreateTables: true, MaxBatch: 64})
	if err != nil {
		t.Fatal(err)
	}
	if s.dialect != d {
		t.Fatalf("detected %v, want %v", s.dialect, d)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func storeCases() []storeCase {
	return []storeCase{
		{"memory", func(t *testing.T) Store { return NewMemoryStore() }},
		{"mysql", func(t *testing.T) Store { return sqlStore(t, dbtest.MySQL(t), MySQL) }},
		{"postgres", func(t *testing.T) Store { return sqlStore(t, dbtest.Postgres(t), Postgres) }},
	}
}

// TestStoreConformance: every Store keeps the upsert rules of the
// interface, orders steps, lists unfinished instances and survives
// concurrent saves.
func TestStoreConformance(t *testing.T) {
	for _, sc := range storeCases() {
		t.Run(sc.name, func(t *testing.T) {
			s := sc.store(t)
			ctx := t.Context()
			in := Instance{ID: "a1", Definition: "trip", XID: "n:1", BranchID: 2, Engine: "e1", Status: StatusRunning, Input: json.RawMessage(`{"x":"é"}`)}
			if err := s.Save(ctx, Batch{Instances: []Instance{in}, Steps: []StepRecord{
				{Instance: "a1", Seq: 2, State: "b", Status: StepRunning, Input: json.RawMessage(`2`)},
				{Instance: "a1", Seq: 1, State: "a", Status: StepRunning, Input: json.RawMessage(`1`)},
			}}); err != nil {
				t.Fatal(err)
			}
			if err := s.Save(ctx, Batch{
				Instances: []Instance{{ID: "a1", Status: StatusCompensating, ErrorName: "X", Error: "boom"}},
				Steps: []StepRecord{
					{Instance: "a1", Seq: 1, State: "a", Status: StepSucceeded, Output: json.RawMessage(`{"o":1}`), Attempts: 1},
					{Instance: "a1", Seq: 2, State: "b", Status: StepFailed, ErrorName: "X", Error: "boom", Attempts: 3},
					{Instance: "a1", Seq: 1, State: "a.compensation", Compensation: true, Status: StepRunning, Input: json.RawMessage(`1`)},
				}}); err != nil {
				t.Fatal(err)
			}
			got, steps, err := s.Load(ctx, "a1")
			if err != nil {
				t.Fatal(err)
			}
			if got.Definition != "trip" || got.XID != "n:1" || got.BranchID != 2 || got.Engine != "e1" || string(got.Input) != `{"x":"é"}` ||
				got.Status != StatusCompensating || got.ErrorName != "X" || got.Error != "boom" {
				t.Fatalf("instance %+v", got)
			}
			var desc []string
			for _, st := range steps {
				desc = append(desc, fmt.Sprintf("%d/%v/%s/%v/%s/%s/%s/%d", st.Seq, st.Compensation, st.State, st.Status, st.Input, st.Output, st.ErrorName, st.Attempts))
			}
			want := "1/false/a/Succeeded/1/{\"o\":1}//1 1/true/a.compensation/Running/1///0 2/false/b/Failed/2//X/3"
			if strings.Join(desc, " ") != want {
				t.Fatalf("steps\n%s\nwant\n%s", strings.Join(desc, " "), want)
			}
			if _, _, err := s.Load(ctx, "nope"); !errors.Is(err, txc.ErrUnknownTransaction) {
				t.Fatalf("unknown: %v", err)
			}
			// Concurrent saves of many instances, each with a status change
			// coalesced into the insert's batch.
			var wg sync.WaitGroup
			errs := make(chan error, 100)
			for i := range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id := fmt.Sprintf("c%03d", i)
					st := StatusRunning
					if i%3 == 0 {
						st = StatusSucceeded
					}
					b := Batch{Instances: []Instance{{ID: id, Definition: "d", XID: "n:9", Engine: "e2", Status: StatusRunning, Input: json.RawMessage(`{}`)},
						{ID: id, Status: st}}, Steps: []StepRecord{{Instance: id, Seq: 1, State: "s", Status: StepRunning}}}
					errs <- s.Save(ctx, b)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			list, err := s.Unfinished(ctx, "e2", 1000)
			if err != nil || len(list) != 66 {
				t.Fatalf("unfinished: %d %v", len(list), err)
			}
			if list, _ := s.Unfinished(ctx, "e1", 10); len(list) != 1 || list[0].ID != "a1" {
				t.Fatalf("unfinished of e1: %+v", list)
			}
		})
	}
}

// TestSQLStoreBatchIsAtomic: a batch the database refuses leaves nothing.
func TestSQLStoreBatchIsAtomic(t *testing.T) {
	for _, sc := range storeCases()[1:] {
		t.Run(sc.name, func(t *testing.T) {
			s := sc.store(t)
			err := s.Save(t.Context(), Batch{Instances: []Instance{{ID: "x1", Definition: "d", XID: "n:1", Engine: "e", Status: StatusRunning}},
				Steps: []StepRecord{{Instance: "x1", Seq: 1, State: strings.Repeat("s", 600), Status: StepRunning}}})
			if err == nil {
				t.Fatal("a 600-byte state name was accepted")
			}
			if _, _, err := s.Load(t.Context(), "x1"); !errors.Is(err, txc.ErrUnknownTransaction) {
				t.Fatalf("half a batch kept: %v", err)
			}
		})
	}
}

// TestEngineOnDatabases runs the engine on the real databases: a success, a
// compensation, and a crash in the middle then recovery from the log.
func TestEngineOnDatabases(t *testing.T) {
	for _, sc := range storeCases()[1:] {
		t.Run(sc.name, func(t *testing.T) {
			g := &rig{tc: newFakeTC(t), store: nil, clock: newFakeClock(), rec: newRecorder()}
			st := sc.store(t)
			g.def = threeSteps(t, Forward)
			mk := func() {
				n := 0
				e, err := NewEngine(Config{Name: "db", Coordinator: g.tc, Store: st, Clock: g.clock, NewID: func() string { n++; return fmt.Sprintf("%s-%d", sc.name, n) }})
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range tripServices {
					e.RegisterService(s, g.rec.service(s))
				}
				if err := e.Register(g.def); err != nil {
					t.Fatal(err)
				}
				g.eng = e
			}
			mk()
			if _, err := g.eng.Run(t.Context(), "trip", map[string]any{"who": "bo"}); err != nil {
				t.Fatal(err)
			}
			g.rec.set("car.book", func(context.Context, *Request) (json.RawMessage, error) { return nil, NewError("NoCar", "") })
			if _, err := g.eng.Run(t.Context(), "trip", nil); !errors.Is(err, txc.ErrRolledBack) {
				t.Fatalf("Run: %v", err)
			}
			entered := make(chan struct{})
			g.rec.set("car.book", func(ctx context.Context, _ *Request) (json.RawMessage, error) {
				close(entered)
				<-ctx.Done()
				return nil, ctx.Err()
			})
			id, err := g.eng.Start(t.Context(), "trip", nil)
			if err != nil {
				t.Fatal(err)
			}
			<-entered
			g.tc.crash(t)
			g.rec.set("car.book", nil)
			mk() // the restarted process: its scan at start resumes the saga
			if err := g.eng.Recover(t.Context()); err != nil {
				t.Fatal(err)
			}
			inst, steps, err := g.eng.Status(t.Context(), id)
			if err != nil || inst.Status != StatusSucceeded || len(steps) != 3 {
				t.Fatalf("%+v %v %v", inst, steps, err)
			}
			calls := g.rec.list()
			if tail := strings.Join(calls[len(calls)-2:], ","); tail != "car.book "+id+"/3,car.book "+id+"/3" {
				t.Fatalf("calls %v", calls)
			}
		})
	}
}

// TestSQLStoreCleanup: finished instances and their steps go, running ones
// stay, both by DeleteFinished and by the scheduled RunCleanup.
func TestSQLStoreCleanup(t *testing.T) {
	for _, sc := range storeCases()[1:] {
		t.Run(sc.name, func(t *testing.T) {
			s := sc.store(t).(*SQLStore)
			ctx := t.Context()
			save := func(id string, st Status) {
				t.Helper()
				err := s.Save(ctx, Batch{Instances: []Instance{{ID: id, Definition: "d", XID: "n:1", Engine: "e", Status: st}},
					Steps: []StepRecord{{Instance: id, Seq: 1, State: "a", Status: StepRunning}}})
				if err != nil {
					t.Fatal(err)
				}
			}
			save("done1", StatusSucceeded)
			save("live1", StatusRunning)
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
			save("done2", StatusCompensated)
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
