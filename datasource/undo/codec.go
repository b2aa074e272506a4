package undo

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"io"

	"github.com/txcio/txc"
)

// Encoding, versions 1 and 2. All integers are varints (encoding/binary) unless
// said otherwise; a "str" is a uvarint length and that many bytes.
//
//	log    = 'U' version:byte flags:byte body        flags bit 0: body is DEFLATE-compressed
//	body   = xid:str branch:uvarint n:uvarint record*n [tz:str]   tz in version 2 only
//	record = table:str kind:byte npk:uvarint pk:str*npk nb:uvarint row*nb na:uvarint row*na
//	row    = n:uvarint (name:str value)*n
//	value  = head:byte [type:str if head&0x80] payload  head&0x7f is the Kind
//	payload: Null none; Int varint; Uint uvarint; Float32 4 bytes LE bits;
//	         Float64 8 bytes LE bits; Bool 1 byte (0|1); Decimal/String/Bytes/Text str
//
// Version 2 adds the session time zone of the images (Log.TimeZone); a log
// without one is written as version 1, so readers of version 1 still read
// every log that does not depend on a time zone.
//
// A standalone row image is 'R' version:byte row.
const (
	logMagic  = 'U'
	rowMagic  = 'R'
	version1  = 1
	version2  = 2
	flagFlate = 1
	typeFlag  = 0x80
)

// DefaultCompressAbove is the encoded size above which a log is compressed
// when Codec.CompressAbove is 0.
//
// Compression is compress/flate at BestSpeed. Measured on this project's
// 2-core machine (BenchmarkCodec, a 500-row update image of 122 KB):
// BestSpeed 1.2 ms → 21.6 KB, level 3 1.6 ms → 19.9 KB, the default level
// 2.8 ms → 18.9 KB. Logs are written on the hot path of every AT branch and
// read only by a rollback, so speed wins; no third-party codec is needed for
// logs that are small next to the round trips that carry them.
const DefaultCompressAbove = 4 << 10

// DefaultMaxDecodedSize bounds the decompressed body of a log when
// Codec.MaxDecodedSize is 0, so a corrupt or hostile log cannot exhaust
// memory.
const DefaultMaxDecodedSize = 64 << 20

// Codec encodes and decodes undo logs. The zero Codec uses the defaults;
// a Codec is a value without state and safe for concurrent use.
type Codec struct {
	// CompressAbove: a log whose uncompressed body is longer than this many
	// bytes is stored DEFLATE-compressed (when that is smaller). 0 means
	// DefaultCompressAbove; negative means never compress.
	CompressAbove int
	// MaxDecodedSize bounds the body Decode accepts, after decompression.
	// 0 means DefaultMaxDecodedSize.
	MaxDecodedSize int
}

// corrupt is the error of every decoding failure: CodeInvalidArgument, the
// bytes are not a log (or row) this version can read.
func corrupt(what string) error {
	return txc.Errorf(txc.CodeInvalidArgument, "undo: corrupt encoding: %s", what)
}

// Encode returns the binary encoding of l. It fails (CodeInvalidArgument)
// only for a Record of unknown Kind.
func (c Codec) Encode(l *Log) ([]byte, error) {
	body := appendStr(nil, string(l.XID))
	body = binary.AppendUvarint(body, uint64(l.BranchID))
	body = binary.AppendUvarint(body, uint64(len(l.Records)))
	for i := range l.Records {
		r := &l.Records[i]
		if !r.Kind.valid() {
			return nil, txc.Errorf(txc.CodeInvalidArgument, "undo: record %d on %q has unknown kind %v", i, r.Table, r.Kind)
		}
		body = appendStr(body, r.Table)
		body = append(body, byte(r.Kind))
		body = binary.AppendUvarint(body, uint64(len(r.PK)))
		for _, p := range r.PK {
			body = appendStr(body, p)
		}
		body = appendRows(body, r.Before)
		body = appendRows(body, r.After)
	}
	version := byte(version1)
	if l.TimeZone != "" {
		version = version2
		body = appendStr(body, l.TimeZone)
	}
	limit := c.CompressAbove
	if limit == 0 {
		limit = DefaultCompressAbove
	}
	if limit > 0 && len(body) > limit {
		var buf bytes.Buffer
		buf.Grow(len(body)/3 + 16)
		buf.Write([]byte{logMagic, version, flagFlate})
		w, err := flate.NewWriter(&buf, flate.BestSpeed)
		if err != nil {
			return nil, err
		}
		w.Write(body) // bytes.Buffer writes cannot fail
		if err := w.Close(); err != nil {
			return nil, err
		}
		if buf.Len() < len(body)+3 {
			return buf.Bytes(), nil
		}
	}
	return append([]byte{logMagic, version, 0}, body...), nil
}

// Decode parses an encoding made by Encode (of this or an earlier
// version). Any other input gives a CodeInvalidArgument error; Decode never
// panics and allocates at most about MaxDecodedSize plus the input.
func (c Codec) Decode(b []byte) (*Log, error) {
	if len(b) < 3 || b[0] != logMagic {
		return nil, corrupt("not an undo log")
	}
	if b[1] != version1 && b[1] != version2 {
		return nil, txc.Errorf(txc.CodeInvalidArgument, "undo: undo log version %d is not supported", b[1])
	}
	max := c.MaxDecodedSize
	if max <= 0 {
		max = DefaultMaxDecodedSize
	}
	body := b[3:]
	switch b[2] {
	case 0:
	case flagFlate:
		r := flate.NewReader(bytes.NewReader(body))
		out, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
		if err != nil {
			return nil, corrupt("compressed body: " + err.Error())
		}
		body = out
	default:
		return nil, corrupt("unknown flags")
	}
	if len(body) > max {
		return nil, txc.Errorf(txc.CodeInvalidArgument, "undo: undo log body exceeds %d bytes", max)
	}
	d := decoder{b: body}
	l := &Log{XID: txc.XID(d.str()), BranchID: txc.BranchID(d.uvarint())}
	if n := d.count(); n > 0 {
		l.Records = make([]Record, n)
		for i := range l.Records {
			r := &l.Records[i]
			r.Table = d.str()
			r.Kind = RecordKind(d.byte())
			if d.err == nil && !r.Kind.valid() {
				d.fail("record kind")
			}
			if n := d.count(); n > 0 {
				r.PK = make([]string, n)
				for j := range r.PK {
					r.PK[j] = d.str()
				}
			}
			r.Before = d.rows()
			r.After = d.rows()
		}
	}
	if b[1] == version2 {
		l.TimeZone = d.str()
		if d.err == nil && l.TimeZone == "" {
			d.fail("empty time zone")
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, d.err
	}
	return l, nil
}

// AppendRow appends the standalone encoding of one row image to dst.
func AppendRow(dst []byte, r Row) []byte {
	dst = append(dst, rowMagic, version1)
	return appendRow(dst, r)
}

// DecodeRow parses an encoding made by AppendRow; errors as Codec.Decode.
func DecodeRow(b []byte) (Row, error) {
	if len(b) < 2 || b[0] != rowMagic {
		return nil, corrupt("not a row image")
	}
	if b[1] != version1 {
		return nil, txc.Errorf(txc.CodeInvalidArgument, "undo: row image version %d is not supported", b[1])
	}
	d := decoder{b: b[2:]}
	r := d.row()
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

// AppendValue appends the encoding of one value (without a version
// header; for embedding in an enclosing versioned encoding).
func AppendValue(dst []byte, v Value) []byte {
	head := byte(v.kind)
	if v.typ != "" {
		head |= typeFlag
	}
	dst = append(dst, head)
	if v.typ != "" {
		dst = appendStr(dst, v.typ)
	}
	switch v.kind {
	case KindInt:
		dst = binary.AppendVarint(dst, int64(v.num))
	case KindUint:
		dst = binary.AppendUvarint(dst, v.num)
	case KindFloat32:
		dst = binary.LittleEndian.AppendUint32(dst, uint32(v.num))
	case KindFloat64:
		dst = binary.LittleEndian.AppendUint64(dst, v.num)
	case KindBool:
		dst = append(dst, byte(v.num))
	case KindDecimal, KindString, KindBytes, KindText:
		dst = appendStr(dst, v.str)
	}
	return dst
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendRows(dst []byte, rows []Row) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rows)))
	for _, r := range rows {
		dst = appendRow(dst, r)
	}
	return dst
}

func appendRow(dst []byte, r Row) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(r)))
	for _, c := range r {
		dst = appendStr(dst, c.Name)
		dst = AppendValue(dst, c.Value)
	}
	return dst
}

// decoder reads a body; the first failure sticks and every later read
// returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = corrupt(what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	u, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return u
}

func (d *decoder) varint() int64 {
	i, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return i
}

// count reads an element count; each element takes at least one byte, so
// a count above the bytes left is corrupt (and never allocated).
func (d *decoder) count() int {
	u := d.uvarint()
	if u > uint64(len(d.b)) {
		d.fail("count exceeds input")
		return 0
	}
	return int(u)
}

func (d *decoder) str() string {
	u := d.uvarint()
	if u > uint64(len(d.b)) {
		d.fail("length exceeds input")
		return ""
	}
	s := string(d.b[:u])
	d.b = d.b[u:]
	return s
}

func (d *decoder) fixed(n int) []byte {
	if len(d.b) < n {
		d.fail("truncated")
		return make([]byte, n)
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) rows() []Row {
	n := d.count()
	if n == 0 {
		return nil
	}
	rows := make([]Row, n)
	for i := range rows {
		rows[i] = d.row()
	}
	return rows
}

func (d *decoder) row() Row {
	n := d.count()
	if n == 0 {
		return nil
	}
	r := make(Row, n)
	for i := range r {
		r[i].Name = d.str()
		r[i].Value = d.value()
	}
	return r
}

func (d *decoder) value() Value {
	head := d.byte()
	v := Value{kind: Kind(head &^ typeFlag)}
	if head&typeFlag != 0 {
		v.typ = d.str()
		if d.err == nil && v.typ == "" {
			d.fail("empty type tag")
		}
	}
	switch v.kind {
	case KindNull:
	case KindInt:
		v.num = uint64(d.varint())
	case KindUint:
		v.num = d.uvarint()
	case KindFloat32:
		v.num = uint64(binary.LittleEndian.Uint32(d.fixed(4)))
	case KindFloat64:
		v.num = binary.LittleEndian.Uint64(d.fixed(8))
	case KindBool:
		v.num = uint64(d.byte())
		if v.num > 1 {
			d.fail("bool")
		}
	case KindDecimal, KindString, KindBytes, KindText:
		v.str = d.str()
	default:
		d.fail("value kind")
	}
	if d.err != nil {
		return Value{}
	}
	return v
}
