package tm

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/txcio/txc"
)

// pipeFake is a fakeCoordinator that also begins pipelined: the Begin's
// outcome is whatever is sent on outcome, whenever the test sends it.
type pipeFake struct {
	*fakeCoordinator
	outcome chan error
	done    chan struct{}
	err     error
}

func newPipeFake() *pipeFake {
	return &pipeFake{fakeCoordinator: &fakeCoordinator{}, outcome: make(chan error, 1), done: make(chan struct{})}
}

func (p *pipeFake) BeginPipelined(ctx context.Context, name string, timeout time.Duration) (txc.XID, func(context.Context) error, error) {
	p.mu.Lock()
	p.record(ctx, call{op: "begin-pipelined", name: name, timeout: timeout})
	p.seq++
	xid := txc.NewXID("tc1", p.seq)
	p.mu.Unlock()
	go func() {
		p.err = <-p.outcome
		close(p.done)
	}()
	return xid, func(ctx context.Context) error {
		select {
		case <-p.done:
			return p.err
		case <-ctx.Done():
			return txc.Errorf(txc.CodeUnavailable, "fake: gave up")
		}
	}, nil
}

func TestPipelinedBeginRunsFnBeforeTheReply(t *testing.T) {
	p := newPipeFake()
	m := New(p)
	err := m.WithGlobalTx(t.Context(), Config{Name: "p"}, func(ctx context.Context) error {
		// fn runs although the coordinator has not answered the Begin.
		wctx, cancel := context.WithTimeout(ctx, time.Millisecond)
		defer cancel()
		if err := WaitBegun(wctx); !errors.Is(err, txc.ErrUnavailable) {
			t.Errorf("WaitBegun before the reply = %v", err)
		}
		p.outcome <- nil
		return WaitBegun(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	if ops := p.ops(); len(ops) != 2 || ops[0] != "begin-pipelined" || ops[1] != "commit" {
		t.Fatalf("ops = %v", ops)
	}
	// Turned off: the plain Begin.
	m = New(p, WithPipelinedBegin(false))
	if err := m.WithGlobalTx(t.Context(), Config{Name: "p"}, func(ctx context.Context) error { return WaitBegun(ctx) }); err != nil {
		t.Fatal(err)
	}
	if ops := p.ops(); ops[2] != "begin" {
		t.Fatalf("WithPipelinedBegin(false) still pipelines: %v", ops)
	}
}

func TestPipelinedBeginFailureSurfaces(t *testing.T) {
	refused := txc.Errorf(txc.CodeInvalidArgument, "tc: begin: no")
	unknown := txc.Errorf(txc.CodeUnknownTransaction, "tc: unknown transaction")

	// fn succeeds (it touched nothing), commit finds no transaction: the
	// caller learns the Begin failed.
	p := newPipeFake()
	p.commit = []reply{{err: unknown}}
	p.outcome <- refused
	err := New(p).WithGlobalTx(t.Context(), Config{Name: "p"}, func(context.Context) error { return nil })
	if !errors.Is(err, txc.ErrInvalidArgument) || !errors.Is(err, refused) {
		t.Fatalf("commit after a refused begin: %v", err)
	}

	// fn fails because its registrations found no transaction: both errors
	// are returned, and no rollback is sent for a transaction that never
	// began.
	p = newPipeFake()
	p.outcome <- refused
	fnErr := errors.New("register: unknown transaction")
	err = New(p).WithGlobalTx(t.Context(), Config{Name: "p"}, func(context.Context) error { return fnErr })
	if !errors.Is(err, refused) || !errors.Is(err, fnErr) {
		t.Fatalf("fn error after a refused begin: %v", err)
	}
	for _, op := range p.ops() {
		if op == "rollback" {
			t.Fatal("rolled back a transaction that never began")
		}
	}

	// The Begin's reply was lost with the stream (outcome unknown): the
	// rollback is sent, and "unknown transaction" means nothing began.
	p = newPipeFake()
	p.rollback = []reply{{err: unknown}}
	p.outcome <- txc.Errorf(txc.CodeUnavailable, "stream lost")
	err = New(p).WithGlobalTx(t.Context(), Config{Name: "p"}, func(context.Context) error { return fnErr })
	if err != fnErr {
		t.Fatalf("fn error after a lost begin: %v", err)
	}
	if ops := p.ops(); len(ops) != 2 || ops[1] != "rollback" {
		t.Fatalf("ops = %v", ops)
	}
}

func TestPropagationWaitsForPipelinedBegin(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get(Header) }))
	defer srv.Close()
	hc := &http.Client{Transport: RoundTripper(nil)}

	p := newPipeFake()
	gtx, ctx, err := New(p).Begin(t.Context(), Config{Name: "p"})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	sent := make(chan error, 1)
	go func() {
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		sent <- err
	}()
	select {
	case err := <-sent:
		t.Fatalf("the XID left the process before the begin was answered (err %v)", err)
	case <-time.After(30 * time.Millisecond):
	}
	p.outcome <- nil
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if got != string(gtx.XID()) {
		t.Fatalf("header %q, want %q", got, gtx.XID())
	}

	// A failed Begin: the call is not made, and the error says why.
	p = newPipeFake()
	p.outcome <- txc.Errorf(txc.CodeInvalidArgument, "tc: begin: no")
	_, ctx, err = New(p).Begin(t.Context(), Config{Name: "p"})
	if err != nil {
		t.Fatal(err)
	}
	got = ""
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if _, err := hc.Do(req); !errors.Is(err, txc.ErrInvalidArgument) || got != "" {
		t.Fatalf("call after a failed begin: err %v, header seen %q", err, got)
	}
	// gRPC: the same wait (outgoingXID is shared by both interceptors).
	if _, err := outgoingXID(ctx); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("gRPC propagation after a failed begin: %v", err)
	}
	// Another XID put in the ctx by the caller is not held by this Begin.
	if err := WaitBegun(ContextWithXID(ctx, "tc1:99")); err != nil {
		t.Fatal(err)
	}
}
