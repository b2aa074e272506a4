package sqlstore

import (
	"encoding/binary"
	"errors"

	"github.com/txcio/txc"
)

// Lock keys are stored in one bytes column per branch. The encoding keeps
// nil apart from empty, for the list and for each key's rows:
//
//	list  = uvarint(len+1) key*      (a lone 0 byte: nil list)
//	key   = bytes(table) rowsN row*  (rowsN = uvarint(len+1), 0: nil rows)
//	row   = bytes(row)
//	bytes = uvarint(len) len bytes
//
// It never produces an empty column, so a NOT NULL column can hold it.

// errLockKeys reports a lock-key column this build cannot decode.
var errLockKeys = errors.New(pkg + ": malformed lock keys column")

// encodeLockKeys appends the encoding of keys to dst.
func encodeLockKeys(dst []byte, keys []txc.LockKey) []byte {
	if keys == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(keys))+1)
	for _, k := range keys {
		dst = appendBytes(dst, k.Table)
		if k.Rows == nil {
			dst = append(dst, 0)
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(len(k.Rows))+1)
		for _, r := range k.Rows {
			dst = appendBytes(dst, r)
		}
	}
	return dst
}

func appendBytes(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

// decodeLockKeys is the inverse of encodeLockKeys. The result shares no
// memory with src.
func decodeLockKeys(src []byte) ([]txc.LockKey, error) {
	r := lockReader{b: src}
	n := r.count()
	if n < 0 {
		return nil, r.done()
	}
	keys := make([]txc.LockKey, 0, n)
	for range n {
		k := txc.LockKey{Table: r.str()}
		if rows := r.count(); rows >= 0 {
			k.Rows = make([]string, rows)
			for i := range k.Rows {
				k.Rows[i] = r.str()
			}
		}
		if r.bad {
			return nil, errLockKeys
		}
		keys = append(keys, k)
	}
	return keys, r.done()
}

// lockReader reads the encoding; bad is set at the first inconsistency
// and every later read returns zero values.
type lockReader struct {
	b   []byte
	bad bool
}

func (r *lockReader) uvarint() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a uvarint(len+1) and returns len, or -1 for nil. A length
// larger than the bytes left is inconsistent (every element takes a byte).
func (r *lockReader) count() int {
	v := r.uvarint()
	if v == 0 || r.bad {
		return -1
	}
	if v-1 > uint64(len(r.b)) {
		r.bad = true
		return -1
	}
	return int(v - 1)
}

func (r *lockReader) str() string {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// done reports whether the whole column was read without inconsistency.
func (r *lockReader) done() error {
	if r.bad || len(r.b) != 0 {
		return errLockKeys
	}
	return nil
}
