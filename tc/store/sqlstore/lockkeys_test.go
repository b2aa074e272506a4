package sqlstore

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/txcio/txc"
)

// TestLockKeysRoundTrip: nil and empty stay apart at both levels.
func TestLockKeysRoundTrip(t *testing.T) {
	for _, keys := range [][]txc.LockKey{
		nil, {}, {{Table: "t"}}, {{Table: "t", Rows: []string{}}}, {{Table: "", Rows: []string{""}}},
		{{Table: "orders", Rows: []string{"1", "\x00\xff", ""}}, {Table: "items"}},
	} {
		enc := encodeLockKeys(nil, keys)
		if len(enc) == 0 {
			t.Fatalf("%#v encodes to nothing", keys)
		}
		got, err := decodeLockKeys(enc)
		if err != nil || !reflect.DeepEqual(got, keys) {
			t.Fatalf("%#v round-trips to %#v, %v", keys, got, err)
		}
	}
}

// TestLockKeysMalformed: truncated, extended or random columns are an
// error, never a panic or a wrong value.
func TestLockKeysMalformed(t *testing.T) {
	enc := encodeLockKeys(nil, []txc.LockKey{{Table: "orders", Rows: []string{"1", "2"}}})
	for i := range len(enc) {
		if _, err := decodeLockKeys(enc[:i]); !errors.Is(err, errLockKeys) {
			t.Fatalf("truncated at %d: err = %v", i, err)
		}
	}
	if _, err := decodeLockKeys(append(enc, 0)); !errors.Is(err, errLockKeys) {
		t.Fatalf("trailing byte: err = %v", err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		_, _ = decodeLockKeys(b)
	}
}
