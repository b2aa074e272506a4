package txc

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"unicode/utf8"
)

func TestRowKeyIsInjective(t *testing.T) {
	tuples := [][]string{
		{"a,b", "c"}, {"a", "b,c"}, {"a\\", "b"}, {"a", "\\b"}, {"a\\,b"}, {"a,", ""}, {"a", ","},
		{""}, {"", ""}, {","}, {"\\"}, {"\\\\"}, {"x"},
		{"\xff"}, {"\\xff"}, {"\\x", "ff"}, {"\x00\x80é\xc3"}, {"😀", "\xf0\x9f"},
	}
	seen := map[string][]string{}
	for _, tu := range tuples {
		k := RowKey(tu...)
		if prev, ok := seen[k]; ok {
			t.Fatalf("%q and %q both encode to %q", prev, tu, k)
		}
		seen[k] = tu
		if back := SplitRowKey(k); !slices.Equal(back, tu) {
			t.Fatalf("SplitRowKey(RowKey(%q)) = %q", tu, back)
		}
	}
}

func FuzzRowKey(f *testing.F) {
	f.Add("a,b", "c\\")
	f.Fuzz(func(t *testing.T, a, b string) {
		k := RowKey(a, b)
		if back := SplitRowKey(k); !slices.Equal(back, []string{a, b}) {
			t.Fatalf("round trip of %q,%q gave %q", a, b, back)
		}
		if !utf8.ValidString(k) {
			t.Fatalf("RowKey(%q, %q) = %q is not valid UTF-8", a, b, k)
		}
		if RowKey(a+","+b) == k {
			t.Fatalf("(%q,%q) collides with one value", a, b)
		}
	})
}

func TestXIDParse(t *testing.T) {
	x := NewXID("tc-1.a_b", 42)
	node, seq, err := x.Parse()
	if err != nil || node != "tc-1.a_b" || seq != 42 {
		t.Fatalf("Parse(%s) = %q %d %v", x, node, seq, err)
	}
	long := fmt.Sprintf("%0130d", 1)
	for _, bad := range []XID{"", "n", "n:", ":1", "n:0", "n:-1", "n:x", "a b:1", "n:18446744073709551616", XID("n:" + long)} {
		if _, _, err := bad.Parse(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Parse(%q) = %v, want InvalidArgument", bad, err)
		}
	}
}

func TestStatusTable(t *testing.T) {
	for s := GlobalStatus(0); s < globalStatusCount; s++ {
		if s.IsFinal() && len(globalNext[s]) != 0 {
			t.Errorf("final status %v has successors", s)
		}
		if s.IsCommit() && s.IsRollback() {
			t.Errorf("%v is on both sides", s)
		}
		for _, n := range globalNext[s] {
			if s != GlobalBegin && s.IsCommit() != n.IsCommit() {
				t.Errorf("%v -> %v crosses from one outcome to the other", s, n)
			}
		}
		if s.Valid() && s != GlobalBegin && !s.IsCommit() && !s.IsRollback() {
			t.Errorf("%v is on neither side", s)
		}
	}
	if GlobalCommitted.CanBecome(GlobalRollbacking) || GlobalBegin.CanBecome(GlobalCommitted) {
		t.Fatal("transition table allows a shortcut")
	}
	if GlobalStatus(200).String() != "GlobalStatus(200)" || BranchStatus(200).String() != "BranchStatus(200)" {
		t.Fatal("String of an unknown status")
	}
}

func TestErrorMatching(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &Error{Code: CodeLockConflict, Message: "held", Holder: "n:1"})
	if !errors.Is(err, ErrLockConflict) || errors.Is(err, ErrTimedOut) {
		t.Fatal("errors.Is by code")
	}
	var e *Error
	if !errors.As(err, &e) || e.Holder != "n:1" {
		t.Fatal("errors.As")
	}
	if CodeOf(nil) != CodeOK || CodeOf(errors.New("x")) != CodeInternal || CodeOf(err) != CodeLockConflict {
		t.Fatal("CodeOf")
	}
	p := Permanent(fmt.Errorf("bad: %w", ErrInvalidArgument))
	if !IsPermanent(p) || !errors.Is(p, ErrInvalidArgument) || IsPermanent(errors.New("x")) || Permanent(nil) != nil {
		t.Fatal("Permanent")
	}
	if _, err := ParseBranchType("tcc"); err != nil {
		t.Fatal(err)
	}
	if bt, err := ParseBranchType("xa"); err != nil || bt != BranchXA || !bt.Valid() {
		t.Fatalf("ParseBranchType(xa) = %v, %v", bt, err)
	}
	if _, err := ParseBranchType("bogus"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatal("ParseBranchType accepted bogus")
	}
	if BranchType(6).Valid() {
		t.Fatal("BranchType(6) is valid")
	}
}
