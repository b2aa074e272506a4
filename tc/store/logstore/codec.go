package logstore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

// Record framing. A segment is a sequence of frames:
//
//	u32 LE  payload length n (0 marks the end: preallocated space is zeros)
//	u32 LE  CRC-32C of (u64 LE segment number, u64 LE frame offset,
//	        the 4 length bytes, payload)
//	n bytes payload
//
// Because the segment number and the frame's offset are part of the CRC
// input, bytes left over from another segment, or a frame found at an
// offset other than the one it was written at, never check out.
//
// The payload is
//
//	u8      record version (recordV1)
//	u8      kind: kindSnapshot or kindBatch
//	u64 LE  sequence number
//	body
//
// A segment starts with a snapshot of sequence number s (the state after
// the batch numbered s) and continues with batches s+1, s+2, …; a frame
// whose sequence number breaks the chain ends the segment like a bad CRC.
const (
	frameHeader   = 8
	payloadHeader = 10
	recordV1      = 1
	kindSnapshot  = 1
	kindBatch     = 2
	// maxPayload bounds a record; a length above it is treated as garbage.
	maxPayload = 1 << 31
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// framer computes frame CRCs; its scratch space keeps that
// allocation-free. A framer is not safe for concurrent use.
type framer struct{ pre [16]byte }

// crc computes the CRC of a frame written at off in segment seg;
// lenBytes is the frame's first four bytes (the length).
func (fr *framer) crc(seg uint64, off int64, lenBytes, payload []byte) uint32 {
	binary.LittleEndian.PutUint64(fr.pre[0:], seg)
	binary.LittleEndian.PutUint64(fr.pre[8:], uint64(off))
	c := crc32.Update(0, castagnoli, fr.pre[:])
	c = crc32.Update(c, castagnoli, lenBytes)
	return crc32.Update(c, castagnoli, payload)
}

// beginFrame appends a frame header placeholder and a payload header to
// dst and returns it with the index where the frame starts.
func beginFrame(dst []byte, kind byte, seq uint64) ([]byte, int) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, recordV1, kind)
	return binary.LittleEndian.AppendUint64(dst, seq), start
}

// seal fills in the header of the frame that starts at dst[start:]
// for writing at off in segment seg.
func (fr *framer) seal(dst []byte, start int, seg uint64, off int64) {
	f := dst[start:]
	binary.LittleEndian.PutUint32(f[0:4], uint32(len(f)-frameHeader))
	binary.LittleEndian.PutUint32(f[4:8], fr.crc(seg, off, f[0:4], f[frameHeader:]))
}

// check validates the frame at the start of b (read at off in
// segment seg) and returns its payload, or ok=false if b does not start
// with a complete, intact frame.
func (fr *framer) check(b []byte, seg uint64, off int64) (payload []byte, ok bool) {
	if len(b) < frameHeader {
		return nil, false
	}
	n := binary.LittleEndian.Uint32(b[0:4])
	if n < payloadHeader || n > maxPayload || uint64(n) > uint64(len(b)-frameHeader) {
		return nil, false
	}
	payload = b[frameHeader : frameHeader+int(n)]
	if fr.crc(seg, off, b[0:4], payload) != binary.LittleEndian.Uint32(b[4:8]) {
		return nil, false
	}
	return payload, true
}

// Times are stored as signed milliseconds since the Unix epoch behind a
// flag byte (0 zero time, 1 set), so a zero time.Time loads as zero.
func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, 0)
	}
	return binary.AppendVarint(append(dst, 1), t.UnixMilli())
}

// msTime is t as it reads back from storage.
func msTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

func appendGlobalBody(dst []byte, g *store.Global) []byte {
	dst = append(dst, byte(g.Status))
	dst = appendTime(dst, g.Begun)
	dst = appendTime(dst, g.Deadline)
	dst = appendTime(dst, g.Updated)
	return appendString(dst, g.Name)
}

// appendBranchBody encodes a branch without its XID: ID, type, status,
// resource ID, lock keys, application data. Lock keys are a uvarint
// count+1 (0 for a nil slice), then per key the table and a uvarint row
// count+1 (0 for nil rows) and the rows.
func appendBranchBody(dst []byte, b *store.Branch) []byte {
	dst = binary.AppendUvarint(dst, uint64(b.ID))
	dst = append(dst, byte(b.Type), byte(b.Status))
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
	dst = binary.AppendUvarint(dst, uint64(len(b.ApplicationData)))
	return append(dst, b.ApplicationData...)
}

// appendBatchBody encodes b in the order its operations take effect:
//
//	uvarint NextID
//	uvarint n, n × (xid, global body)        PutGlobals
//	uvarint n, n × (xid, branch body)        PutBranches
//	uvarint n, n × (xid, uvarint id, status) SetBranchStatus
//	uvarint n, n × xid                       DeleteBranches
//	uvarint n, n × xid                       DeleteGlobals
func appendBatchBody(dst []byte, b *store.Batch) []byte {
	dst = binary.AppendUvarint(dst, b.NextID)
	dst = binary.AppendUvarint(dst, uint64(len(b.PutGlobals)))
	for i := range b.PutGlobals {
		g := &b.PutGlobals[i]
		dst = appendGlobalBody(appendString(dst, string(g.XID)), g)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.PutBranches)))
	for i := range b.PutBranches {
		br := &b.PutBranches[i]
		dst = appendBranchBody(appendString(dst, string(br.XID)), br)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.SetBranchStatus)))
	for _, u := range b.SetBranchStatus {
		dst = binary.AppendUvarint(appendString(dst, string(u.XID)), uint64(u.ID))
		dst = append(dst, byte(u.Status))
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.DeleteBranches)))
	for _, x := range b.DeleteBranches {
		dst = appendString(dst, string(x))
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.DeleteGlobals)))
	for _, x := range b.DeleteGlobals {
		dst = appendString(dst, string(x))
	}
	return dst
}

// appendSnapshotBody encodes the whole state, one transaction at a time:
//
//	uvarint NextID, uvarint number of transactions, then per transaction
//	xid, u8 has-global (0 or 1), [global body], uvarint n, n × branch body
func appendSnapshotBody(dst []byte, st *state) []byte {
	dst = binary.AppendUvarint(dst, st.nextID)
	dst = binary.AppendUvarint(dst, uint64(len(st.txns)))
	for x, t := range st.txns {
		dst = appendString(dst, string(x))
		if t.hasGlobal {
			g := t.global.global(x)
			dst = appendGlobalBody(append(dst, 1), &g)
		} else {
			dst = append(dst, 0)
		}
		dst = binary.AppendUvarint(dst, uint64(len(t.branches)))
		for i := range t.branches {
			dst = appendBranchBody(dst, &t.branches[i])
		}
	}
	return dst
}

var errCorrupt = errors.New("corrupt record")

// decoder reads a payload; the first error sticks. Every count is checked
// against the bytes left, so corrupt input cannot cause huge allocations.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail()
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
		d.fail()
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
		d.fail()
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
		d.fail()
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
	d.fail()
	return time.Time{}
}

// n reads a count of items that take at least min bytes each.
func (d *decoder) n(min int) int {
	v := d.uvarint()
	if d.err == nil && v > uint64(len(d.b)/min) {
		d.fail()
		return 0
	}
	return int(v)
}

// count reads a count+1 prefix: -1 for nil.
func (d *decoder) count() int {
	v := d.uvarint()
	if d.err != nil {
		return 0
	}
	if v != 0 && v-1 > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(v) - 1
}

func (d *decoder) globalBody(x txc.XID) store.Global {
	g := store.Global{XID: x, Status: txc.GlobalStatus(d.byte())}
	g.Begun = d.time()
	g.Deadline = d.time()
	g.Updated = d.time()
	g.Name = d.string()
	return g
}

// branchBody decodes a branch, copying everything it keeps.
func (d *decoder) branchBody(x txc.XID) store.Branch {
	b := store.Branch{XID: x, ID: txc.BranchID(d.uvarint()), Type: txc.BranchType(d.byte()), Status: txc.BranchStatus(d.byte())}
	b.ResourceID = d.string()
	if n := d.count(); n >= 0 && d.err == nil {
		b.LockKeys = make([]txc.LockKey, n)
		for i := range b.LockKeys {
			k := &b.LockKeys[i]
			k.Table = d.string()
			if m := d.count(); m >= 0 && d.err == nil {
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
	if data := d.raw(); len(data) > 0 {
		b.ApplicationData = append([]byte(nil), data...)
	}
	return b
}

// record is a decoded payload.
type record struct {
	kind  byte
	seq   uint64
	batch store.Batch // kindBatch
	snap  *state      // kindSnapshot
}

// errVersion marks a record written by a newer format this build does not
// know.
var errVersion = errors.New("unknown record version")

// decodeRecord decodes a payload whose frame checked out. It never panics
// and allocates in proportion to len(p).
func decodeRecord(p []byte) (*record, error) {
	if len(p) < payloadHeader {
		return nil, errCorrupt
	}
	if p[0] != recordV1 {
		return nil, errVersion
	}
	r := &record{kind: p[1], seq: binary.LittleEndian.Uint64(p[2:10])}
	d := decoder{b: p[payloadHeader:]}
	switch r.kind {
	case kindBatch:
		d.batch(&r.batch)
	case kindSnapshot:
		r.snap = d.snapshot()
	default:
		return nil, errCorrupt
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

// batch decodes the body of a kindBatch record into b.
func (d *decoder) batch(b *store.Batch) {
	b.NextID = d.uvarint()
	// A global takes at least 6 bytes, a branch 7, a status update 3,
	// an XID 1.
	if n := d.n(6); n > 0 {
		b.PutGlobals = make([]store.Global, 0, n)
		for range n {
			x := txc.XID(d.string())
			b.PutGlobals = append(b.PutGlobals, d.globalBody(x))
		}
	}
	if n := d.n(7); n > 0 {
		b.PutBranches = make([]store.Branch, 0, n)
		for range n {
			x := txc.XID(d.string())
			b.PutBranches = append(b.PutBranches, d.branchBody(x))
		}
	}
	if n := d.n(3); n > 0 {
		b.SetBranchStatus = make([]store.BranchStatus, 0, n)
		for range n {
			u := store.BranchStatus{XID: txc.XID(d.string()), ID: txc.BranchID(d.uvarint())}
			u.Status = txc.BranchStatus(d.byte())
			b.SetBranchStatus = append(b.SetBranchStatus, u)
		}
	}
	for _, list := range []*[]txc.XID{&b.DeleteBranches, &b.DeleteGlobals} {
		if n := d.n(1); n > 0 {
			*list = make([]txc.XID, 0, n)
			for range n {
				*list = append(*list, txc.XID(d.string()))
			}
		}
	}
}

// snapshot decodes the body of a kindSnapshot record.
func (d *decoder) snapshot() *state {
	st := newState()
	st.nextID = d.uvarint()
	n := d.n(3)
	for range n {
		x := txc.XID(d.string())
		var t txn
		switch d.byte() {
		case 0:
		case 1:
			g := d.globalBody(x)
			t.hasGlobal, t.global = true, globalRecOf(&g)
			st.nGlobals++
		default:
			d.fail()
		}
		if m := d.n(7); m > 0 {
			t.branches = make([]store.Branch, 0, m)
			for range m {
				t.branches = append(t.branches, d.branchBody(x))
			}
			st.nBranches += m
		}
		st.txns[x] = t
		if d.err != nil {
			break
		}
	}
	return st
}
