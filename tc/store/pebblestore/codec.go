package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

// Key layout. Every key of a transaction starts with the transaction's
// prefix, 't' + uvarint(len(xid)) + xid. The length is self-delimiting, so
// the prefix of one XID is never a prefix of another XID's keys ("n:1"
// versus "n:10"), and the keys of one transaction are contiguous:
//
//	prefix + 0x00                 the global record
//	prefix + 0x01 + BE64(id)      a branch record, in ID order
//
// so [prefix+0x00, prefix+0x02) holds exactly one transaction, and deleting
// it with its branches is one range deletion. Metadata lives under 'm'.
const (
	keyTxn       = 't'
	keyMeta      = 'm'
	kindGlobal   = 0x00
	kindBranch   = 0x01
	kindTxnLimit = 0x02
)

var (
	keyNextID = []byte("m/next-id") // BE64 of the largest NextID applied
	keyFormat = []byte("m/format")  // one byte: the key layout version
)

// keyLayoutVersion is the version of the key layout above, stored under
// keyFormat when the store is created.
const keyLayoutVersion = 1

// Record versions: the first byte of every value. A decoder refuses a
// version it does not know rather than guess.
const (
	globalV1 = 1
	branchV1 = 1
	// statusOperand starts a merge operand that sets a branch's status; it
	// can never be the first byte of a record.
	statusOperand = 0x80
)

// branchStatusOffset is where a branch record keeps its status, so that a
// status change patches one byte.
const branchStatusOffset = 1

func appendTxnPrefix(dst []byte, x txc.XID) []byte {
	dst = append(dst, keyTxn)
	dst = binary.AppendUvarint(dst, uint64(len(x)))
	return append(dst, x...)
}

func appendGlobalKey(dst []byte, x txc.XID) []byte {
	return append(appendTxnPrefix(dst, x), kindGlobal)
}

func appendBranchKey(dst []byte, x txc.XID, id txc.BranchID) []byte {
	dst = append(appendTxnPrefix(dst, x), kindBranch)
	return binary.BigEndian.AppendUint64(dst, uint64(id))
}

// parseTxnKey splits a transaction key into XID, kind and (for a branch)
// ID.
func parseTxnKey(k []byte) (txc.XID, byte, txc.BranchID, error) {
	if len(k) < 2 || k[0] != keyTxn {
		return "", 0, 0, fmt.Errorf("%s: malformed key %q", pkg, k)
	}
	n, w := binary.Uvarint(k[1:])
	if w <= 0 || uint64(len(k)-1-w) < n+1 {
		return "", 0, 0, fmt.Errorf("%s: malformed key %q", pkg, k)
	}
	rest := k[1+w:]
	x := txc.XID(rest[:n])
	kind, rest := rest[n], rest[n+1:]
	switch {
	case kind == kindGlobal && len(rest) == 0:
		return x, kind, 0, nil
	case kind == kindBranch && len(rest) == 8:
		return x, kind, txc.BranchID(binary.BigEndian.Uint64(rest)), nil
	}
	return "", 0, 0, fmt.Errorf("%s: malformed key %q", pkg, k)
}

// Times are stored as signed milliseconds since the Unix epoch; a zero
// time.Time is flagged, so that it loads as zero and 1970-01-01 stays
// 1970-01-01.
func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	return binary.AppendVarint(dst, t.UnixMilli())
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendGlobal encodes g (without its XID, which is in the key):
//
//	globalV1, status, begun, deadline, updated, name
//
// with each time a flag byte (0 zero, 1 set) and, when set, a varint of Unix
// milliseconds, and the name a uvarint length and bytes.
func appendGlobal(dst []byte, g *store.Global) []byte {
	dst = append(dst, globalV1, byte(g.Status))
	dst = appendTime(dst, g.Begun)
	dst = appendTime(dst, g.Deadline)
	dst = appendTime(dst, g.Updated)
	return appendString(dst, g.Name)
}

// appendBranch encodes b (without XID and ID, which are in the key):
//
//	branchV1, status, type, resource ID, lock keys, application data
//
// Strings and byte slices are a uvarint length and the bytes. Lock keys
// are a uvarint count+1 (0 for a nil slice), then per key the table and a
// uvarint row count+1 (0 for nil rows) and the rows.
func appendBranch(dst []byte, b *store.Branch) []byte {
	dst = append(dst, branchV1, byte(b.Status), byte(b.Type))
	dst = appendString(dst, b.ResourceID)
	if b.LockKeys == nil {
		dst = append(dst, 0)
	} else {
		dst = binary.AppendUvarint(dst, uint64(len(b.LockKeys))+1)
		for _, k := range b.LockKeys {
			dst = appendString(dst, k.Table)
			if k.Rows == nil {
				dst = append(dst, 0)
				continue
			}
			dst = binary.AppendUvarint(dst, uint64(len(k.Rows))+1)
			for _, r := range k.Rows {
				dst = appendString(dst, r)
			}
		}
	}
	return appendBytes(dst, b.ApplicationData)
}

var errCorrupt = errors.New("corrupt record")

// decoder reads a record; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errCorrupt
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

// raw returns the next length-prefixed bytes, aliasing the input.
func (d *decoder) raw() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.raw()) }

func (d *decoder) time() time.Time {
	switch d.byte() {
	case 0:
		return time.Time{}
	case 1:
		return time.UnixMilli(d.varint()).UTC()
	}
	d.err = errCorrupt
	return time.Time{}
}

// count reads a count+1 prefix: -1 for nil. Each counted item takes at
// least one byte, which bounds allocations on corrupt input.
func (d *decoder) count() int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n != 0 && n-1 > uint64(len(d.b)) {
		d.err = errCorrupt
		return 0
	}
	return int(n) - 1
}

func decodeGlobal(x txc.XID, v []byte) (store.Global, error) {
	d := decoder{b: v}
	if ver := d.byte(); d.err == nil && ver != globalV1 {
		return store.Global{}, fmt.Errorf("%s: global %s: unknown record version %d", pkg, x, ver)
	}
	g := store.Global{XID: x, Status: txc.GlobalStatus(d.byte())}
	g.Begun = d.time()
	g.Deadline = d.time()
	g.Updated = d.time()
	g.Name = d.string()
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return store.Global{}, fmt.Errorf("%s: global %s: %w", pkg, x, d.err)
	}
	return g, nil
}

// decodeBranch decodes a branch record, copying everything it keeps.
func decodeBranch(x txc.XID, id txc.BranchID, v []byte) (store.Branch, error) {
	d := decoder{b: v}
	if ver := d.byte(); d.err == nil && ver != branchV1 {
		return store.Branch{}, fmt.Errorf("%s: branch %s/%d: unknown record version %d", pkg, x, id, ver)
	}
	b := store.Branch{XID: x, ID: id, Status: txc.BranchStatus(d.byte()), Type: txc.BranchType(d.byte())}
	b.ResourceID = d.string()
	if n := d.count(); n >= 0 {
		b.LockKeys = make([]txc.LockKey, n)
		for i := range b.LockKeys {
			k := &b.LockKeys[i]
			k.Table = d.string()
			if m := d.count(); m >= 0 {
				k.Rows = make([]string, m)
				for j := range k.Rows {
					k.Rows[j] = d.string()
				}
			}
			if d.err != nil {
				break
			}
		}
	}
	if data := d.raw(); data != nil {
		b.ApplicationData = append([]byte(nil), data...)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return store.Branch{}, fmt.Errorf("%s: branch %s/%d: %w", pkg, x, id, d.err)
	}
	return b, nil
}
