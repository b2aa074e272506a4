// Package storetest is the conformance suite of saga.Store: every
// implementation (saga.MemoryStore, the SQL log of package saga/sqllog on
// both dialects) runs it.
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/saga"
)

// Run checks that the Store open returns keeps the upsert rules of the
// interface, orders steps, lists unfinished instances and survives
// concurrent saves. open gives an empty store.
func Run(t *testing.T, open func(t *testing.T) saga.Store) {
	t.Helper()
	s := open(t)
	ctx := t.Context()
	in := saga.Instance{ID: "a1", Definition: "trip", XID: "n:1", BranchID: 2, Engine: "e1", Status: saga.StatusRunning, Input: json.RawMessage(`{"x":"é"}`)}
	if err := s.Save(ctx, saga.Batch{Instances: []saga.Instance{in}, Steps: []saga.StepRecord{
		{Instance: "a1", Seq: 2, State: "b", Status: saga.StepRunning, Input: json.RawMessage(`2`)},
		{Instance: "a1", Seq: 1, State: "a", Status: saga.StepRunning, Input: json.RawMessage(`1`)},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, saga.Batch{
		Instances: []saga.Instance{{ID: "a1", Status: saga.StatusCompensating, ErrorName: "X", Error: "boom"}},
		Steps: []saga.StepRecord{
			{Instance: "a1", Seq: 1, State: "a", Status: saga.StepSucceeded, Output: json.RawMessage(`{"o":1}`), Attempts: 1},
			{Instance: "a1", Seq: 2, State: "b", Status: saga.StepFailed, ErrorName: "X", Error: "boom", Attempts: 3},
			{Instance: "a1", Seq: 1, State: "a.compensation", Compensation: true, Status: saga.StepRunning, Input: json.RawMessage(`1`)},
		}}); err != nil {
		t.Fatal(err)
	}
	got, steps, err := s.Load(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Definition != "trip" || got.XID != "n:1" || got.BranchID != 2 || got.Engine != "e1" || string(got.Input) != `{"x":"é"}` ||
		got.Status != saga.StatusCompensating || got.ErrorName != "X" || got.Error != "boom" {
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
			st := saga.StatusRunning
			if i%3 == 0 {
				st = saga.StatusSucceeded
			}
			b := saga.Batch{Instances: []saga.Instance{{ID: id, Definition: "d", XID: "n:9", Engine: "e2", Status: saga.StatusRunning, Input: json.RawMessage(`{}`)},
				{ID: id, Status: st}}, Steps: []saga.StepRecord{{Instance: id, Seq: 1, State: "s", Status: saga.StepRunning}}}
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
}
