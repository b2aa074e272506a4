package tm

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/txcio/txc"
)

func TestPropagation(t *testing.T) {
	const outer = txc.XID("tc0:7")
	const fresh = txc.XID("tc1:1") // first XID the fake hands out
	tests := []struct {
		mode    Propagation
		outer   bool
		runs    bool
		fnXID   txc.XID // "" = fn's ctx carries no XID
		ops     []string
		errIs   []error
		errXID  txc.XID
		errText string
	}{
		{mode: Required, outer: false, runs: true, fnXID: fresh, ops: []string{"begin", "commit"}},
		{mode: Required, outer: true, runs: true, fnXID: outer, ops: nil},
		{mode: RequiresNew, outer: false, runs: true, fnXID: fresh, ops: []string{"begin", "commit"}},
		{mode: RequiresNew, outer: true, runs: true, fnXID: fresh, ops: []string{"begin", "commit"}},
		{mode: NotSupported, outer: false, runs: true, fnXID: "", ops: nil},
		{mode: NotSupported, outer: true, runs: true, fnXID: "", ops: nil},
		{mode: Supports, outer: false, runs: true, fnXID: "", ops: nil},
		{mode: Supports, outer: true, runs: true, fnXID: outer, ops: nil},
		{mode: Never, outer: false, runs: true, fnXID: "", ops: nil},
		{mode: Never, outer: true, runs: false, ops: nil,
			errIs: []error{ErrInTransaction, txc.ErrInvalidArgument}, errXID: outer, errText: "tm: propagation Never"},
		{mode: Mandatory, outer: false, runs: false, ops: nil,
			errIs: []error{txc.ErrNotInTransaction}, errText: "tm: propagation Mandatory"},
		{mode: Mandatory, outer: true, runs: true, fnXID: outer, ops: nil},
	}
	for _, tt := range tests {
		name := tt.mode.String()
		if tt.outer {
			name += "/outer"
		} else {
			name += "/none"
		}
		t.Run(name, func(t *testing.T) {
			m, f, _ := newTestManager()
			ctx := t.Context()
			if tt.outer {
				ctx = ContextWithXID(ctx, outer)
			}
			ran := false
			var got txc.XID
			err := m.WithGlobalTx(ctx, Config{Propagation: tt.mode}, func(ctx context.Context) error {
				ran = true
				got, _ = XIDFromContext(ctx)
				return nil
			})
			if ran != tt.runs {
				t.Fatalf("fn ran = %v, want %v", ran, tt.runs)
			}
			if got != tt.fnXID {
				t.Errorf("fn's XID = %q, want %q", got, tt.fnXID)
			}
			if ops := f.ops(); !slices.Equal(ops, tt.ops) {
				t.Errorf("coordinator calls = %v, want %v", ops, tt.ops)
			}
			if len(tt.errIs) == 0 {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("err = nil, want an error")
			}
			for _, target := range tt.errIs {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
			var te *txc.Error
			if !errors.As(err, &te) || te.XID != tt.errXID {
				t.Errorf("errors.As *txc.Error: %+v, want XID %q", te, tt.errXID)
			}
			if got := err.Error(); len(got) < len(tt.errText) || got[:len(tt.errText)] != tt.errText {
				t.Errorf("err = %q, want prefix %q", got, tt.errText)
			}
			// The caller's ctx is untouched: the outer transaction resumes.
			if x, _ := XIDFromContext(ctx); tt.outer && x != outer {
				t.Errorf("caller's ctx XID = %q after return, want %q", x, outer)
			}
		})
	}
}

// A joined fn's error is returned as is, and nothing is rolled back: the
// WithGlobalTx that began the transaction decides.
func TestJoinedErrorNotRolledBack(t *testing.T) {
	for _, mode := range []Propagation{Required, Supports, Mandatory} {
		t.Run(mode.String(), func(t *testing.T) {
			m, f, _ := newTestManager()
			boom := errors.New("boom")
			ctx := ContextWithXID(t.Context(), "tc0:1")
			err := m.WithGlobalTx(ctx, Config{Propagation: mode}, func(context.Context) error { return boom })
			if err != boom {
				t.Fatalf("err = %v, want fn's error unchanged", err)
			}
			if ops := f.ops(); len(ops) != 0 {
				t.Fatalf("coordinator calls = %v, want none", ops)
			}
		})
	}
}

// Nested: an inner Required joins, an inner RequiresNew commits on its own,
// and the outer rolls back when the inner joined fn fails.
func TestNested(t *testing.T) {
	m, f, _ := newTestManager()
	boom := errors.New("boom")
	err := m.WithGlobalTx(t.Context(), Config{Name: "outer"}, func(ctx context.Context) error {
		if err := m.WithGlobalTx(ctx, Config{Name: "audit", Propagation: RequiresNew}, func(ctx context.Context) error {
			return nil
		}); err != nil {
			return err
		}
		return m.WithGlobalTx(ctx, Config{Name: "inner"}, func(ctx context.Context) error { return boom })
	})
	if err != boom {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	calls := f.callsCopy()
	want := []call{
		{op: "begin", name: "outer"},
		{op: "begin", name: "audit"},
		{op: "commit", xid: "tc1:2"},
		{op: "rollback", xid: "tc1:1"},
	}
	if len(calls) != len(want) {
		t.Fatalf("calls = %+v, want %+v", calls, want)
	}
	for i := range want {
		if calls[i].op != want[i].op || calls[i].name != want[i].name || calls[i].xid != want[i].xid {
			t.Errorf("call %d = %+v, want %+v", i, calls[i], want[i])
		}
	}
}

func TestPropagationString(t *testing.T) {
	if got := Mandatory.String(); got != "Mandatory" {
		t.Errorf("Mandatory.String() = %q", got)
	}
	if got := Propagation(42).String(); got != "Propagation(42)" {
		t.Errorf("Propagation(42).String() = %q", got)
	}
}
