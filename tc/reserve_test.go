package tc

import (
	"errors"
	"testing"

	"github.com/txcio/txc"
)

func (h *harness) reserve(conn ConnID, n uint64) (first uint64) {
	h.t.Helper()
	r := h.do(Msg{Kind: KindReserve, Conn: conn, Count: n})
	if r.Err != nil {
		h.t.Fatal(r.Err)
	}
	if r.Count != n || r.Node != h.cfg.Node {
		h.t.Fatalf("reserve reply %+v", r)
	}
	return r.First
}

func TestReservedXIDBegins(t *testing.T) {
	h := newHarness(t, Config{IDBlock: 5})
	first := h.reserve(1, 8)
	if h.load().NextID < first+8 {
		t.Fatalf("reserved numbers not durable before the reply: stored next ID %d, reserved up to %d", h.load().NextID, first+8)
	}
	xid := txc.NewXID("n1", first+3)
	// Pipelined: Begin, Register and Commit stepped before any flush, as
	// they arrive in one frame.
	h.core.Step(h.now, Msg{Kind: KindBegin, Conn: 1, ID: 101, XID: xid, Name: "p"})
	h.core.Step(h.now, Msg{Kind: KindRegister, Conn: 1, ID: 102, XID: xid, BranchType: txc.BranchGeneric, ResourceID: "db"})
	h.core.Step(h.now, Msg{Kind: KindCommit, Conn: 1, ID: 103, XID: xid})
	h.flush()
	if r := h.replies[101]; r.Err != nil || r.XID != xid {
		t.Fatalf("begin = %+v", r)
	}
	if r := h.replies[102]; r.Err != nil || r.BranchID == 0 {
		t.Fatalf("register = %+v", r)
	}
	if r := h.replies[103]; r.Err != nil || !r.Status.IsCommit() {
		t.Fatalf("commit = %+v", r)
	}
	// Coordinator-chosen XIDs never fall in a reserved block.
	for i := 0; i < 20; i++ {
		_, seq, _ := h.begin(0).Parse()
		if seq >= first && seq < first+8 {
			t.Fatalf("coordinator handed out reserved number %d", seq)
		}
	}
}

func TestReservedXIDRefusals(t *testing.T) {
	h := newHarness(t, Config{})
	first := h.reserve(1, 4)
	mine := txc.NewXID("n1", first)
	other := h.begin(0)
	_, otherSeq, _ := other.Parse()
	cases := []struct {
		name string
		conn ConnID
		xid  txc.XID
		code txc.Code
	}{
		{"another stream's reservation", 2, mine, txc.CodeInvalidArgument},
		{"never reserved", 1, txc.NewXID("n1", first+100), txc.CodeInvalidArgument},
		{"a coordinator-chosen XID", 1, txc.NewXID("n1", otherSeq), txc.CodeInvalidArgument},
		{"another node", 1, txc.NewXID("n2", first), txc.CodeInvalidArgument},
		{"malformed", 1, "garbage", txc.CodeInvalidArgument},
	}
	for _, tc := range cases {
		before := len(h.load().Globals)
		r := h.do(Msg{Kind: KindBegin, Conn: tc.conn, Name: "x", XID: tc.xid})
		if txc.CodeOf(r.Err) != tc.code {
			t.Errorf("%s: err = %v, want %v", tc.name, r.Err, tc.code)
		}
		if n := len(h.load().Globals); n != before {
			t.Errorf("%s: a refused begin stored a transaction", tc.name)
		}
	}
	if r := h.do(Msg{Kind: KindBegin, Conn: 1, Name: "x", XID: mine}); r.Err != nil {
		t.Fatalf("first use: %v", r.Err)
	}
	r := h.do(Msg{Kind: KindBegin, Conn: 1, Name: "x", XID: mine})
	if !errors.Is(r.Err, txc.ErrInvalidArgument) {
		t.Fatalf("second use of one XID: %v", r.Err)
	}
	// A bad name is refused before the XID is used up.
	next := txc.NewXID("n1", first+1)
	if r := h.do(Msg{Kind: KindBegin, Conn: 1, Name: "", XID: next}); r.Err == nil {
		t.Fatal("empty name accepted")
	}
	if r := h.do(Msg{Kind: KindBegin, Conn: 1, Name: "ok", XID: next}); r.Err != nil {
		t.Fatalf("XID used up by a refused begin: %v", r.Err)
	}
	for _, n := range []uint64{0, MaxReserve + 1} {
		if r := h.do(Msg{Kind: KindReserve, Conn: 1, Count: n}); !errors.Is(r.Err, txc.ErrInvalidArgument) {
			t.Errorf("reserve %d: %v", n, r.Err)
		}
	}
}

func TestReservationsEndWithTheStream(t *testing.T) {
	h := newHarness(t, Config{})
	first := h.reserve(1, 4)
	h.core.Step(h.now, Msg{Kind: KindConnDown, Conn: 1})
	h.flush()
	if r := h.do(Msg{Kind: KindBegin, Conn: 1, Name: "x", XID: txc.NewXID("n1", first)}); r.Err == nil {
		t.Fatal("a reservation outlived its stream")
	}
	// And a restart forgets them too, while never reusing the numbers.
	first = h.reserve(1, 4)
	h.restart()
	if r := h.do(Msg{Kind: KindBegin, Conn: 1, Name: "x", XID: txc.NewXID("n1", first)}); r.Err == nil {
		t.Fatal("a reservation outlived a restart")
	}
	_, seq, _ := h.begin(0).Parse()
	if seq < first+4 {
		t.Fatalf("number %d reused after restart (reserved %d..%d)", seq, first, first+3)
	}
}

func TestReservationsPerStreamAreBounded(t *testing.T) {
	h := newHarness(t, Config{})
	var firsts []uint64
	for i := 0; i < maxRanges+2; i++ {
		firsts = append(firsts, h.reserve(1, 2))
	}
	if n := len(h.core.ranges[1]); n != maxRanges {
		t.Fatalf("%d live blocks, want %d", n, maxRanges)
	}
	if r := h.do(Msg{Kind: KindBegin, Conn: 1, Name: "x", XID: txc.NewXID("n1", firsts[0])}); r.Err == nil {
		t.Fatal("the oldest block was not forgotten")
	}
	last := firsts[len(firsts)-1]
	for i := uint64(0); i < 2; i++ {
		if r := h.do(Msg{Kind: KindBegin, Conn: 1, Name: "x", XID: txc.NewXID("n1", last+i)}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if n := len(h.core.ranges[1]); n != maxRanges-1 {
		t.Fatalf("a used-up block is kept: %d live", n)
	}
}
