// Package storetest is the conformance suite every store.Store backend must
// pass, and a benchmark of Apply on the coordinator's write pattern.
//
// A backend's test calls Run with a Harness that opens its store in a
// directory; the suite opens fresh stores, reopens them after Close and
// after simulated crashes, and compares what Load returns with what the
// applied batches add up to, using memstore as the reference model.
package storetest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
)

// Harness tells the suite how to open the backend under test.
type Harness struct {
	// Open opens the store kept in dir, creating it if dir is missing or
	// empty. The suite gives every test its own dir and calls Open on the
	// same dir again after closing the store or abandoning it in a
	// simulated crash; the reopened store must hold exactly what the
	// batches acknowledged before add up to. A backend that keeps nothing
	// on disk may key its state by dir.
	Open func(dir string) (store.Store, error)

	// FailNext, if set, arranges for the next Apply on s to fail with err
	// the way a crash in the middle of writing would: with keepAll the
	// batch is nevertheless stored, without it none of it is. After that
	// Apply the suite closes s (its process "died") and reopens dir.
	FailNext func(s store.Store, err error, keepAll bool)

	// Subprocess says that the store lives on disk in dir and may be
	// reopened by another process. The suite then runs the kill test: a
	// child process (the test binary, re-executed) applies batches in a
	// loop and is killed with SIGKILL at a random moment; the parent
	// reopens dir and checks that every acknowledged batch is there and
	// that no batch is there in part.
	Subprocess bool
}

// Run runs the conformance suite against the backend h opens.
//
// When the test binary was re-executed as the child of the kill test, Run
// does not return: it applies batches until it is killed.
func Run(t *testing.T, h Harness) {
	if dir, ok := crashChildDir(); ok {
		runCrashChild(t, h, dir)
		return
	}
	if h.Open == nil {
		t.Fatal("storetest: Harness.Open is nil")
	}
	name := t.Name()
	tests := []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"EmptyLoad", testEmptyLoad},
		{"RoundTrip", testRoundTrip},
		{"LargeApplicationData", testLargeApplicationData},
		{"Replace", testReplace},
		{"SetBranchStatus", testSetBranchStatus},
		{"DeleteGlobals", testDeleteGlobals},
		{"DeleteBranches", testDeleteBranches},
		{"OrderWithinBatch", testOrderWithinBatch},
		{"NextID", testNextID},
		{"EmptyBatch", testEmptyBatch},
		{"CallerOwnsSlices", testCallerOwnsSlices},
		{"ManyBatches", testManyBatches},
		{"Closed", testClosed},
		{"FailedApply", testFailedApply},
		{"KillProcess", func(t *testing.T, e *env) { testKillProcess(t, e, name) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &env{h: h, dir: t.TempDir(), model: memstore.New()}
			tc.fn(t, e)
		})
	}
}

// env is one test's store and the reference model it is compared with.
type env struct {
	h     Harness
	dir   string
	s     store.Store
	model *memstore.Store
}

// open opens (or reopens) the store of e and arranges for it to be closed.
func (e *env) open(t *testing.T) store.Store {
	t.Helper()
	s, err := e.h.Open(e.dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", e.dir, err)
	}
	e.s = s
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// reopen closes the store and opens it again.
func (e *env) reopen(t *testing.T) store.Store {
	t.Helper()
	if err := e.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return e.open(t)
}

// apply applies b to the store and to the model.
func (e *env) apply(t *testing.T, b *store.Batch) {
	t.Helper()
	if err := e.s.Apply(t.Context(), b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if err := e.model.Apply(t.Context(), b); err != nil {
		t.Fatalf("model Apply: %v", err)
	}
}

// check compares the store's Load with the model's.
func (e *env) check(t *testing.T) {
	t.Helper()
	want, err := e.model.Load(t.Context())
	if err != nil {
		t.Fatalf("model Load: %v", err)
	}
	got, err := e.s.Load(t.Context())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if diff := Diff(got, want); diff != "" {
		t.Fatalf("Load differs from the applied batches:\n%s", diff)
	}
}

// checkAndReopen checks, reopens and checks again.
func (e *env) checkAndReopen(t *testing.T) {
	t.Helper()
	e.check(t)
	e.reopen(t)
	e.check(t)
}

// Diff describes how got differs from want, or returns "" when they hold
// the same globals, branches and NextID. Order does not matter; times are
// compared at millisecond precision (a zero time must stay zero);
// LockKeys must round-trip exactly, including nil versus empty slices;
// ApplicationData is compared by content (nil equals empty).
func Diff(got, want *store.State) string {
	var d strings.Builder
	if got.NextID != want.NextID {
		fmt.Fprintf(&d, "NextID: got %d, want %d\n", got.NextID, want.NextID)
	}
	gg, wg := sortedGlobals(got.Globals), sortedGlobals(want.Globals)
	for i, j := 0, 0; (i < len(gg) || j < len(wg)) && d.Len() < 4000; {
		switch c := merge(i, len(gg), j, len(wg), func() int { return cmp.Compare(gg[i].XID, wg[j].XID) }); {
		case c < 0:
			fmt.Fprintf(&d, "unexpected global %s\n", fmtGlobal(gg[i]))
			i++
		case c > 0:
			fmt.Fprintf(&d, "missing global %s\n", fmtGlobal(wg[j]))
			j++
		default:
			if !globalEqual(gg[i], wg[j]) {
				fmt.Fprintf(&d, "global %s:\n  got  %s\n  want %s\n", gg[i].XID, fmtGlobal(gg[i]), fmtGlobal(wg[j]))
			}
			i++
			j++
		}
	}
	gb, wb := sortedBranches(got.Branches), sortedBranches(want.Branches)
	for i, j := 0, 0; (i < len(gb) || j < len(wb)) && d.Len() < 4000; {
		switch c := merge(i, len(gb), j, len(wb), func() int { return branchCmp(gb[i], wb[j]) }); {
		case c < 0:
			fmt.Fprintf(&d, "unexpected branch %s\n", fmtBranch(gb[i]))
			i++
		case c > 0:
			fmt.Fprintf(&d, "missing branch %s\n", fmtBranch(wb[j]))
			j++
		default:
			if !branchEqual(gb[i], wb[j]) {
				fmt.Fprintf(&d, "branch %s/%d:\n  got  %s\n  want %s\n", gb[i].XID, gb[i].ID, fmtBranch(gb[i]), fmtBranch(wb[j]))
			}
			i++
			j++
		}
	}
	if d.Len() >= 4000 {
		d.WriteString("…\n")
	}
	return d.String()
}

// merge says which of two sorted lists, positioned at i of ni and j of nj,
// holds the smaller element: <0 the first, >0 the second, 0 both.
func merge(i, ni, j, nj int, compare func() int) int {
	switch {
	case j == nj:
		return -1
	case i == ni:
		return 1
	}
	return compare()
}

func sortedGlobals(in []store.Global) []store.Global {
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b store.Global) int { return cmp.Compare(a.XID, b.XID) })
	return out
}

func sortedBranches(in []store.Branch) []store.Branch {
	out := slices.Clone(in)
	slices.SortFunc(out, branchCmp)
	return out
}

func branchCmp(a, b store.Branch) int {
	return cmp.Or(cmp.Compare(a.XID, b.XID), cmp.Compare(a.ID, b.ID))
}

func timeEqual(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
}

func globalEqual(a, b store.Global) bool {
	return a.XID == b.XID && a.Name == b.Name && a.Status == b.Status &&
		timeEqual(a.Begun, b.Begun) && timeEqual(a.Deadline, b.Deadline) && timeEqual(a.Updated, b.Updated)
}

func branchEqual(a, b store.Branch) bool {
	return a.XID == b.XID && a.ID == b.ID && a.Type == b.Type && a.ResourceID == b.ResourceID &&
		a.Status == b.Status && bytes.Equal(a.ApplicationData, b.ApplicationData) &&
		reflect.DeepEqual(a.LockKeys, b.LockKeys)
}

func fmtGlobal(g store.Global) string {
	return fmt.Sprintf("{%s %q %v begun=%s deadline=%s updated=%s}", g.XID, g.Name, g.Status,
		fmtTime(g.Begun), fmtTime(g.Deadline), fmtTime(g.Updated))
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "zero"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

func fmtBranch(b store.Branch) string {
	var keys strings.Builder
	if b.LockKeys == nil {
		keys.WriteString("nil")
	} else {
		keys.WriteString("[")
		for i, k := range b.LockKeys {
			if i > 0 {
				keys.WriteString(" ")
			}
			if k.Rows == nil {
				fmt.Fprintf(&keys, "%q:nil", k.Table)
			} else {
				fmt.Fprintf(&keys, "%q:%q", k.Table, k.Rows)
			}
		}
		keys.WriteString("]")
	}
	data := fmt.Sprintf("%x", b.ApplicationData)
	if len(data) > 64 {
		data = fmt.Sprintf("%s…(%d bytes)", data[:64], len(b.ApplicationData))
	}
	return fmt.Sprintf("{%s/%d %v %q %v locks=%s data=%s}", b.XID, b.ID, b.Type, b.ResourceID, b.Status, keys.String(), data)
}

// ms is a time with millisecond precision used throughout the suite.
var ms = time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

func global(xid txc.XID, st txc.GlobalStatus) store.Global {
	return store.Global{
		XID: xid, Name: "tx-" + string(xid), Status: st,
		Begun: ms, Deadline: ms.Add(time.Minute), Updated: ms.Add(time.Second),
	}
}

func branch(xid txc.XID, id txc.BranchID, st txc.BranchStatus) store.Branch {
	return store.Branch{
		XID: xid, ID: id, Type: txc.BranchAT, ResourceID: "jdbc:mysql://db/orders", Status: st,
		LockKeys:        []txc.LockKey{{Table: "orders", Rows: []string{fmt.Sprint(id), fmt.Sprint(id + 1)}}},
		ApplicationData: []byte(fmt.Sprintf(`{"branch":%d}`, id)),
	}
}

func testEmptyLoad(t *testing.T, e *env) {
	e.open(t)
	st, err := e.s.Load(t.Context())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(st.Globals) != 0 || len(st.Branches) != 0 || st.NextID != 0 {
		t.Fatalf("fresh store Load = %d globals, %d branches, NextID %d; want empty",
			len(st.Globals), len(st.Branches), st.NextID)
	}
	e.checkAndReopen(t)
}

func testRoundTrip(t *testing.T, e *env) {
	e.open(t)
	var b store.Batch
	// Every global status, with a variety of names and times.
	names := []string{"", "transfer", "名前 with ünïcode", strings.Repeat("n", txc.MaxNameLen), "quote's \"and\" back\\slash"}
	times := []time.Time{
		{},
		ms,
		time.Date(2025, 1, 2, 3, 4, 5, 123_456_789, time.UTC), // sub-millisecond part may be dropped
		time.Date(1969, 12, 31, 23, 59, 59, 1_000_000, time.UTC),
		time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 6, 1, 12, 0, 0, 0, time.FixedZone("X", 5*3600+1800)),
		time.Unix(0, 0),
		time.Now(),
	}
	for s := txc.GlobalStatus(1); s.Valid(); s++ {
		x := txc.NewXID("rt", uint64(s))
		b.PutGlobals = append(b.PutGlobals, store.Global{
			XID: x, Name: names[int(s)%len(names)], Status: s,
			Begun:    times[int(s)%len(times)],
			Deadline: times[(int(s)+1)%len(times)],
			Updated:  times[(int(s)+2)%len(times)],
		})
	}
	x := txc.NewXID("rt", 1)
	lockKeys := [][]txc.LockKey{
		nil,
		{},
		{{Table: "t", Rows: nil}},
		{{Table: "t", Rows: []string{}}},
		{{Table: "", Rows: []string{""}}},
		{{Table: "orders", Rows: []string{"1", txc.RowKey("a,b", `c\d`), "", "\x00\xff"}}, {Table: "items", Rows: nil}, {Table: "x", Rows: []string{}}},
	}
	data := [][]byte{nil, {}, {0}, {0xff, 0x00, 0xfe, 0x01}, bytes.Repeat([]byte{0x80}, 300), []byte("text")}
	id := txc.BranchID(1)
	for bt := txc.BranchAT; bt.Valid(); bt++ {
		for s := txc.BranchStatus(1); s.Valid(); s++ {
			b.PutBranches = append(b.PutBranches, store.Branch{
				XID: x, ID: id, Type: bt, Status: s,
				ResourceID:      fmt.Sprintf("resource-%d-%s", id, strings.Repeat("r", int(id)%7)),
				LockKeys:        lockKeys[int(id)%len(lockKeys)],
				ApplicationData: data[int(id)%len(data)],
			})
			id++
		}
	}
	// Extreme IDs, a branch type and status the store must not interpret,
	// and a branch whose global is not stored.
	b.PutBranches = append(b.PutBranches,
		store.Branch{XID: x, ID: 0, Type: txc.BranchTypeUnknown, Status: txc.BranchUnknown},
		store.Branch{XID: x, ID: 1<<64 - 1, Type: txc.BranchTCC, Status: txc.BranchRegistered, ResourceID: "max"},
		store.Branch{XID: x, ID: 1 << 32, Type: txc.BranchType(200), Status: txc.BranchStatus(250)},
		store.Branch{XID: "orphan:1", ID: 7, Type: txc.BranchSaga, Status: txc.BranchPhaseOneDone},
	)
	b.NextID = 1 << 40
	e.apply(t, &b)
	e.checkAndReopen(t)
}

func testLargeApplicationData(t *testing.T, e *env) {
	e.open(t)
	r := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, txc.MaxApplicationLen)
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	x := txc.NewXID("big", 1)
	br := branch(x, 1, txc.BranchRegistered)
	br.ApplicationData = big
	many := branch(x, 2, txc.BranchRegistered)
	many.LockKeys = []txc.LockKey{{Table: "t", Rows: make([]string, 10000)}}
	for i := range many.LockKeys[0].Rows {
		many.LockKeys[0].Rows[i] = fmt.Sprintf("row-%d", i)
	}
	e.apply(t, &store.Batch{PutGlobals: []store.Global{global(x, txc.GlobalBegin)}, PutBranches: []store.Branch{br, many}})
	e.checkAndReopen(t)
	// A status change must keep the large record intact.
	e.apply(t, &store.Batch{SetBranchStatus: []store.BranchStatus{{XID: x, ID: 1, Status: txc.BranchPhaseOneDone}}})
	e.checkAndReopen(t)
}

func testReplace(t *testing.T, e *env) {
	e.open(t)
	x := txc.NewXID("rep", 1)
	g := global(x, txc.GlobalBegin)
	b1 := branch(x, 1, txc.BranchRegistered)
	b1.ApplicationData = bytes.Repeat([]byte("long"), 100)
	b1.LockKeys = append(b1.LockKeys, txc.LockKey{Table: "more", Rows: []string{"1", "2", "3"}})
	e.apply(t, &store.Batch{PutGlobals: []store.Global{g}, PutBranches: []store.Branch{b1}})
	e.check(t)

	g.Status = txc.GlobalCommitting
	g.Name = ""
	g.Updated = g.Updated.Add(time.Hour)
	b1.Type = txc.BranchTCC
	b1.ResourceID = "other"
	b1.ApplicationData = []byte("s")
	b1.LockKeys = nil
	b1.Status = txc.BranchPhaseOneDone
	e.apply(t, &store.Batch{PutGlobals: []store.Global{g}, PutBranches: []store.Branch{b1}})
	e.checkAndReopen(t)

	// Several puts of one record in one batch: the last wins.
	g2, g3 := g, g
	g2.Status, g3.Status = txc.GlobalCommitRetrying, txc.GlobalCommitted
	b2, b3 := b1, b1
	b2.Status, b3.Status = txc.BranchCommitFailedRetryable, txc.BranchCommitted
	b3.ApplicationData = nil
	e.apply(t, &store.Batch{PutGlobals: []store.Global{g2, g3}, PutBranches: []store.Branch{b2, b3}})
	e.checkAndReopen(t)
}

func testSetBranchStatus(t *testing.T, e *env) {
	e.open(t)
	x, y := txc.NewXID("sbs", 1), txc.NewXID("sbs", 2)
	e.apply(t, &store.Batch{
		PutGlobals:  []store.Global{global(x, txc.GlobalBegin)},
		PutBranches: []store.Branch{branch(x, 1, txc.BranchRegistered), branch(x, 2, txc.BranchRegistered)},
	})
	// A branch stored earlier.
	e.apply(t, &store.Batch{SetBranchStatus: []store.BranchStatus{{XID: x, ID: 1, Status: txc.BranchPhaseOneDone}}})
	e.checkAndReopen(t)
	// A branch put in the same batch, and several updates of one branch:
	// the last wins.
	e.apply(t, &store.Batch{
		PutGlobals:  []store.Global{global(y, txc.GlobalBegin)},
		PutBranches: []store.Branch{branch(y, 10, txc.BranchRegistered)},
		SetBranchStatus: []store.BranchStatus{
			{XID: y, ID: 10, Status: txc.BranchPhaseOneDone},
			{XID: x, ID: 2, Status: txc.BranchPhaseOneFailed},
			{XID: x, ID: 2, Status: txc.BranchPhaseOneDone},
			{XID: y, ID: 10, Status: txc.BranchCommitted},
		},
	})
	e.checkAndReopen(t)
	// A branch put again in the same batch after an update of the stored
	// one: updates apply after puts.
	e.apply(t, &store.Batch{
		PutBranches:     []store.Branch{branch(x, 1, txc.BranchRegistered)},
		SetBranchStatus: []store.BranchStatus{{XID: x, ID: 1, Status: txc.BranchRollbacked}},
	})
	e.checkAndReopen(t)
	// Missing branches are ignored: unknown transaction, unknown ID of a
	// known transaction, a neighbour of an existing ID.
	e.apply(t, &store.Batch{SetBranchStatus: []store.BranchStatus{
		{XID: "sbs:404", ID: 1, Status: txc.BranchCommitted},
		{XID: x, ID: 3, Status: txc.BranchCommitted},
		{XID: x, ID: 0, Status: txc.BranchCommitted},
		{XID: "sbs:", ID: 1, Status: txc.BranchCommitted},
		{XID: "sbs:10", ID: 1, Status: txc.BranchCommitted},
	}})
	e.checkAndReopen(t)
	// A missing branch stays missing when it is put later: the ignored
	// update must not resurface.
	e.apply(t, &store.Batch{PutBranches: []store.Branch{branch(x, 3, txc.BranchRegistered)}})
	e.checkAndReopen(t)
	// An update of a branch whose transaction was deleted is ignored.
	e.apply(t, &store.Batch{DeleteGlobals: []txc.XID{y}})
	e.apply(t, &store.Batch{SetBranchStatus: []store.BranchStatus{{XID: y, ID: 10, Status: txc.BranchRollbacked}}})
	e.checkAndReopen(t)
}

func testDeleteGlobals(t *testing.T, e *env) {
	e.open(t)
	// XIDs that are prefixes of one another, or of other XIDs' keys.
	xids := []txc.XID{"n:1", "n:10", "n:100", "n:11", "n:1:0", "n:2", "m:1", "n", "n:", "n:01", "n.1:1", "n:1.0"}
	var b store.Batch
	for i, x := range xids {
		b.PutGlobals = append(b.PutGlobals, global(x, txc.GlobalBegin))
		for j := range 3 {
			b.PutBranches = append(b.PutBranches, branch(x, txc.BranchID(i*10+j), txc.BranchRegistered))
		}
		// The same branch ID in different transactions.
		b.PutBranches = append(b.PutBranches, branch(x, 1000, txc.BranchRegistered))
	}
	e.apply(t, &b)
	e.check(t)

	e.apply(t, &store.Batch{DeleteGlobals: []txc.XID{"n:1"}})
	e.checkAndReopen(t)
	e.apply(t, &store.Batch{DeleteGlobals: []txc.XID{"n:10", "n", "n:1:0"}})
	e.checkAndReopen(t)
	// Deleting what does not exist is not an error; deleting twice is not
	// an error.
	e.apply(t, &store.Batch{DeleteGlobals: []txc.XID{"n:1", "n:404", "", "n:10", "n:10"}})
	e.checkAndReopen(t)
	// Branches whose global was never stored go with their transaction.
	e.apply(t, &store.Batch{PutBranches: []store.Branch{branch("lone:1", 1, txc.BranchRegistered), branch("lone:1", 2, txc.BranchRegistered)}})
	e.apply(t, &store.Batch{DeleteGlobals: []txc.XID{"lone:1"}})
	e.checkAndReopen(t)
	// A deleted transaction can be stored again, without its old branches.
	e.apply(t, &store.Batch{PutGlobals: []store.Global{global("n:1", txc.GlobalRollbacking)}, PutBranches: []store.Branch{branch("n:1", 5, txc.BranchRegistered)}})
	e.checkAndReopen(t)
	// Delete everything.
	e.apply(t, &store.Batch{DeleteGlobals: append(slices.Clone(xids), "lone:1")})
	e.checkAndReopen(t)
	st, err := e.s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Globals)+len(st.Branches) != 0 {
		t.Fatalf("after deleting every transaction Load has %d globals, %d branches", len(st.Globals), len(st.Branches))
	}
}

func testDeleteBranches(t *testing.T, e *env) {
	e.open(t)
	xids := []txc.XID{"d:1", "d:10", "d:1:0", "d"}
	var b store.Batch
	for i, x := range xids {
		b.PutGlobals = append(b.PutGlobals, global(x, txc.GlobalCommitting))
		for j := range 3 {
			b.PutBranches = append(b.PutBranches, branch(x, txc.BranchID(i*10+j), txc.BranchRegistered))
		}
	}
	e.apply(t, &b)
	// The finished transaction keeps its global record, loses its branches;
	// transactions whose XIDs share a prefix keep theirs.
	e.apply(t, &store.Batch{PutGlobals: []store.Global{global("d:1", txc.GlobalCommitted)}, DeleteBranches: []txc.XID{"d:1"}})
	e.checkAndReopen(t)
	st, err := e.s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Globals) != 4 || len(st.Branches) != 9 {
		t.Fatalf("after DeleteBranches: %d globals, %d branches; want 4 and 9", len(st.Globals), len(st.Branches))
	}
	// Branches deleted then put in the same batch are gone (deletes come
	// after puts); a status update of a deleted branch is ignored.
	e.apply(t, &store.Batch{
		PutBranches:     []store.Branch{branch("d:10", 99, txc.BranchRegistered)},
		SetBranchStatus: []store.BranchStatus{{XID: "d:10", ID: 10, Status: txc.BranchCommitted}},
		DeleteBranches:  []txc.XID{"d:10", "d:404"},
	})
	e.checkAndReopen(t)
	e.apply(t, &store.Batch{SetBranchStatus: []store.BranchStatus{{XID: "d:10", ID: 10, Status: txc.BranchCommitted}}})
	e.checkAndReopen(t)
	// Then the global goes too.
	e.apply(t, &store.Batch{DeleteGlobals: []txc.XID{"d:1", "d:10"}})
	e.checkAndReopen(t)
}

func testOrderWithinBatch(t *testing.T, e *env) {
	e.open(t)
	x, y := txc.NewXID("ord", 1), txc.NewXID("ord", 2)
	// Put then delete in one batch: gone, whatever the order of the lists.
	e.apply(t, &store.Batch{
		DeleteGlobals:   []txc.XID{x},
		PutGlobals:      []store.Global{global(x, txc.GlobalBegin), global(y, txc.GlobalBegin)},
		PutBranches:     []store.Branch{branch(x, 1, txc.BranchRegistered), branch(y, 2, txc.BranchRegistered)},
		SetBranchStatus: []store.BranchStatus{{XID: x, ID: 1, Status: txc.BranchPhaseOneDone}},
		NextID:          3,
	})
	e.checkAndReopen(t)
	// Delete a stored transaction and put it again in one batch: gone.
	e.apply(t, &store.Batch{
		PutGlobals:    []store.Global{global(y, txc.GlobalCommitting)},
		PutBranches:   []store.Branch{branch(y, 3, txc.BranchRegistered)},
		DeleteGlobals: []txc.XID{y},
	})
	e.checkAndReopen(t)
}

func testNextID(t *testing.T, e *env) {
	e.open(t)
	for _, n := range []uint64{5, 3, 0, 5, 1 << 63, 7, 1<<64 - 1, 2} {
		e.apply(t, &store.Batch{NextID: n})
		e.check(t)
		if n%2 == 1 {
			e.reopen(t)
			e.check(t)
		}
	}
	// NextID with other changes.
	e.apply(t, &store.Batch{PutGlobals: []store.Global{global("nid:1", txc.GlobalBegin)}, NextID: 9})
	e.checkAndReopen(t)
}

func testEmptyBatch(t *testing.T, e *env) {
	e.open(t)
	e.apply(t, &store.Batch{})
	e.checkAndReopen(t)
	e.apply(t, &store.Batch{PutGlobals: []store.Global{global("eb:1", txc.GlobalBegin)}, NextID: 2})
	for range 3 {
		e.apply(t, &store.Batch{PutGlobals: []store.Global{}, DeleteGlobals: []txc.XID{}})
	}
	e.checkAndReopen(t)
}

func testCallerOwnsSlices(t *testing.T, e *env) {
	e.open(t)
	x := txc.NewXID("own", 1)
	br := branch(x, 1, txc.BranchRegistered)
	b := &store.Batch{PutGlobals: []store.Global{global(x, txc.GlobalBegin)}, PutBranches: []store.Branch{br}}
	e.apply(t, b)
	// The caller reuses every slice of the batch after Apply.
	br.ApplicationData[0] = 'X'
	br.LockKeys[0].Rows[0] = "changed"
	br.LockKeys[0].Table = "changed"
	b.PutGlobals[0].Name = "changed"
	b.Reset()
	e.check(t)
	// The caller may change what Load returned.
	st, err := e.s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i := range st.Branches {
		if len(st.Branches[i].ApplicationData) > 0 {
			st.Branches[i].ApplicationData[0] = 'Y'
		}
		st.Branches[i].LockKeys[0].Rows[0] = "mine"
	}
	e.checkAndReopen(t)
}

// randomBatch returns a batch of random operations on a small set of
// transactions, so that puts, updates and deletes of one transaction mix
// within and across batches.
func randomBatch(r *rand.Rand, n int) *store.Batch {
	b := &store.Batch{}
	xid := func() txc.XID { return txc.NewXID("rnd", uint64(1+r.IntN(12))*[]uint64{1, 10, 100}[r.IntN(3)]) }
	for range n {
		switch r.IntN(10) {
		case 0, 1:
			g := global(xid(), txc.GlobalStatus(1+r.IntN(14)))
			g.Begun = ms.Add(time.Duration(r.Int64N(1e12)))
			g.Name = strings.Repeat("x", r.IntN(20))
			b.PutGlobals = append(b.PutGlobals, g)
		case 2, 3, 4:
			br := branch(xid(), txc.BranchID(r.IntN(6)), txc.BranchStatus(1+r.IntN(9)))
			br.Type = txc.BranchType(1 + r.IntN(4))
			br.ApplicationData = make([]byte, r.IntN(100))
			for i := range br.ApplicationData {
				br.ApplicationData[i] = byte(r.Uint32())
			}
			if r.IntN(4) == 0 {
				br.LockKeys = nil
			}
			b.PutBranches = append(b.PutBranches, br)
		case 5, 6, 7:
			b.SetBranchStatus = append(b.SetBranchStatus, store.BranchStatus{
				XID: xid(), ID: txc.BranchID(r.IntN(6)), Status: txc.BranchStatus(1 + r.IntN(9)),
			})
		case 8:
			b.DeleteGlobals = append(b.DeleteGlobals, xid())
		case 9:
			b.NextID = r.Uint64N(1 << 20)
		}
	}
	return b
}

func testManyBatches(t *testing.T, e *env) {
	e.open(t)
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 400 {
		e.apply(t, randomBatch(r, r.IntN(40)))
		if i%50 == 0 {
			e.check(t)
		}
		if i%97 == 0 {
			e.reopen(t)
		}
	}
	e.checkAndReopen(t)
}

func testClosed(t *testing.T, e *env) {
	e.open(t)
	e.apply(t, &store.Batch{PutGlobals: []store.Global{global("cl:1", txc.GlobalBegin)}})
	if err := e.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.s.Apply(t.Context(), &store.Batch{PutGlobals: []store.Global{global("cl:2", txc.GlobalBegin)}}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Apply after Close = %v, want store.ErrClosed", err)
	}
	if err := e.s.Apply(t.Context(), &store.Batch{}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Apply(empty batch) after Close = %v, want store.ErrClosed", err)
	}
	if _, err := e.s.Load(t.Context()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Load after Close = %v, want store.ErrClosed", err)
	}
	e.open(t)
	e.check(t)
}

func testFailedApply(t *testing.T, e *env) {
	if e.h.FailNext == nil {
		t.Skip("the harness cannot make Apply fail")
	}
	e.open(t)
	e.apply(t, &store.Batch{PutGlobals: []store.Global{global("f:1", txc.GlobalBegin)}, PutBranches: []store.Branch{branch("f:1", 1, txc.BranchRegistered)}, NextID: 2})
	for _, keepAll := range []bool{false, true} {
		b := &store.Batch{
			PutGlobals:      []store.Global{global("f:1", txc.GlobalCommitting), global(txc.NewXID("f", 2+boolInt(keepAll)), txc.GlobalBegin)},
			PutBranches:     []store.Branch{branch("f:1", 2, txc.BranchRegistered)},
			SetBranchStatus: []store.BranchStatus{{XID: "f:1", ID: 1, Status: txc.BranchPhaseOneDone}},
			NextID:          uint64(10 + boolInt(keepAll)),
		}
		crash := errors.New("storetest: simulated crash")
		e.h.FailNext(e.s, crash, keepAll)
		if err := e.s.Apply(t.Context(), b); !errors.Is(err, crash) {
			t.Fatalf("Apply after FailNext = %v, want the injected error", err)
		}
		if keepAll {
			if err := e.model.Apply(t.Context(), b); err != nil {
				t.Fatal(err)
			}
		}
		// The process dies; a new one opens the store.
		_ = e.s.Close()
		e.open(t)
		e.check(t)
	}
}

func boolInt(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
