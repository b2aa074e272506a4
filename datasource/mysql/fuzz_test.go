package mysql_test

import (
	"errors"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	txcmysql "github.com/txcio/txc/datasource/mysql"
)

// FuzzRecognize: no input makes the recognizer panic, and every refusal
// is typed (txc.ErrUnsupported) and names the statement.
func FuzzRecognize(f *testing.F) {
	for _, c := range stmtCases {
		for _, st := range c.stmts {
			f.Add(st.q)
		}
	}
	for _, q := range []string{
		"", ";", "SELECT 1", "SELECT * FROM t WHERE id = ? FOR UPDATE", "SELECT * FROM a JOIN b USING (id) FOR UPDATE OF a",
		"INSERT INTO t VALUES (?, ?), (?, ?) ON DUPLICATE KEY UPDATE n = VALUES(n)", "REPLACE t SET a = 1",
		"UPDATE t SET a = ? WHERE b IN (?, ?, (SELECT ? FROM u)) ORDER BY c LIMIT ?",
		"DELETE t1, t2 FROM t1 JOIN t2 ON t1.id = t2.id WHERE t1.x = ?", "LOAD DATA INFILE 'x' INTO TABLE t",
		"CREATE TABLE t (id INT)", "WITH c AS (SELECT 1) UPDATE t SET a = 1", "SELECT ?, ? FROM DUAL",
		"INSERT INTO t (a) SELECT ? UNION SELECT ?", "UPDATE t SET id = id + ? WHERE id BETWEEN ? AND ?",
		"SET @a = ?", "SHOW TABLES", "/* c */ UPDATE `t``x` SET `a` = 'it''s' WHERE b = _utf8mb4'é' COLLATE utf8mb4_bin",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		st, err := txcmysql.Dialect{}.Recognize(q)
		if err != nil {
			if !errors.Is(err, txc.ErrUnsupported) {
				t.Fatalf("%q: untyped error %v", q, err)
			}
			return
		}
		switch st.Kind() {
		case datasource.Passthrough, datasource.Write, datasource.LockingRead:
		default:
			t.Fatalf("%q: kind %v", q, st.Kind())
		}
	})
}
