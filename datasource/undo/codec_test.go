package undo

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/txcio/txc"
)

// edgeValues is one of every kind at its edges.
func edgeValues() []Value {
	return []Value{
		{}, Null("INET"), Null("BLOB"),
		Int(0), Int(math.MinInt64), Int(math.MaxInt64), Int(-1).WithType("TINYINT"),
		Uint(0), Uint(math.MaxUint64).WithType("UNSIGNED BIGINT"),
		Float32(float32(math.Inf(-1))), Float32(float32(math.Copysign(0, -1))), Float32(math.MaxFloat32), Float32(math.SmallestNonzeroFloat32),
		Float32(math.Float32frombits(0x7fc00001)),
		Float64(math.NaN()), Float64(math.Float64frombits(0x7ff8000000000dea)), Float64(math.Inf(1)), Float64(math.Inf(-1)),
		Float64(math.Copysign(0, -1)), Float64(0), Float64(math.MaxFloat64), Float64(math.SmallestNonzeroFloat64),
		Bool(true), Bool(false),
		Decimal("-" + strings.Repeat("9", 35) + "." + strings.Repeat("9", 30)), Decimal(strings.Repeat("1", 1000)), Decimal("NaN"),
		String(""), String("héllo 🙂 \x00 tab\t"), String("\xff\xfe not utf-8"),
		Bytes(nil), Bytes([]byte{0, 0xff, 0x80, 0}), Bytes(bytes.Repeat([]byte{1, 2, 3}, 1000)).WithType("BLOB"),
		Text("DATE", "0044-03-15 BC"), Text("TIMESTAMPTZ", "2024-01-02 03:04:05.123456+05:30"),
		Text("INTERVAL", "1 year 2 mons -3 days 04:05:06.7"), Text("_TEXT", `{"a b","\""}`),
		Text("JSON", `{"b": 1,  "a":2}`), Text("mood", ""),
	}
}

func sampleLog() *Log {
	vals := edgeValues()
	row := make(Row, len(vals))
	for i, v := range vals {
		row[i] = Column{Name: "c" + v.Kind().String() + strings.Repeat("x", i%3), Value: v}
	}
	return &Log{
		XID: "node-1:42", BranchID: math.MaxUint64,
		Records: []Record{
			{Table: "t1", Kind: Insert, After: []Row{row, row[:1]}, PK: []string{"id"}},
			{Table: `s."T 2"`, Kind: Update, Before: []Row{row}, After: []Row{row[3:]}, PK: []string{"a", "b"}},
			{Table: "t3", Kind: Delete, Before: []Row{{}, nil}},
			{Table: "", Kind: Delete},
		},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, c := range []Codec{{}, {CompressAbove: -1}, {CompressAbove: 1}} {
		l := sampleLog()
		b, err := c.Encode(l)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(l) {
			t.Fatalf("CompressAbove %d: round trip differs:\n got %+v\nwant %+v", c.CompressAbove, got, l)
		}
		if compressed := b[2]&flagFlate != 0; compressed != (c.CompressAbove >= 0) {
			t.Errorf("CompressAbove %d: compressed=%v (len %d)", c.CompressAbove, compressed, len(b))
		}
	}
	// Every value bit for bit, NaN payloads included.
	for _, v := range edgeValues() {
		r, err := DecodeRow(AppendRow(nil, Row{{"x", v}}))
		if err != nil || len(r) != 1 || r[0].Value != v {
			t.Errorf("%v: got %v, %v", v, r, err)
		}
	}
}

func TestCodecCompressesLargeImages(t *testing.T) {
	var rows []Row
	for i := range 200 {
		rows = append(rows, Row{{"id", Int(int64(i))}, {"name", String("customer name number")}, {"note", Null("TEXT")}})
	}
	l := &Log{XID: "n:1", BranchID: 2, Records: []Record{{Table: "t", Kind: Delete, Before: rows, PK: []string{"id"}}}}
	plain, _ := Codec{CompressAbove: -1}.Encode(l)
	small, _ := Codec{}.Encode(l)
	if len(small)*3 > len(plain) {
		t.Fatalf("compressed %d bytes, plain %d", len(small), len(plain))
	}
	t.Logf("200-row image: %d bytes plain, %d compressed", len(plain), len(small))
	// Small logs are not compressed.
	b, _ := Codec{}.Encode(&Log{XID: "n:1", BranchID: 1})
	if b[2] != 0 {
		t.Fatal("small log compressed")
	}
}

func TestCodecRejects(t *testing.T) {
	good, _ := Codec{CompressAbove: -1}.Encode(sampleLog())
	bomb := func() []byte {
		var buf bytes.Buffer
		buf.Write([]byte{logMagic, version1, flagFlate})
		w, _ := flate.NewWriter(&buf, flate.BestCompression)
		w.Write(make([]byte, 2<<20))
		w.Close()
		return buf.Bytes()
	}()
	cases := map[string][]byte{
		"empty":      nil,
		"magic":      {'X', 1, 0},
		"version":    {logMagic, 3, 0},
		"empty zone": {logMagic, version2, 0, 1, 'x', 7, 0, 0},
		"flags":      {logMagic, version1, 4},
		"truncated":  good[:len(good)-1],
		"trailing":   append(append([]byte{}, good...), 0),
		"huge count": {logMagic, version1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"bomb":       bomb,
		"bad flate":  {logMagic, version1, flagFlate, 0xff, 0xff},
	}
	for name, b := range cases {
		_, err := Codec{MaxDecodedSize: 1 << 20}.Decode(b)
		if !errors.Is(err, txc.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), "undo: ") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := (Codec{}).Encode(&Log{Records: []Record{{Kind: 9}}}); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Errorf("bad record kind: %v", err)
	}
	for _, b := range [][]byte{nil, {rowMagic, 9}, {rowMagic, version1, 1, 1, 'a', 0x7f}, {rowMagic, version1, 1, 0, byte(KindBool), 2}} {
		if _, err := DecodeRow(b); !errors.Is(err, txc.ErrInvalidArgument) {
			t.Errorf("row %x: err = %v", b, err)
		}
	}
}

// FuzzDecode: decoding arbitrary bytes never panics, and whatever decodes
// re-encodes to a log that decodes to the same thing.
func FuzzDecode(f *testing.F) {
	for _, c := range []Codec{{CompressAbove: -1}, {CompressAbove: 1}} {
		b, _ := c.Encode(sampleLog())
		f.Add(b)
	}
	f.Add([]byte{logMagic, version1, 0})
	f.Add(AppendRow(nil, Row{{"a", Text("INET", "::1")}, {"b", Float64(math.NaN())}, {"c", Null("")}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := Codec{MaxDecodedSize: 1 << 20}
		l, err := c.Decode(b)
		if err != nil {
			return
		}
		again, err := c.Encode(l)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		l2, err := c.Decode(again)
		if err != nil || !l2.Equal(l) {
			t.Fatalf("re-decode: %v", err)
		}
		if r, err := DecodeRow(b); err == nil {
			if r2, err := DecodeRow(AppendRow(nil, r)); err != nil || !r2.Equal(r) {
				t.Fatalf("row re-decode: %v", err)
			}
		}
	})
}

// FuzzRoundTrip: encode→decode is the identity for values built from
// arbitrary inputs.
func FuzzRoundTrip(f *testing.F) {
	f.Add(int64(-1), uint64(math.MaxUint64), uint64(0x7ff8000000000001), uint32(0x80000000), "s🙂", []byte{0, 255}, "INET", true, 100)
	f.Fuzz(func(t *testing.T, i int64, u, fb uint64, f32 uint32, s string, b []byte, typ string, flag bool, compress int) {
		row := Row{
			{"i", Int(i)}, {"u", Uint(u)}, {"f", Float64(math.Float64frombits(fb))},
			{"g", Float32(math.Float32frombits(f32))}, {s, String(s)}, {"b", Bytes(b)},
			{"t", Text(typ, s)}, {"d", Decimal(s)}, {"n", Null(typ)}, {"x", Bool(flag)},
		}
		l := &Log{XID: txc.XID(s), BranchID: txc.BranchID(u), Records: []Record{{Table: typ, Kind: Update, Before: []Row{row}, After: []Row{row, row}, PK: []string{s, typ}}}}
		c := Codec{CompressAbove: compress}
		enc, err := c.Encode(l)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Decode(enc)
		if err != nil || !got.Equal(l) {
			t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, got, l)
		}
	})
}

// BenchmarkCodec: a 500-row update image (before and after), encoded with
// compression and decoded.
func BenchmarkCodec(b *testing.B) {
	var rows []Row
	for i := range 500 {
		rows = append(rows, Row{
			{"id", Int(int64(i))},
			{"customer_name", String(fmt.Sprintf("customer %d of the shop", i*7919))},
			{"balance", Decimal(fmt.Sprintf("%d.%02d", i*31337%100000, i%100))},
			{"updated_at", Text("DATETIME", fmt.Sprintf("2024-01-%02d 03:04:%02d.%06d", i%28+1, i%60, i*7))},
			{"note", Null("")},
		})
	}
	l := &Log{XID: "n:1", BranchID: 2, Records: []Record{{Table: "account", Kind: Update, Before: rows, After: rows, PK: []string{"id"}}}}
	plain, _ := Codec{CompressAbove: -1}.Encode(l)
	enc, _ := Codec{}.Encode(l)
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			if _, err := (Codec{}).Encode(l); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(enc)), "stored-bytes")
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			if _, err := (Codec{}).Decode(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCodecTimeZone: a log with a session time zone is written as version
// 2 and reads back with it; one without is written byte for byte as
// version 1 was, and version 1 logs written before the field existed
// still decode (with no time zone).
func TestCodecTimeZone(t *testing.T) {
	old := []byte{logMagic, version1, 0, 1, 'x', 7, 1, 1, 't', byte(Delete), 1, 2, 'i', 'd', 1, 1, 2, 'i', 'd', byte(KindInt), 2, 0}
	l, err := Codec{}.Decode(old)
	if err != nil {
		t.Fatal(err)
	}
	want := &Log{XID: "x", BranchID: 7, Records: []Record{{Table: "t", Kind: Delete, PK: []string{"id"}, Before: []Row{{{"id", Int(1)}}}}}}
	if !l.Equal(want) || l.TimeZone != "" {
		t.Fatalf("old log decoded as %+v", l)
	}
	if b, err := (Codec{}).Encode(want); err != nil || !bytes.Equal(b, old) {
		t.Fatalf("a log without a time zone encodes as %v, %v; want version 1 %v", b, err, old)
	}
	for _, c := range []Codec{{}, {CompressAbove: 1}} {
		l := sampleLog()
		l.TimeZone = "+08:00"
		b, err := c.Encode(l)
		if err != nil {
			t.Fatal(err)
		}
		if b[1] != version2 {
			t.Errorf("version %d, want 2", b[1])
		}
		got, err := c.Decode(b)
		if err != nil || !got.Equal(l) || got.TimeZone != "+08:00" {
			t.Fatalf("round trip: %+v, %v", got, err)
		}
	}
}
