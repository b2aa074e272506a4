package tc

import (
	"context"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
)

// harness drives a Core the way the shell does: every step is followed by
// a flush that persists the Ready and then "sends" its output.
type harness struct {
	t       *testing.T
	cfg     Config
	core    *Core
	store   *memstore.Store
	now     time.Time
	nextID  uint64
	replies map[uint64]Reply
	sent    []Command
	events  []Event
	// shared, when set, plays the shared lock table beside the store:
	// every flush deletes the batch's FreeLocks from it.
	shared sharedModel
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	if cfg.Node == "" {
		cfg.Node = "n1"
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, core: c, store: memstore.New(),
		now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), replies: map[uint64]Reply{}}
	if cfg.SharedLocks {
		h.shared = sharedModel{}
	}
	return h
}

func (h *harness) flush() {
	h.t.Helper()
	rd := h.core.Ready()
	if err := h.store.Apply(context.Background(), &rd.Batch); err != nil {
		h.t.Fatal(err)
	}
	if h.shared != nil {
		h.shared.free(rd.Batch.FreeLocks)
	} else if len(rd.Batch.FreeLocks) > 0 {
		h.t.Fatalf("FreeLocks without shared locks: %v", rd.Batch.FreeLocks)
	}
	for _, r := range rd.Replies {
		h.replies[r.ID] = r
	}
	h.sent = append(h.sent, rd.Commands...)
	h.events = append(h.events, rd.Events...)
	h.core.Advance(rd)
}

// do steps one request from conn 1 and returns its reply.
func (h *harness) do(m Msg) Reply {
	h.t.Helper()
	h.nextID++
	m.ID = h.nextID
	if m.Conn == 0 {
		m.Conn = 1
	}
	h.core.Step(h.now, m)
	h.flush()
	r, ok := h.replies[m.ID]
	if !ok {
		h.t.Fatalf("no reply to %v", m.Kind)
	}
	return r
}

func (h *harness) tick(d time.Duration) {
	h.now = h.now.Add(d)
	h.core.Tick(h.now)
	h.flush()
}

func (h *harness) begin(timeout time.Duration) txc.XID {
	h.t.Helper()
	r := h.do(Msg{Kind: KindBegin, Name: "t", Timeout: timeout})
	if r.Err != nil {
		h.t.Fatal(r.Err)
	}
	return r.XID
}

func (h *harness) register(xid txc.XID, typ txc.BranchType, res string, rows ...string) (txc.BranchID, error) {
	h.t.Helper()
	var keys []txc.LockKey
	if len(rows) > 0 {
		keys = []txc.LockKey{{Table: "t", Rows: rows}}
	}
	r := h.do(Msg{Kind: KindRegister, XID: xid, BranchType: typ, ResourceID: res, LockKeys: keys, ApplicationData: []byte("app")})
	return r.BranchID, r.Err
}

func (h *harness) mustRegister(xid txc.XID, res string, rows ...string) txc.BranchID {
	h.t.Helper()
	id, err := h.register(xid, txc.BranchGeneric, res, rows...)
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

// rm connects conn as an RM serving resources.
func (h *harness) rm(conn ConnID, resources ...string) {
	h.t.Helper()
	if r := h.do(Msg{Kind: KindHello, Conn: conn, Resources: resources}); r.Err != nil {
		h.t.Fatal(r.Err)
	}
}

// takeSent returns and clears the commands sent so far.
func (h *harness) takeSent() []Command {
	s := h.sent
	h.sent = nil
	return s
}

// answer sends the RM's result for cmd.
func (h *harness) answer(cmd Command, s txc.BranchStatus, text string) {
	h.core.Step(h.now, Msg{Kind: KindBranchResult, Conn: cmd.Conn, ID: cmd.ID, XID: cmd.XID, BranchID: cmd.BranchID, BranchStatus: s, Text: text})
	h.flush()
}

// ackAll answers every sent command with success until none is left.
func (h *harness) ackAll() {
	for i := 0; i < 1000; i++ {
		cmds := h.takeSent()
		if len(cmds) == 0 {
			return
		}
		for _, c := range cmds {
			s := txc.BranchCommitted
			if c.Action == ActionRollback {
				s = txc.BranchRollbacked
			}
			h.answer(c, s, "")
		}
	}
	h.t.Fatal("commands never stop")
}

func (h *harness) status(xid txc.XID) txc.GlobalStatus {
	h.t.Helper()
	r := h.do(Msg{Kind: KindStatus, XID: xid})
	if r.Err != nil {
		h.t.Fatal(r.Err)
	}
	return r.Status
}

func (h *harness) load() *store.State {
	st, err := h.store.Load(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// restart replaces the core with one restored from the store, as after kill -9.
func (h *harness) restart() {
	h.t.Helper()
	c, err := New(h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := c.Restore(h.load()); err != nil {
		h.t.Fatal(err)
	}
	h.core = c
	h.sent = nil
}

func (h *harness) hasEvent(k EventKind, xid txc.XID) bool {
	for _, e := range h.events {
		if e.Kind == k && e.XID == xid {
			return true
		}
	}
	return false
}

// parkOne begins a transaction with one branch on row "1" of "db" (served
// by RM conn 10), rolls it back and has the rollback fail unretryably
// with "dirty": the transaction is parked as needing manual action.
func (h *harness) parkOne() txc.XID {
	h.t.Helper()
	h.rm(10, "db")
	xid := h.begin(0)
	h.mustRegister(xid, "db", "1")
	h.do(Msg{Kind: KindRollback, XID: xid})
	h.answer(h.takeSent()[0], txc.BranchRollbackFailedUnretryable, "dirty")
	return xid
}
