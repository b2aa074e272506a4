package mysql

import (
	"context"
	"database/sql/driver"
	"strconv"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// An IGNORE / ON DUPLICATE KEY UPDATE / REPLACE may give some rows their
// AUTO_INCREMENT key and let the others generate one (GORM saves a
// parent's associated rows so when some are new: `(…, 3), (…, DEFAULT)`).
// The given keys are imaged before and after as any; the generated ones
// are read after the statement from the first one (LAST_INSERT_ID) and
// the increment, which holds only where the server gives the statement's
// generated keys consecutively: innodb_autoinc_lock_mode 0 or 1, and no
// given key at or above the first generated one (a given key above the
// counter moves it, and the next generated key jumps past it: DEFAULT,
// 100, DEFAULT stores 4, 100, 101). That is checked after the statement
// ran (the first generated key is not known before), and a failure fails
// the local transaction. A generated row can meet no existing row only in
// a table without other unique keys, so mixing is refused elsewhere.

// mixable reports whether the statement may mix given and generated keys
// in table m.
func (ip *insertPlan) mixable(m *datasource.Table) bool {
	return ip.conflict && len(m.Unique) == 0 && m.AutoIncrementBulkConsecutive
}

// mixedGenerated returns the keys of the n rows of the statement (run,
// with result res) that generated theirs, after checking that every given
// key is below the first generated one.
func (ip *insertPlan) mixedGenerated(res driver.Result, m *datasource.Table, n int, v func(int, string) value, args []driver.NamedValue) ([]undo.Row, error) {
	first, err := res.LastInsertId()
	if err != nil || first <= 0 {
		return nil, txc.Errorf(txc.CodeUnsupported, "datasource/mysql: generated keys unknown (LAST_INSERT_ID %d, %v): %s", first, err, datasource.Shorten(ip.query))
	}
	pk := m.PK[0]
	for r := range ip.rows {
		cv := v(r, pk)
		if !known(cv, args) {
			continue
		}
		s, _ := storedInt(cv, args) // checkConflict made sure it converts
		if given, err := strconv.ParseInt(s, 10, 64); err != nil || given >= first {
			return nil, txc.Errorf(txc.CodeUnsupported, "datasource/mysql: row %d gives AUTO_INCREMENT key %s, not below the first key the statement generated (%d), so the generated keys may not be consecutive and cannot be found: %s",
				r+1, s, first, datasource.Shorten(ip.query))
		}
	}
	keys := make([]undo.Row, n)
	for i := range keys {
		keys[i] = undo.Row{{Name: pk, Value: undo.Int(first + int64(i)*m.AutoIncrementStep)}}
	}
	return keys, nil
}

// withGenerated appends to after the rows of the generated keys gen (an
// after image, locking), failing unless each is found.
func (ip *insertPlan) withGenerated(ctx context.Context, x *datasource.Exec, m *datasource.Table, after, gen []undo.Row) ([]undo.Row, error) {
	if len(gen) == 0 {
		return after, nil
	}
	rows, err := afterImage(ctx, x, m, gen)
	if err != nil {
		return nil, err
	}
	if len(rows) != len(gen) {
		return nil, txc.Errorf(txc.CodeUnsupported, "datasource/mysql: %d rows generated keys but %d found by them: %s", len(gen), len(rows), datasource.Shorten(ip.query))
	}
	return append(after, rows...), nil
}
