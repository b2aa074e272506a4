package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
	"github.com/txcio/txc/tm"
)

type running struct {
	srv  *Server
	addr string
	done chan error
	stop context.CancelFunc
}

func start(t *testing.T, st store.Store, core tc.Config) *running {
	t.Helper()
	return startWith(t, Config{Core: core, Store: st})
}

// startWith serves cfg (with a test node name, message size and tick
// unless set) on a loopback port until the test ends.
func startWith(t *testing.T, cfg Config) *running {
	t.Helper()
	if cfg.Core.Node == "" {
		cfg.Core.Node = "t1"
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = 1 << 20
	}
	if cfg.TickInterval == 0 {
		cfg.TickInterval = 10 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	r := &running{srv: srv, addr: lis.Addr().String(), done: make(chan error, 1), stop: cancel}
	go func() { r.done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	return r
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func dial(t *testing.T, addr string) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr, client.WithBackoff(10*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// recorder is an RM handler that records what phase 2 did, in order.
type recorder struct {
	mu  sync.Mutex
	log []string
	ch  chan string
}

func newRecorder() *recorder { return &recorder{ch: make(chan string, 1000)} }

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.log = append(r.log, s)
	r.mu.Unlock()
	r.ch <- s
}

func (r *recorder) Commit(_ context.Context, b rm.Branch) error {
	r.add(fmt.Sprintf("commit %d", b.ID))
	return nil
}

func (r *recorder) Rollback(_ context.Context, b rm.Branch) error {
	r.add(fmt.Sprintf("rollback %d", b.ID))
	return nil
}

func (r *recorder) wait(t *testing.T, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		select {
		case s := <-r.ch:
			got = append(got, s)
		case <-time.After(10 * time.Second):
			t.Fatalf("phase 2 incomplete: %v", got)
		}
	}
	return got
}

func TestCommitAndRollbackOverTheWire(t *testing.T) {
	r := start(t, memstore.New(), tc.Config{})
	conn := dial(t, r.addr)
	rec := newRecorder()
	m := rm.New(conn)
	for _, res := range []string{"db1", "db2"} {
		if err := m.AddResource(res, txc.BranchGeneric, rec); err != nil {
			t.Fatal(err)
		}
	}
	mgr := tm.New(conn)
	ctx := context.Background()
	var ids []txc.BranchID
	err := mgr.WithGlobalTx(ctx, tm.Config{Name: "transfer"}, func(ctx context.Context) error {
		xid, _ := tm.XIDFromContext(ctx)
		for _, res := range []string{"db1", "db2"} {
			id, err := m.RegisterBranch(ctx, client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: res,
				LockKeys: []txc.LockKey{{Table: "acct", Rows: []string{"1"}}}})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := rec.wait(t, 2)
	if !(contains(got, fmt.Sprintf("commit %d", ids[0])) && contains(got, fmt.Sprintf("commit %d", ids[1]))) {
		t.Fatalf("phase 2 = %v", got)
	}

	ids = nil
	boom := errors.New("boom")
	err = mgr.WithGlobalTx(ctx, tm.Config{Name: "transfer"}, func(ctx context.Context) error {
		xid, _ := tm.XIDFromContext(ctx)
		for _, res := range []string{"db1", "db2", "db1"} {
			id, err := m.RegisterBranch(ctx, client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: res})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	got = rec.wait(t, 3)
	want := []string{fmt.Sprintf("rollback %d", ids[2]), fmt.Sprintf("rollback %d", ids[1]), fmt.Sprintf("rollback %d", ids[0])}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("rollback order = %v, want %v", got, want)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestTypedErrorsOverTheWire(t *testing.T) {
	r := start(t, memstore.New(), tc.Config{})
	conn := dial(t, r.addr)
	ctx := context.Background()
	if _, err := conn.Commit(ctx, "t1:424242"); !errors.Is(err, txc.ErrUnknownTransaction) {
		t.Fatalf("unknown XID: %v", err)
	}
	if _, err := conn.Status(ctx, "not an xid"); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("malformed XID: %v", err)
	}
	a, _ := conn.Begin(ctx, "a", 0)
	b, _ := conn.Begin(ctx, "b", 0)
	keys := []txc.LockKey{{Table: "t", Rows: []string{"1"}}}
	if _, err := conn.Register(ctx, client.Branch{XID: a, Type: txc.BranchAT, ResourceID: "db", LockKeys: keys}); err != nil {
		t.Fatal(err)
	}
	_, err := conn.Register(ctx, client.Branch{XID: b, Type: txc.BranchAT, ResourceID: "db", LockKeys: keys})
	var te *txc.Error
	if !errors.As(err, &te) || te.Code != txc.CodeLockConflict || te.Holder != a {
		t.Fatalf("conflict = %#v", err)
	}
	locked, holder, err := conn.LockQuery(ctx, b, "db", keys)
	if err != nil || !locked || holder != a {
		t.Fatalf("lock query = %v %v %v", locked, holder, err)
	}
	if _, err := conn.Rollback(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Commit(ctx, a); !errors.Is(err, txc.ErrRolledBack) {
		t.Fatalf("commit after rollback: %v", err)
	}
}

func TestTimeoutOverTheWire(t *testing.T) {
	r := start(t, memstore.New(), tc.Config{})
	conn := dial(t, r.addr)
	rec := newRecorder()
	m := rm.New(conn)
	m.AddResource("db", txc.BranchGeneric, rec)
	ctx := context.Background()
	xid, err := conn.Begin(ctx, "slow", 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.RegisterBranch(ctx, client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: "db"}); err != nil {
		t.Fatal(err)
	}
	if got := rec.wait(t, 1); !strings.HasPrefix(got[0], "rollback") {
		t.Fatalf("phase 2 after timeout = %v", got)
	}
	if _, err := conn.Commit(ctx, xid); !errors.Is(err, txc.ErrTimedOut) {
		t.Fatalf("late commit: %v", err)
	}
}

func TestStoreFailureStopsWithoutReplying(t *testing.T) {
	st := memstore.New()
	r := start(t, st, tc.Config{})
	conn := dial(t, r.addr)
	ctx := context.Background()
	if _, err := conn.Begin(ctx, "ok", 0); err != nil {
		t.Fatal(err)
	}
	st.Fail(errors.New("disk on fire"), memstore.KeepNone)
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if xid, err := conn.Begin(ctx2, "lost", 0); err == nil {
		t.Fatalf("a begin whose write failed was acknowledged: %s", xid)
	}
	select {
	case err := <-r.done:
		if err == nil || !strings.Contains(err.Error(), "disk on fire") {
			t.Fatalf("Serve returned %v", err)
		}
		r.done <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("server kept running after its store failed")
	}
}

func rawStream(t *testing.T, addr string) txcv1.Coordinator_SessionClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	s, err := txcv1.NewCoordinatorClient(cc).Session(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestProtocolAbuse(t *testing.T) {
	r := start(t, memstore.New(), tc.Config{})

	t.Run("first message not hello", func(t *testing.T) {
		s := rawStream(t, r.addr)
		s.Send(&txcv1.ClientFrame{Messages: []*txcv1.ClientMessage{{Id: 1, Body: &txcv1.ClientMessage_Begin{Begin: &txcv1.BeginRequest{Name: "x"}}}}})
		if _, err := s.Recv(); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad version", func(t *testing.T) {
		s := rawStream(t, r.addr)
		s.Send(&txcv1.ClientFrame{Messages: []*txcv1.ClientMessage{{Id: 1, Body: &txcv1.ClientMessage_Hello{Hello: &txcv1.Hello{Version: 99}}}}})
		f, err := s.Recv()
		if err != nil || f.Messages[0].GetReply().GetError().GetCode() != txcv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT {
			t.Fatalf("reply = %v %v", f, err)
		}
	})
	t.Run("empty message", func(t *testing.T) {
		s := rawStream(t, r.addr)
		s.Send(&txcv1.ClientFrame{Messages: []*txcv1.ClientMessage{{Id: 1, Body: &txcv1.ClientMessage_Hello{Hello: &txcv1.Hello{Version: 1}}}, {Id: 2}}})
		seen := map[uint64]*txcv1.Reply{}
		for len(seen) < 2 {
			f, err := s.Recv()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range f.Messages {
				seen[m.Id] = m.GetReply()
			}
		}
		if seen[2].GetError().GetCode() != txcv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT || seen[1].GetError() != nil {
			t.Fatalf("replies = %v", seen)
		}
	})
	t.Run("oversized frame", func(t *testing.T) {
		s := rawStream(t, r.addr)
		big := make([]byte, 2<<20)
		s.Send(&txcv1.ClientFrame{Messages: []*txcv1.ClientMessage{{Id: 1, Body: &txcv1.ClientMessage_Hello{Hello: &txcv1.Hello{Version: 1}}},
			{Id: 2, Body: &txcv1.ClientMessage_Register{Register: &txcv1.RegisterRequest{ApplicationData: big}}}}})
		if _, err := s.Recv(); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("garbage on the port", func(t *testing.T) {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01\x02garbage"))
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 512)
		c.Read(buf)
		c.Close()
	})
	// After all that, the server still serves.
	conn := dial(t, r.addr)
	if _, err := conn.Begin(context.Background(), "still fine", 0); err != nil {
		t.Fatal(err)
	}
}

func TestAdminEndpoints(t *testing.T) {
	r := start(t, memstore.New(), tc.Config{})
	h := r.srv.AdminHandler(nil)
	get := func(method, path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
		return w.Code, w.Body.String()
	}
	if c, _ := get("GET", "/healthz"); c != 200 {
		t.Fatalf("healthz %d", c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !r.srv.Ready() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c, _ := get("GET", "/readyz"); c != 200 {
		t.Fatalf("readyz %d", c)
	}
	conn := dial(t, r.addr)
	rec := newRecorder()
	m := rm.New(conn)
	var fixed atomic.Bool
	m.AddResource("db", txc.BranchGeneric, rm.HandlerFuncs{
		RollbackFunc: func(ctx context.Context, b rm.Branch) error {
			if !fixed.Load() {
				return txc.Permanent(errors.New("row changed behind our back"))
			}
			return rec.Rollback(ctx, b)
		},
	})
	ctx := context.Background()
	xid, _ := conn.Begin(ctx, "doomed", 0)
	m.RegisterBranch(ctx, client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: "db"})
	conn.Rollback(ctx, xid)
	for time.Now().Before(deadline) {
		if s, _ := conn.Status(ctx, xid); s == txc.GlobalRollbackFailed {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	code, body := get("GET", "/v1/transactions?manual=1")
	var views []tc.TxView
	if err := json.Unmarshal([]byte(body), &views); code != 200 || err != nil || len(views) != 1 || views[0].XID != xid || !views[0].Manual {
		t.Fatalf("manual list %d %s", code, body)
	}
	if c, _ := get("GET", "/v1/transactions/"+string(xid)); c != 200 {
		t.Fatalf("get one: %d", c)
	}
	if c, _ := get("GET", "/v1/transactions/garbage"); c != http.StatusBadRequest {
		t.Fatalf("bad xid: %d", c)
	}
	if c, _ := get("GET", "/v1/transactions?limit=x"); c != http.StatusBadRequest {
		t.Fatalf("bad limit: %d", c)
	}
	// The operator fixes the data; the handler now succeeds; retry.
	fixed.Store(true)
	if c, body := get("POST", "/v1/transactions/"+string(xid)+"/retry"); c != http.StatusAccepted {
		t.Fatalf("retry %d %s", c, body)
	}
	rec.wait(t, 1)
	if c, _ := get("POST", "/v1/transactions/"+string(xid)+"/retry"); c != http.StatusNotFound && c != http.StatusConflict {
		t.Fatalf("second retry: %d", c)
	}
	_, body = get("GET", "/v1/stats")
	if !strings.Contains(body, `"active"`) {
		t.Fatalf("stats: %s", body)
	}
}
