package tc

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/lock"
	"github.com/txcio/txc/tc/store"
)

// sharedModel is the shared lock table as the tests see it: row -> holder.
type sharedModel map[store.LockRow]txc.XID

func rowKey(resource, table, row string) store.LockRow {
	return store.LockRow{Resource: resource, Table: table, Row: row}
}

// claim takes the rows of keys for xid, all or none, as
// store.SharedLocks.Claim does; it returns the holder of a row in the way.
func (s sharedModel) claim(xid txc.XID, resource string, keys []txc.LockKey) txc.XID {
	holder, _ := s.claimFound(xid, resource, keys)
	return holder
}

// claimFound is claim, also returning the rows found held by xid already
// (Msg.Found), as the server's claimer reports them.
func (s sharedModel) claimFound(xid txc.XID, resource string, keys []txc.LockKey) (txc.XID, []store.LockRow) {
	for _, k := range keys {
		for _, r := range k.Rows {
			if x, ok := s[rowKey(resource, k.Table, r)]; ok && x != xid {
				return x, nil
			}
		}
	}
	var found []store.LockRow
	for _, k := range keys {
		for _, r := range k.Rows {
			if _, ok := s[rowKey(resource, k.Table, r)]; ok {
				found = append(found, store.LockRow{XID: xid, Resource: resource, Table: k.Table, Row: r})
			}
			s[rowKey(resource, k.Table, r)] = xid
		}
	}
	return "", found
}

// free deletes rows, each only while held by its XID.
func (s sharedModel) free(rows []store.LockRow) {
	for _, r := range rows {
		k := rowKey(r.Resource, r.Table, r.Row)
		if s[k] == r.XID {
			delete(s, k)
		}
	}
}

// coreLocks is the core's lock table in the model's shape.
func (h *harness) coreLocks() sharedModel {
	out := sharedModel{}
	h.core.locks.Each(func(r lock.Row) bool {
		out[rowKey(r.Resource, r.Table, r.Key)] = r.Holder
		return true
	})
	return out
}

// checkShared fails unless the shared table holds exactly what the core
// holds: every row freed in the core is gone from the shared table too.
func (h *harness) checkShared(when string) {
	h.t.Helper()
	if got, want := h.shared, h.coreLocks(); !maps.Equal(got, want) {
		h.t.Fatalf("%s: shared table %v, core holds %v", when, got, want)
	}
}

// claimAndRegister registers a branch the way the server does with shared
// locks: claim the rows in the shared table first, then hand the
// registration, marked Claimed, to the core.
func (h *harness) claimAndRegister(xid txc.XID, typ txc.BranchType, res string, rows ...string) (txc.BranchID, error) {
	h.t.Helper()
	keys := []txc.LockKey{{Table: "t", Rows: rows}}
	holder, found := h.shared.claimFound(xid, res, keys)
	if holder != "" {
		return 0, &txc.Error{Code: txc.CodeLockConflict, Holder: holder}
	}
	r := h.do(Msg{Kind: KindRegister, XID: xid, BranchType: typ, ResourceID: res, LockKeys: keys, Claimed: true, Found: found})
	return r.BranchID, r.Err
}

func sharedHarness(t *testing.T) *harness {
	return newHarness(t, Config{SharedLocks: true, RetryMin: time.Second, RetryMax: time.Second})
}

// TestSharedLocksFreedWithDecisions: every way the core frees rows
// (commit decision, rollback of a branch, phase one failed, timeout, an
// operator's Resolve) frees them in the shared table in the same batch,
// and rows another branch of the transaction holds stay.
func TestSharedLocksFreedWithDecisions(t *testing.T) {
	h := sharedHarness(t)
	h.rm(10, "db")
	committed := h.begin(0)
	h.claimAndRegister(committed, txc.BranchGeneric, "db", "1", "2")
	h.claimAndRegister(committed, txc.BranchGeneric, "db", "2", "3")
	failed := h.begin(0)
	id, _ := h.claimAndRegister(failed, txc.BranchAT, "db", "4")
	h.claimAndRegister(failed, txc.BranchAT, "db", "5")
	h.checkShared("after registration")
	if len(h.shared) != 5 {
		t.Fatalf("shared table %v, want 5 rows", h.shared)
	}
	h.do(Msg{Kind: KindReport, XID: failed, BranchID: id, BranchStatus: txc.BranchPhaseOneFailed})
	h.checkShared("after phase one failed")
	h.do(Msg{Kind: KindCommit, XID: committed})
	h.checkShared("after the commit decision")
	h.ackAll()
	h.tick(2 * time.Minute) // failed times out and rolls back
	h.ackAll()
	h.checkShared("after the timeout")
	if len(h.shared) != 0 {
		t.Fatalf("shared table %v after every transaction ended", h.shared)
	}
	parked := h.parkOne()
	if _, ok := h.shared[rowKey("db", "t", "1")]; ok {
		t.Fatal("parkOne registered through the shared table")
	}
	h.shared[rowKey("db", "t", "1")] = parked // as the server claimed it
	if err := h.core.Resolve(h.now, parked, Operator{Who: "op", Comment: "restored by hand"}); err != nil {
		t.Fatal(err)
	}
	h.flush()
	h.checkShared("after Resolve")
}

// TestSharedLocksRefusedRegistration: a claimed registration that the core
// refuses, for any reason, gives back the rows the core does not hold for
// that transaction, and only those.
func TestSharedLocksRefusedRegistration(t *testing.T) {
	h := sharedHarness(t)
	open := h.begin(time.Minute)
	h.claimAndRegister(open, txc.BranchGeneric, "db", "1")
	committed := h.begin(0)
	h.do(Msg{Kind: KindCommit, XID: committed})
	late := h.begin(time.Second)
	cases := []struct {
		name string
		xid  txc.XID
		typ  txc.BranchType
		rows []string
	}{
		{"unknown transaction", "n1:999999", txc.BranchGeneric, []string{"a"}},
		{"another node's transaction", "n2:1", txc.BranchGeneric, []string{"a"}},
		{"finished", committed, txc.BranchGeneric, []string{"a", "b"}},
		{"invalid branch type", open, txc.BranchType(99), []string{"1", "c"}},
		{"timed out on the spot", late, txc.BranchGeneric, []string{"d"}},
	}
	for _, c := range cases {
		if c.name == "timed out on the spot" {
			h.now = h.now.Add(2 * time.Second)
		}
		if _, err := h.claimAndRegister(c.xid, c.typ, "db", c.rows...); err == nil {
			t.Fatalf("%s: registration accepted", c.name)
		}
		h.checkShared(c.name)
	}
	if h.shared[rowKey("db", "t", "1")] != open {
		t.Fatal("a refused registration freed a row its transaction's other branch holds")
	}
}

// TestSharedLocksConflictInsideCore: a row the core holds for another
// transaction but the shared table does not (it was freed there already,
// or never claimed) refuses the registration; the rows the refused claim
// took go again, the other transaction's row is not touched.
func TestSharedLocksConflictInsideCore(t *testing.T) {
	h := sharedHarness(t)
	holder := h.begin(0)
	h.mustRegister(holder, "db", "1") // not claimed: the core alone holds it
	other := h.begin(0)
	_, err := h.claimAndRegister(other, txc.BranchGeneric, "db", "2", "1")
	if txc.CodeOf(err) != txc.CodeLockConflict {
		t.Fatalf("register = %v, want a lock conflict", err)
	}
	want := sharedModel{}
	if !maps.Equal(h.shared, want) {
		t.Fatalf("shared table %v after the refusal, want it empty", h.shared)
	}
	h.shared[rowKey("db", "t", "1")] = holder
	h.claimAndRegister(other, txc.BranchGeneric, "db", "1") // refused again: holder's row stays
	if h.shared[rowKey("db", "t", "1")] != holder {
		t.Fatal("the refusal freed another transaction's row")
	}
}

// TestSharedLocksAfterRestore: a restored core re-acquires the stored
// branches' locks, and frees them in the shared table when it rolls back.
func TestSharedLocksAfterRestore(t *testing.T) {
	h := sharedHarness(t)
	h.rm(10, "db")
	xid := h.begin(0)
	h.claimAndRegister(xid, txc.BranchGeneric, "db", "1", "2")
	h.restart()
	h.checkShared("after restore")
	h.do(Msg{Kind: KindRollback, XID: xid})
	h.rm(11, "db")
	h.ackAll()
	h.checkShared("after the rollback")
	if len(h.shared) != 0 {
		t.Fatalf("shared table %v after the rollback", h.shared)
	}
}

// TestWithoutSharedLocksNoFreeLocks: a single-node core never fills
// FreeLocks, even for a registration marked Claimed (the harness fails a
// flush that carries any).
func TestWithoutSharedLocksNoFreeLocks(t *testing.T) {
	h := newHarness(t, Config{})
	h.rm(10, "db")
	xid := h.begin(0)
	h.do(Msg{Kind: KindRegister, XID: xid, BranchType: txc.BranchGeneric, ResourceID: "db",
		LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"1"}}}, Claimed: true})
	h.do(Msg{Kind: KindRegister, XID: "n1:99999", BranchType: txc.BranchGeneric, ResourceID: "db",
		LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"2"}}}, Claimed: true})
	h.do(Msg{Kind: KindCommit, XID: xid})
	h.ackAll()
}

// TestSharedLocksRandom: under a random mix of registrations, reports,
// commits, rollbacks, timeouts and phase-2 answers, the shared table holds
// exactly the core's locks after every step.
func TestSharedLocksRandom(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomShared(t, rand.New(rand.NewPCG(seed, 7))) })
	}
}

func randomShared(t *testing.T, r *rand.Rand) {
	h := sharedHarness(t)
	h.rm(10, "db")
	var xids []txc.XID
	branches := map[txc.XID][]txc.BranchID{}
	for step := range 400 {
		if len(xids) == 0 || r.IntN(6) == 0 {
			xids = append(xids, h.begin(time.Duration(1+r.IntN(20))*time.Second))
		}
		x := xids[r.IntN(len(xids))]
		switch r.IntN(7) {
		case 0, 1:
			rows := []string{fmt.Sprint(r.IntN(8)), fmt.Sprint(r.IntN(8))}
			if id, err := h.claimAndRegister(x, txc.BranchType(1+r.IntN(2)), "db", rows...); err == nil {
				branches[x] = append(branches[x], id)
			}
		case 2:
			if ids := branches[x]; len(ids) > 0 {
				st := []txc.BranchStatus{txc.BranchPhaseOneDone, txc.BranchPhaseOneFailed}[r.IntN(2)]
				h.do(Msg{Kind: KindReport, XID: x, BranchID: ids[r.IntN(len(ids))], BranchStatus: st})
			}
		case 3:
			h.do(Msg{Kind: KindCommit, XID: x})
		case 4:
			h.do(Msg{Kind: KindRollback, XID: x})
		case 5:
			h.tick(time.Duration(r.IntN(3000)) * time.Millisecond)
		case 6:
			answerSome(h, r)
		}
		h.checkShared(fmt.Sprintf("step %d", step))
	}
}

// answerSome answers a random part of the commands sent, mostly with
// success, sometimes with a retryable failure.
func answerSome(h *harness, r *rand.Rand) {
	cmds := h.takeSent()
	for i, c := range cmds {
		if c.Notice() {
			continue
		}
		if r.IntN(3) == 0 {
			h.sent = append(h.sent, cmds[i])
			continue
		}
		ok, bad := txc.BranchCommitted, txc.BranchCommitFailedRetryable
		if c.Action == ActionRollback {
			ok, bad = txc.BranchRollbacked, txc.BranchRollbackFailedRetryable
		}
		h.answer(c, []txc.BranchStatus{ok, ok, bad}[r.IntN(3)], "")
	}
}

// TestSharedLocksReclaimWhileFreeing: a transaction's branch fails phase
// one (its row is freed in the core, and in the shared table only once
// that batch is applied); a new registration of the same transaction for
// the same row, claimed before the batch is applied (both while it waits
// in the core and while it is being written), finds the row held by its
// own XID and adds nothing. The core must refuse it, to be retried:
// accepted, the core would hold a row the batch then deletes from the
// shared table. So also when the batch is applied after the claim but
// before the core sees the registration (applied).
func TestSharedLocksReclaimWhileFreeing(t *testing.T) {
	for _, when := range []string{"queued", "inflight", "applied"} {
		inflight := when != "queued"
		h := sharedHarness(t)
		xid := h.begin(0)
		id, _ := h.claimAndRegister(xid, txc.BranchAT, "db", "1")
		h.core.Step(h.now, Msg{Kind: KindReport, Conn: 1, ID: 900, XID: xid, BranchID: id, BranchStatus: txc.BranchPhaseOneFailed})
		var rd Ready
		if inflight {
			rd = h.core.Ready() // with the persister: taken, not yet applied
		}
		keys := []txc.LockKey{{Table: "t", Rows: []string{"1"}}}
		holder, found := h.shared.claimFound(xid, "db", keys)
		if holder != "" {
			t.Fatalf("claim refused by %s", holder)
		}
		if when == "applied" {
			h.shared.free(rd.Batch.FreeLocks)
			h.core.Advance(rd)
		}
		h.core.Step(h.now, Msg{Kind: KindRegister, Conn: 1, ID: 901, XID: xid, BranchType: txc.BranchAT, ResourceID: "db", LockKeys: keys, Claimed: true, Found: found})
		if when == "inflight" {
			h.shared.free(rd.Batch.FreeLocks)
			h.core.Advance(rd)
		}
		h.flush()
		if r := h.replies[901]; txc.CodeOf(r.Err) != txc.CodeLockConflict {
			t.Fatalf("%s: re-registration while the row is being freed: %v, want a lock conflict to retry", when, r.Err)
		}
		h.checkShared(when)
		if _, err := h.claimAndRegister(xid, txc.BranchAT, "db", "1"); err != nil {
			t.Fatalf("%s: the retry: %v", when, err)
		}
		h.checkShared(when + ", after the retry")
	}
}

// TestSharedLocksHeldElsewhere: a registration whose rows the shared table
// holds for another transaction (the shell's claim took nothing) is
// refused as a lock conflict naming that holder while its transaction is
// open; once the transaction is over, the refusal says so instead, so
// that an RM retrying the conflict stops (it holds its local rows while it
// retries: a rollback waiting for them would wait for ever).
func TestSharedLocksHeldElsewhere(t *testing.T) {
	h := sharedHarness(t)
	xid := h.begin(time.Second)
	held := Msg{Kind: KindRegister, XID: xid, BranchType: txc.BranchAT, ResourceID: "db",
		LockKeys: []txc.LockKey{{Table: "t", Rows: []string{"1"}}}, HeldBy: "n2:7", HeldTable: "t"}
	r := h.do(held)
	var te *txc.Error
	if !errors.As(r.Err, &te) || te.Code != txc.CodeLockConflict || te.Holder != "n2:7" {
		t.Fatalf("open transaction: %v, want a lock conflict naming n2:7", r.Err)
	}
	if !h.hasEvent(EventLockConflict, xid) {
		t.Fatal("no lock-conflict event")
	}
	h.tick(2 * time.Second) // rolled back at its deadline
	h.ackAll()
	if r := h.do(held); txc.CodeOf(r.Err) == txc.CodeLockConflict || r.Err == nil {
		t.Fatalf("ended transaction: %v, want its end", r.Err)
	}
	h.checkShared("after the refusals")
}
