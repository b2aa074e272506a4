package sqllog

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/saga"
)

// BenchmarkSave saves the log of two-step sagas on PostgreSQL from
// 32×GOMAXPROCS goroutines; one op is one saga's three saves (instance and
// step 1 start; step 1 end and step 2 start; step 2 end and final status).
//
//	go test -run NONE -bench Save -benchtime 3s ./saga/sqllog
func BenchmarkSave(b *testing.B) {
	db := dbtest.Postgres(b)
	prefix := dbtest.Name("saga_bench")
	b.Cleanup(func() {
		db.Exec("DROP TABLE IF EXISTS " + prefix + "_instance")
		db.Exec("DROP TABLE IF EXISTS " + prefix + "_step")
	})
	s, err := New(b.Context(), db, Options{TablePrefix: prefix, CreateTables: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var seq atomic.Int64
	input := json.RawMessage(`{"c":1,"n":2}`)
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("b%d", seq.Add(1))
			for _, bt := range []saga.Batch{
				{Instances: []saga.Instance{{ID: id, Definition: "bench", XID: "n:1", BranchID: 1, Engine: "e", Status: saga.StatusRunning, Input: input}},
					Steps: []saga.StepRecord{{Instance: id, Seq: 1, State: "one", Status: saga.StepRunning, Input: input}}},
				{Steps: []saga.StepRecord{{Instance: id, Seq: 1, State: "one", Status: saga.StepSucceeded, Output: json.RawMessage("null")},
					{Instance: id, Seq: 2, State: "two", Status: saga.StepRunning, Input: input}}},
				{Instances: []saga.Instance{{ID: id, Status: saga.StatusSucceeded, Output: json.RawMessage("{}")}},
					Steps: []saga.StepRecord{{Instance: id, Seq: 2, State: "two", Status: saga.StepSucceeded, Output: json.RawMessage("null")}}},
			} {
				if err := s.Save(b.Context(), bt); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
}
