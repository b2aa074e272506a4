package server

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
)

// slowStore delays every Apply while slow is set: a Begin's reply is late,
// so anything that does not wait for it reaches the core first.
type slowStore struct {
	store.Store
	slow atomic.Bool
}

func (s *slowStore) Apply(ctx context.Context, b *store.Batch) error {
	if s.slow.Load() {
		time.Sleep(50 * time.Millisecond)
	}
	return s.Store.Apply(ctx, b)
}

func TestPipelinedBeginOverTheWire(t *testing.T) {
	st := &slowStore{Store: memstore.New()}
	r := start(t, st, tc.Config{})
	tmConn, rmConn := dial(t, r.addr), dial(t, r.addr)
	ctx := t.Context()
	branch := func(xid txc.XID, res string) client.Branch {
		return client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: res,
			LockKeys: []txc.LockKey{{Table: "t", Rows: []string{res}}}}
	}
	// Warm up: the first pipelined Begin reserves a block.
	if _, wait, err := tmConn.BeginPipelined(ctx, "warm", 0); err != nil || wait(ctx) != nil {
		t.Fatal("warm-up begin failed")
	}
	st.slow.Store(true)

	// Same Conn: register and commit follow the Begin without waiting.
	xid, wait, err := tmConn.BeginPipelined(ctx, "same", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmConn.Register(ctx, branch(xid, "a")); err != nil {
		t.Fatal(err)
	}
	if s, err := tmConn.Commit(ctx, xid); err != nil || !s.IsCommit() {
		t.Fatalf("commit = %v %v", s, err)
	}
	if err := wait(ctx); err != nil {
		t.Fatal(err)
	}

	// Another Conn (an RM with its own stream): its register waits for the
	// Begin's reply, so it never finds the transaction unknown.
	for i := range 5 {
		xid, _, err := tmConn.BeginPipelined(ctx, "cross", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rmConn.Register(ctx, branch(xid, "b")); err != nil {
			t.Fatalf("round %d: register on another stream: %v", i, err)
		}
		if _, err := tmConn.Commit(ctx, xid); err != nil {
			t.Fatal(err)
		}
	}

	// A Begin the coordinator refuses: wait says why, and what followed it
	// on the stream finds no transaction.
	xid, wait, err = tmConn.BeginPipelined(ctx, strings.Repeat("n", txc.MaxNameLen+1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmConn.Register(ctx, branch(xid, "c")); !errors.Is(err, txc.ErrUnknownTransaction) {
		t.Fatalf("register after a refused begin: %v", err)
	}
	if err := wait(ctx); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("refused begin: wait = %v", err)
	}
}
