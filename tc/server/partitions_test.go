package server

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
)

// startNode serves a node of a cluster of active nodes: no store of its
// own, partitions come with Host.
func startNode(t *testing.T, node string, locks store.SharedLocks) *running {
	t.Helper()
	return startWith(t, Config{Core: tc.Config{Node: node}, Locks: locks})
}

// hostRun is one Host call running in the background.
type hostRun struct {
	cancel context.CancelFunc
	done   chan error
}

// hostOn hosts partition on r from st until the test ends or end.
func hostOn(t *testing.T, r *running, partition string, st store.Store) *hostRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &hostRun{cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- r.srv.Host(ctx, partition, st) }()
	t.Cleanup(func() { cancel(); h.wait(t) })
	waitFor(t, "partition "+partition+" hosted", func() bool { return slices.Contains(r.srv.Hosting(), partition) })
	return h
}

// end stops hosting and returns what Host returned.
func (h *hostRun) end(t *testing.T) error {
	t.Helper()
	h.cancel()
	return h.wait(t)
}

func (h *hostRun) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.done:
		h.done <- err // for a later wait
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Host did not return")
		return nil
	}
}

// waitFor waits until cond holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// inPartition runs f against partition name hosted from st by a node of
// that name, then hands the partition back (st closed, then reopened for
// the next host, as a restarted process reopens its store).
func inPartition(t *testing.T, name string, st *memstore.Store, f func(conn *client.Conn)) {
	t.Helper()
	r := startNode(t, name, nil)
	h := hostOn(t, r, name, st)
	conn := dial(t, r.addr)
	f(conn)
	conn.Close()
	if err := h.end(t); err != nil {
		t.Fatal(err)
	}
	st.Reopen()
}

func notServed(err error) bool { return errors.Is(err, txc.ErrNotServedHere) }

// brief bounds a request that no node will serve: the client offers it
// again with backoff until its context ends.
func brief(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	t.Cleanup(cancel)
	return ctx
}

func TestHostServesSeveralPartitions(t *testing.T) {
	ctx := context.Background()
	st2 := memstore.New()
	var x2, y2 txc.XID
	inPartition(t, "n2", st2, func(conn *client.Conn) {
		var err error
		if x2, err = conn.Begin(ctx, "left by n2", 0); err != nil {
			t.Fatal(err)
		}
		if y2, err = conn.Begin(ctx, "left open by n2", 0); err != nil {
			t.Fatal(err)
		}
	})

	r := startNode(t, "n1", nil)
	conn := dial(t, r.addr) // the port serves before any partition is hosted
	if _, err := conn.Begin(brief(t), "too early", 0); !notServed(err) {
		t.Fatalf("begin with the own partition not hosted: %v", err)
	}
	st1 := memstore.New()
	hostOn(t, r, "n1", st1)
	hostOn(t, r, "n2", st2)

	x1, err := conn.Begin(ctx, "own", 0)
	if err != nil || !strings.HasPrefix(string(x1), "n1:") {
		t.Fatalf("begin = %q %v, want an XID of n1", x1, err)
	}
	if s, err := conn.Status(ctx, x2); err != nil || s != txc.GlobalBegin {
		t.Fatalf("status of n2's transaction = %v %v", s, err)
	}
	if s, err := conn.Commit(ctx, x2); err != nil || !s.IsCommit() {
		t.Fatalf("commit of n2's transaction = %v %v", s, err)
	}

	before1, before2 := storedCount(t, st1), storedCount(t, st2)
	x3 := txc.XID("n3:7")
	if _, err := conn.Commit(brief(t), x3); !notServed(err) || !strings.Contains(err.Error(), `"n3"`) || !strings.Contains(err.Error(), `"n1"`) {
		t.Fatalf("commit on an unhosted partition: %v", err)
	}
	if _, err := conn.Register(brief(t), client.Branch{XID: x3, Type: txc.BranchGeneric, ResourceID: "db"}); !notServed(err) {
		t.Fatalf("register on an unhosted partition: %v", err)
	}
	if _, err := conn.Status(brief(t), x3); !notServed(err) {
		t.Fatalf("status on an unhosted partition: %v", err)
	}
	if storedCount(t, st1) != before1 || storedCount(t, st2) != before2 {
		t.Fatal("a refused request changed a store")
	}

	// The admin views cover both partitions; a transaction of neither is
	// another node's business.
	h := r.srv.AdminHandler(nil)
	code, body, hdr := adminCall(h, "GET", "/v1/transactions", "")
	if code != http.StatusOK || hdr.Get("X-Total-Count") != "2" || !strings.Contains(body, string(x1)) || !strings.Contains(body, string(y2)) {
		t.Fatalf("transactions = %d %s %s", code, hdr.Get("X-Total-Count"), body)
	}
	if code, body, _ := adminCall(h, "GET", "/v1/transactions/"+string(x3), ""); code != http.StatusMisdirectedRequest {
		t.Fatalf("unhosted transaction = %d %s", code, body)
	}
}

// storedCount is how many transactions st holds.
func storedCount(t *testing.T, st *memstore.Store) int {
	t.Helper()
	state, err := st.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(state.Globals)
}

// A partition hosted after an RM connected drives its phase 2 to it.
func TestHostLaterReachesConnectedRMs(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	var xid txc.XID
	inPartition(t, "b", st, func(conn *client.Conn) {
		var err error
		if xid, err = conn.Begin(ctx, "decided", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Register(ctx, client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: "db"}); err != nil {
			t.Fatal(err)
		}
		// No RM serves db here: the commit is decided, its phase 2 waits.
		if s, err := conn.Commit(ctx, xid); err != nil || !s.IsCommit() {
			t.Fatalf("commit = %v %v", s, err)
		}
	})

	r := startNode(t, "a", nil)
	rmConn := dial(t, r.addr)
	rec := newRecorder()
	m := rm.New(rmConn)
	if err := m.AddResource("db", txc.BranchGeneric, rec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the RM's resource announced", func() bool {
		return slices.ContainsFunc(r.srv.hub.hellos(), func(m tc.Msg) bool { return slices.Contains(m.Resources, "db") })
	})
	hostOn(t, r, "b", st)
	if got := rec.wait(t, 1); !strings.HasPrefix(got[0], "commit") {
		t.Fatalf("phase 2 = %v", got)
	}
	waitStatus(t, rmConn, xid, txc.GlobalCommitted)
}

// A partition handed back (Host's ctx done) is served no more, its store
// is closed, and it can be adopted again.
func TestHostHandsBackAndAdoptsAgain(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	r := startNode(t, "a", nil)
	conn := dial(t, r.addr)
	h := hostOn(t, r, "a", st)
	xid, err := conn.Begin(ctx, "kept", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.srv.Host(ctx, "a", memstore.New()); !errors.Is(err, ErrAlreadyHosted) {
		t.Fatalf("second Host of a partition = %v", err)
	}
	if err := h.end(t); err != nil {
		t.Fatalf("Host returned %v after its ctx ended", err)
	}
	if _, err := st.Load(ctx); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("store after hand-back: %v, want it closed", err)
	}
	if _, err := conn.Status(brief(t), xid); !notServed(err) {
		t.Fatalf("status after hand-back: %v", err)
	}
	if _, err := conn.Begin(brief(t), "own partition gone", 0); !notServed(err) {
		t.Fatalf("begin after hand-back: %v", err)
	}
	st.Reopen()
	hostOn(t, r, "a", st)
	if s, err := conn.Status(ctx, xid); err != nil || s != txc.GlobalBegin {
		t.Fatalf("status after adopting again = %v %v", s, err)
	}
}

// A store failing under one partition ends that partition's Host only.
func TestHostStoreFailureEndsOnlyThatPartition(t *testing.T) {
	ctx := context.Background()
	st2 := memstore.New()
	var x2 txc.XID
	inPartition(t, "b", st2, func(conn *client.Conn) {
		var err error
		if x2, err = conn.Begin(ctx, "doomed", 0); err != nil {
			t.Fatal(err)
		}
	})
	r := startNode(t, "a", nil)
	hostOn(t, r, "a", memstore.New())
	hb := hostOn(t, r, "b", st2)
	conn := dial(t, r.addr)

	st2.Fail(errors.New("disk on fire"), memstore.KeepNone)
	if _, err := conn.Commit(ctx, x2); !errors.Is(err, txc.ErrUnavailable) {
		t.Fatalf("commit whose write failed: %v, want unavailable", err)
	}
	if err := hb.wait(t); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Host returned %v", err)
	}
	if _, err := conn.Status(brief(t), x2); !notServed(err) {
		t.Fatalf("status on the failed partition: %v", err)
	}
	if _, err := conn.Begin(ctx, "still fine", 0); err != nil {
		t.Fatalf("the other partition stopped too: %v", err)
	}
}

// A single node's own partition serves every XID in its store, whichever
// node began it: a node renamed (or started on another node's store)
// answers for the transactions begun under the former name, as before
// partitions.
func TestSingleNodeServesEveryXIDOfItsStore(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	var xid txc.XID
	inPartition(t, "old-name", st, func(conn *client.Conn) {
		var err error
		if xid, err = conn.Begin(ctx, "begun before the rename", 0); err != nil {
			t.Fatal(err)
		}
	})
	r := start(t, st, tc.Config{Node: "new-name"})
	conn := dial(t, r.addr)
	if s, err := conn.Commit(ctx, xid); err != nil || !s.IsCommit() {
		t.Fatalf("commit of the transaction begun under the old name = %v %v", s, err)
	}
	if _, err := conn.Status(ctx, "elsewhere:5"); !errors.Is(err, txc.ErrUnknownTransaction) {
		t.Fatalf("status of a transaction never stored = %v", err)
	}
}
