package tm

import (
	"context"
	"testing"

	"github.com/txcio/txc"
)

func TestXIDInContext(t *testing.T) {
	ctx := t.Context()
	if _, ok := XIDFromContext(ctx); ok {
		t.Fatal("empty ctx carries an XID")
	}
	if got := ContextWithoutXID(ctx); got != ctx {
		t.Error("ContextWithoutXID of a ctx without XID should return it unchanged")
	}
	in := ContextWithXID(ctx, "tc1:5")
	if x, ok := XIDFromContext(in); !ok || x != "tc1:5" {
		t.Fatalf("XIDFromContext = %q, %v", x, ok)
	}
	out := ContextWithoutXID(in)
	if x, ok := XIDFromContext(out); ok {
		t.Fatalf("after ContextWithoutXID: %q", x)
	}
	if x, ok := XIDFromContext(ContextWithXID(in, "")); ok {
		t.Fatalf("ContextWithXID(ctx, \"\") still carries %q", x)
	}
	// Other values survive.
	type k struct{}
	v := ContextWithoutXID(context.WithValue(in, k{}, 1))
	if v.Value(k{}) != 1 {
		t.Error("ContextWithoutXID lost another value")
	}
}

func TestWithGlobalLock(t *testing.T) {
	ctx := ContextWithXID(t.Context(), txc.XID("tc1:1"))
	if InGlobalLock(ctx) {
		t.Fatal("unmarked ctx reports InGlobalLock")
	}
	ran := false
	err := WithGlobalLock(ctx, func(ctx context.Context) error {
		ran = true
		if !InGlobalLock(ctx) {
			t.Error("fn's ctx is not marked")
		}
		if x, _ := XIDFromContext(ctx); x != "tc1:1" {
			t.Error("WithGlobalLock dropped the XID")
		}
		return context.Canceled
	})
	if !ran || err != context.Canceled {
		t.Fatalf("ran = %v err = %v", ran, err)
	}
	if InGlobalLock(ctx) {
		t.Fatal("caller's ctx got marked")
	}
}
