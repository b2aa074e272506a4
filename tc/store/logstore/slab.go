package logstore

import (
	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

// copySlab holds the copies of one batch's lock keys, rows and application
// data: three allocations per batch instead of up to three per branch. Each
// copy is a full slice expression, so appending to one cannot reach the
// next; a slab lives while any branch of its batch does. Only small
// branches share it (see small): a larger one gets a slab of its own, so
// that a branch left in the state for long (a long transaction, a phase 2
// retried for hours) keeps alive at most the small copies of its batch.
type copySlab struct {
	keys []txc.LockKey
	rows []string
	data []byte
}

// What one branch may put in its batch's shared slab.
const (
	slabMaxData = 512 // bytes of application data
	slabMaxRows = 16  // rows over all its lock keys
	slabMaxKeys = 16  // lock keys (a key may hold no row)
)

// size returns how many lock keys, rows and bytes of application data br
// refers to.
func size(br *store.Branch) (keys, rows, data int) {
	for _, k := range br.LockKeys {
		rows += len(k.Rows)
	}
	return len(br.LockKeys), rows, len(br.ApplicationData)
}

// small reports whether br's copies go in its batch's shared slab.
func small(br *store.Branch) bool {
	keys, rows, data := size(br)
	return data <= slabMaxData && rows <= slabMaxRows && keys <= slabMaxKeys
}

// newCopySlab makes the slab of brs's branches that are small, or of all
// of them with all set.
func newCopySlab(brs []store.Branch, all bool) copySlab {
	var nk, nr, nd int
	for i := range brs {
		if all || small(&brs[i]) {
			k, r, d := size(&brs[i])
			nk, nr, nd = nk+k, nr+r, nd+d
		}
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

// copyOf returns br with its lock keys and application data copied: into
// s when br is small, else into a slab of its own.
func (s *copySlab) copyOf(br store.Branch) store.Branch {
	if !small(&br) {
		own := newCopySlab([]store.Branch{br}, true)
		s = &own
	}
	br.LockKeys, br.ApplicationData = s.lockKeys(br.LockKeys), s.bytes(br.ApplicationData)
	return br
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
