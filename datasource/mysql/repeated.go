package mysql

import (
	"context"
	"database/sql/driver"
	"strconv"
	"strings"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
)

// repeatedKey refuses an ON DUPLICATE KEY UPDATE or REPLACE of several
// rows two of which hold the same value of one unique key (the primary
// key included) as the server stores it (see storedTerm: 1.6 and 2 are
// one INT key, 'a' and 'A' one key of a case-insensitive column): the
// later row meets the row the earlier one wrote, so one row goes through
// several states in one statement, which the images (before and after the
// statement) and the server's count of affected rows cannot show. It runs
// before the statement, after checkConflict (so every key value it
// compares is known). Keys of integer columns are compared here; the
// others by the server, in one query for all of them, converted and
// collated as their columns store and compare them.
func (ip *insertPlan) repeatedKey(ctx context.Context, x *datasource.Exec, m *datasource.Table, v func(int, string) value, args []driver.NamedValue) error {
	if !(ip.upsert || ip.replace) || len(ip.rows) < 2 {
		return nil
	}
	mt := meta(m)
	q := &query{}
	var asked [][]string // the keys the server compares, in query order
	for _, key := range append([][]string{m.PK}, m.Unique...) {
		rows := ip.knownRows(key, v, args)
		if len(rows) < 2 {
			continue
		}
		if a, b, val, ok := repeatedInts(mt, key, rows, v, args); ok {
			if a >= 0 {
				return ip.repeated(key, a, b, " = ("+val+")")
			}
			continue
		}
		if len(asked) > 0 {
			q.add(" UNION ALL ")
		}
		q.add("SELECT " + strconv.Itoa(len(asked)) + ", MIN(r), MAX(r) FROM (")
		for i, r := range rows {
			if i > 0 {
				q.add(" UNION ALL ")
			}
			q.add("SELECT " + strconv.Itoa(r) + " AS r")
			for j, c := range key {
				q.add(", ")
				t := mt.types[strings.ToLower(c)]
				coll := t.collation != "" && plainName(t.charset) && plainName(t.collation)
				if coll {
					q.add("CONVERT(")
				}
				storedTerm(q, t, v(r, c), args)
				if coll {
					q.add(" USING " + t.charset + ") COLLATE " + t.collation)
				}
				q.add(" AS c" + strconv.Itoa(j))
			}
		}
		q.add(") d" + strconv.Itoa(len(asked)) + " GROUP BY ")
		for j := range key {
			if j > 0 {
				q.add(", ")
			}
			q.add("c" + strconv.Itoa(j))
		}
		q.add(" HAVING COUNT(*) > 1")
		asked = append(asked, key)
	}
	if len(asked) == 0 {
		return nil
	}
	q.add(" LIMIT 1")
	found, err := x.Query(ctx, q.String(), q.args...)
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return nil
	}
	k, a, b := asInt(found[0][0].Value), asInt(found[0][1].Value), asInt(found[0][2].Value)
	if k < 0 || int(k) >= len(asked) {
		return txc.Errorf(txc.CodeInternal, "datasource/mysql: repeated-key query named key %d of %d", k, len(asked))
	}
	return ip.repeated(asked[k], int(a), int(b), "")
}

// repeated is the refusal of repeatedKey: rows a and b (from 0) hold one
// value of key (shown, when known, by val).
func (ip *insertPlan) repeated(key []string, a, b int, val string) error {
	what := "ON DUPLICATE KEY UPDATE"
	if ip.replace {
		what = "REPLACE"
	}
	return datasource.Unsupported(ip.query, "rows %d and %d of the %s hold the same value of unique key (%s)%s as the server stores it: the later row meets the row the earlier one wrote, whose successive states in one statement the images cannot show; write them in separate statements",
		a+1, b+1, what, strings.Join(key, ", "), val)
}

// repeatedInts compares the stored values of key, when every column of it
// is an integer column and every value converts exactly (storedInt) within
// its range, of rows. It returns two rows holding one value, and the
// value, or -1 and -1; ok is false when the key is not compared here.
func repeatedInts(mt *tableMeta, key []string, rows []int, v func(int, string) value, args []driver.NamedValue) (a, b int, val string, ok bool) {
	seen := make(map[string]int, len(rows))
	for _, r := range rows {
		vals := make([]string, len(key))
		for j, c := range key {
			lo, hi, isInt := mt.types[strings.ToLower(c)].intRange()
			if !isInt {
				return 0, 0, "", false
			}
			s, conv := storedInt(v(r, c), args)
			if !conv || !fitsInt(s, lo, hi) {
				return 0, 0, "", false
			}
			vals[j] = s
		}
		k := txc.RowKey(vals...)
		if first, dup := seen[k]; dup {
			return first, r, strings.Join(vals, ", "), true
		}
		seen[k] = r
	}
	return -1, -1, "", true
}

// knownRows returns the rows whose every column of key is known before
// the insert and not NULL.
func (ip *insertPlan) knownRows(key []string, v func(int, string) value, args []driver.NamedValue) []int {
	var rows []int
	for r := range ip.rows {
		all := true
		for _, c := range key {
			all = all && known(v(r, c), args)
		}
		if all {
			rows = append(rows, r)
		}
	}
	return rows
}
