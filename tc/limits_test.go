package tc

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/txcio/txc"
)

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
