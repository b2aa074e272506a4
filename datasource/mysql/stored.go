package mysql

import (
	"database/sql/driver"
	"math"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/txcio/txc/datasource"
)

// An INSERT's key values are looked up (the after image of the rows it
// inserts, the before and after images of the rows IGNORE, REPLACE or ON
// DUPLICATE KEY UPDATE may meet) as the column stores them, not as they
// were written: the server rounds a fraction given to an integer or a
// DECIMAL column, pads a BINARY(n) value with zero bytes, drops a CHAR
// value's trailing spaces and cuts (or, under TIME_ROUND_FRACTIONAL,
// rounds) a time's fraction to the column's digits, and a lookup by the
// value as written finds no row (or misses the row a conflict meets).
//
// Integer columns are converted here, by the server's rules on store
// (MariaDB's, checked by TestStoredIntMatchesServer): an integer is kept; a decimal literal and a
// string (a literal or an argument) holding a plain decimal number round
// half away from zero; a double (a float literal or a float64 argument)
// rounds half to even. A float64 argument exactly halfway between two
// integers is not converted: the server receives it as a double over the
// binary protocol and as decimal text when the driver interpolates
// arguments, and rounds the two differently. Other column types are
// converted by the server itself in the lookup (storedCast), whose CAST
// follows the session's sql_mode as the store does. Types not listed
// there (TIMESTAMP, FLOAT, DOUBLE, YEAR, BIT, ENUM, SET, VARCHAR under a
// NO PAD collation given more trailing spaces than it keeps) are looked up
// as given: a value stored otherwise is not found, and the statement
// fails its local transaction after it ran (the affected-rows and
// found-rows checks), never restores wrongly.

// literalKind is how the server types a literal.
type literalKind uint8

const (
	litNone    literalKind = iota // not a single literal
	litInt                        // an integer
	litDecimal                    // a number with a point and no exponent
	litFloat                      // a number with an exponent (a double)
	litString                     // a quoted string
)

// literal is a constant INSERT value written as one literal, optionally
// negated (numbers only) or in parentheses.
type literal struct {
	kind literalKind
	text string // litInt, litDecimal: decimal text; litFloat: the double, formatted exactly; litString: the string
}

// literalOf returns the literal e is, or a literal of kind litNone.
func literalOf(e ast.ExprNode) literal {
	switch x := e.(type) {
	case *ast.ParenthesesExpr:
		return literalOf(x.Expr)
	case *ast.UnaryOperationExpr:
		if x.Op != opcode.Minus {
			return literal{}
		}
		l := literalOf(x.V)
		switch l.kind {
		case litInt, litDecimal:
			l.text = negate(l.text)
		case litFloat:
			f, _ := strconv.ParseFloat(l.text, 64)
			l.text = strconv.FormatFloat(-f, 'g', -1, 64)
		default:
			return literal{}
		}
		return l
	case *test_driver.ValueExpr:
		switch x.Datum.Kind() {
		case test_driver.KindInt64:
			return literal{litInt, strconv.FormatInt(x.Datum.GetInt64(), 10)}
		case test_driver.KindUint64:
			return literal{litInt, strconv.FormatUint(x.Datum.GetUint64(), 10)}
		case test_driver.KindMysqlDecimal:
			return literal{litDecimal, x.Datum.GetMysqlDecimal().String()}
		case test_driver.KindFloat64:
			return literal{litFloat, strconv.FormatFloat(x.Datum.GetFloat64(), 'g', -1, 64)}
		case test_driver.KindString:
			return literal{litString, x.Datum.GetString()}
		}
	}
	return literal{}
}

// negate returns the decimal text s negated ("0" stays "0").
func negate(s string) string {
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		return rest
	}
	if strings.Trim(s, "0.") == "" {
		return s
	}
	return "-" + s
}

// storedInt returns the canonical decimal text of the integer the server
// stores for v (a value known before the insert) in an integer column,
// before any clamping to the column's range (see fitsInt), or false when
// that is not known exactly here.
func storedInt(v value, args []driver.NamedValue) (string, bool) {
	switch v.kind {
	case valConst:
		switch v.lit.kind {
		case litInt, litDecimal, litString:
			return roundedText(v.lit.text)
		case litFloat:
			f, err := strconv.ParseFloat(v.lit.text, 64)
			if err != nil {
				return "", false
			}
			return floatText(math.RoundToEven(f))
		}
	case valParam:
		switch a := args[v.f.args[0]].Value.(type) {
		case int64:
			return strconv.FormatInt(a, 10), true
		case uint64:
			return strconv.FormatUint(a, 10), true
		case float64:
			if halfway(a) {
				return "", false
			}
			return floatText(math.Round(a))
		case string:
			return roundedText(a)
		case []byte:
			return roundedText(string(a))
		case bool:
			if a {
				return "1", true
			}
			return "0", true
		}
	}
	return "", false
}

// floatText formats an integral double as decimal text.
func floatText(f float64) (string, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false
	}
	return canonical(strconv.FormatFloat(f, 'f', 0, 64)), true
}

// roundedText rounds s, a plain decimal number (spaces around it, a sign,
// digits, a point and more digits), half away from zero, as the server
// stores such text or a decimal literal in an integer column; anything
// else is not converted.
func roundedText(s string) (string, bool) {
	s = strings.Trim(s, " ")
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || !digits(whole) || !digits(frac) {
		return "", false
	}
	n := canonical(whole)
	if frac != "" && frac[0] >= '5' {
		n = increment(n)
	}
	if neg {
		return negate(n), true
	}
	return n, true
}

// digits reports whether s holds ASCII digits only.
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// canonical drops the leading zeros of an unsigned or negative decimal
// integer ("-0" is "0").
func canonical(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(strings.TrimPrefix(s, "-"), "0")
	if s == "" {
		return "0"
	}
	if neg {
		return "-" + s
	}
	return s
}

// increment adds one to a canonical unsigned decimal integer.
func increment(s string) string {
	b := []byte(s)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '9' {
			b[i]++
			return string(b)
		}
		b[i] = '0'
	}
	return "1" + string(b)
}

// intArg is the argument for the canonical decimal integer s.
func intArg(s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// castTypes are the CAST target of each column type (DATA_TYPE) whose
// values the server converts on store, with the type arguments a
// COLUMN_TYPE without any has.
var castTypes = map[string]struct{ name, dflt string }{
	"decimal":  {"DECIMAL", "(10,0)"},
	"binary":   {"BINARY", "(1)"},
	"datetime": {"DATETIME", ""},
	"time":     {"TIME", ""},
	"date":     {"DATE", ""},
}

// storedCast returns the SQL around a value that makes the server convert
// it as it stores it in a column of type t ("" and "" for types stored as
// compared).
func storedCast(t colType) (pre, post string) {
	if t.data == "char" {
		// CHAR values lose their trailing spaces; a NO PAD collation
		// would compare them.
		return "RTRIM(", ")"
	}
	if c, ok := castTypes[t.data]; ok {
		return "CAST(", " AS " + c.name + typeArgs(t.full, c.dflt) + ")"
	}
	return "", ""
}

// typeArgs returns the parenthesized arguments of a COLUMN_TYPE
// ("decimal(5,1) unsigned" gives "(5,1)"), or dflt without any.
func typeArgs(full, dflt string) string {
	i, j := strings.IndexByte(full, '('), strings.IndexByte(full, ')')
	if i < 0 || j < i || strings.Trim(full[i+1:j], "0123456789,") != "" {
		return dflt
	}
	return full[i : j+1]
}

// storedTerm appends v (a value known before the insert) to q as column
// type t stores it: an integer converted here (see storedInt) when that is
// exact and within the column's range, else through storedCast.
func storedTerm(q *query, t colType, v value, args []driver.NamedValue) {
	if lo, hi, ok := t.intRange(); ok {
		if s, ok := storedInt(v, args); ok && fitsInt(s, lo, hi) {
			q.add("?")
			q.args = append(q.args, intArg(s))
			return
		}
		q.frag(v.f, args)
		return
	}
	pre, post := storedCast(t)
	q.add(pre).frag(v.f, args).add(post)
}

// halfway reports whether f lies exactly halfway between two integers,
// which the server stores in an integer column rounded to even when it
// receives a double (a prepared statement's argument) and away from zero
// when it receives decimal text (an argument the driver interpolates).
func halfway(f float64) bool {
	_, frac := math.Modf(f)
	return math.Abs(frac) == 0.5
}

// halfwayKeys refuses an INSERT giving an integer primary-key column a
// float argument halfway between two integers: the key the server stores
// depends on how the driver sends the argument, unknown here, so the
// inserted row could not be found after the insert.
func (ip *insertPlan) halfwayKeys(m *datasource.Table, v func(int, string) value, args []driver.NamedValue) error {
	types := meta(m).types
	for r := range ip.rows {
		for _, c := range m.PK {
			cv := v(r, c)
			if _, _, isInt := types[strings.ToLower(c)].intRange(); !isInt || cv.kind != valParam {
				continue
			}
			if f, ok := args[cv.f.args[0]].Value.(float64); ok && halfway(f) {
				return datasource.Unsupported(ip.query, "integer key column %q is given %v, halfway between two integers: the server rounds it to even when it receives a double (a prepared statement) and away from zero when it receives decimal text (interpolated arguments), so the key it stores is not known before the insert", c, f)
			}
		}
	}
	return nil
}
