package mysql

import (
	"math"
	"strconv"
	"strings"

	"github.com/txcio/txc/datasource"
)

// tableMeta is what LoadTable learns beyond datasource.Table (kept in its
// Dialect field).
type tableMeta struct {
	schema, table string             // as the server stores them
	types         map[string]colType // by lower-case column name
	// invisible names the INVISIBLE columns (MariaDB, MySQL 8), which
	// `SELECT *` leaves out.
	invisible []string
	// order names the table's columns in the order an image query
	// returns them (allColumns, see imageOrder); shape is what such a
	// query said of them when LoadTable read them (names only when its
	// querier could not say more; see tableRows); stored, the index in
	// order of each of the Table's Columns.
	order  []string
	shape  datasource.Shape
	stored []int
	// timestamps are the indexes, in an image query's columns (see
	// imageOrder), of the TIMESTAMP columns (see exactTimestamps).
	timestamps []int
}

// isTimestamp reports whether col is a TIMESTAMP column.
func (m *tableMeta) isTimestamp(col string) bool {
	return m.types[strings.ToLower(col)].data == "timestamp"
}

type colType struct {
	data     string // DATA_TYPE, lower case: int, varchar, …
	full     string // COLUMN_TYPE, lower case: int(11) unsigned, …
	nullable bool
	// charset and collation of a character column (else empty).
	charset, collation string
}

// meta returns the extra metadata of t (see LoadTable); a Table this
// dialect did not load gets an empty one (nothing known, so every check
// that needs it refuses or passes conservatively).
func meta(t *datasource.Table) *tableMeta {
	if m, ok := t.Dialect.(*tableMeta); ok {
		return m
	}
	return &tableMeta{types: map[string]colType{}}
}

// intRange returns the range of an integer column type, and false for a
// column that is not an integer.
func (c colType) intRange() (lo int64, hi uint64, ok bool) {
	unsigned := strings.Contains(c.full, "unsigned")
	var bits uint
	switch c.data {
	case "tinyint":
		bits = 8
	case "smallint":
		bits = 16
	case "mediumint":
		bits = 24
	case "int", "integer":
		bits = 32
	case "bigint":
		bits = 64
	default:
		return 0, 0, false
	}
	if unsigned {
		if bits == 64 {
			return 0, math.MaxUint64, true
		}
		return 0, 1<<bits - 1, true
	}
	return -(1 << (bits - 1)), 1<<(bits-1) - 1, true
}

// fitsInt reports whether the decimal integer text s is within the range.
func fitsInt(s string, lo int64, hi uint64) bool {
	if strings.HasPrefix(s, "-") {
		n, err := strconv.ParseInt(s, 10, 64)
		return err == nil && n >= lo && strconv.FormatInt(n, 10) == s
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && n <= hi && strconv.FormatUint(n, 10) == s
}
