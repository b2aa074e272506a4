package sqlstore

import (
	"errors"
	"strings"
	"testing"
)

func TestPartitionPrefix(t *testing.T) {
	seen := map[string]string{}
	for _, n := range []string{"tc1", "TC1", "tc-1", "tc.1", "tc_1", strings.Repeat("n", 63)} {
		p, err := PartitionPrefix(DefaultTablePrefix, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckTablePrefix(p); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if !strings.HasPrefix(p, DefaultTablePrefix) {
			t.Fatalf("%s: %q lacks the base", n, p)
		}
		if o, dup := seen[p]; dup {
			t.Fatalf("%s and %s share %q", n, o, p)
		}
		seen[p] = n
	}
	if p, _ := PartitionPrefix("txc_tc_", "tc1"); !strings.HasPrefix(p, "txc_tc_tc1_") {
		t.Fatalf("readable part missing: %q", p)
	}
	if _, err := PartitionPrefix(strings.Repeat("x", 33), "tc1"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("long base: %v", err)
	}
	if _, err := PartitionPrefix("Bad", "tc1"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad base: %v", err)
	}
}
