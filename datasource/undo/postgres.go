package undo

import (
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// PostgreSQL through github.com/jackc/pgx/v5/stdlib, per column type
// (DatabaseTypeName as pgx reports it → Value → how it is written back as
// parameter n):
//
//	INT2 INT4 INT8 OID              Int                  $n, int64
//	FLOAT4 / FLOAT8                 Float32 / Float64    $n, float32 / float64 (binary: NaN, ±Inf, -0 exact)
//	NUMERIC                         Decimal (text)       $n::text::numeric (1000 digits, NaN, ±Infinity)
//	TEXT VARCHAR BPCHAR NAME        String               $n, string
//	BYTEA                           Bytes                $n, []byte
//	BOOL                            Bool                 $n, bool
//	DATE TIMESTAMP TIMESTAMPTZ      Text in PostgreSQL's input form, microseconds, " BC" for
//	                                years before 1, infinity kept; TIMESTAMPTZ in UTC
//	                                ("+00:00"; logs written before kept the reader's offset,
//	                                which still writes back the same instant) $n::text::<type>
//	every other named type          Text as pgx hands it over (PostgreSQL's own text output:
//	(TIME INTERVAL UUID JSON JSONB  JSON keeps its text byte for byte, arrays "{...}", inet, ...)
//	INET CIDR MACADDR BIT VARBIT                         $n::text::<type>
//	XML arrays ranges geometric …)
//	types pgx does not name         Text tagged with the type's OID (TIMETZ, MONEY, enums,
//	(the tag is the OID in decimal) domains, composites): $n, string, no cast — the server
//	                                infers the type from the statement (a column being
//	                                assigned or compared) and pgx sends the text
//	NULL                            Null                 $n, nil
//
// Text in the session's own output form (timestamptz in arrays, intervals)
// must be written back on a session with the same TimeZone, DateStyle and
// IntervalStyle settings; the proxy writes undo on the resource it read from.

// PostgresValue converts src, what database/sql stored into an *any for a
// column whose DatabaseTypeName is typ, into a Value.
func PostgresValue(typ string, src any) (Value, error) {
	typ = strings.ToUpper(typ)
	switch s := src.(type) {
	case nil:
		return Null(""), nil
	case int64:
		return Int(s), nil
	case float64:
		if typ == "FLOAT4" {
			return Float32(float32(s)), nil
		}
		return Float64(s), nil
	case float32:
		return Float32(s), nil
	case bool:
		return Bool(s), nil
	case []byte:
		if typ == "BYTEA" {
			return Bytes(s), nil
		}
		return Text(typ, string(s)), nil
	case string:
		switch typ {
		case "NUMERIC":
			return Decimal(s), nil
		case "TEXT", "VARCHAR", "BPCHAR", "NAME":
			return String(s), nil
		}
		return Text(typ, s), nil
	case time.Time:
		switch typ {
		case "DATE":
			return Text(typ, pgDate(s)), nil
		case "TIMESTAMP":
			return Text(typ, pgTimestamp(s, false)), nil
		case "TIMESTAMPTZ":
			// In UTC: the text (and a key's lock key) must not depend
			// on the time zone of the process that read it.
			return Text(typ, pgTimestamp(s.UTC(), true)), nil
		}
	}
	return Value{}, unsupported("PostgreSQL %s read as %T", typ, src)
}

// pgDate formats the date of t as PostgreSQL reads it back: ISO with " BC"
// for years before 1 (Go's year 0 is 1 BC).
func pgDate(t time.Time) string {
	y, bc := pgYear(t.Year())
	return fmt.Sprintf("%04d-%02d-%02d%s", y, t.Month(), t.Day(), bc)
}

func pgYear(y int) (int, string) {
	if y <= 0 {
		return 1 - y, " BC"
	}
	return y, ""
}

// pgTimestamp formats t to the microsecond (PostgreSQL's precision), with
// t's offset when zone is set.
func pgTimestamp(t time.Time, zone bool) string {
	y, bc := pgYear(t.Year())
	s := fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d.%06d", y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1000)
	if zone {
		_, off := t.Zone()
		sign := byte('+')
		if off < 0 {
			sign, off = '-', -off
		}
		s += fmt.Sprintf("%c%02d:%02d", sign, off/3600, off/60%60)
		if off%60 != 0 {
			s += fmt.Sprintf(":%02d", off%60)
		}
	}
	return s + bc
}

// pgTypeName is a type name PostgresParam may put into SQL text after a
// cast: pgx's names are plain identifiers, arrays start with "_".
var pgTypeName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// pgCastNames are pgx names that mean something else as an SQL type name.
var pgCastNames = map[string]string{
	"CHAR": `"char"`, // CHAR alone is char(1)
	"BIT":  "varbit", // BIT alone is bit(1); varbit assigns to bit(n) unchanged
	"_BIT": "_varbit",
}

// PostgresParam returns the placeholder expression for parameter n ("$n",
// or "$n::text::<type>" where the type must be named) and the driver
// argument that write v into a PostgreSQL column so that it stores exactly
// the value v was read from. It fails with txc.CodeUnsupported for a Value
// it cannot write exactly (such as a type tag that is not a plain name).
func PostgresParam(v Value, n int) (string, any, error) {
	ph := "$" + strconv.Itoa(n)
	switch v.kind {
	case KindNull:
		return ph, nil, nil
	case KindInt:
		return ph, v.Int64(), nil
	case KindUint:
		return ph, v.num, nil
	case KindFloat32:
		return ph, float32(v.Float()), nil
	case KindFloat64:
		return ph, v.Float(), nil
	case KindBool:
		return ph, v.Boolean(), nil
	case KindDecimal:
		return ph + "::text::numeric", v.str, nil
	case KindString:
		return ph, v.str, nil
	case KindBytes:
		return ph, []byte(v.str), nil
	case KindText:
		if v.typ == "" || isDigits(v.typ) {
			return ph, v.str, nil
		}
		if !pgTypeName.MatchString(v.typ) {
			return "", nil, unsupported("PostgreSQL type tag %q", v.typ)
		}
		name, ok := pgCastNames[strings.ToUpper(v.typ)]
		if !ok {
			name = strings.ToLower(v.typ)
		}
		return ph + "::text::" + name, v.str, nil
	}
	return "", nil, unsupported("PostgreSQL cannot write a %v value", v.kind)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ScanPostgresRow reads the current row of rows (after a true rows.Next)
// as a row image; cols is rows.ColumnTypes().
func ScanPostgresRow(rows *sql.Rows, cols []*sql.ColumnType) (Row, error) {
	return scanRow(rows, cols, PostgresValue)
}
