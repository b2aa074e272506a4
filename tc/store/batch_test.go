package store_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
)

// TestAppendEqualsApplyingInTurn: a batch with a later one appended stores
// what the two applied one after the other store.
func TestAppendEqualsApplyingInTurn(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_000)
	g := func(xid txc.XID, s txc.GlobalStatus) store.Global {
		return store.Global{XID: xid, Name: "n", Status: s, Begun: at, Deadline: at.Add(time.Minute), Updated: at}
	}
	br := func(xid txc.XID, id txc.BranchID) store.Branch {
		return store.Branch{XID: xid, ID: id, Type: txc.BranchAT, ResourceID: "r", Status: txc.BranchRegistered,
			LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"1"}}}}
	}
	first := store.Batch{
		PutGlobals:      []store.Global{g("n:1", txc.GlobalBegin), g("n:2", txc.GlobalCommitted), g("n:3", txc.GlobalBegin)},
		PutBranches:     []store.Branch{br("n:1", 4), br("n:3", 5)},
		SetBranchStatus: []store.BranchStatus{{XID: "n:1", ID: 4, Status: txc.BranchPhaseOneDone}},
		DeleteBranches:  []txc.XID{"n:2"},
		NextID:          100,
	}
	second := store.Batch{
		PutGlobals:      []store.Global{g("n:1", txc.GlobalCommitted), g("n:3", txc.GlobalRollbacking), g("n:6", txc.GlobalBegin)},
		PutBranches:     []store.Branch{br("n:6", 7)},
		SetBranchStatus: []store.BranchStatus{{XID: "n:3", ID: 5, Status: txc.BranchRollbacked}},
		DeleteBranches:  []txc.XID{"n:1"},
		DeleteGlobals:   []txc.XID{"n:2"},
		NextID:          50,
	}
	ctx := context.Background()
	inTurn, merged := memstore.New(), memstore.New()
	for _, b := range []store.Batch{first, second} {
		if err := inTurn.Apply(ctx, &b); err != nil {
			t.Fatal(err)
		}
	}
	var m store.Batch
	m.Append(&first)
	m.Append(&second)
	if err := merged.Apply(ctx, &m); err != nil {
		t.Fatal(err)
	}
	want, _ := inTurn.Load(ctx)
	got, _ := merged.Load(ctx)
	if !reflect.DeepEqual(sorted(got), sorted(want)) {
		t.Fatalf("appended batch stored\n%+v\napplied in turn\n%+v", got, want)
	}
	if got.NextID != 100 {
		t.Fatalf("NextID %d, want the larger, 100", got.NextID)
	}
	if len(first.PutGlobals) != 3 || len(second.DeleteGlobals) != 1 {
		t.Fatal("Append changed its argument or receiver's source")
	}
}

func sorted(st *store.State) *store.State {
	slices.SortFunc(st.Globals, func(a, b store.Global) int { return strings.Compare(string(a.XID), string(b.XID)) })
	slices.SortFunc(st.Branches, func(a, b store.Branch) int { return int(a.ID) - int(b.ID) })
	return st
}
