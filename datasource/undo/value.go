package undo

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind says how a Value holds its data.
type Kind uint8

// Value kinds. The numbers are part of the encoding; never renumber them.
const (
	// KindNull is SQL NULL (distinct from the empty string and empty bytes).
	KindNull Kind = 0
	// KindInt is a signed 64-bit integer.
	KindInt Kind = 1
	// KindUint is an unsigned 64-bit integer (MySQL UNSIGNED columns, BIT).
	KindUint Kind = 2
	// KindFloat32 is an IEEE single, kept as its bits (MySQL FLOAT,
	// PostgreSQL real).
	KindFloat32 Kind = 3
	// KindFloat64 is an IEEE double, kept as its bits (NaN payloads, ±Inf
	// and -0 survive).
	KindFloat64 Kind = 4
	// KindBool is a boolean.
	KindBool Kind = 5
	// KindDecimal is an exact decimal in the database's text form
	// (DECIMAL/NUMERIC, including PostgreSQL's "NaN" and "Infinity").
	KindDecimal Kind = 6
	// KindString is character data (any bytes the database returned for a
	// character column; normally UTF-8).
	KindString Kind = 7
	// KindBytes is binary data.
	KindBytes Kind = 8
	// KindText is a value of database type Type() in that database's own
	// text form (dates, times, intervals, inet, arrays, enums, JSON, ...),
	// written back with an explicit cast where the dialect needs one.
	KindText Kind = 9

	kindCount = 10
)

var kindNames = [kindCount]string{"Null", "Int", "Uint", "Float32", "Float64", "Bool", "Decimal", "String", "Bytes", "Text"}

func (k Kind) String() string {
	if k < kindCount {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one column value of a row image. The zero Value is an untyped
// NULL. Values are immutable and comparable with Equal; byte data is held as
// a string, so a Value never aliases a caller's buffer.
//
// Every Value may carry a type tag: the database's name of the column type
// as database/sql reports it (ColumnType.DatabaseTypeName, e.g. "INET",
// "_INT4", "TIMESTAMPTZ", "UNSIGNED BIGINT"). The tag decides how the value
// is written back (a PostgreSQL cast, a MySQL BIT as an integer); it is
// kept by the codec.
type Value struct {
	kind Kind
	typ  string
	num  uint64 // Int, Uint, Bool (0/1), Float32/Float64 (bits)
	str  string // Decimal, String, Bytes, Text
}

// Null returns a NULL of database type typ (may be empty).
func Null(typ string) Value { return Value{kind: KindNull, typ: typ} }

// Int returns a signed integer.
func Int(i int64) Value { return Value{kind: KindInt, num: uint64(i)} }

// Uint returns an unsigned integer.
func Uint(u uint64) Value { return Value{kind: KindUint, num: u} }

// Float32 returns a single-precision float, bit for bit.
func Float32(f float32) Value { return Value{kind: KindFloat32, num: uint64(math.Float32bits(f))} }

// Float64 returns a double-precision float, bit for bit.
func Float64(f float64) Value { return Value{kind: KindFloat64, num: math.Float64bits(f)} }

// Bool returns a boolean.
func Bool(b bool) Value {
	v := Value{kind: KindBool}
	if b {
		v.num = 1
	}
	return v
}

// Decimal returns an exact decimal in text form; the text is not checked
// or normalised (the database parses it when it is written back).
func Decimal(text string) Value { return Value{kind: KindDecimal, str: text} }

// String returns character data.
func String(s string) Value { return Value{kind: KindString, str: s} }

// Bytes returns binary data (copied). Bytes(nil) is empty bytes, not NULL.
func Bytes(b []byte) Value { return Value{kind: KindBytes, str: string(b)} }

// Text returns a value of database type typ in the database's text form.
func Text(typ, text string) Value { return Value{kind: KindText, typ: typ, str: text} }

// WithType returns v tagged with database type typ.
func (v Value) WithType(typ string) Value { v.typ = typ; return v }

// Kind returns how v holds its data.
func (v Value) Kind() Kind { return v.kind }

// Type returns v's database type tag ("" when none).
func (v Value) Type() string { return v.typ }

// IsNull reports whether v is SQL NULL.
func (v Value) IsNull() bool { return v.kind == KindNull }

// Int64 returns the integer of a KindInt value (0 for other kinds).
func (v Value) Int64() int64 {
	if v.kind != KindInt {
		return 0
	}
	return int64(v.num)
}

// Uint64 returns the integer of a KindUint value (0 for other kinds).
func (v Value) Uint64() uint64 {
	if v.kind != KindUint {
		return 0
	}
	return v.num
}

// Float returns the float of a KindFloat32 or KindFloat64 value (widened
// exactly), 0 for other kinds.
func (v Value) Float() float64 {
	switch v.kind {
	case KindFloat32:
		return float64(math.Float32frombits(uint32(v.num)))
	case KindFloat64:
		return math.Float64frombits(v.num)
	}
	return 0
}

// Boolean returns the truth of a KindBool value (false for other kinds).
func (v Value) Boolean() bool { return v.kind == KindBool && v.num == 1 }

// Str returns the text of a KindDecimal, KindString, KindBytes or KindText
// value ("" for other kinds).
func (v Value) Str() string { return v.str }

// ByteSlice returns a copy of the data of a KindBytes (or any text-holding)
// value, nil for other kinds.
func (v Value) ByteSlice() []byte {
	switch v.kind {
	case KindDecimal, KindString, KindBytes, KindText:
		return []byte(v.str)
	}
	return nil
}

// Equal reports whether v and o are the same value in the same
// representation: same kind, type tag and bits (so NaN equals the same NaN,
// and -0 differs from 0).
//
// MySQL DATETIME and TIMESTAMP texts compare without trailing fractional
// zeros: go-sql-driver gives them with the column's digits, or trimmed
// under parseTime=true, and a log one process wrote may be compared with
// rows another read (MySQLValue now trims them itself).
func (v Value) Equal(o Value) bool {
	if v == o {
		return true
	}
	return v.kind == KindText && o.kind == KindText && v.typ == o.typ && mysqlTimeText(v.typ) &&
		trimFraction(v.str) == trimFraction(o.str)
}

// mysqlTimeText reports whether typ tags MySQL date-time text with a
// fraction (see MySQLValue).
func mysqlTimeText(typ string) bool { return typ == "DATETIME" || typ == "TIMESTAMP" }

// trimFraction drops trailing zeros of a fraction of seconds, and the
// point if none is left: "12:00:00.500000" → "12:00:00.5".
func trimFraction(s string) string {
	i := strings.LastIndexByte(s, '.')
	if i < 0 || strings.ContainsAny(s[i:], " :-") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// String formats v for logs and test failures; it is not a SQL literal.
func (v Value) String() string {
	var s string
	switch v.kind {
	case KindNull:
		s = "NULL"
	case KindInt:
		s = strconv.FormatInt(int64(v.num), 10)
	case KindUint:
		s = strconv.FormatUint(v.num, 10)
	case KindFloat32:
		s = strconv.FormatFloat(v.Float(), 'g', -1, 32)
	case KindFloat64:
		s = strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case KindBool:
		s = strconv.FormatBool(v.num == 1)
	case KindBytes:
		s = fmt.Sprintf("0x%x", v.str)
	default:
		s = strconv.Quote(v.str)
	}
	if v.typ != "" {
		return s + "::" + v.typ
	}
	return s
}

// Column is one named value of a row image.
type Column struct {
	Name  string
	Value Value
}

// Row is a row image: the columns in the order they were read.
type Row []Column

// Get returns the value of the column named name (exact match).
func (r Row) Get(name string) (Value, bool) {
	for _, c := range r {
		if c.Name == name {
			return c.Value, true
		}
	}
	return Value{}, false
}

// Equal reports whether r and o have the same columns, in the same order,
// with Equal values.
func (r Row) Equal(o Row) bool {
	if len(r) != len(o) {
		return false
	}
	for i := range r {
		if r[i].Name != o[i].Name || !r[i].Value.Equal(o[i].Value) {
			return false
		}
	}
	return true
}
