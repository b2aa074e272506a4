package datasource

import "testing"

// TestHintsBounded: a resource keeps at most maxHints hints; past that
// they start over, and a hint still answers until then.
func TestHintsBounded(t *testing.T) {
	x := &Exec{c: &conn{res: &Resource{}}}
	count := func() int {
		n := 0
		x.c.res.hints.Range(func(any, any) bool { n++; return true })
		return n
	}
	for i := range maxHints {
		x.SetHint(i, true)
		x.SetHint(i, true) // the same value again: not counted twice
	}
	if n := count(); n != maxHints {
		t.Fatalf("%d hints kept, want %d", n, maxHints)
	}
	x.SetHint(0, nil) // a deleted key frees its place
	x.SetHint(maxHints, true)
	if n := count(); n != maxHints || x.Hint(0) != nil || x.Hint(maxHints) != true {
		t.Fatalf("after a delete and a store: %d hints, hint 0 %v, new %v", n, x.Hint(0), x.Hint(maxHints))
	}
	x.SetHint(-1, true)
	if n := count(); n != 0 {
		t.Fatalf("%d hints kept past the bound, want them dropped", n)
	}
	x.SetHint(-2, true)
	if x.Hint(-2) != true || count() != 1 {
		t.Fatal("hints not kept again after starting over")
	}
}
