package datasource

import (
	"database/sql/driver"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource/undo"
)

// RowKey is the lock-key text of the primary key (columns pk) of row r,
// as Exec.Guard and the branch's lock keys write it; a column r lacks
// counts as NULL. Executors compare rows by it.
func RowKey(pk []string, r undo.Row) string {
	vals := make([]string, len(pk))
	for i, c := range pk {
		v, _ := r.Get(c)
		vals[i] = KeyString(v)
	}
	return txc.RowKey(vals...)
}

// Dedupe drops the rows whose key (columns pk) an earlier row has (a join
// can give one row several times).
func Dedupe(pk []string, rows []undo.Row) []undo.Row {
	if len(rows) < 2 {
		return rows
	}
	seen := make(map[string]bool, len(rows))
	out := rows[:0:0]
	for _, r := range rows {
		k := RowKey(pk, r)
		if !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}

// CheckArgs refuses arguments that do not fit the statement query: not
// want of them (its placeholders), or a named one (both dialects take
// positional arguments only).
func CheckArgs(query string, want int, args []driver.NamedValue) error {
	if len(args) != want {
		return invalid("the statement has %d placeholders but %d arguments: %s", want, len(args), Shorten(query))
	}
	for _, a := range args {
		if a.Name != "" {
			return invalid("named argument %q: the statement takes positional arguments only", a.Name)
		}
	}
	return nil
}
