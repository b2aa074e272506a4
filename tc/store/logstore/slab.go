package logstore

import (
	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

// copySlab holds the copies of one batch's lock keys, rows and application
// data: three allocations per batch instead of up to three per branch. Each
// copy is a full slice expression, so appending to one cannot reach the
// next; a slab lives while any branch of its batch does.
type copySlab struct {
	keys []txc.LockKey
	rows []string
	data []byte
}

func newCopySlab(brs []store.Branch) copySlab {
	var nk, nr, nd int
	for i := range brs {
		nk += len(brs[i].LockKeys)
		for _, k := range brs[i].LockKeys {
			nr += len(k.Rows)
		}
		nd += len(brs[i].ApplicationData)
	}
	var s copySlab
	if nk > 0 {
		s.keys = make([]txc.LockKey, nk)
	}
	if nr > 0 {
		s.rows = make([]string, nr)
	}
	if nd > 0 {
		s.data = make([]byte, nd)
	}
	return s
}

// lockKeys copies in, keeping nil apart from empty (the codec does too).
func (s *copySlab) lockKeys(in []txc.LockKey) []txc.LockKey {
	out := carve(&s.keys, in)
	for i, k := range out {
		out[i].Rows = carve(&s.rows, k.Rows)
	}
	return out
}

// bytes copies in as slices.Clone does (nil stays nil, empty stays empty).
func (s *copySlab) bytes(in []byte) []byte { return carve(&s.data, in) }

// carve copies in into the front of *slab, which it shortens; nil stays
// nil and empty stays empty.
func carve[T any](slab *[]T, in []T) []T {
	if in == nil {
		return nil
	}
	if len(in) == 0 {
		return []T{}
	}
	out := (*slab)[:len(in):len(in)]
	*slab = (*slab)[len(in):]
	copy(out, in)
	return out
}
