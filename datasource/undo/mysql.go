package undo

import (
	"database/sql"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/txcio/txc"
)

// MySQL/MariaDB through github.com/go-sql-driver/mysql, per column type
// (DatabaseTypeName as that driver reports it → Value → argument):
//
//	TINYINT … BIGINT, YEAR          Int                  int64
//	UNSIGNED TINYINT … BIGINT       Uint                 uint64 (the driver sends it unsigned)
//	FLOAT                           Float32 (bits)       float32
//	DOUBLE                          Float64 (bits)       float64
//	DECIMAL                         Decimal (text)       string (the server parses it exactly)
//	CHAR VARCHAR TEXT ENUM SET JSON String               string
//	BINARY VARBINARY *BLOB          Bytes                []byte
//	BIT(n)                          Uint (the bits)      uint64
//	DATE DATETIME TIMESTAMP TIME    Text tagged DATE …   string in MySQL's own form
//	GEOMETRY                        Bytes tagged GEOMETRY ST_GeomFromWKB(CAST(? AS BINARY), srid)
//	NULL                            Null                 nil
//
// DATE/DATETIME/TIMESTAMP come as text without parseTime and as time.Time
// with parseTime=true; both become the same text ("2006-01-02
// 15:04:05.999999"). With parseTime=true the driver turns the zero date
// 0000-00-00 and the real date 0001-01-01 into the same time.Time, so a
// zero time.Time is refused (txc.CodeUnsupported). TIMESTAMP text is in
// the time_zone of the session that read it: write it back on a
// connection with the same time_zone (datasource/mysql makes it UTC).
//
// FLOAT: over the text protocol (a statement without placeholders, or
// interpolateParams=true) the server formats FLOAT with 6 significant
// digits, so the value the driver hands over is already rounded. Read
// images through the binary protocol — a statement with a placeholder and
// interpolateParams=false, the driver's default — where FLOAT is exact.

// MySQLValue converts src, what database/sql stored into an *any for a
// column whose DatabaseTypeName is typ, into a Value.
func MySQLValue(typ string, src any) (Value, error) {
	typ = strings.ToUpper(typ)
	base := strings.TrimPrefix(typ, "UNSIGNED ")
	unsigned := base != typ
	switch s := src.(type) {
	case nil:
		return Null(""), nil
	case int64:
		if typ == "BIT" {
			return Uint(uint64(s)), nil
		}
		if unsigned {
			if s < 0 {
				return Value{}, unsupported("MySQL %s value %d is negative", typ, s)
			}
			return Uint(uint64(s)), nil
		}
		return Int(s), nil
	case uint64:
		return Uint(s), nil
	case float32:
		return Float32(s), nil
	case float64:
		if typ == "FLOAT" {
			return Float32(float32(s)), nil
		}
		return Float64(s), nil
	case time.Time:
		if s.IsZero() {
			return Value{}, unsupported("MySQL %s read as the zero time.Time is ambiguous (0000-00-00 or 0001-01-01) under parseTime=true; read images without parseTime", typ)
		}
		switch typ {
		case "DATE":
			return Text(typ, s.Format("2006-01-02")), nil
		case "DATETIME", "TIMESTAMP":
			return Text(typ, s.Format("2006-01-02 15:04:05.999999999")), nil
		}
		return Value{}, unsupported("MySQL %s read as time.Time", typ)
	case []byte:
		return mysqlBytes(base, unsigned, s)
	case string:
		return mysqlBytes(base, unsigned, []byte(s))
	case bool:
		return Bool(s), nil
	}
	return Value{}, unsupported("MySQL %s read as %T", typ, src)
}

func mysqlBytes(typ string, unsigned bool, b []byte) (Value, error) {
	switch typ {
	case "DECIMAL":
		return Decimal(string(b)), nil
	case "BINARY", "VARBINARY", "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB":
		return Bytes(b), nil
	case "BIT":
		if len(b) > 8 {
			return Value{}, unsupported("MySQL BIT value of %d bytes", len(b))
		}
		var buf [8]byte
		copy(buf[8-len(b):], b)
		return Uint(binary.BigEndian.Uint64(buf[:])), nil
	case "DATETIME", "TIMESTAMP":
		// Trimmed as under parseTime=true (see Value.Equal).
		return Text(typ, trimFraction(string(b))), nil
	case "DATE", "TIME":
		return Text(typ, string(b)), nil
	case "GEOMETRY":
		if len(b) < 4 {
			return Value{}, unsupported("MySQL GEOMETRY value of %d bytes", len(b))
		}
		return Bytes(b).WithType("GEOMETRY"), nil
	case "FLOAT":
		f, err := strconv.ParseFloat(string(b), 32)
		if err != nil {
			return Value{}, unsupported("MySQL FLOAT text %q", b)
		}
		return Float32(float32(f)), nil
	case "DOUBLE":
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return Value{}, unsupported("MySQL DOUBLE text %q", b)
		}
		return Float64(f), nil
	case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT", "YEAR":
		if unsigned {
			u, err := strconv.ParseUint(string(b), 10, 64)
			if err != nil {
				return Value{}, unsupported("MySQL UNSIGNED %s text %q", typ, b)
			}
			return Uint(u), nil
		}
		i, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return Value{}, unsupported("MySQL %s text %q", typ, b)
		}
		return Int(i), nil
	}
	// CHAR, VARCHAR, TEXT (and its sizes), ENUM, SET, JSON, and types the
	// driver does not name: character data written back as a string.
	return String(string(b)), nil
}

// MySQLParam returns the placeholder expression ("?" or an expression
// around one) and the driver argument that write v into a MySQL column so
// that it stores exactly the value v was read from. It fails with
// txc.CodeUnsupported for a Value this dialect cannot write exactly.
func MySQLParam(v Value) (string, any, error) {
	switch v.kind {
	case KindNull:
		return "?", nil, nil
	case KindInt:
		return "?", v.Int64(), nil
	case KindUint:
		return "?", v.num, nil
	case KindFloat32:
		return "?", float32(v.Float()), nil
	case KindFloat64:
		return "?", v.Float(), nil
	case KindBool:
		return "?", v.Boolean(), nil
	case KindDecimal, KindString, KindText:
		return "?", v.str, nil
	case KindBytes:
		if v.typ == "GEOMETRY" {
			if len(v.str) < 4 {
				return "", nil, unsupported("MySQL GEOMETRY value of %d bytes", len(v.str))
			}
			srid := binary.LittleEndian.Uint32([]byte(v.str[:4]))
			return "ST_GeomFromWKB(CAST(? AS BINARY), " + strconv.FormatUint(uint64(srid), 10) + ")", []byte(v.str[4:]), nil
		}
		return "?", []byte(v.str), nil
	}
	return "", nil, unsupported("MySQL cannot write a %v value", v.kind)
}

// ScanMySQLRow reads the current row of rows (after a true rows.Next) as a
// row image; cols is rows.ColumnTypes().
func ScanMySQLRow(rows *sql.Rows, cols []*sql.ColumnType) (Row, error) {
	return scanRow(rows, cols, MySQLValue)
}

func scanRow(rows *sql.Rows, cols []*sql.ColumnType, conv func(string, any) (Value, error)) (Row, error) {
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, fmt.Errorf("undo: scan row image: %w", err)
	}
	row := make(Row, len(cols))
	for i, ct := range cols {
		v, err := conv(ct.DatabaseTypeName(), vals[i])
		if err != nil {
			return nil, txc.Errorf(txc.CodeOf(err), "undo: column %q: %s", ct.Name(), strings.TrimPrefix(err.Error(), "undo: "))
		}
		row[i] = Column{Name: ct.Name(), Value: v}
	}
	return row, nil
}

func unsupported(format string, args ...any) error {
	return txc.Errorf(txc.CodeUnsupported, "undo: "+format+" cannot be imaged exactly", args...)
}
