package tm

import (
	"context"
	"testing"
	"time"
)

// TestLockWaitFromContext: the ctx fn gets carries the lock wait of the
// transaction WithGlobalTx began; a joined transaction keeps the outer
// one's, a new one has its own, and a ctx given another XID (or none)
// carries none.
func TestLockWaitFromContext(t *testing.T) {
	m, _, _ := newTestManager()
	type seen struct {
		d  time.Duration
		ok bool
	}
	look := func(ctx context.Context) seen {
		d, ok := LockWaitFromContext(ctx)
		return seen{d, ok}
	}
	var outer, joined, renewed, other, hidden, unset seen
	err := m.WithGlobalTx(t.Context(), Config{LockWait: 300 * time.Millisecond}, func(ctx context.Context) error {
		outer = look(ctx)
		other = look(ContextWithXID(ctx, "elsewhere-1:1"))
		hidden = look(ContextWithoutXID(ctx))
		if err := m.WithGlobalTx(ctx, Config{LockWait: time.Second}, func(ctx context.Context) error {
			joined = look(ctx)
			return nil
		}); err != nil {
			return err
		}
		if err := m.WithGlobalTx(ctx, Config{Propagation: RequiresNew}, func(ctx context.Context) error {
			unset = look(ctx)
			return nil
		}); err != nil {
			return err
		}
		return m.WithGlobalTx(ctx, Config{Propagation: RequiresNew, LockWait: time.Second}, func(ctx context.Context) error {
			renewed = look(ctx)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want seen
	}{
		{"outer", outer, seen{300 * time.Millisecond, true}},
		{"joined (Required)", joined, seen{300 * time.Millisecond, true}},
		{"RequiresNew with its own", renewed, seen{time.Second, true}},
		{"RequiresNew without", unset, seen{}},
		{"another XID", other, seen{}},
		{"no XID", hidden, seen{}},
		{"outside", look(t.Context()), seen{}},
	} {
		if c.got != c.want {
			t.Errorf("%s: LockWaitFromContext = %v, want %v", c.name, c.got, c.want)
		}
	}
}
