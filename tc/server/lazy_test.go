package server

import (
	"context"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
)

// finishOne commits a one-branch transaction whose RM (on its own stream)
// acknowledges phase 2, and waits until the coordinator has finished it
// in memory. It returns the XID and the store's Apply count by then.
func finishOne(t *testing.T, r *running, st *memstore.Store) (txc.XID, int) {
	t.Helper()
	ctx := t.Context()
	tmConn, rmConn := dial(t, r.addr), dial(t, r.addr)
	acked := make(chan struct{}, 1)
	err := rmConn.Serve([]string{"db"}, func(context.Context, client.Command) (txc.BranchStatus, string) {
		acked <- struct{}{}
		return txc.BranchCommitted, ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rmConn.Status(ctx, "t1:1"); err != nil && txc.CodeOf(err) == txc.CodeUnavailable {
		t.Fatal(err) // a round trip: the RM's Hello was handled
	}
	xid, err := tmConn.Begin(ctx, "lazy", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmConn.Register(ctx, client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: "db"}); err != nil {
		t.Fatal(err)
	}
	if _, err := tmConn.Commit(ctx, xid); err != nil {
		t.Fatal(err)
	}
	<-acked
	deadline := time.Now().Add(10 * time.Second)
	for {
		var active int
		if err := r.srv.own.query(ctx, func(c *tc.Core) { active = c.Stats().Active }); err != nil {
			t.Fatal(err)
		}
		if active == 0 {
			return xid, st.Applies()
		}
		if time.Now().After(deadline) {
			t.Fatal("the coordinator never finished the transaction")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readyCounts returns how many Readies the server took and how many it
// counted durable.
func readyCounts(t *testing.T, r *running) (taken, durable uint64) {
	t.Helper()
	if err := r.srv.own.query(t.Context(), func(*tc.Core) { taken = r.srv.own.readies.taken }); err != nil {
		t.Fatal(err)
	}
	r.srv.own.readies.mu.Lock()
	defer r.srv.own.readies.mu.Unlock()
	return taken, r.srv.own.readies.durable
}

// stored returns xid's stored status and how many branches it has stored.
func stored(t *testing.T, st *memstore.Store, xid txc.XID) (txc.GlobalStatus, int) {
	t.Helper()
	state, err := st.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return statusIn(state, xid)
}

func statusIn(state *store.State, xid txc.XID) (txc.GlobalStatus, int) {
	var s txc.GlobalStatus
	for _, g := range state.Globals {
		if g.XID == xid {
			s = g.Status
		}
	}
	n := 0
	for _, b := range state.Branches {
		if b.XID == xid {
			n++
		}
	}
	return s, n
}

// The end of a finished transaction needs no sync of its own: it is
// written with the next batch that needs one (here the reply to a Status),
// or after LazyWriteDelay, or at a clean stop.
func TestFinishedTransactionsAreWrittenLazily(t *testing.T) {
	t.Run("with the next sync", func(t *testing.T) {
		st := memstore.New()
		r := startWith(t, Config{Store: st, LazyWriteDelay: time.Hour})
		xid, applies := finishOne(t, r, st)
		if s, n := stored(t, st, xid); s != txc.GlobalCommitting || n != 1 {
			t.Fatalf("stored %v with %d branches before any other sync; the end should wait", s, n)
		}
		if _, err := dial(t, r.addr).Status(t.Context(), xid); err != nil {
			t.Fatal(err)
		}
		if s, n := stored(t, st, xid); s != txc.GlobalCommitted || n != 0 {
			t.Fatalf("after the next sync: stored %v with %d branches", s, n)
		}
		if got := st.Applies(); got != applies+1 {
			t.Fatalf("%d applies for the reply and the held-back end, want 1", got-applies)
		}
	})
	t.Run("after the delay", func(t *testing.T) {
		st := memstore.New()
		r := startWith(t, Config{Store: st, LazyWriteDelay: 20 * time.Millisecond})
		xid, _ := finishOne(t, r, st)
		deadline := time.Now().Add(10 * time.Second)
		for s, _ := stored(t, st, xid); s != txc.GlobalCommitted; s, _ = stored(t, st, xid) {
			if time.Now().After(deadline) {
				t.Fatalf("never written on its own: stored %v", s)
			}
			time.Sleep(5 * time.Millisecond)
		}
		// The Readies counted durable are the ones taken, no more: an
		// admin change waits on that count.
		for {
			taken, durable := readyCounts(t, r)
			if durable > taken {
				t.Fatalf("%d Readies counted durable, %d taken", durable, taken)
			}
			if durable == taken {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d Readies taken, only %d counted durable", taken, durable)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	t.Run("at a clean stop", func(t *testing.T) {
		st := memstore.New()
		r := startWith(t, Config{Store: st, LazyWriteDelay: time.Hour})
		xid, _ := finishOne(t, r, st)
		r.stop()
		if err := <-r.done; err != nil {
			t.Fatal(err)
		}
		r.done <- nil // for the cleanup
		st.Reopen()
		if s, n := stored(t, st, xid); s != txc.GlobalCommitted || n != 0 {
			t.Fatalf("after a clean stop: stored %v with %d branches", s, n)
		}
	})
}
