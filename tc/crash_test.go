package tc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
)

// sim is a randomized workload against one core with crashes: after a
// request is stepped, the process may die before its Ready is persisted, or
// after persisting but before any reply or command leaves. A fake RM
// records every phase-2 command it executes, and now and then reports a
// branch PhaseOneFailed. The invariants checked at the end are the
// coordinator's promises: an acknowledged decision is never lost or
// reversed, no branch is both committed and rolled back, a branch
// acknowledged PhaseOneFailed gets no phase-2 command, rollback runs
// newest-first, and everything finishes with no lock left.
type sim struct {
	t       *testing.T
	rnd     *rand.Rand
	cfg     Config
	core    *Core
	st      *memstore.Store
	now     time.Time
	reqID   uint64
	rmConn  ConnID
	pending []Command // commands delivered to the RM, not yet answered
	clock   int       // orders RM events

	open      []txc.XID                  // acknowledged begins not yet decided by the client
	tried     map[txc.XID]Kind           // a decision sent whose reply was lost: retried as is
	acked     map[txc.XID]string         // "commit" or "rollback" the client was told
	branches  map[txc.XID][]txc.BranchID // acknowledged registrations
	done      map[txc.BranchID]Action    // what the RM executed per branch
	doneAt    map[txc.BranchID]int
	firstCmd  map[txc.BranchID]int
	branchXID map[txc.BranchID]txc.XID
	crashes   int
	retries   int         // operator actions on parked transactions
	lazy      store.Batch // lazy batches not stored yet
	// reported: branches reported PhaseOneFailed; true when the report
	// was acknowledged, false when its reply was lost (stored or not).
	reported map[txc.BranchID]bool
	at       map[txc.BranchID]bool // AT branches: their commit is a notice
}

func newSim(t *testing.T, seed uint64) *sim {
	cfg := Config{Node: "n1", RetryMin: 100 * time.Millisecond, RetryMax: time.Second, AckTimeout: 3 * time.Second, IDBlock: 7}
	s := &sim{t: t, rnd: rand.New(rand.NewPCG(seed, seed*7919)), cfg: cfg, st: memstore.New(),
		now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), acked: map[txc.XID]string{},
		branches: map[txc.XID][]txc.BranchID{}, tried: map[txc.XID]Kind{}, done: map[txc.BranchID]Action{}, doneAt: map[txc.BranchID]int{},
		firstCmd: map[txc.BranchID]int{}, branchXID: map[txc.BranchID]txc.XID{}, reported: map[txc.BranchID]bool{}, at: map[txc.BranchID]bool{}}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.core = c
	s.connectRM()
	return s
}

func (s *sim) connectRM() {
	s.rmConn++
	s.request(Msg{Kind: KindHello, Conn: s.rmConn, Resources: []string{"r0", "r1", "r2"}})
}

// flush persists and delivers the current Ready; returns the replies. A
// lazy Ready's batch is mostly kept back, as the shell does, and reaches
// the store with a later batch, or on its own now and then (the shell's
// timer); a crash loses it.
func (s *sim) flush() map[uint64]Reply {
	rd := s.core.Ready()
	if rd.Lazy() && s.rnd.IntN(8) != 0 {
		s.lazy.Append(&rd.Batch)
	} else {
		s.lazy.Append(&rd.Batch)
		if err := s.st.Apply(context.Background(), &s.lazy); err != nil {
			s.t.Fatal(err)
		}
		s.lazy = store.Batch{}
	}
	out := map[uint64]Reply{}
	for _, r := range rd.Replies {
		out[r.ID] = r
	}
	for _, c := range rd.Commands {
		if c.Conn == s.rmConn {
			s.clock++
			if _, ok := s.firstCmd[c.BranchID]; !ok {
				s.firstCmd[c.BranchID] = s.clock
			}
			s.pending = append(s.pending, c)
		}
	}
	s.core.Advance(rd)
	return out
}

func (s *sim) request(m Msg) (Reply, bool) {
	s.reqID++
	m.ID = s.reqID
	if m.Conn == 0 {
		m.Conn = 1000
	}
	s.core.Step(s.now, m)
	if s.rnd.IntN(20) == 0 {
		s.crash()
		return Reply{}, false
	}
	r, ok := s.flush()[m.ID]
	if !ok {
		s.t.Fatalf("no reply to %v", m.Kind)
	}
	return r, true
}

func (s *sim) crash() {
	s.crashes++
	rd := s.core.Ready()
	if s.rnd.IntN(2) == 0 {
		s.st.Fail(fmt.Errorf("killed"), memstore.KeepAll)
	} else {
		s.st.Fail(fmt.Errorf("killed"), memstore.KeepNone)
	}
	s.lazy.Append(&rd.Batch)
	_ = s.st.Apply(context.Background(), &s.lazy)
	s.lazy = store.Batch{}
	st, err := s.st.Load(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	c, err := New(s.cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := c.Restore(st); err != nil {
		s.t.Fatal(err)
	}
	s.core = c
	s.pending = nil // the RM's stream died with the process
	s.connectRM()
}

func (s *sim) pickOpen() (txc.XID, int, bool) {
	if len(s.open) == 0 {
		return "", 0, false
	}
	i := s.rnd.IntN(len(s.open))
	return s.open[i], i, true
}

func (s *sim) decide(i int, xid txc.XID, kind Kind) {
	if k, ok := s.tried[xid]; ok {
		kind = k // a client that lost the reply repeats its decision
	}
	r, ok := s.request(Msg{Kind: kind, XID: xid})
	if !ok {
		s.tried[xid] = kind
		return
	}
	s.open = append(s.open[:i], s.open[i+1:]...)
	switch {
	case r.Err == nil && kind == KindCommit:
		s.acked[xid] = "commit"
	case r.Err == nil:
		s.acked[xid] = "rollback"
	case txc.CodeOf(r.Err) == txc.CodeTimedOut || txc.CodeOf(r.Err) == txc.CodeRolledBack:
		s.acked[xid] = "rollback"
	default:
		s.t.Fatalf("%v %s: %v", kind, xid, r.Err)
	}
}

func (s *sim) answerSome() {
	keep := s.pending[:0]
	for _, c := range s.pending {
		switch s.rnd.IntN(6) {
		case 0: // not yet
			keep = append(keep, c)
			continue
		case 1: // lost
			continue
		case 2:
			failed := map[Action]txc.BranchStatus{ActionCommit: txc.BranchCommitFailedRetryable, ActionRollback: txc.BranchRollbackFailedRetryable}
			if s.rnd.IntN(4) == 0 { // parks the transaction until an operator retries it
				failed = map[Action]txc.BranchStatus{ActionCommit: txc.BranchCommitFailedUnretryable, ActionRollback: txc.BranchRollbackFailedUnretryable}
			}
			s.core.Step(s.now, Msg{Kind: KindBranchResult, Conn: c.Conn, ID: c.ID, XID: c.XID, BranchID: c.BranchID,
				BranchStatus: failed[c.Action]})
		default:
			s.execute(c)
		}
	}
	s.pending = keep
	s.flush()
}

// reportFailed reports a registered branch of an open transaction
// PhaseOneFailed (its local transaction rolled back): it must then get no
// phase-2 command, and its locks go at once.
func (s *sim) reportFailed() {
	xid, _, ok := s.pickOpen()
	if !ok || len(s.branches[xid]) == 0 {
		return
	}
	b := s.branches[xid][s.rnd.IntN(len(s.branches[xid]))]
	if _, again := s.reported[b]; again {
		return
	}
	r, ok := s.request(Msg{Kind: KindReport, XID: xid, BranchID: b, BranchStatus: txc.BranchPhaseOneFailed})
	if !ok || r.Err == nil {
		s.reported[b] = ok
	}
}

// retryParked has an operator retry every transaction parked for manual
// action; the retry, like any change, is lost if the process dies before
// it is stored.
func (s *sim) retryParked() {
	var parked []txc.XID // in order: the seed alone decides the run
	for xid, g := range s.core.globals {
		if g.rec.Status.NeedsManualAction() {
			parked = append(parked, xid)
		}
	}
	slices.Sort(parked)
	for _, xid := range parked {
		act := s.core.Retry
		if s.rnd.IntN(2) == 0 {
			act = s.resolve
		}
		if err := act(s.now, xid, Operator{Who: "sim", Comment: "by hand"}); err != nil {
			s.t.Fatal(err)
		}
		s.retries++
	}
}

// resolve has the operator finish by hand the branches of xid that failed
// unretryably, as the transaction decided, and tells the core.
func (s *sim) resolve(now time.Time, xid txc.XID, op Operator) error {
	g := s.core.globals[xid]
	a := ActionRollback
	if g.rec.Status.IsCommit() {
		a = ActionCommit
	}
	for _, b := range g.branches {
		if unretryable(b.rec.Status) {
			s.did(xid, b.rec.ID, a)
		}
	}
	return s.core.Resolve(now, xid, op)
}

// did records that branch b of xid was committed or rolled back.
func (s *sim) did(xid txc.XID, b txc.BranchID, a Action) {
	if prev, ok := s.done[b]; ok && prev != a {
		s.t.Fatalf("branch %d of %s: %v after %v", b, xid, a, prev)
	}
	if _, ok := s.done[b]; !ok {
		s.clock++
		s.done[b] = a
		s.doneAt[b] = s.clock
		s.branchXID[b] = xid
	}
}

// execute runs a command in the RM and answers success.
func (s *sim) execute(c Command) {
	s.did(c.XID, c.BranchID, c.Action)
	st := txc.BranchCommitted
	if c.Action == ActionRollback {
		st = txc.BranchRollbacked
	}
	s.core.Step(s.now, Msg{Kind: KindBranchResult, Conn: c.Conn, ID: c.ID, XID: c.XID, BranchID: c.BranchID, BranchStatus: st})
}

func (s *sim) run(steps int) {
	for i := 0; i < steps; i++ {
		switch s.rnd.IntN(11) {
		case 0, 1:
			if r, ok := s.request(Msg{Kind: KindBegin, Name: "sim", Timeout: time.Duration(1+s.rnd.IntN(20)) * time.Second}); ok {
				s.open = append(s.open, r.XID)
			}
		case 2, 3, 4:
			if xid, _, ok := s.pickOpen(); ok {
				res := fmt.Sprintf("r%d", s.rnd.IntN(3))
				row := fmt.Sprint(s.rnd.IntN(12))
				typ := []txc.BranchType{txc.BranchGeneric, txc.BranchAT}[s.rnd.IntN(2)]
				r, ok := s.request(Msg{Kind: KindRegister, XID: xid, BranchType: typ, ResourceID: res,
					LockKeys: []txc.LockKey{{Table: "t", Rows: []string{row}}}})
				if ok && r.Err == nil {
					s.branches[xid] = append(s.branches[xid], r.BranchID)
					if typ == txc.BranchAT {
						s.at[r.BranchID] = true
					}
				}
			}
		case 5:
			if xid, i, ok := s.pickOpen(); ok {
				s.decide(i, xid, KindCommit)
			}
		case 6:
			if xid, i, ok := s.pickOpen(); ok {
				s.decide(i, xid, KindRollback)
			}
		case 10:
			if s.rnd.IntN(2) == 0 {
				s.reportFailed()
			} else {
				s.retryParked()
				s.flush()
			}
		case 7:
			s.now = s.now.Add(time.Duration(s.rnd.IntN(3000)) * time.Millisecond)
			s.core.Tick(s.now)
			s.flush()
		default:
			s.answerSome()
		}
	}
}

// drain lets time pass with a perfect RM until nothing is left.
func (s *sim) drain() {
	for i := 0; i < 2000; i++ {
		if st, _ := s.st.Load(context.Background()); unfinished(st.Globals) == 0 && len(s.pending) == 0 {
			return
		}
		for _, c := range s.pending {
			s.execute(c)
		}
		s.pending = nil
		s.retryParked()
		s.flush()
		s.now = s.now.Add(time.Second)
		s.core.Tick(s.now)
		s.flush()
	}
	st, _ := s.st.Load(context.Background())
	s.t.Fatalf("never drained: %d globals left", unfinished(st.Globals))
}

func unfinished(gs []store.Global) int {
	n := 0
	for _, g := range gs {
		if !g.Status.IsFinal() {
			n++
		}
	}
	return n
}

func (s *sim) check() {
	for xid, want := range s.acked {
		for _, b := range s.branches[xid] {
			got, ok := s.done[b]
			if acked, reported := s.reported[b]; reported {
				if ok && acked {
					s.t.Errorf("%s: branch %d, reported PhaseOneFailed, got %v", xid, b, got)
				}
				continue
			}
			if !ok && s.at[b] && want == "commit" {
				continue // a lost notice leaves the undo row to the RM's leftover sweep
			}
			if !ok {
				s.t.Errorf("%s (%s acknowledged): branch %d never finished", xid, want, b)
				continue
			}
			if (want == "commit") != (got == ActionCommit) {
				s.t.Errorf("%s acknowledged %s, branch %d got %v", xid, want, b, got)
			}
		}
	}
	// Every transaction's branches went one way, and rollback newest-first.
	byXID := map[txc.XID][]txc.BranchID{}
	for b, x := range s.branchXID {
		byXID[x] = append(byXID[x], b)
	}
	for xid, bs := range byXID {
		for _, a := range bs {
			for _, b := range bs {
				if s.done[a] != s.done[b] {
					s.t.Errorf("%s: branch %d %v but branch %d %v", xid, a, s.done[a], b, s.done[b])
				}
				if a < b && s.done[a] == ActionRollback && s.firstCmd[a] < s.doneAt[b] {
					s.t.Errorf("%s: branch %d rollback sent before newer branch %d was rolled back", xid, a, b)
				}
			}
		}
	}
	if n := s.core.locks.Len(); n != 0 {
		s.t.Errorf("%d rows still locked after everything finished", n)
	}
	if len(s.core.globals) != 0 || len(s.core.timers) != 0 || len(s.core.inflight) != 0 {
		s.t.Errorf("core not empty: %d globals, %d timers, %d in flight", len(s.core.globals), len(s.core.timers), len(s.core.inflight))
	}
}

func TestCrashAnywhere(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 30
	}
	crashes, decided, retries := 0, 0, 0
	for seed := 1; seed <= seeds; seed++ {
		s := newSim(t, uint64(seed))
		s.run(400)
		// Decide whatever the clients left open, then finish everything.
		for len(s.open) > 0 {
			s.decide(0, s.open[0], KindCommit)
		}
		s.drain()
		s.check()
		crashes += s.crashes
		retries += s.retries
		decided += len(s.acked)
		if t.Failed() {
			t.Fatalf("seed %d failed", seed)
		}
	}
	t.Logf("%d seeds, %d crashes, %d operator actions, %d acknowledged decisions checked", seeds, crashes, retries, decided)
}

// TestLostLazyBatches: the batches a lazy Ready carries (the end of a
// finished transaction, the forgetting of an old one) lost in a crash mean
// only that phase 2 is sent again and that a record is kept longer.
func TestLostLazyBatches(t *testing.T) {
	h := newHarness(t, Config{FinishedRetention: time.Minute})
	h.rm(10, "db")
	xid := h.begin(0)
	h.mustRegister(xid, "db", "1")
	h.do(Msg{Kind: KindCommit, XID: xid})
	cmd := h.takeSent()[0]
	h.core.Step(h.now, Msg{Kind: KindBranchResult, Conn: cmd.Conn, ID: cmd.ID, XID: xid, BranchID: cmd.BranchID,
		BranchStatus: txc.BranchCommitted})
	if rd := h.core.Ready(); !rd.Lazy() || len(rd.Batch.DeleteBranches) != 1 {
		t.Fatalf("the end of a finished transaction is not lazy: %+v", rd)
	} // and never stored: the process dies here

	h.restart()
	h.rm(10, "db")
	h.tick(time.Millisecond)
	again := h.takeSent()
	if len(again) != 1 || again[0].BranchID != cmd.BranchID || again[0].Action != ActionCommit || again[0].Repeat != RepeatRestored {
		t.Fatalf("after losing the end of the transaction, phase 2 sent %+v", again)
	}
	h.answer(again[0], txc.BranchCommitted, "")
	if s := h.status(xid); s != txc.GlobalCommitted {
		t.Fatalf("status = %v", s)
	}
	if st := h.load(); len(st.Branches) != 0 || st.Globals[0].Status != txc.GlobalCommitted {
		t.Fatalf("stored after the status reply: %+v", st)
	}

	h.now = h.now.Add(2 * time.Minute)
	h.core.Tick(h.now)
	if rd := h.core.Ready(); !rd.Lazy() || len(rd.Batch.DeleteGlobals) != 1 {
		t.Fatalf("forgetting is not lazy: %+v", rd)
	} // lost again
	h.restart()
	if s := h.status(xid); s != txc.GlobalCommitted {
		t.Fatalf("a record whose forgetting was lost: status = %v", s)
	}
	h.tick(2 * time.Minute)
	if st := h.load(); len(st.Globals) != 0 {
		t.Fatalf("kept past its (longer) retention: %+v", st.Globals)
	}
}
