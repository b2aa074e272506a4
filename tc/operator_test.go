package tc

import (
	"errors"
	"strconv"
	"testing"

	"github.com/txcio/txc"
)

// parkRollback begins a transaction with branches on rows "1" and "2" of
// "db", rolls it back, and has the newer branch fail unretryably: the
// transaction is parked with the older branch still holding row "1".
func parkRollback(t *testing.T, h *harness) (txc.XID, txc.BranchID, txc.BranchID) {
	t.Helper()
	h.rm(10, "db")
	xid := h.begin(0)
	older := h.mustRegister(xid, "db", "1")
	newer := h.mustRegister(xid, "db", "2")
	h.do(Msg{Kind: KindRollback, XID: xid})
	cmds := h.takeSent()
	if len(cmds) != 1 || cmds[0].BranchID != newer {
		t.Fatalf("first rollback commands: %+v", cmds)
	}
	h.answer(cmds[0], txc.BranchRollbackFailedUnretryable, "dirty write on t/2")
	if s := h.status(xid); s != txc.GlobalRollbackFailed {
		t.Fatalf("status = %v", s)
	}
	return xid, older, newer
}

func lockedRows(c *Core) []string {
	var out []string
	rows, _ := c.Locks(LockFilter{})
	for _, r := range rows {
		out = append(out, r.Table+"/"+r.Key+"@"+string(r.Holder))
	}
	return out
}

func TestResolveParkedRollbackGoesOnWithOlderBranches(t *testing.T) {
	h := newHarness(t, Config{})
	xid, older, newer := parkRollback(t, h)
	v, _ := h.core.Transaction(xid)
	if v.Branches[1].LastError != "dirty write on t/2" || len(v.History) < 3 {
		t.Fatalf("parked view = %+v", v)
	}
	if last := v.History[len(v.History)-1]; last.Status != "RollbackFailed" || last.Note != "branch "+itoa(newer)+" on db: dirty write on t/2" {
		t.Fatalf("parked history entry = %+v", last)
	}
	if err := h.core.Resolve(h.now, xid, Operator{Who: "alice", Comment: "restored row 2 from the undo log"}); err != nil {
		t.Fatal(err)
	}
	h.flush()
	if got := lockedRows(h.core); len(got) != 1 || got[0] != "t/1@"+string(xid) {
		t.Fatalf("locks after resolve = %v (row 2 must be free, row 1 held until its branch is rolled back)", got)
	}
	if !h.hasEvent(EventOperator, xid) {
		t.Fatal("no operator event")
	}
	// A crash now: the resolution is in the store, so the restored core
	// rolls back the older branch only.
	h.restart()
	h.rm(11, "db")
	h.tick(0)
	cmds := h.takeSent()
	if len(cmds) != 1 || cmds[0].BranchID != older || cmds[0].Action != ActionRollback {
		t.Fatalf("after restart the resolved branch must not be sent again: %+v", cmds)
	}
	h.answer(cmds[0], txc.BranchRollbacked, "")
	if s := h.status(xid); s != txc.GlobalRollbacked {
		t.Fatalf("status = %v", s)
	}
	if len(lockedRows(h.core)) != 0 {
		t.Fatalf("locks left: %v", lockedRows(h.core))
	}
}

func TestResolveKeepsHistoryOfFinished(t *testing.T) {
	h := newHarness(t, Config{})
	xid := h.parkOne()
	if err := h.core.Resolve(h.now, xid, Operator{Who: "bob", Comment: "fixed by hand"}); err != nil {
		t.Fatal(err)
	}
	h.flush()
	if s := h.status(xid); s != txc.GlobalRollbacked {
		t.Fatalf("status = %v", s)
	}
	v, ok := h.core.Transaction(xid)
	if !ok || !v.Finished || v.StatusS != "Rollbacked" {
		t.Fatalf("finished view = %+v", v)
	}
	var resolved bool
	for _, e := range v.History {
		if e.Action == ActionResolve && e.Who == "bob" && e.Note == "fixed by hand" {
			resolved = true
		}
	}
	if !resolved || v.History[len(v.History)-1].Status != "Rollbacked" {
		t.Fatalf("history = %+v", v.History)
	}
	if st := h.load(); len(st.Branches) != 0 || st.Globals[0].Status != txc.GlobalRollbacked {
		t.Fatalf("store after resolve = %+v", st)
	}
}

func TestResolveParkedCommit(t *testing.T) {
	h := newHarness(t, Config{})
	h.rm(10, "a", "b")
	xid := h.begin(0)
	h.mustRegister(xid, "a")
	h.mustRegister(xid, "b")
	h.do(Msg{Kind: KindCommit, XID: xid})
	for _, c := range h.takeSent() {
		if c.ResourceID == "a" {
			h.answer(c, txc.BranchCommitFailedUnretryable, "gone")
		} else {
			h.answer(c, txc.BranchCommitted, "")
		}
	}
	if s := h.status(xid); s != txc.GlobalCommitFailed {
		t.Fatalf("status = %v", s)
	}
	if err := h.core.Resolve(h.now, xid, Operator{Who: "carol", Comment: "applied by hand"}); err != nil {
		t.Fatal(err)
	}
	h.flush()
	if s := h.status(xid); s != txc.GlobalCommitted {
		t.Fatalf("status = %v", s)
	}
	if len(h.takeSent()) != 0 {
		t.Fatal("resolved commit branch was sent again")
	}
}

func TestOperatorActionsRefuseBadInputAndChangeNothing(t *testing.T) {
	h := newHarness(t, Config{})
	xid, _, _ := parkRollback(t, h)
	open := h.begin(0)
	before := lockedRows(h.core)
	cases := []struct {
		xid  txc.XID
		op   Operator
		want error
	}{
		{xid, Operator{Who: "alice"}, txc.ErrInvalidArgument},
		{xid, Operator{Who: "alice", Comment: "   "}, txc.ErrInvalidArgument},
		{xid, Operator{Comment: "x"}, txc.ErrInvalidArgument},
		{open, Operator{Who: "alice", Comment: "x"}, txc.ErrNotActive},
		{"n1:424242", Operator{Who: "alice", Comment: "x"}, txc.ErrUnknownTransaction},
	}
	for _, c := range cases {
		if err := h.core.Resolve(h.now, c.xid, c.op); !errors.Is(err, c.want) {
			t.Errorf("Resolve(%s, %+v) = %v, want %v", c.xid, c.op, err, c.want)
		}
	}
	if h.core.HasReady() {
		t.Fatal("a refused action produced output")
	}
	if s := h.status(xid); s != txc.GlobalRollbackFailed || len(lockedRows(h.core)) != len(before) {
		t.Fatalf("refused actions changed the transaction: %v %v", s, lockedRows(h.core))
	}
	if err := h.core.Retry(h.now, xid, Operator{}); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("retry without operator: %v", err)
	}
}

func TestTransactionsFilterAndPage(t *testing.T) {
	h := newHarness(t, Config{})
	parked, _, _ := parkRollback(t, h)
	h.tick(10 * 60e9)
	var open []txc.XID
	for i := 0; i < 3; i++ {
		x := h.begin(0)
		h.mustRegister(x, "other", itoa(txc.BranchID(i)))
		open = append(open, x)
	}
	all, total := h.core.Transactions(h.now, TxFilter{})
	if total != 4 || len(all) != 4 || all[0].XID != parked {
		t.Fatalf("all = %d %+v", total, all)
	}
	check := func(name string, f TxFilter, want ...txc.XID) {
		t.Helper()
		got, _ := h.core.Transactions(h.now, f)
		var ids []txc.XID
		for _, v := range got {
			ids = append(ids, v.XID)
		}
		if len(ids) != len(want) {
			t.Fatalf("%s: got %v, want %v", name, ids, want)
		}
		for i := range want {
			if ids[i] != want[i] {
				t.Fatalf("%s: got %v, want %v", name, ids, want)
			}
		}
	}
	check("manual", TxFilter{Manual: true}, parked)
	check("status", TxFilter{Statuses: []txc.GlobalStatus{txc.GlobalBegin}}, open...)
	check("resource", TxFilter{Resource: "other"}, open...)
	check("age", TxFilter{MinAge: 5 * 60e9}, parked)
	check("page", TxFilter{Offset: 1, Limit: 2}, open[0], open[1])
	check("name", TxFilter{Name: "nope"})
	if rows, total := h.core.Locks(LockFilter{Resource: "other", Limit: 2}); total != 3 || len(rows) != 2 {
		t.Fatalf("locks = %d %+v", total, rows)
	}
	streams, res := h.core.RMs()
	if len(streams) != 1 || streams[0].Resources[0] != "db" || len(res) != 1 {
		t.Fatalf("rms = %+v %+v", streams, res)
	}
}

func itoa(id txc.BranchID) string { return strconv.FormatUint(uint64(id), 10) }

func TestHistoryAfterRestartSaysRestored(t *testing.T) {
	h := newHarness(t, Config{})
	xid := h.parkOne()
	h.restart()
	v, ok := h.core.Transaction(xid)
	if !ok || len(v.History) != 2 || v.History[0].Action != ActionBegin || v.History[1].Action != ActionRestored ||
		v.History[1].Status != "RollbackFailed" || !v.Manual {
		t.Fatalf("history after restart = %+v", v.History)
	}
	// A parked transaction restored is resolved like any other, and kept
	// among the finished with its history.
	if err := h.core.Resolve(h.now, xid, Operator{Who: "ops", Comment: "fixed"}); err != nil {
		t.Fatal(err)
	}
	h.flush()
	if v, _ := h.core.Transaction(xid); !v.Finished || len(v.History) != 5 {
		t.Fatalf("after resolve = %+v", v)
	}
}
