package tcc_test

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/client/clienttest"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/rm/tcc"
	"github.com/txcio/txc/tm"
)

type args struct {
	Account string
	Cents   int64
	Big     uint64
	At      time.Time
	Raw     []byte
	Tags    map[string]int
}

// fake is a resource on a fake coordinator that records registrations.
type fake struct {
	srv *clienttest.Server
	res *tcc.Resource
	mu  sync.Mutex
	reg []*txcv1.RegisterRequest
}

func newFake(t *testing.T, opts ...tcc.Option) *fake {
	t.Helper()
	f := &fake{srv: clienttest.NewServer(t)}
	f.srv.SetHook(func(m *txcv1.ClientMessage) (*txcv1.Reply, bool) {
		if r := m.GetRegister(); r != nil {
			f.mu.Lock()
			f.reg = append(f.reg, r)
			f.mu.Unlock()
		}
		return nil, false
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, f.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if f.res, err = tcc.NewResource(rm.New(conn), "tcc:test", opts...); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.WaitResources(ctx, "tcc:test"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fake) last(t *testing.T) *txcv1.RegisterRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reg) == 0 {
		t.Fatal("nothing registered")
	}
	return f.reg[len(f.reg)-1]
}

// deliver sends a phase-2 command for the branch registered last with id
// and returns the status the RM answered.
func (f *fake) deliver(t *testing.T, commit bool, id uint64, data []byte) (txc.BranchStatus, string) {
	t.Helper()
	action := txcv1.BranchAction_BRANCH_ACTION_ROLLBACK
	if commit {
		action = txcv1.BranchAction_BRANCH_ACTION_COMMIT
	}
	cid, err := f.srv.SendCommand(&txcv1.BranchCommand{Action: action, Xid: "fake-1:1", BranchId: id,
		BranchType: txcv1.BranchType(txc.BranchTCC), ResourceId: "tcc:test", ApplicationData: data})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-f.srv.Results():
		if r.ID != cid {
			t.Fatalf("result for %d, want %d", r.ID, cid)
		}
		return txc.BranchStatus(r.Result.GetStatus()), r.Result.GetMessage()
	case <-time.After(10 * time.Second):
		t.Fatal("no branch result")
		return 0, ""
	}
}

func inTx(t *testing.T) context.Context { return tm.ContextWithXID(t.Context(), "fake-1:1") }

func TestTryOutsideGlobalTransaction(t *testing.T) {
	f := newFake(t)
	ran := false
	p, err := tcc.Declare(f.res, "pay", tcc.Funcs[args]{Try: func(context.Context, args) error { ran = true; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Try(t.Context(), args{})
	if !errors.Is(err, txc.ErrNotInTransaction) || ran || !strings.HasPrefix(err.Error(), "tcc: ") {
		t.Fatalf("Try outside a transaction: %v (ran %v)", err, ran)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reg) != 0 {
		t.Fatal("registered a branch outside a transaction")
	}
}

func TestArgumentsReachConfirmAndCancel(t *testing.T) {
	f := newFake(t)
	want := args{Account: "ünïcode,\\\"", Cents: math.MinInt64, Big: math.MaxUint64,
		At: time.Date(2026, 2, 3, 4, 5, 6, 789012345, time.FixedZone("X", 3600)), Raw: []byte{0, 1, 255}, Tags: map[string]int{"a": 1}}
	got := make(chan args, 2)
	var tryBranch tcc.Branch
	check := func(ctx context.Context, a args) error {
		b, ok := tcc.BranchFromContext(ctx)
		if !ok || b.XID != "fake-1:1" || b.ID != tryBranch.ID || b.Participant != "pay" || b.ResourceID != "tcc:test" {
			t.Errorf("phase-2 branch %+v %v, want %+v", b, ok, tryBranch)
		}
		if _, ok := tm.XIDFromContext(ctx); ok {
			t.Error("phase-2 ctx carries an XID for tm")
		}
		got <- a
		return nil
	}
	p, err := tcc.Declare(f.res, "pay", tcc.Funcs[args]{
		Try: func(ctx context.Context, a args) error {
			tryBranch, _ = tcc.BranchFromContext(ctx)
			return nil
		},
		Confirm: check, Cancel: check})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Try(inTx(t), want); err != nil {
		t.Fatal(err)
	}
	reg := f.last(t)
	if reg.GetXid() != "fake-1:1" || txc.BranchType(reg.GetBranchType()) != txc.BranchTCC || reg.GetResourceId() != "tcc:test" {
		t.Fatalf("registered %v", reg)
	}
	for _, commit := range []bool{true, false} {
		if st, msg := f.deliver(t, commit, uint64(tryBranch.ID), reg.GetApplicationData()); st != txc.BranchCommitted && st != txc.BranchRollbacked {
			t.Fatalf("phase 2: %v %s", st, msg)
		}
		a := <-got
		if !a.At.Equal(want.At) {
			t.Fatalf("time %v, want %v", a.At, want.At)
		}
		a.At = want.At
		if !reflect.DeepEqual(a, want) {
			t.Fatalf("phase 2 got %+v\nwant %+v", a, want)
		}
	}
}

func TestPhase2Failures(t *testing.T) {
	f := newFake(t)
	var confirmErr error
	p, err := tcc.Declare(f.res, "pay", tcc.Funcs[args]{
		Try:     func(context.Context, args) error { return nil },
		Confirm: func(context.Context, args) error { return confirmErr }})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Try(inTx(t), args{Cents: 1}); err != nil {
		t.Fatal(err)
	}
	good := f.last(t).GetApplicationData()
	for _, tc := range []struct {
		name   string
		data   string
		err    error
		commit bool
		want   txc.BranchStatus
	}{
		{"ok", string(good), nil, true, txc.BranchCommitted},
		{"nil cancel", string(good), nil, false, txc.BranchRollbacked},
		{"retryable", string(good), errors.New("payment API down"), true, txc.BranchCommitFailedRetryable},
		{"permanent", string(good), txc.Permanent(errors.New("card revoked")), true, txc.BranchCommitFailedUnretryable},
		{"undeclared participant", `{"v":1,"p":"refund","a":{}}`, nil, true, txc.BranchCommitFailedRetryable},
		{"newer version", `{"v":9,"p":"pay","a":{}}`, nil, false, txc.BranchRollbackFailedRetryable},
		{"garbage", `not json`, nil, true, txc.BranchCommitFailedUnretryable},
		{"arguments of another type", `{"v":1,"p":"pay","a":{"Cents":"ten"}}`, nil, true, txc.BranchCommitFailedUnretryable},
		{"version 1 (JSON) still read", `{"v":1,"p":"pay","a":{"Cents":10}}`, nil, true, txc.BranchCommitted},
		{"binary, undeclared participant", "\x02\x06refund{}", nil, true, txc.BranchCommitFailedRetryable},
		{"binary, newer version", "\x03\x03pay{}", nil, false, txc.BranchRollbackFailedRetryable},
		{"binary, participant length past the end", "\x02\x09pay{}", nil, true, txc.BranchCommitFailedUnretryable},
		{"binary, no participant", "\x02\x00{}", nil, true, txc.BranchCommitFailedUnretryable},
		{"binary, arguments not JSON", "\x02\x03pay{", nil, true, txc.BranchCommitFailedUnretryable},
		{"empty", "", nil, true, txc.BranchCommitFailedUnretryable},
		{"unknown format byte", "\x00", nil, true, txc.BranchCommitFailedUnretryable},
	} {
		confirmErr = tc.err
		if st, msg := f.deliver(t, tc.commit, 9, []byte(tc.data)); st != tc.want {
			t.Errorf("%s: %v %q, want %v", tc.name, st, msg, tc.want)
		}
	}
}

func TestTryErrorsAndDeclarations(t *testing.T) {
	f := newFake(t)
	boom := errors.New("insufficient funds")
	p, err := tcc.Declare(f.res, "pay", tcc.Funcs[int]{Try: func(context.Context, int) error { return boom }})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Try(inTx(t), 5); err != boom {
		t.Fatalf("Try's error changed: %v", err)
	}
	if _, err := tcc.Declare(f.res, "pay", tcc.Funcs[int]{Try: func(context.Context, int) error { return nil }}); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("duplicate participant: %v", err)
	}
	if _, err := tcc.Declare(f.res, "nothing", tcc.Funcs[int]{}); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("participant without Try: %v", err)
	}
	if _, err := tcc.Declare(f.res, "", tcc.Funcs[int]{Try: func(context.Context, int) error { return nil }}); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("empty name: %v", err)
	}
	big, _ := tcc.Declare(f.res, "big", tcc.Funcs[string]{Try: func(context.Context, string) error { return nil }})
	if err := big.Try(inTx(t), strings.Repeat("x", txc.MaxApplicationLen)); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("oversized arguments: %v", err)
	}
	nan, _ := tcc.Declare(f.res, "nan", tcc.Funcs[float64]{Try: func(context.Context, float64) error { return nil }})
	if err := nan.Try(inTx(t), math.NaN()); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("unencodable arguments: %v", err)
	}
	if _, err := tcc.NewResource(nil, "x"); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("nil manager: %v", err)
	}
}

// TestFencedParticipantRedeliveries runs a fenced participant through the
// RM stack: repeated commands run the business function once, and a Cancel
// delivered before Try makes the Try fail without running.
func TestFencedParticipantRedeliveries(t *testing.T) {
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			registered := make(chan tcc.Branch, 1)
			hold := make(chan struct{})
			var n atomic.Int32
			f := newFake(t, tcc.WithRegisteredHook(func(ctx context.Context, b tcc.Branch) {
				registered <- b
				if n.Add(1) > 1 {
					<-hold // the second Try stalls after registering
				}
			}))
			fence := newFence(t, d)
			biz := bizTable(t, d)
			rec := func(phase string) func(ctx context.Context, tx *sql.Tx, n int64) error {
				return func(ctx context.Context, tx *sql.Tx, n int64) error {
					b, _ := tcc.BranchFromContext(ctx)
					return record(ctx, d.dialect, tx, biz, b, phase, n)
				}
			}
			p, err := tcc.DeclareFenced(f.res, "reserve", fence, tcc.FencedFuncs[int64]{Try: rec("try"), Confirm: rec("confirm"), Cancel: rec("cancel")})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Try(inTx(t), 3); err != nil {
				t.Fatal(err)
			}
			b := <-registered
			data := f.last(t).GetApplicationData()
			for range 3 {
				if st, msg := f.deliver(t, true, uint64(b.ID), data); st != txc.BranchCommitted {
					t.Fatalf("confirm: %v %s", st, msg)
				}
			}
			if n := calls(t, d, biz, b, "confirm"); n != 1 {
				t.Fatalf("confirm ran %d times for 3 deliveries", n)
			}
			// A Cancel overtakes a stalled Try.
			tryErr := make(chan error, 1)
			go func() { tryErr <- p.Try(inTx(t), 4) }()
			b2 := <-registered
			data2 := f.last(t).GetApplicationData()
			for range 2 {
				if st, msg := f.deliver(t, false, uint64(b2.ID), data2); st != txc.BranchRollbacked {
					t.Fatalf("cancel before try: %v %s", st, msg)
				}
			}
			close(hold)
			if err := <-tryErr; !errors.Is(err, tcc.ErrTryAfterCancel) {
				t.Fatalf("try after cancel: %v", err)
			}
			if n := calls(t, d, biz, b2, "try") + calls(t, d, biz, b2, "cancel"); n != 0 {
				t.Fatalf("%d business calls for a branch cancelled before its try", n)
			}
		})
	}
}
