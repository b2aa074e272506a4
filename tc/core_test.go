package tc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
)

func TestCommitTwoBranches(t *testing.T) {
	h := newHarness(t, Config{})
	h.rm(10, "db1", "db2")
	xid := h.begin(0)
	b1 := h.mustRegister(xid, "db1", "1")
	b2 := h.mustRegister(xid, "db2", "1")
	if len(h.load().Branches) != 2 {
		t.Fatal("branches not stored before the register replies")
	}
	r := h.do(Msg{Kind: KindCommit, XID: xid})
	if r.Err != nil || r.Status != txc.GlobalCommitting {
		t.Fatalf("commit = %v %v", r.Status, r.Err)
	}
	cmds := h.takeSent()
	if len(cmds) != 2 || cmds[0].BranchID != b1 || cmds[1].BranchID != b2 || cmds[0].Action != ActionCommit {
		t.Fatalf("commit must reach both branches at once, got %+v", cmds)
	}
	if string(cmds[0].ApplicationData) != "app" || cmds[0].Conn != 10 {
		t.Fatalf("command lacks its data or conn: %+v", cmds[0])
	}
	// Locks went with the decision.
	if _, err := h.register(h.begin(0), txc.BranchGeneric, "db1", "1"); err != nil {
		t.Fatalf("row still locked after commit decided: %v", err)
	}
	h.answer(cmds[0], txc.BranchCommitted, "")
	if h.status(xid) != txc.GlobalCommitting {
		t.Fatal("finished before every branch committed")
	}
	h.answer(cmds[1], txc.BranchCommitted, "")
	if s := h.status(xid); s != txc.GlobalCommitted {
		t.Fatalf("status after both commits = %v", s)
	}
	for _, g := range h.load().Globals {
		if g.XID == xid && g.Status != txc.GlobalCommitted {
			t.Fatalf("finished transaction stored as %v", g.Status)
		}
	}
	if n := len(h.load().Branches); n != 1 { // the other transaction's branch
		t.Fatalf("%d branches stored, want 1", n)
	}
	// Commit again: idempotent, same answer.
	if r := h.do(Msg{Kind: KindCommit, XID: xid}); r.Err != nil || r.Status != txc.GlobalCommitted {
		t.Fatalf("second commit = %v %v", r.Status, r.Err)
	}
}

// An AT branch's commit only deletes its undo log: the core counts it
// committed at the decision and tells the RM with a notice it does not
// wait for, so an AT-only transaction finishes in the commit's own step.
func TestATCommitIsImplied(t *testing.T) {
	h := newHarness(t, Config{})
	h.rm(10, "db1")
	xid := h.begin(0)
	b, err := h.register(xid, txc.BranchAT, "db1", "1")
	if err != nil {
		t.Fatal(err)
	}
	if r := h.do(Msg{Kind: KindCommit, XID: xid}); r.Err != nil || r.Status != txc.GlobalCommitted {
		t.Fatalf("AT-only commit = %v %v", r.Status, r.Err)
	}
	cmds := h.takeSent()
	if len(cmds) != 1 || !cmds[0].Notice() || cmds[0].BranchID != b || cmds[0].Action != ActionCommit || cmds[0].Conn != 10 {
		t.Fatalf("want one commit notice for branch %d, got %+v", b, cmds)
	}
	st := h.load()
	if len(st.Branches) != 0 {
		t.Fatalf("%d branches stored after the commit", len(st.Branches))
	}
	for _, g := range st.Globals {
		if g.XID == xid && g.Status != txc.GlobalCommitted {
			t.Fatalf("stored as %v", g.Status)
		}
	}
	if len(h.core.inflight) != 0 {
		t.Fatalf("%d commands wait for a result", len(h.core.inflight))
	}
	// An RM that answers the notice anyway (an older one) changes nothing.
	h.answer(cmds[0], txc.BranchCommitted, "")
	if s := h.status(xid); s != txc.GlobalCommitted || len(h.takeSent()) != 0 {
		t.Fatalf("after a stray result: %v", s)
	}
}

// With no RM serving the resource the commit is implied all the same: no
// notice is sent, and the undo row is left to the RM's leftover sweep.
func TestATCommitWithoutRM(t *testing.T) {
	h := newHarness(t, Config{})
	h.rm(10, "db1")
	xid := h.begin(0)
	if _, err := h.register(xid, txc.BranchAT, "db1", "1"); err != nil {
		t.Fatal(err)
	}
	h.core.Step(h.now, Msg{Kind: KindConnDown, Conn: 10})
	h.flush()
	if r := h.do(Msg{Kind: KindCommit, XID: xid}); r.Err != nil || r.Status != txc.GlobalCommitted {
		t.Fatalf("commit = %v %v", r.Status, r.Err)
	}
	if cmds := h.takeSent(); len(cmds) != 0 {
		t.Fatalf("sent %+v with no RM connected", cmds)
	}
}

// In a transaction with other branches, AT branches are implied and the
// others wait for their results as before; a restart before those
// results sends the AT branch its notice again.
func TestATCommitNextToTCC(t *testing.T) {
	h := newHarness(t, Config{})
	h.rm(10, "db1", "svc")
	xid := h.begin(0)
	at, _ := h.register(xid, txc.BranchAT, "db1", "1")
	tcc, err := h.register(xid, txc.BranchTCC, "svc")
	if err != nil {
		t.Fatal(err)
	}
	if r := h.do(Msg{Kind: KindCommit, XID: xid}); r.Err != nil || r.Status != txc.GlobalCommitting {
		t.Fatalf("commit = %v %v", r.Status, r.Err)
	}
	cmds := h.takeSent()
	if len(cmds) != 2 || !cmds[0].Notice() || cmds[0].BranchID != at || cmds[1].Notice() || cmds[1].BranchID != tcc {
		t.Fatalf("want AT notice then TCC command, got %+v", cmds)
	}
	h.restart()
	h.rm(10, "db1", "svc")
	h.tick(time.Millisecond)
	cmds = h.takeSent()
	if len(cmds) != 2 || !cmds[0].Notice() || cmds[0].Repeat != RepeatRestored || cmds[1].Notice() {
		t.Fatalf("after a restart: %+v", cmds)
	}
	h.answer(cmds[1], txc.BranchCommitted, "")
	if s := h.status(xid); s != txc.GlobalCommitted {
		t.Fatalf("status = %v", s)
	}
}

func TestEmptyTransactionFinishesAtOnce(t *testing.T) {
	h := newHarness(t, Config{})
	xid := h.begin(0)
	if r := h.do(Msg{Kind: KindCommit, XID: xid}); r.Err != nil || r.Status != txc.GlobalCommitted {
		t.Fatalf("commit = %v %v", r.Status, r.Err)
	}
	xid = h.begin(0)
	if r := h.do(Msg{Kind: KindRollback, XID: xid}); r.Err != nil || r.Status != txc.GlobalRollbacked {
		t.Fatalf("rollback = %v %v", r.Status, r.Err)
	}
	for _, g := range h.load().Globals {
		if !g.Status.IsFinal() {
			t.Fatalf("store keeps %s as %v", g.XID, g.Status)
		}
	}
}

func TestRollbackReverseOrderOneAtATime(t *testing.T) {
	h := newHarness(t, Config{})
	h.rm(10, "db")
	xid := h.begin(0)
	ids := []txc.BranchID{h.mustRegister(xid, "db", "1"), h.mustRegister(xid, "db", "2"), h.mustRegister(xid, "db", "3")}
	if r := h.do(Msg{Kind: KindRollback, XID: xid}); r.Err != nil || r.Status != txc.GlobalRollbacking {
		t.Fatalf("rollback = %v %v", r.Status, r.Err)
	}
	other := h.begin(0)
	for i := 2; i >= 0; i-- {
		cmds := h.takeSent()
		if len(cmds) != 1 || cmds[0].BranchID != ids[i] || cmds[0].Action != ActionRollback {
			t.Fatalf("step %d: want rollback of branch %d alone, got %+v", i, ids[i], cmds)
		}
		// Rows of branches not yet rolled back stay locked.
		if _, err := h.register(other, txc.BranchGeneric, "db", "1"); !errors.Is(err, txc.ErrLockConflict) {
			t.Fatalf("step %d: row 1 free before its branch rolled back: %v", i, err)
		}
		h.answer(cmds[0], txc.BranchRollbacked, "")
	}
	if s := h.status(xid); s != txc.GlobalRollbacked {
		t.Fatalf("status = %v", s)
	}
	if _, err := h.register(other, txc.BranchGeneric, "db", "1", "2", "3"); err != nil {
		t.Fatalf("rows still locked after rollback: %v", err)
	}
	if r := h.do(Msg{Kind: KindCommit, XID: xid}); !errors.Is(r.Err, txc.ErrRolledBack) {
		t.Fatalf("commit after rollback: %v", r.Err)
	}
}

func TestPhaseOneFailedBranchIsSkipped(t *testing.T) {
	h := newHarness(t, Config{})
	h.rm(10, "db")
	xid := h.begin(0)
	b1 := h.mustRegister(xid, "db", "1")
	b2 := h.mustRegister(xid, "db", "2")
	if r := h.do(Msg{Kind: KindReport, XID: xid, BranchID: b2, BranchStatus: txc.BranchPhaseOneFailed}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if _, err := h.register(h.begin(0), txc.BranchGeneric, "db", "2"); err != nil {
		t.Fatalf("a failed phase 1 keeps its locks: %v", err)
	}
	h.do(Msg{Kind: KindRollback, XID: xid})
	cmds := h.takeSent()
	if len(cmds) != 1 || cmds[0].BranchID != b1 {
		t.Fatalf("rollback should go to branch 1 only: %+v", cmds)
	}
}

func TestTimeout(t *testing.T) {
	h := newHarness(t, Config{})
	h.rm(10, "db")
	xid := h.begin(5 * time.Second)
	h.mustRegister(xid, "db", "1")
	h.tick(4 * time.Second)
	if s := h.status(xid); s != txc.GlobalBegin {
		t.Fatalf("timed out early: %v", s)
	}
	h.tick(time.Second)
	if s := h.status(xid); s != txc.GlobalTimeoutRollbacking {
		t.Fatalf("status after deadline = %v", s)
	}
	if !h.hasEvent(EventTimeout, xid) {
		t.Fatal("no timeout event")
	}
	r := h.do(Msg{Kind: KindCommit, XID: xid})
	if !errors.Is(r.Err, txc.ErrTimedOut) {
		t.Fatalf("late commit: %v", r.Err)
	}
	var te *txc.Error
	if !errors.As(r.Err, &te) || te.XID != xid {
		t.Fatalf("late commit error does not name the XID: %#v", r.Err)
	}
	if _, err := h.register(xid, txc.BranchGeneric, "db", "9"); !errors.Is(err, txc.ErrTimedOut) {
		t.Fatalf("register after timeout: %v", err)
	}
	h.ackAll()
	if s := h.status(xid); s != txc.GlobalTimeoutRollbacked {
		t.Fatalf("final status = %v", s)
	}
	if r := h.do(Msg{Kind: KindCommit, XID: xid}); !errors.Is(r.Err, txc.ErrTimedOut) {
		t.Fatalf("commit after the timeout rollback finished: %v", r.Err)
	}
}

func TestCommitAfterDeadlineBeforeTickTimesOut(t *testing.T) {
	h := newHarness(t, Config{})
	xid := h.begin(time.Second)
	h.now = h.now.Add(2 * time.Second) // no Tick yet
	if r := h.do(Msg{Kind: KindCommit, XID: xid}); !errors.Is(r.Err, txc.ErrTimedOut) {
		t.Fatalf("commit past deadline: %v", r.Err)
	}
}

func TestLockConflictNamesHolder(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.begin(0)
	b := h.begin(0)
	h.mustRegister(a, "db", "1", "2")
	before := len(h.load().Branches)
	_, err := h.register(b, txc.BranchGeneric, "db", "3", "2")
	var te *txc.Error
	if !errors.As(err, &te) || te.Code != txc.CodeLockConflict || te.Holder != a {
		t.Fatalf("conflict error = %#v", err)
	}
	if len(h.load().Branches) != before {
		t.Fatal("a conflicting registration was stored")
	}
	if r := h.do(Msg{Kind: KindLockQuery, ResourceID: "db", LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"3"}}}}); r.Locked {
		t.Fatal("row 3 taken by a failed registration")
	}
	if r := h.do(Msg{Kind: KindLockQuery, XID: b, ResourceID: "db", LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"2"}}}}); !r.Locked || r.Holder != a {
		t.Fatalf("lock query = %+v", r)
	}
	if r := h.do(Msg{Kind: KindLockQuery, XID: a, ResourceID: "db", LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"2"}}}}); r.Locked {
		t.Fatal("own lock reported as a conflict")
	}
}

func TestNoRMRetriesThenDeliversOnHello(t *testing.T) {
	h := newHarness(t, Config{RetryMin: time.Second, RetryMax: 4 * time.Second})
	xid := h.begin(0)
	h.mustRegister(xid, "db", "1")
	if r := h.do(Msg{Kind: KindCommit, XID: xid}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if s := h.status(xid); s != txc.GlobalCommitRetrying {
		t.Fatalf("status with no RM = %v", s)
	}
	for i := 0; i < 5; i++ {
		h.tick(4 * time.Second)
	}
	if len(h.takeSent()) != 0 {
		t.Fatal("command sent with no RM")
	}
	h.rm(10, "db")
	cmds := h.takeSent()
	if len(cmds) != 1 || cmds[0].Conn != 10 {
		t.Fatalf("RM's hello should get the waiting command at once: %+v", cmds)
	}
	h.answer(cmds[0], txc.BranchCommitted, "")
	if s := h.status(xid); s != txc.GlobalCommitted {
		t.Fatalf("status = %v", s)
	}
}

func TestRetryableFailureBacksOff(t *testing.T) {
	h := newHarness(t, Config{RetryMin: time.Second, RetryMax: 4 * time.Second})
	h.rm(10, "db")
	xid := h.begin(0)
	h.mustRegister(xid, "db", "1")
	h.do(Msg{Kind: KindRollback, XID: xid})
	var gaps []time.Duration
	last := h.now
	for i := 0; i < 5; i++ {
		cmds := h.takeSent()
		if len(cmds) != 1 {
			t.Fatalf("attempt %d: %d commands", i, len(cmds))
		}
		gaps = append(gaps, h.now.Sub(last))
		last = h.now
		h.answer(cmds[0], txc.BranchRollbackFailedRetryable, "db down")
		for len(h.sent) == 0 {
			h.tick(250 * time.Millisecond)
		}
	}
	want := []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	for i := range want {
		if gaps[i] != want[i] {
			t.Fatalf("retry gaps = %v, want %v", gaps, want)
		}
	}
	if s := h.status(xid); s != txc.GlobalRollbackRetrying {
		t.Fatalf("status = %v", s)
	}
	h.ackAll()
	if s := h.status(xid); s != txc.GlobalRollbacked {
		t.Fatalf("status = %v", s)
	}
}

func TestUnretryableRollbackParksAndKeepsLocks(t *testing.T) {
	h := newHarness(t, Config{})
	h.rm(10, "db")
	xid := h.begin(0)
	h.mustRegister(xid, "db", "1")
	h.mustRegister(xid, "db", "2")
	h.do(Msg{Kind: KindRollback, XID: xid})
	h.answer(h.takeSent()[0], txc.BranchRollbackFailedUnretryable, "dirty write on t/2")
	if s := h.status(xid); s != txc.GlobalRollbackFailed {
		t.Fatalf("status = %v", s)
	}
	if !h.hasEvent(EventManualAction, xid) {
		t.Fatal("no manual-action event")
	}
	var msg string
	for _, e := range h.events {
		if e.Kind == EventManualAction {
			msg = e.Message
		}
	}
	if !strings.Contains(msg, "dirty write on t/2") {
		t.Fatalf("event does not carry the RM's reason: %q", msg)
	}
	v, _ := h.core.Transaction(xid)
	if b := v.Branches[1]; b.LastError != "dirty write on t/2" || b.Attempts != 1 {
		t.Fatalf("view of the parked branch: %+v, want the RM's reason and 1 attempt", b)
	}
	h.tick(time.Hour)
	if len(h.takeSent()) != 0 {
		t.Fatal("a parked rollback went on")
	}
	if _, err := h.register(h.begin(0), txc.BranchGeneric, "db", "1"); !errors.Is(err, txc.ErrLockConflict) {
		t.Fatalf("parked rollback released its locks: %v", err)
	}
	// Parked state survives a restart, locks included.
	h.restart()
	h.rm(10, "db")
	if s := h.status(xid); s != txc.GlobalRollbackFailed {
		t.Fatalf("status after restart = %v", s)
	}
	if _, err := h.register(h.begin(0), txc.BranchGeneric, "db", "2"); !errors.Is(err, txc.ErrLockConflict) {
		t.Fatalf("locks lost at restart: %v", err)
	}
}

func TestUnretryableCommitParksButDeliversOthers(t *testing.T) {
	h := newHarness(t, Config{})
	h.rm(10, "db")
	xid := h.begin(0)
	h.mustRegister(xid, "db", "1")
	h.mustRegister(xid, "db", "2")
	h.do(Msg{Kind: KindCommit, XID: xid})
	cmds := h.takeSent()
	h.answer(cmds[0], txc.BranchCommitFailedUnretryable, "card expired")
	h.answer(cmds[1], txc.BranchCommitted, "")
	if s := h.status(xid); s != txc.GlobalCommitFailed {
		t.Fatalf("status = %v", s)
	}
	if r := h.do(Msg{Kind: KindCommit, XID: xid}); r.Err != nil || r.Status != txc.GlobalCommitFailed {
		t.Fatalf("commit of a parked commit = %v %v", r.Status, r.Err)
	}
}

func TestLostAckIsResent(t *testing.T) {
	h := newHarness(t, Config{AckTimeout: 10 * time.Second})
	h.rm(10, "db")
	xid := h.begin(0)
	h.mustRegister(xid, "db", "1")
	h.do(Msg{Kind: KindCommit, XID: xid})
	first := h.takeSent()
	h.tick(9 * time.Second)
	if len(h.takeSent()) != 0 {
		t.Fatal("resent before the ack timeout")
	}
	h.tick(time.Second)
	h.tick(time.Second) // backoff after the lost ack
	second := h.takeSent()
	if len(second) != 1 || second[0].ID == first[0].ID || second[0].BranchID != first[0].BranchID {
		t.Fatalf("resend = %+v", second)
	}
	if first[0].Repeat != RepeatNone || second[0].Repeat != RepeatAgain {
		t.Fatalf("repeat of first = %v, of resend = %v", first[0].Repeat, second[0].Repeat)
	}
	// The late result of the first command still counts as success… or is
	// ignored; either way the second one finishes the branch.
	h.answer(first[0], txc.BranchCommitted, "")
	h.answer(second[0], txc.BranchCommitted, "")
	if s := h.status(xid); s != txc.GlobalCommitted {
		t.Fatalf("status = %v", s)
	}
}

func TestConnDownResendsToAnotherRM(t *testing.T) {
	h := newHarness(t, Config{})
	h.rm(10, "db")
	h.rm(11, "db")
	xid := h.begin(0)
	h.mustRegister(xid, "db", "1")
	h.do(Msg{Kind: KindCommit, XID: xid})
	cmd := h.takeSent()[0]
	h.core.Step(h.now, Msg{Kind: KindConnDown, Conn: cmd.Conn})
	h.flush()
	again := h.takeSent()
	if len(again) != 1 || again[0].Conn == cmd.Conn {
		t.Fatalf("after conn %d went down: %+v", cmd.Conn, again)
	}
	h.answer(again[0], txc.BranchCommitted, "")
	if s := h.status(xid); s != txc.GlobalCommitted {
		t.Fatalf("status = %v", s)
	}
}

func TestRoundRobinAcrossRMs(t *testing.T) {
	h := newHarness(t, Config{})
	h.rm(10, "db")
	h.rm(11, "db")
	seen := map[ConnID]int{}
	for i := 0; i < 4; i++ {
		xid := h.begin(0)
		h.mustRegister(xid, "db")
		h.do(Msg{Kind: KindCommit, XID: xid})
		for _, c := range h.takeSent() {
			seen[c.Conn]++
			h.answer(c, txc.BranchCommitted, "")
		}
	}
	if seen[10] != 2 || seen[11] != 2 {
		t.Fatalf("spread = %v", seen)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	h := newHarness(t, Config{})
	open := h.begin(0)
	h.mustRegister(open, "db", "1")
	committed := h.begin(0)
	h.do(Msg{Kind: KindCommit, XID: committed})
	rolled := h.begin(0)
	h.do(Msg{Kind: KindRollback, XID: rolled})
	big := make([]byte, txc.MaxApplicationLen+1)
	cases := []struct {
		name string
		m    Msg
		code txc.Code
	}{
		{"empty name", Msg{Kind: KindBegin}, txc.CodeInvalidArgument},
		{"long name", Msg{Kind: KindBegin, Name: strings.Repeat("n", txc.MaxNameLen+1)}, txc.CodeInvalidArgument},
		{"negative timeout", Msg{Kind: KindBegin, Name: "x", Timeout: -1}, txc.CodeInvalidArgument},
		{"malformed xid", Msg{Kind: KindCommit, XID: "garbage"}, txc.CodeInvalidArgument},
		{"empty xid", Msg{Kind: KindStatus}, txc.CodeInvalidArgument},
		{"unknown xid", Msg{Kind: KindCommit, XID: "n1:999999"}, txc.CodeUnknownTransaction},
		{"other node", Msg{Kind: KindRollback, XID: "n2:1"}, txc.CodeUnknownTransaction},
		{"commit after rollback", Msg{Kind: KindCommit, XID: rolled}, txc.CodeRolledBack},
		{"rollback after commit", Msg{Kind: KindRollback, XID: committed}, txc.CodeNotActive},
		{"register on committed", Msg{Kind: KindRegister, XID: committed, BranchType: txc.BranchAT, ResourceID: "db"}, txc.CodeNotActive},
		{"register bad type", Msg{Kind: KindRegister, XID: open, BranchType: 99, ResourceID: "db"}, txc.CodeInvalidArgument},
		{"register no resource", Msg{Kind: KindRegister, XID: open, BranchType: txc.BranchAT}, txc.CodeInvalidArgument},
		{"register huge data", Msg{Kind: KindRegister, XID: open, BranchType: txc.BranchAT, ResourceID: "db", ApplicationData: big}, txc.CodeInvalidArgument},
		{"register empty table", Msg{Kind: KindRegister, XID: open, BranchType: txc.BranchAT, ResourceID: "db", LockKeys: []txc.LockKey{{Rows: []string{"1"}}}}, txc.CodeInvalidArgument},
		{"report unknown branch", Msg{Kind: KindReport, XID: open, BranchID: 424242, BranchStatus: txc.BranchPhaseOneDone}, txc.CodeUnknownBranch},
		{"report bad status", Msg{Kind: KindReport, XID: open, BranchID: 1, BranchStatus: txc.BranchCommitted}, txc.CodeInvalidArgument},
		{"lock query no resource", Msg{Kind: KindLockQuery}, txc.CodeInvalidArgument},
		{"hello nul resource", Msg{Kind: KindHello, Resources: []string{"a\x00b"}}, txc.CodeInvalidArgument},
		{"unknown kind", Msg{Kind: 200}, txc.CodeInvalidArgument},
	}
	for _, c := range cases {
		before := h.load()
		applies := h.store.Applies()
		r := h.do(c.m)
		if txc.CodeOf(r.Err) != c.code {
			t.Errorf("%s: got %v (%v), want %v", c.name, txc.CodeOf(r.Err), r.Err, c.code)
		}
		after := h.load()
		if len(after.Globals) != len(before.Globals) || len(after.Branches) != len(before.Branches) || h.store.Applies() != applies+1 {
			t.Errorf("%s: store changed", c.name)
		}
	}
	if s := h.status(open); s != txc.GlobalBegin {
		t.Fatalf("open transaction disturbed: %v", s)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{Node: ""}, {Node: "a:b"}, {Node: "n", RetryMin: time.Second, RetryMax: time.Millisecond},
		{Node: "n", DefaultTimeout: 2 * time.Hour, MaxTimeout: time.Hour}, {Node: "n", AckTimeout: -1},
	} {
		if _, err := New(cfg); !errors.Is(err, txc.ErrInvalidArgument) {
			t.Errorf("New(%+v) = %v", cfg, err)
		}
	}
}

func TestTimeoutIsCapped(t *testing.T) {
	h := newHarness(t, Config{MaxTimeout: time.Minute})
	xid := h.begin(time.Hour)
	h.tick(time.Minute)
	if s := h.status(xid); s != txc.GlobalTimeoutRollbacked {
		t.Fatalf("status = %v", s)
	}
}

func TestFinishedForgottenAfterRetention(t *testing.T) {
	h := newHarness(t, Config{FinishedRetention: time.Minute, FinishedMax: 2})
	var xids []txc.XID
	for i := 0; i < 3; i++ {
		x := h.begin(0)
		h.do(Msg{Kind: KindCommit, XID: x})
		xids = append(xids, x)
	}
	h.tick(time.Millisecond)
	if r := h.do(Msg{Kind: KindStatus, XID: xids[0]}); !errors.Is(r.Err, txc.ErrUnknownTransaction) {
		t.Fatalf("oldest beyond FinishedMax still known: %v", r.Err)
	}
	if h.status(xids[2]) != txc.GlobalCommitted {
		t.Fatal("newest forgotten")
	}
	h.tick(time.Minute)
	if r := h.do(Msg{Kind: KindStatus, XID: xids[2]}); !errors.Is(r.Err, txc.ErrUnknownTransaction) {
		t.Fatalf("kept past retention: %v", r.Err)
	}
}

func TestIDsNeverReusedAcrossRestart(t *testing.T) {
	h := newHarness(t, Config{IDBlock: 3})
	seen := map[txc.XID]bool{}
	for round := 0; round < 4; round++ {
		for i := 0; i < 5; i++ {
			x := h.begin(0)
			if seen[x] {
				t.Fatalf("XID %s handed out twice", x)
			}
			seen[x] = true
			h.do(Msg{Kind: KindCommit, XID: x})
		}
		h.restart()
	}
}

func TestRestoreResumesEveryStage(t *testing.T) {
	h := newHarness(t, Config{})
	h.rm(10, "db")
	open := h.begin(10 * time.Second)
	h.mustRegister(open, "db", "1")
	committing := h.begin(0)
	h.mustRegister(committing, "db", "2")
	h.do(Msg{Kind: KindCommit, XID: committing})
	rolling := h.begin(0)
	h.mustRegister(rolling, "db", "3")
	h.mustRegister(rolling, "db", "4")
	h.do(Msg{Kind: KindRollback, XID: rolling})
	h.answer(h.takeSent()[1], txc.BranchRollbacked, "") // branch "4" done
	h.takeSent()

	h.restart()
	// Locks: open and rolling-back transactions hold theirs (row 4 was
	// rolled back and is free), the committing one does not.
	other := h.begin(0)
	for row, held := range map[string]bool{"1": true, "2": false, "3": true, "4": false} {
		_, err := h.register(other, txc.BranchGeneric, "db", row)
		if held != errors.Is(err, txc.ErrLockConflict) {
			t.Errorf("row %s: held=%v, register err=%v", row, held, err)
		}
	}
	h.rm(10, "db")
	h.tick(time.Millisecond)
	got := map[txc.XID]Action{}
	for _, c := range h.takeSent() {
		got[c.XID] = c.Action
		if c.Repeat != RepeatRestored {
			t.Errorf("resumed command for %s: repeat = %v, want restored", c.XID, c.Repeat)
		}
		s := txc.BranchCommitted
		if c.Action == ActionRollback {
			s = txc.BranchRollbacked
		}
		h.answer(c, s, "")
	}
	if got[committing] != ActionCommit || got[rolling] != ActionRollback || len(got) != 2 {
		t.Fatalf("resumed commands: %v", got)
	}
	h.ackAll()
	if h.status(open) != txc.GlobalBegin {
		t.Fatal("open transaction not open after restart")
	}
	h.tick(10 * time.Second)
	h.ackAll()
	for _, g := range h.load().Globals {
		if !g.Status.IsFinal() && g.XID != other {
			t.Fatalf("left unfinished in store: %+v", g)
		}
	}
	// Outcomes survive another restart, then are forgotten after retention.
	h.restart()
	if s := h.status(committing); s != txc.GlobalCommitted {
		t.Fatalf("outcome after restart = %v", s)
	}
	if r := h.do(Msg{Kind: KindCommit, XID: open}); !errors.Is(r.Err, txc.ErrTimedOut) {
		t.Fatalf("late commit after restart: %v", r.Err)
	}
	h.tick(h.cfg.FinishedRetention + 11*time.Minute)
	if st := h.load(); len(st.Globals) != 1 || st.Globals[0].XID != other {
		t.Fatalf("left in store after retention: %+v", st.Globals)
	}
}

func TestOperatorRetryResumesParkedRollback(t *testing.T) {
	h := newHarness(t, Config{})
	xid := h.parkOne()
	if v, _ := h.core.Transaction(xid); !v.Manual || h.core.Stats().Manual != 1 {
		t.Fatalf("view = %+v", v)
	}
	if err := h.core.Retry(h.now, "n1:424242", Operator{Who: "ops"}); !errors.Is(err, txc.ErrUnknownTransaction) {
		t.Fatalf("retry of unknown: %v", err)
	}
	if err := h.core.Retry(h.now, xid, Operator{Who: "ops"}); err != nil {
		t.Fatal(err)
	}
	h.flush()
	if err := h.core.Retry(h.now, xid, Operator{Who: "ops"}); !errors.Is(err, txc.ErrNotActive) {
		t.Fatalf("second retry: %v", err)
	}
	h.ackAll()
	if s := h.status(xid); s != txc.GlobalRollbacked {
		t.Fatalf("status = %v", s)
	}
}

// A client registering hundreds of thousands of branches on one
// transaction (a frame holds that many) made each phase-2 result scan
// them all: 50,000 branches kept the core, and every other transaction
// of the partition, busy for 17 s. Past txc.MaxBranchesPerTransaction a
// registration is refused and changes nothing; the transaction goes on.
func TestRegistrationOverTheBranchLimitIsRefused(t *testing.T) {
	h := newHarness(t, Config{})
	h.rm(2, "r")
	xid := h.begin(time.Hour)
	for i := 0; i < txc.MaxBranchesPerTransaction; i++ {
		h.mustRegister(xid, "r", fmt.Sprintf("row%d", i))
	}
	_, err := h.register(xid, txc.BranchGeneric, "r", "one too many")
	if !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("registration %d: %v, want ErrInvalidArgument", txc.MaxBranchesPerTransaction+1, err)
	}
	if v, _ := h.core.Transaction(xid); len(v.Branches) != txc.MaxBranchesPerTransaction {
		t.Fatalf("%d branches after the refusal, want %d", len(v.Branches), txc.MaxBranchesPerTransaction)
	}
	other := h.begin(time.Hour)
	h.mustRegister(other, "r", "one too many") // its row was not locked
	if r := h.do(Msg{Kind: KindCommit, XID: xid}); r.Err != nil {
		t.Fatal(r.Err)
	}
	h.ackAll()
	if _, s, _ := h.core.lookup(xid); s != txc.GlobalCommitted {
		t.Fatalf("status after commit: %v", s)
	}
}
